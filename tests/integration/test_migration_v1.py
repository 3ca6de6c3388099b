"""A ledger written at schema 1 (before resting orders, lots and fees), built here row by row as
orderproc 16c35bc wrote it, opens as schema 2: its orders read back as filled market orders with
a fee-free receipt, its lots are rebuilt by replaying the fills at average cost (the cost method
schema 1 used, which the ledger keeps), the old sells carry their realized P&L, a fee account
exists, and the checker passes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

import pytest
from conftest import EPOCH, PASSWORD, Clock
from depth_helpers import assert_reconciles, sell

from orderproc.engine.prices import load_assets
from orderproc.engine.schemas import OrderStatus, OrderType, TimeInForce
from orderproc.engine.security import PasswordHasher
from orderproc.engine.service import LocalEngine

# The DDL of schema 1, as `schema_ddl()` of 16c35bc:orderproc/engine/store/tables.py printed it.
V1_DDL = (
    "CREATE TABLE accounts (id INTEGER NOT NULL, kind VARCHAR NOT NULL, user_id INTEGER, name VARCHAR NOT NULL,"
    " PRIMARY KEY (id))",
    "CREATE INDEX ix_accounts_user_id ON accounts (user_id)",
    "CREATE TABLE assets (symbol VARCHAR NOT NULL, name VARCHAR NOT NULL, category VARCHAR NOT NULL, rank INTEGER,"
    " peg VARCHAR, reference_price VARCHAR NOT NULL, reference_date VARCHAR NOT NULL, source VARCHAR NOT NULL,"
    " volatility VARCHAR NOT NULL, precision INTEGER NOT NULL, history VARCHAR, enabled BOOLEAN NOT NULL,"
    " PRIMARY KEY (symbol))",
    "CREATE TABLE audit (id INTEGER NOT NULL, at VARCHAR NOT NULL, actor_id INTEGER, actor VARCHAR,"
    " action VARCHAR NOT NULL, target VARCHAR, detail VARCHAR NOT NULL, source VARCHAR, PRIMARY KEY (id))",
    "CREATE TABLE balances (account_id INTEGER NOT NULL, asset VARCHAR NOT NULL, amount INTEGER NOT NULL,"
    " cost INTEGER NOT NULL, PRIMARY KEY (account_id, asset))",
    "CREATE TABLE entries (id INTEGER NOT NULL, kind VARCHAR NOT NULL, account_id INTEGER NOT NULL, order_id INTEGER,"
    " client_key VARCHAR, created_at VARCHAR NOT NULL, PRIMARY KEY (id), UNIQUE (order_id))",
    "CREATE INDEX ix_entries_account ON entries (account_id, id)",
    "CREATE TABLE idempotency_keys (id INTEGER NOT NULL, user_id INTEGER NOT NULL, client_key VARCHAR NOT NULL,"
    " kind VARCHAR NOT NULL, request_hash VARCHAR NOT NULL, ref_id INTEGER NOT NULL, created_at VARCHAR NOT NULL,"
    " PRIMARY KEY (id), UNIQUE (user_id, client_key))",
    'CREATE TABLE meta ("key" VARCHAR NOT NULL, value VARCHAR NOT NULL, PRIMARY KEY ("key"))',
    "CREATE TABLE orders (id INTEGER NOT NULL, user_id INTEGER NOT NULL, account_id INTEGER NOT NULL,"
    " symbol VARCHAR NOT NULL, side VARCHAR NOT NULL, status VARCHAR NOT NULL, quantity INTEGER NOT NULL,"
    " price VARCHAR NOT NULL, notional INTEGER NOT NULL, client_order_id VARCHAR, created_at VARCHAR NOT NULL,"
    " PRIMARY KEY (id))",
    "CREATE INDEX ix_orders_user ON orders (user_id, id)",
    "CREATE TABLE postings (id INTEGER NOT NULL, entry_id INTEGER NOT NULL, account_id INTEGER NOT NULL,"
    " asset VARCHAR NOT NULL, amount INTEGER NOT NULL, PRIMARY KEY (id))",
    "CREATE INDEX ix_postings_entry ON postings (entry_id)",
    "CREATE TABLE revoked_tokens (jti VARCHAR NOT NULL, expires_at FLOAT NOT NULL, PRIMARY KEY (jti))",
    "CREATE TABLE users (id INTEGER NOT NULL, username VARCHAR NOT NULL, username_key VARCHAR NOT NULL,"
    " password_hash VARCHAR NOT NULL, role VARCHAR NOT NULL, display_name VARCHAR, email VARCHAR,"
    " disabled BOOLEAN NOT NULL, token_version INTEGER NOT NULL, account_id INTEGER NOT NULL,"
    " created_at VARCHAR NOT NULL, PRIMARY KEY (id), UNIQUE (username_key))",
)
EXTERNAL, HOUSE = 1, 2
PRECISION = {asset.symbol: asset.precision for asset in load_assets()}


@dataclass
class V1Writer:
    """Writes rows as schema 1's repo did: one balanced entry per deposit or fill, balances with
    each position's cost basis, and a sale removing the position's average cost (rounded down)."""

    conn: sqlite3.Connection
    now: float = EPOCH
    expected: dict[int, int] = field(default_factory=dict)  # sell order id -> realized cents

    def _at(self) -> str:
        self.now += 60
        return datetime.fromtimestamp(self.now, UTC).isoformat(timespec="microseconds")

    def _balance(self, account: int, asset: str) -> tuple[int, int]:
        row = self.conn.execute("SELECT amount, cost FROM balances WHERE account_id = ? AND asset = ?",
                                (account, asset)).fetchone()
        return (row[0], row[1]) if row else (0, 0)

    def _entry(self, kind: str, account: int, postings: list[tuple[int, str, int, int]], order_id: int | None = None,
               key: str | None = None) -> None:
        at = self._at()
        entry = self.conn.execute("INSERT INTO entries (kind, account_id, order_id, client_key, created_at)"
                                  " VALUES (?, ?, ?, ?, ?)", (kind, account, order_id, key, at)).lastrowid
        for holder, asset, amount, cost in postings:
            self.conn.execute("INSERT INTO postings (entry_id, account_id, asset, amount) VALUES (?, ?, ?, ?)",
                              (entry, holder, asset, amount))
            self.conn.execute(
                "INSERT INTO balances (account_id, asset, amount, cost) VALUES (?, ?, ?, ?) ON CONFLICT"
                " (account_id, asset) DO UPDATE SET amount = amount + excluded.amount, cost = cost + excluded.cost",
                (holder, asset, amount, cost))

    def user(self, user_id: int, name: str, password_hash: str) -> int:
        account = self.conn.execute("INSERT INTO accounts (kind, user_id, name) VALUES ('customer', ?, 'main')",
                                    (user_id,)).lastrowid
        self.conn.execute(
            "INSERT INTO users (id, username, username_key, password_hash, role, disabled, token_version,"
            " account_id, created_at) VALUES (?, ?, ?, ?, 'customer', 0, 0, ?, ?)",
            (user_id, name, name, password_hash, account, self._at()))
        assert account is not None
        return account

    def deposit(self, account: int, dollars: str) -> None:
        cents = int(Decimal(dollars) * 100)
        self._entry("deposit", account, [(EXTERNAL, "USD", -cents, 0), (account, "USD", cents, 0)])

    def trade(self, user_id: int, account: int, side: str, symbol: str, quantity: str, price: str,
              key: str | None = None) -> int:
        units = int(Decimal(quantity).scaleb(PRECISION[symbol]))
        exact = Decimal(quantity) * Decimal(price) * 100
        cents = int(exact.to_integral_value(ROUND_CEILING if side == "buy" else ROUND_FLOOR))
        order_id = self.conn.execute(
            "INSERT INTO orders (user_id, account_id, symbol, side, status, quantity, price, notional,"
            " client_order_id, created_at) VALUES (?, ?, ?, ?, 'filled', ?, ?, ?, ?, ?)",
            (user_id, account, symbol, side, units, price, cents, key, datetime.fromtimestamp(self.now + 60, UTC)
             .isoformat(timespec="microseconds"))).lastrowid
        assert order_id is not None
        if side == "buy":
            postings = [(account, "USD", -cents, 0), (HOUSE, "USD", cents, 0), (HOUSE, symbol, -units, 0),
                        (account, symbol, units, cents)]
        else:
            held, basis = self._balance(account, symbol)
            removed = basis if units >= held else basis * units // held
            postings = [(account, symbol, -units, -removed), (HOUSE, symbol, units, 0), (HOUSE, "USD", -cents, 0),
                        (account, "USD", cents, 0)]
            self.expected[order_id] = cents - removed
        self._entry(side, account, postings, order_id, key)
        return order_id


@pytest.fixture
def v1_ledger(ledger_path: Path) -> Iterator[V1Writer]:
    """An empty schema-1 ledger (meta, system accounts, assets) to write a history into."""
    conn = sqlite3.connect(ledger_path)
    for statement in V1_DDL:
        conn.execute(statement)
    conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
        ("schema_version", "1"), ("ledger_id", "0f" * 16),
        ("created_at", datetime.fromtimestamp(EPOCH, UTC).isoformat(timespec="microseconds")),
        ("market_seed", "7"), ("market_epoch", repr(EPOCH)), ("market_speed", "1.0")])
    conn.executemany("INSERT INTO accounts (id, kind, user_id, name) VALUES (?, ?, NULL, ?)",
                     [(EXTERNAL, "external", "outside world"), (HOUSE, "house", "house")])
    conn.executemany(
        "INSERT INTO assets (symbol, name, category, rank, peg, reference_price, reference_date, source, volatility,"
        " precision, history, enabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
        [(a.symbol, a.name, a.category, a.rank, a.peg, str(a.reference_price), a.reference_date, a.source,
          str(a.volatility), a.precision, a.history) for a in load_assets()])
    writer = V1Writer(conn)
    try:
        yield writer
    finally:
        conn.close()


def _history(v1: V1Writer) -> tuple[int, list[int]]:
    """olga buys ETH at three prices and sells part of it twice (the second sale empties her
    oldest lot), buys and sells out BTC; pavel only buys ETH."""
    hashed = PasswordHasher("fast").hash(PASSWORD)
    olga, pavel = v1.user(1, "olga", hashed), v1.user(2, "pavel", hashed)
    v1.deposit(olga, "20000")
    v1.deposit(pavel, "5000.55")
    orders = [
        v1.trade(1, olga, "buy", "ETH", "1", "3000.123456", key="first-buy"),
        v1.trade(1, olga, "buy", "ETH", "0.5", "3600.5"),
        v1.trade(1, olga, "sell", "ETH", "0.6", "3500.77"),
        v1.trade(2, pavel, "buy", "ETH", "0.25", "3333.33"),
        v1.trade(1, olga, "buy", "ETH", "0.4", "3210"),
        v1.trade(1, olga, "sell", "ETH", "0.7", "3805.01"),
        v1.trade(1, olga, "buy", "BTC", "0.02", "101234.5"),
        v1.trade(1, olga, "sell", "BTC", "0.02", "99876.54321"),
    ]
    v1.conn.commit()
    return olga, orders


async def test_a_schema_1_ledger_opens_as_schema_2_with_lots_realized_pnl_and_a_fee_account(
    ledger_path: Path, clock: Clock, v1_ledger: V1Writer
) -> None:
    olga_account, written = _history(v1_ledger)
    pavels_order = written[3]
    balances = dict(((a, s), (n, c)) for a, s, n, c in v1_ledger.conn.execute(
        "SELECT account_id, asset, amount, cost FROM balances"))
    v1_ledger.conn.close()
    clock.now = v1_ledger.now + 3600

    engine = LocalEngine(ledger_path, clock=clock, hash_profile="fast")
    try:
        assert engine.meta["schema_version"] == "4"
        assert engine.meta["cost_method"] == "average"
        report = await engine.admin_verify(engine.operator_token)
        assert report.ok, report.problems
        assert report.fees_collected == 0 and report.orders == 8
        fee_account = int(engine.meta["fee_account"])
        conn = sqlite3.connect(ledger_path)
        try:
            assert conn.execute("SELECT kind, user_id, name FROM accounts WHERE id = ?", (fee_account,)).fetchone() \
                == ("house", None, "fees")
        finally:
            conn.close()

        olga = (await engine.login("olga", PASSWORD)).token
        assert (await engine.ledger_settings(olga)).cost_method == "average"
        # the old orders: filled market orders with a receipt of no friction
        orders = {o.id: o for o in (await engine.orders(olga, limit=100)).items}
        assert sorted(orders) == [i for i in written if i != pavels_order]
        for order in orders.values():
            assert (order.type, order.time_in_force, order.status) == (OrderType.MARKET, TimeInForce.IOC,
                                                                       OrderStatus.FILLED)
            assert order.receipt is not None and order.price is not None and order.notional is not None
            receipt = order.receipt
            assert (receipt.liquidity, receipt.fee, receipt.fee_bps, receipt.spread, receipt.slippage) == (
                "taker", 0, 0, 0, 0)
            assert (receipt.reference_price, receipt.price, receipt.total) == (order.price, order.price, order.notional)
        assert orders[written[0]].client_order_id == "first-buy"
        # realized P&L on the old sells: proceeds less the average cost schema 1 removed
        for order_id, realized in v1_ledger.expected.items():
            assert orders[order_id].realized_pnl == Decimal(realized) / 100
        assert all(o.realized_pnl is None for o in orders.values() if o.side.value == "buy")

        # lots rebuilt: one per buy; the open ones hold each position's quantity and cost basis
        lots = await engine.lots(olga, closed=True)
        assert sorted(lot.order_id for lot in lots) == sorted(o.id for o in orders.values() if o.side.value == "buy")
        for lot in lots:
            assert (lot.quantity, lot.cost) == (orders[lot.order_id].quantity, orders[lot.order_id].notional)
        open_lots = await engine.lots(olga)
        amount, cost = balances[(olga_account, "ETH")]
        assert sum(lot.remaining for lot in open_lots) == Decimal(amount).scaleb(-8)
        assert sum(lot.remaining_cost for lot in open_lots) == Decimal(cost) / 100
        assert [lot.symbol for lot in open_lots] == ["ETH", "ETH"]  # the oldest lot was emptied, BTC sold out
        assert all(lot.remaining == 0 and lot.remaining_cost == 0 for lot in lots if lot not in open_lots)
        [position] = (await engine.portfolio(olga)).positions
        assert position.cost_basis == Decimal(cost) / 100

        pnl = await engine.pnl(olga)
        assert pnl.cost_method == "average"
        assert pnl.realized_pnl == Decimal(sum(v1_ledger.expected.values())) / 100
        assert pnl.net_deposits == Decimal("20000.00") and pnl.fees == 0
        assert_reconciles(pnl, await engine.portfolio(olga))

        # it trades on, at average cost: a sale that empties another lot keeps the checker happy
        sale = await engine.place_order(olga, sell("ETH", "0.5"))
        assert sale.realized_pnl == sale.notional - (Decimal(cost) * Decimal("0.5") / Decimal(amount).scaleb(-8)
                                                     ).to_integral_value(ROUND_FLOOR) / 100  # type: ignore[operator]
        report = await engine.admin_verify(engine.operator_token)
        assert report.ok, report.problems
        pavel = (await engine.login("pavel", PASSWORD)).token
        [pavel_lot] = await engine.lots(pavel)
        assert (pavel_lot.remaining, pavel_lot.remaining_cost) == (Decimal("0.25"), Decimal("833.34"))
    finally:
        await engine.close()

    again = LocalEngine(ledger_path, clock=clock, hash_profile="fast")  # not migrated twice
    try:
        assert again.meta["schema_version"] == "4"
        assert len(await again.lots((await again.login("olga", PASSWORD)).token, closed=True)) == 4
        assert (await again.admin_verify(again.operator_token)).ok
    finally:
        await again.close()
