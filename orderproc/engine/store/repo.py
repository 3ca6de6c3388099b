"""Repositories: the ledger's SQL, one group of functions per aggregate.

Plain, portable SQL (named parameters, `ON CONFLICT ... DO UPDATE`) on a DBAPI connection
whose transaction the caller owns; nothing here commits. SQLite specifics live in `sqlite.py`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from orderproc.engine.domain.ledger import SYSTEM_ACCOUNTS, Posting, check_balanced
from orderproc.engine.domain.lots import AVERAGE, OpenLot, Take, close_lots, shares
from orderproc.engine.domain.money import USD, USD_PRECISION, from_units
from orderproc.engine.errors import Conflict, InsufficientFunds, SchemaMismatch, UsernameTaken

SCHEMA_VERSION = 2
# schema 2: resting orders (order type, time in force, limit and stop prices, reservations,
# fill price and cash that stay empty until a fill, the change sequence the matchers follow)
Conn = sqlite3.Connection
Row = tuple[Any, ...]


# -- the ledger itself -----------------------------------------------------------------


def create_schema(conn: Conn, meta: dict[str, str], assets: Iterable[dict[str, Any]]) -> None:
    from orderproc.engine.store.tables import schema_ddl

    for statement in schema_ddl():
        conn.execute(statement)
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        [("schema_version", str(SCHEMA_VERSION)), *meta.items()],
    )
    conn.executemany(
        "INSERT INTO accounts (id, kind, user_id, name) VALUES (?, ?, NULL, ?)",
        [(i, kind, name) for i, (kind, name) in SYSTEM_ACCOUNTS.items()],
    )
    _add_fee_account(conn)
    conn.executemany(
        "INSERT INTO assets (symbol, name, category, rank, peg, reference_price, reference_date, source,"
        " volatility, precision, history, enabled) VALUES (:symbol, :name, :category, :rank, :peg,"
        " :reference_price, :reference_date, :source, :volatility, :precision, :history, 1)",
        list(assets),
    )


def migrate(conn: Conn, version: int) -> None:
    """Bring a ledger of an older schema to SCHEMA_VERSION, inside the caller's write
    transaction (a failure leaves the file as it was)."""
    from orderproc.engine.store.tables import schema_ddl

    if version < 2:
        conn.execute("ALTER TABLE balances ADD COLUMN reserved INTEGER NOT NULL DEFAULT 0")
        conn.execute("ALTER TABLE accounts ADD COLUMN reset_entry INTEGER NOT NULL DEFAULT 0")
        conn.execute("CREATE UNIQUE INDEX ux_accounts_user_name ON accounts (user_id, name)")
        conn.execute("DROP INDEX ix_orders_user")
        conn.execute("ALTER TABLE orders RENAME TO orders_v1")
        for statement in schema_ddl("orders"):
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
            for statement in schema_ddl(table):
                conn.execute(statement)
        _replay_lots(conn)
        # the cost basis so far was each position's average: the ledger keeps that method
        set_meta(conn, "cost_method", AVERAGE)
        _add_fee_account(conn)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))


def _add_fee_account(conn: Conn) -> None:
    """The house's account that fees are paid to; its id is in meta (older ledgers got it late)."""
    cur = conn.execute("INSERT INTO accounts (kind, user_id, name) VALUES ('house', NULL, 'fees')")
    set_meta(conn, "fee_account", str(cur.lastrowid))


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


def set_meta(conn: Conn, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def read_meta(conn: Conn) -> dict[str, str]:
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
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


def asset_rows(conn: Conn) -> list[Row]:
    return conn.execute(
        "SELECT symbol, name, category, rank, peg, reference_price, reference_date, source, volatility,"
        " precision, history, enabled FROM assets ORDER BY rank, symbol"
    ).fetchall()


# -- users and their paper accounts ---------------------------------------------------

USER_COLUMNS = "id, username, role, display_name, email, disabled, token_version, account_id, created_at"


def insert_user(conn: Conn, username: str, password_hash: str, now: str) -> int:
    cur = conn.execute(
        "INSERT INTO accounts (kind, user_id, name) VALUES ('customer', NULL, 'main')"
    )
    account_id = cur.lastrowid
    try:
        cur = conn.execute(
            "INSERT INTO users (username, username_key, password_hash, role, disabled, token_version,"
            " account_id, created_at) VALUES (?, ?, ?, 'customer', 0, 0, ?, ?)",
            (username, username.lower(), password_hash, account_id, now),
        )
    except sqlite3.IntegrityError:
        raise UsernameTaken(f"the username {username!r} is taken", {"field": "username"}) from None
    user_id = cur.lastrowid
    conn.execute("UPDATE accounts SET user_id = ? WHERE id = ?", (user_id, account_id))
    assert user_id is not None
    return user_id


def user_by_id(conn: Conn, user_id: int) -> Row | None:
    row: Row | None = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
    return row


def user_by_name(conn: Conn, username: str) -> Row | None:
    row: Row | None = conn.execute(
        f"SELECT {USER_COLUMNS} FROM users WHERE username_key = ?", (username.lower(),)
    ).fetchone()
    return row


def password_hash(conn: Conn, user_id: int) -> str | None:
    row = conn.execute("SELECT password_hash FROM users WHERE id = ?", (user_id,)).fetchone()
    return row[0] if row else None


def session_user(conn: Conn, user_id: int, jti: str, account: int | None = None) -> tuple[Row | None, bool, int | None]:
    """The token's user, whether the token was revoked, and the token's account if it is one of
    the user's (the user's first account when the token names none), in one statement."""
    row = conn.execute(
        f"SELECT {USER_COLUMNS}, (SELECT 1 FROM revoked_tokens WHERE jti = ?),"
        " COALESCE((SELECT id FROM accounts WHERE id = ? AND user_id = users.id), CASE WHEN ? IS NULL THEN"
        " account_id END) FROM users WHERE id = ?",
        (jti, account, account, user_id),
    ).fetchone()
    if row is None:
        return None, False, None
    return row[:-2], row[-2] is not None, row[-1]


def accounts_of(conn: Conn, user_id: int) -> list[Row]:
    """(id, name, cash cents, reserved cents) of each of the user's accounts, oldest first."""
    return conn.execute(
        "SELECT a.id, a.name, COALESCE(b.amount, 0), COALESCE(b.reserved, 0) FROM accounts a"
        " LEFT JOIN balances b ON b.account_id = a.id AND b.asset = 'USD' WHERE a.user_id = ? ORDER BY a.id",
        (user_id,),
    ).fetchall()


def account_named(conn: Conn, user_id: int, name: str) -> int | None:
    row = conn.execute("SELECT id FROM accounts WHERE user_id = ? AND name = ?", (user_id, name)).fetchone()
    return row[0] if row else None


def account_name(conn: Conn, account_id: int) -> str:
    name: str = conn.execute("SELECT name FROM accounts WHERE id = ?", (account_id,)).fetchone()[0]
    return name


def last_entry(conn: Conn) -> int:
    last: int = conn.execute("SELECT COALESCE(MAX(id), 0) FROM entries").fetchone()[0]
    return last


def create_account(conn: Conn, user_id: int, name: str) -> int:
    try:
        cur = conn.execute("INSERT INTO accounts (kind, user_id, name) VALUES ('customer', ?, ?)", (user_id, name))
    except sqlite3.IntegrityError:
        raise Conflict(f"you already have an account named {name!r}", {"field": "name"}) from None
    assert cur.lastrowid is not None
    return cur.lastrowid


def holdings(conn: Conn, account_id: int) -> list[Row]:
    """(asset, amount, cost) of everything the account holds."""
    return conn.execute(
        "SELECT asset, amount, cost FROM balances WHERE account_id = ? AND amount != 0 ORDER BY asset", (account_id,)
    ).fetchall()


def mark_reset(conn: Conn, account_id: int, entry_id: int) -> None:
    """The account starts again from `entry_id`: its lots are closed (their history stays)."""
    conn.execute("UPDATE lots SET remaining = 0, remaining_cost = 0 WHERE account_id = ? AND remaining > 0",
                 (account_id,))
    conn.execute("UPDATE accounts SET reset_entry = ? WHERE id = ?", (entry_id, account_id))


def list_users(conn: Conn) -> list[Row]:
    return conn.execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY id").fetchall()


def update_user(conn: Conn, user_id: int, **fields: Any) -> None:
    allowed = {"display_name", "email", "role", "disabled", "password_hash", "token_version"}
    assert fields and set(fields) <= allowed
    sets = ", ".join(f"{name} = :{name}" for name in fields)
    conn.execute(f"UPDATE users SET {sets} WHERE id = :id", {**fields, "id": user_id})


def revoke_token(conn: Conn, jti: str, expires_at: float, now: float) -> None:
    conn.execute(
        "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING",
        (jti, expires_at),
    )
    conn.execute("DELETE FROM revoked_tokens WHERE expires_at < ?", (now,))


# -- journal and balances --------------------------------------------------------------


def post_entry(
    conn: Conn,
    kind: str,
    account_id: int,
    postings: Sequence[Posting],
    now: str,
    *,
    order_id: int | None = None,
    client_key: str | None = None,
) -> int:
    """Record one balanced entry and apply it to the balances; a customer never goes negative."""
    check_balanced(postings)
    credits = []
    for p in postings:
        if p.amount < 0 and p.account_id not in SYSTEM_ACCOUNTS:
            cur = conn.execute(
                "UPDATE balances SET amount = amount + :amount, cost = cost + :cost"
                " WHERE account_id = :account AND asset = :asset AND amount - reserved >= :need",
                {"amount": p.amount, "cost": p.cost, "account": p.account_id, "asset": p.asset, "need": -p.amount},
            )
            if cur.rowcount != 1:
                raise _insufficient(conn, p.account_id, p.asset)
        else:
            credits.append((p.account_id, p.asset, p.amount, p.cost))
    conn.executemany(
        "INSERT INTO balances (account_id, asset, amount, cost) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (account_id, asset) DO UPDATE"
        " SET amount = balances.amount + excluded.amount, cost = balances.cost + excluded.cost",
        credits,
    )
    cur = conn.execute(
        "INSERT INTO entries (kind, account_id, order_id, client_key, created_at) VALUES (?, ?, ?, ?, ?)",
        (kind, account_id, order_id, client_key, now),
    )
    entry_id = cur.lastrowid
    assert entry_id is not None
    conn.executemany(
        "INSERT INTO postings (entry_id, account_id, asset, amount) VALUES (?, ?, ?, ?)",
        [(entry_id, p.account_id, p.asset, p.amount) for p in postings],
    )
    return entry_id


def _insufficient(conn: Conn, account_id: int, asset: str) -> InsufficientFunds:
    held, _, reserved = balance(conn, account_id, asset)
    row = conn.execute("SELECT precision FROM assets WHERE symbol = ?", (asset,)).fetchone()
    available = format(from_units(held - reserved, USD_PRECISION if asset == USD else row[0] if row else 0), "f")
    return InsufficientFunds(
        f"insufficient funds: {available} {asset} available", {"asset": asset, "available": available}
    )


def balance(conn: Conn, account_id: int, asset: str) -> tuple[int, int, int]:
    """(amount, cost basis, reserved) of one asset in one account."""
    row = conn.execute(
        "SELECT amount, cost, reserved FROM balances WHERE account_id = ? AND asset = ?", (account_id, asset)
    ).fetchone()
    return (row[0], row[1], row[2]) if row else (0, 0, 0)


def reserve(conn: Conn, account_id: int, asset: str, amount: int) -> None:
    """Hold back `amount` of what the account has available, for an open order."""
    cur = conn.execute(
        "UPDATE balances SET reserved = reserved + :n"
        " WHERE account_id = :account AND asset = :asset AND amount - reserved >= :n",
        {"n": amount, "account": account_id, "asset": asset},
    )
    if cur.rowcount != 1:
        raise _insufficient(conn, account_id, asset)


def release(conn: Conn, account_id: int, asset: str, amount: int) -> None:
    conn.execute(
        "UPDATE balances SET reserved = reserved - ? WHERE account_id = ? AND asset = ?", (amount, account_id, asset)
    )


def positions(conn: Conn, account_id: int) -> list[Row]:
    return conn.execute(
        "SELECT asset, amount, cost, reserved FROM balances WHERE account_id = ? AND amount != 0 ORDER BY asset",
        (account_id,),
    ).fetchall()


def entry(conn: Conn, entry_id: int, account_id: int) -> tuple[Row, list[Row]] | None:
    head = conn.execute(
        "SELECT id, kind, created_at, order_id, client_key FROM entries WHERE id = ? AND account_id = ?",
        (entry_id, account_id),
    ).fetchone()
    if head is None:
        return None
    lines = conn.execute(
        "SELECT asset, amount FROM postings WHERE entry_id = ? AND account_id = ?", (entry_id, account_id)
    ).fetchall()
    return head, lines


def entries_page(
    conn: Conn, account_id: int, kinds: Sequence[str] | None, offset: int, limit: int
) -> tuple[int, list[tuple[Row, list[Row]]]]:
    where = "account_id = ?"
    params: list[Any] = [account_id]
    if kinds:
        where += f" AND kind IN ({', '.join('?' * len(kinds))})"
        params.extend(kinds)
    total = conn.execute(f"SELECT COUNT(*) FROM entries WHERE {where}", params).fetchone()[0]
    heads = conn.execute(
        f"SELECT id, kind, created_at, order_id, client_key FROM entries WHERE {where}"
        " ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    if not heads:
        return total, []
    ids = [h[0] for h in heads]
    lines: dict[int, list[Row]] = {i: [] for i in ids}
    for entry_id, asset, amount in conn.execute(
        f"SELECT entry_id, asset, amount FROM postings WHERE account_id = ? AND entry_id IN ({', '.join('?' * len(ids))})",
        [account_id, *ids],
    ):
        lines[entry_id].append((asset, amount))
    return total, [(h, lines[h[0]]) for h in heads]


# -- orders --------------------------------------------------------------------------------

ORDER_COLUMNS = (
    "id, symbol, side, type, time_in_force, status, quantity, limit_price, stop_price, price, notional,"
    " reserved, reason, client_order_id, created_at, triggered_at, closed_at, lot_id, realized,"
    " liquidity, reference_price, spread, slippage, fee_bps, fee"
)
# what a matcher keeps of a resting order
BOOK_COLUMNS = "id, symbol, side, type, status, limit_price, stop_price, created_at, triggered_at, seq"


def insert_order(conn: Conn, **fields: Any) -> int:
    """One order row; `fields` are OrderRow's columns (a resting one also takes the next `seq`)."""
    if fields.get("status") == "new":
        fields["seq"] = next_seq(conn)
    names = ", ".join(fields)
    cur = conn.execute(f"INSERT INTO orders ({names}) VALUES ({', '.join(':' + n for n in fields)})", fields)
    assert cur.lastrowid is not None
    return cur.lastrowid


def next_seq(conn: Conn) -> int:
    seq: int = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM orders").fetchone()[0]
    return seq


def close_order(conn: Conn, order_id: int, status: str, now: str, **fields: Any) -> bool:
    """Move an open order to `status` (with its fill's `price`/`notional`, or a `reason`),
    holding nothing any more (the caller releases the balance); False if it was no longer open:
    each order closes exactly once, whoever tries."""
    allowed = {"price", "notional", "reason", "triggered_at", "liquidity", "reference_price", "spread", "slippage",
               "fee_bps", "fee"}
    assert set(fields) <= allowed
    sets = "".join(f", {name} = :{name}" for name in fields)
    cur = conn.execute(
        f"UPDATE orders SET status = :status, closed_at = :now, reserved = 0, seq = :seq{sets}"
        " WHERE id = :id AND status = 'new'",
        {**fields, "status": status, "now": now, "seq": next_seq(conn), "id": order_id},
    )
    return cur.rowcount == 1


def trigger_order(conn: Conn, order_id: int, now: str) -> bool:
    """A stop-limit order whose stop was reached becomes a limit order, once."""
    cur = conn.execute(
        "UPDATE orders SET triggered_at = ?, seq = ? WHERE id = ? AND status = 'new' AND triggered_at IS NULL",
        (now, next_seq(conn), order_id),
    )
    return cur.rowcount == 1


def resting_order(conn: Conn, order_id: int) -> Row | None:
    """What a fill needs of an open order: (user id, account id, symbol, side, type, quantity,
    reserved, lot id, username)."""
    row: Row | None = conn.execute(
        "SELECT o.user_id, o.account_id, o.symbol, o.side, o.type, o.quantity, o.reserved, o.lot_id,"
        " u.username FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = ? AND o.status = 'new'",
        (order_id,),
    ).fetchone()
    return row


def open_order_ids(conn: Conn, account_id: int, symbol: str | None) -> list[int]:
    where = "account_id = ? AND status = 'new'"
    params: list[Any] = [account_id]
    if symbol:
        where += " AND symbol = ?"
        params.append(symbol)
    return [r[0] for r in conn.execute(f"SELECT id FROM orders WHERE {where} ORDER BY id", params)]


def book_changes(conn: Conn, since_seq: int) -> tuple[int, list[Row]]:
    """For a matcher: the last seq, and the orders changed after `since_seq` (every open order
    when it is 0)."""
    if since_seq == 0:
        rows = conn.execute(f"SELECT {BOOK_COLUMNS} FROM orders WHERE status = 'new' ORDER BY id").fetchall()
    else:
        rows = conn.execute(
            f"SELECT {BOOK_COLUMNS} FROM orders WHERE seq > ? ORDER BY seq", (since_seq,)
        ).fetchall()
    last = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM orders").fetchone()[0]
    return last, rows


def book_moved(conn: Conn, since_seq: int, before: str) -> bool:
    """Whether an order changed after `since_seq` is open and acts on ticks before `before`
    (placed or triggered earlier): a matcher whose read of the book missed it must read again."""
    row = conn.execute(
        "SELECT 1 FROM orders WHERE seq > ? AND status = 'new' AND COALESCE(triggered_at, created_at) < ? LIMIT 1",
        (since_seq, before),
    ).fetchone()
    return row is not None


def matched_through(conn: Conn) -> int | None:
    value = meta_value(conn, "matched_through")
    return int(value) if value is not None else None


def order(conn: Conn, order_id: int, user_id: int, *, account_id: int | None = None) -> Row | None:
    """One of the user's orders (of one of their accounts, if given)."""
    row: Row | None = conn.execute(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = ? AND user_id = ? AND account_id = COALESCE(?, account_id)",
        (order_id, user_id, account_id),
    ).fetchone()
    return row


def orders_page(
    conn: Conn, account_id: int, symbol: str | None, statuses: Sequence[str] | None, offset: int, limit: int
) -> tuple[int, list[Row]]:
    where = "account_id = ?"
    params: list[Any] = [account_id]
    if symbol:
        where += " AND symbol = ?"
        params.append(symbol)
    if statuses:
        where += f" AND status IN ({', '.join('?' * len(statuses))})"
        params.extend(statuses)
    total = conn.execute(f"SELECT COUNT(*) FROM orders WHERE {where}", params).fetchone()[0]
    rows = conn.execute(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return total, rows


def leaderboard_rows(conn: Conn) -> tuple[list[Row], list[Row]]:
    """Every active user's accounts' non-zero balances (account id, asset, amount), and per
    account with cash movements since its last reset: (account id, username, display name,
    account name, deposited cents, withdrawn cents, first deposit time)."""
    balances = conn.execute(
        "SELECT a.id, b.asset, b.amount FROM users u JOIN accounts a ON a.user_id = u.id"
        " JOIN balances b ON b.account_id = a.id WHERE u.disabled = 0 AND b.amount != 0"
    ).fetchall()
    flows = conn.execute(
        "SELECT a.id, u.username, u.display_name, a.name,"
        " SUM(CASE WHEN e.kind = 'deposit' THEN p.amount ELSE 0 END),"
        " -SUM(CASE WHEN e.kind = 'withdrawal' THEN p.amount ELSE 0 END),"
        " MIN(CASE WHEN e.kind = 'deposit' THEN e.created_at END)"
        " FROM users u JOIN accounts a ON a.user_id = u.id JOIN entries e ON e.account_id = a.id"
        " JOIN postings p ON p.entry_id = e.id AND p.account_id = a.id AND p.asset = 'USD'"
        " WHERE u.disabled = 0 AND e.kind IN ('deposit', 'withdrawal') AND e.id > a.reset_entry GROUP BY a.id"
    ).fetchall()
    return balances, flows


# -- lots and P&L ------------------------------------------------------------------------------


def open_lot(conn: Conn, account_id: int, symbol: str, order_id: int, now: str, units: int, cents: int) -> None:
    conn.execute(
        "INSERT INTO lots (account_id, symbol, order_id, opened_at, quantity, cost, remaining, remaining_cost)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (account_id, symbol, order_id, now, units, cents, units, cents),
    )


def open_lots(conn: Conn, account_id: int, symbol: str) -> list[OpenLot]:
    return [OpenLot(*row) for row in conn.execute(
        "SELECT id, remaining, remaining_cost FROM lots WHERE account_id = ? AND symbol = ? AND remaining > 0"
        " ORDER BY id", (account_id, symbol))]


def record_closes(conn: Conn, order_id: int, takes: Sequence[Take], proceeds: int, spread: dict[int, int]) -> int:
    """What a sell (`order_id`, `proceeds` cents) took from its lots; its realized P&L, also
    kept on the order."""
    # a lot the sale empties keeps no cost: under the average method a take's cost is the
    # average's share, not the lot's own remaining cost
    conn.executemany(
        "UPDATE lots SET remaining = remaining - :units,"
        " remaining_cost = CASE WHEN remaining = :units THEN 0 ELSE remaining_cost - :cost END WHERE id = :id",
        [{"units": t.units, "cost": t.cost, "id": t.lot_id} for t in takes],
    )
    conn.executemany("UPDATE lots SET remaining_cost = ? WHERE id = ?", [(c, i) for i, c in spread.items()])
    conn.executemany(
        "INSERT INTO lot_closes (order_id, lot_id, quantity, cost, proceeds) VALUES (?, ?, ?, ?, ?)",
        [(order_id, t.lot_id, t.units, t.cost, p)
         for t, p in zip(takes, shares(proceeds, [t.units for t in takes]), strict=True)],
    )
    realized = proceeds - sum(t.cost for t in takes)
    conn.execute("UPDATE orders SET realized = ? WHERE id = ?", (realized, order_id))
    return realized


def lots_of(
    conn: Conn, account_id: int, symbol: str | None, *, include_closed: bool, lot_id: int | None = None
) -> list[Row]:
    where = "account_id = ?"
    params: list[Any] = [account_id]
    if lot_id is not None:
        where += " AND id = ?"
        params.append(lot_id)
    if symbol:
        where += " AND symbol = ?"
        params.append(symbol)
    if not include_closed:
        where += " AND remaining > 0"
    return conn.execute(
        f"SELECT id, symbol, order_id, opened_at, quantity, cost, remaining, remaining_cost FROM lots WHERE {where}"
        " ORDER BY symbol, id", params,
    ).fetchall()


def pnl_rows(conn: Conn, account_id: int) -> tuple[list[Row], list[Row], tuple[int, int]]:
    """Since the account's last reset: (asset, amount, cost) of its balances; (symbol, realized
    cents, fee cents) of its fills; (deposited, withdrawn) cents."""
    balances = conn.execute(
        "SELECT asset, amount, cost FROM balances WHERE account_id = ? AND (amount != 0 OR asset = 'USD')",
        (account_id,),
    ).fetchall()
    realized = conn.execute(
        "SELECT o.symbol, COALESCE(SUM(o.realized), 0), COALESCE(SUM(o.fee), 0) FROM orders o"
        " JOIN entries e ON e.order_id = o.id JOIN accounts a ON a.id = o.account_id"
        " WHERE o.account_id = ? AND e.id > a.reset_entry GROUP BY o.symbol",
        (account_id,),
    ).fetchall()
    flows = conn.execute(
        "SELECT COALESCE(SUM(CASE WHEN e.kind = 'deposit' THEN p.amount END), 0),"
        " COALESCE(-SUM(CASE WHEN e.kind = 'withdrawal' THEN p.amount END), 0)"
        " FROM entries e JOIN accounts a ON a.id = e.account_id"
        " JOIN postings p ON p.entry_id = e.id AND p.account_id = e.account_id AND p.asset = 'USD'"
        " WHERE e.account_id = ? AND e.kind IN ('deposit', 'withdrawal') AND e.id > a.reset_entry",
        (account_id,),
    ).fetchone()
    return balances, realized, (flows[0], flows[1])


# -- idempotency keys ----------------------------------------------------------------------


def idempotent_ref(conn: Conn, user_id: int, key: str) -> tuple[str, str, int] | None:
    """(kind, request hash, result id) of a key this user used before."""
    row = conn.execute(
        "SELECT kind, request_hash, ref_id FROM idempotency_keys WHERE user_id = ? AND client_key = ?",
        (user_id, key),
    ).fetchone()
    return (row[0], row[1], row[2]) if row else None


def remember_key(conn: Conn, user_id: int, key: str, kind: str, request_hash: str, ref_id: int, now: str) -> None:
    conn.execute(
        "INSERT INTO idempotency_keys (user_id, client_key, kind, request_hash, ref_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (user_id, key, kind, request_hash, ref_id, now),
    )


# -- audit ---------------------------------------------------------------------------------


def audit(
    conn: Conn,
    now: str,
    action: str,
    *,
    actor_id: int | None = None,
    actor: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    source: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO audit (at, actor_id, actor, action, target, detail, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (now, actor_id, actor, action, target, json.dumps(detail or {}, sort_keys=True), source),
    )


def audit_page(conn: Conn, offset: int, limit: int) -> tuple[int, list[Row]]:
    total = conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    rows = conn.execute(
        "SELECT id, at, actor, action, target, detail, source FROM audit ORDER BY id DESC LIMIT ? OFFSET ?",
        (limit, offset),
    ).fetchall()
    return total, rows


# -- the checker -----------------------------------------------------------------------------


def ledger_problems(conn: Conn) -> tuple[list[str], dict[str, int], dict[str, int]]:
    """Recompute everything from the journal; return (problems, per-asset sums, counts)."""
    problems: list[str] = []
    sums = dict(conn.execute("SELECT asset, SUM(amount) FROM balances GROUP BY asset").fetchall())
    for asset, total in sorted(sums.items()):
        if total != 0:
            problems.append(f"balances of {asset} sum to {total}, not 0")
    for asset, total in conn.execute("SELECT asset, SUM(amount) FROM postings GROUP BY asset HAVING SUM(amount) != 0"):
        problems.append(f"postings of {asset} sum to {total}, not 0")
    for entry_id, asset, total in conn.execute(
        "SELECT entry_id, asset, SUM(amount) FROM postings GROUP BY entry_id, asset HAVING SUM(amount) != 0"
    ):
        problems.append(f"entry {entry_id} is unbalanced in {asset} by {total}")
    for account_id, asset, stored, replayed in conn.execute(
        "SELECT b.account_id, b.asset, b.amount, COALESCE(p.total, 0) FROM balances b"
        " LEFT JOIN (SELECT account_id, asset, SUM(amount) AS total FROM postings GROUP BY account_id, asset) p"
        " ON p.account_id = b.account_id AND p.asset = b.asset WHERE b.amount != COALESCE(p.total, 0)"
        " UNION ALL"
        " SELECT p.account_id, p.asset, NULL, p.total FROM"
        " (SELECT account_id, asset, SUM(amount) AS total FROM postings GROUP BY account_id, asset) p"
        " LEFT JOIN balances b ON b.account_id = p.account_id AND b.asset = p.asset"
        " WHERE b.account_id IS NULL AND p.total != 0"
    ):
        problems.append(f"account {account_id} {asset}: stored balance {stored} but postings replay to {replayed}")
    for account_id, asset, amount in conn.execute(
        "SELECT b.account_id, b.asset, b.amount FROM balances b JOIN accounts a ON a.id = b.account_id"
        " WHERE a.kind = 'customer' AND (b.amount < 0 OR b.cost < 0)"
    ):
        problems.append(f"customer account {account_id} has a negative {asset} balance or cost: {amount}")
    for (order_id,) in conn.execute(
        "SELECT o.id FROM orders o LEFT JOIN entries e ON e.order_id = o.id"
        " WHERE o.status = 'filled' AND e.id IS NULL"
    ):
        problems.append(f"filled order {order_id} has no journal entry")
    for order_id, status in conn.execute(
        "SELECT o.id, o.status FROM orders o JOIN entries e ON e.order_id = o.id WHERE o.status != 'filled'"
    ):
        problems.append(f"{status} order {order_id} has a journal entry")
    for account_id, asset, reserved, amount in conn.execute(
        "SELECT account_id, asset, reserved, amount FROM balances WHERE reserved != 0 AND (reserved < 0 OR reserved > amount)"
    ):
        problems.append(f"account {account_id} reserves {reserved} {asset} of a balance of {amount}")
    for account_id, asset, stored, held in conn.execute(
        "WITH holds AS (SELECT account_id, CASE side WHEN 'buy' THEN 'USD' ELSE symbol END AS asset,"
        " SUM(reserved) AS total FROM orders WHERE status = 'new' GROUP BY 1, 2)"
        " SELECT b.account_id, b.asset, b.reserved, COALESCE(h.total, 0) FROM balances b"
        " LEFT JOIN holds h ON h.account_id = b.account_id AND h.asset = b.asset"
        " WHERE b.reserved != COALESCE(h.total, 0)"
        " UNION ALL SELECT h.account_id, h.asset, NULL, h.total FROM holds h"
        " LEFT JOIN balances b ON b.account_id = h.account_id AND b.asset = h.asset WHERE b.account_id IS NULL"
    ):
        problems.append(f"account {account_id} reserves {stored} {asset} but its open orders hold {held}")
    for (entry_id,) in conn.execute(
        "SELECT e.id FROM entries e LEFT JOIN orders o ON o.id = e.order_id"
        " WHERE e.kind IN ('buy', 'sell') AND o.id IS NULL"
    ):
        problems.append(f"trade entry {entry_id} has no order")
    for (entry_id,) in conn.execute(
        "SELECT e.id FROM entries e LEFT JOIN postings p ON p.entry_id = e.id WHERE p.id IS NULL"
    ):
        problems.append(f"entry {entry_id} has no postings")
    for (order_id,) in conn.execute(
        "SELECT o.id FROM orders o JOIN entries e ON e.order_id = o.id"
        " JOIN postings p ON p.entry_id = e.id GROUP BY o.id"
        " HAVING COUNT(p.id) != CASE WHEN COALESCE(o.fee, 0) > 0 THEN 5 ELSE 4 END"
    ):
        problems.append(f"order {order_id} does not have exactly its postings (four, and the fee's)")
    fee_account = meta_value(conn, "fee_account")
    for order_id, fee, paid in conn.execute(
        "SELECT o.id, COALESCE(o.fee, 0), COALESCE(SUM(p.amount), 0) FROM orders o JOIN entries e ON e.order_id = o.id"
        " LEFT JOIN postings p ON p.entry_id = e.id AND p.account_id = ? GROUP BY o.id"
        " HAVING COALESCE(o.fee, 0) != COALESCE(SUM(p.amount), 0)", (int(fee_account or 0),)
    ):
        problems.append(f"order {order_id} charged a fee of {fee} cents but the fee account got {paid}")
    for account_id, asset, amount, cost, units, lot_cost in conn.execute(
        "WITH held AS (SELECT account_id, symbol, SUM(remaining) AS units, SUM(remaining_cost) AS cost FROM lots"
        " GROUP BY 1, 2)"
        " SELECT b.account_id, b.asset, b.amount, b.cost, COALESCE(h.units, 0), COALESCE(h.cost, 0) FROM balances b"
        " JOIN accounts a ON a.id = b.account_id AND a.kind = 'customer'"
        " LEFT JOIN held h ON h.account_id = b.account_id AND h.symbol = b.asset"
        " WHERE b.asset != 'USD' AND (b.amount != COALESCE(h.units, 0) OR b.cost != COALESCE(h.cost, 0))"
    ):
        problems.append(f"account {account_id} holds {amount} {asset} at a cost of {cost} but its open lots hold"
                        f" {units} at {lot_cost}")
    for (order_id,) in conn.execute(
        "SELECT o.id FROM orders o LEFT JOIN lots l ON l.order_id = o.id"
        " WHERE o.status = 'filled' AND o.side = 'buy' AND l.id IS NULL"
    ):
        problems.append(f"filled buy {order_id} opened no lot")
    for order_id, sold, closed in conn.execute(
        "SELECT o.id, o.quantity, COALESCE(SUM(c.quantity), 0) FROM orders o LEFT JOIN lot_closes c"
        " ON c.order_id = o.id WHERE o.status = 'filled' AND o.side = 'sell' GROUP BY o.id"
        " HAVING COALESCE(SUM(c.quantity), 0) != o.quantity"
    ):
        problems.append(f"filled sell {order_id} of {sold} units closed {closed} units of lots")
    counts = {
        name: conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]
        for name in ("entries", "postings", "orders", "accounts")
    }
    return problems, sums, counts
