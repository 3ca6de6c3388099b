"""The ledger itself: its schema (created and migrated), its meta settings, its assets.

Plain, portable SQL on a DBAPI connection whose transaction the caller owns (see repo.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orderproc.engine.domain.ledger import SYSTEM_ACCOUNTS
from orderproc.engine.domain.lots import AVERAGE, close_lots
from orderproc.engine.errors import SchemaMismatch
from orderproc.engine.store.repo import Conn, inserted
from orderproc.engine.store.rows import AssetRow
from orderproc.engine.store.trading import open_lot, open_lots, record_closes

SCHEMA_VERSION = 4
# schema 2: resting orders (order type, time in force, limit and stop prices, reservations,
# fill price and cash that stay empty until a fill, the change sequence the matchers follow)
# schema 3: the login limits' token buckets (rate_buckets), shared by every server on the ledger
# schema 4: watchlists, user settings, price alerts and API keys (watchlist, user_settings, alerts, api_keys)


def create_schema(conn: Conn, meta: dict[str, str], assets: Iterable[dict[str, Any]], dialect: str = "sqlite") -> None:
    from orderproc.engine.store.tables import schema_ddl

    for statement in schema_ddl(dialect=dialect):
        conn.execute(statement)
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        [("schema_version", str(SCHEMA_VERSION)), *meta.items()],
    )
    # the system accounts take the first ids, given by the table (an explicit id would leave a
    # PostgreSQL sequence behind, and the next account would collide with it)
    for account_id, (kind, name) in sorted(SYSTEM_ACCOUNTS.items()):
        given = inserted(conn, "INSERT INTO accounts (kind, user_id, name) VALUES (?, NULL, ?)", (kind, name))
        assert given == account_id, (given, account_id)
    _add_fee_account(conn)
    conn.executemany(
        "INSERT INTO assets (symbol, name, category, rank, peg, reference_price, reference_date, source,"
        " volatility, precision, history, enabled) VALUES (:symbol, :name, :category, :rank, :peg,"
        " :reference_price, :reference_date, :source, :volatility, :precision, :history, 1)",
        list(assets),
    )


def migrate(conn: Conn, version: int, dialect: str = "sqlite") -> None:
    """Bring a ledger of an older schema to SCHEMA_VERSION, inside the caller's write
    transaction (a failure leaves the file as it was)."""
    from orderproc.engine.store.tables import schema_ddl

    if version < 2:
        conn.execute("ALTER TABLE balances ADD COLUMN reserved INTEGER NOT NULL DEFAULT 0")
        conn.execute("ALTER TABLE accounts ADD COLUMN reset_entry INTEGER NOT NULL DEFAULT 0")
        conn.execute("CREATE UNIQUE INDEX ux_accounts_user_name ON accounts (user_id, name)")
        conn.execute("DROP INDEX ix_orders_user")
        conn.execute("ALTER TABLE orders RENAME TO orders_v1")
        for statement in schema_ddl("orders", dialect):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO orders (id, user_id, account_id, symbol, side, type, time_in_force, status, quantity,"
            " price, notional, reserved, client_order_id, created_at, closed_at, liquidity, reference_price, spread,"
            " slippage, fee_bps, fee)"
            " SELECT id, user_id, account_id, symbol, side, 'market', 'ioc', status, quantity, price, notional, 0,"
            " client_order_id, created_at, created_at, 'taker', price, '0', '0', '0', 0 FROM orders_v1"
        )
        conn.execute("DROP TABLE orders_v1")
        for table in ("lots", "lot_closes"):
            for statement in schema_ddl(table, dialect):
                conn.execute(statement)
        _replay_lots(conn)
        # the cost basis so far was each position's average: the ledger keeps that method
        set_meta(conn, "cost_method", AVERAGE)
        _add_fee_account(conn)
    if version < 3:
        for statement in schema_ddl("rate_buckets", dialect):
            conn.execute(statement)
    if version < 4:
        for table in ("watchlist", "user_settings", "alerts", "api_keys"):
            for statement in schema_ddl(table, dialect):
                conn.execute(statement)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))


def _add_fee_account(conn: Conn) -> None:
    """The house's account that fees are paid to; its id is in meta (older ledgers got it late)."""
    fee_account = inserted(conn, "INSERT INTO accounts (kind, user_id, name) VALUES ('house', NULL, 'fees')")
    set_meta(conn, "fee_account", str(fee_account))


def _replay_lots(conn: Conn) -> None:
    """Lots for a ledger that had none: every filled order again, in order, average cost."""
    for order_id, account, symbol, side, units, cents, created in conn.execute(
        "SELECT id, account_id, symbol, side, quantity, notional, created_at FROM orders"
        " WHERE status = 'filled' ORDER BY id"
    ).fetchall():
        if side == "buy":
            open_lot(conn, account, symbol, order_id, created, units, cents)
        else:
            takes, spread = close_lots(open_lots(conn, account, symbol), units, AVERAGE)
            record_closes(conn, order_id, takes, cents, spread)


def meta_value(conn: Conn, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def friction_meta(conn: Conn) -> dict[str, str]:
    """The ledger's settings: cost method, friction profile, fee account."""
    return dict(conn.execute(
        "SELECT key, value FROM meta WHERE key IN ('cost_method', 'fee_account', 'maker_fee_bps', 'taker_fee_bps',"
        " 'spread_bps', 'slippage_bps_per_1000_usd')"
    ).fetchall())


def matched_through(conn: Conn) -> int | None:
    value = meta_value(conn, "matched_through")
    return int(value) if value is not None else None


def set_meta(conn: Conn, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


SECRET_KEY = "token_secret"  # a meta row never read into the settings: postgres.py keeps its signing key there


def read_meta(conn: Conn) -> dict[str, str]:
    meta = {k: v for k, v in conn.execute("SELECT key, value FROM meta").fetchall() if k != SECRET_KEY}
    version = meta.get("schema_version", "")
    if not version.isdigit():
        raise SchemaMismatch(f"the ledger has an unknown schema version {version!r}")
    if int(version) > SCHEMA_VERSION:
        raise SchemaMismatch(
            f"the ledger was written by a newer orderproc (schema {version}); "
            f"this version reads schema {SCHEMA_VERSION} or older: upgrade orderproc",
            {"schema_version": int(version), "supported": SCHEMA_VERSION},
        )
    return meta


def asset_rows(conn: Conn) -> list[AssetRow]:
    return [AssetRow._make((*row[:11], bool(row[11]))) for row in conn.execute(
        "SELECT symbol, name, category, rank, peg, reference_price, reference_date, source, volatility,"
        " precision, history, enabled FROM assets ORDER BY rank, symbol"
    )]
