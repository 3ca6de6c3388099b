"""Orders, the matchers' book, lots and P&L, the leaderboard: the trading side's SQL.

Plain, portable SQL on a DBAPI connection whose transaction the caller owns (see repo.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orderproc.engine.domain.lots import OpenLot, Take, shares
from orderproc.engine.domain.money import USD
from orderproc.engine.store.repo import Conn, inserted
from orderproc.engine.store.rows import (
    AccountAssetRow,
    BookRow,
    FlowRow,
    HoldingRow,
    LotRow,
    OrderRow,
    PnlRows,
    RealizedRow,
    RestingRow,
)

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
    return inserted(conn, f"INSERT INTO orders ({names}) VALUES ({', '.join(':' + n for n in fields)})", fields)


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


def resting_order(conn: Conn, order_id: int) -> RestingRow | None:
    """What a fill or a cancel needs of an open order (None: not open)."""
    row = conn.execute(
        "SELECT o.user_id, o.account_id, o.symbol, o.side, o.type, o.quantity, o.reserved, o.lot_id,"
        " u.username FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = ? AND o.status = 'new'",
        (order_id,),
    ).fetchone()
    return RestingRow._make(row) if row else None


def open_order_ids(conn: Conn, account_id: int, symbol: str | None) -> list[int]:
    where = "account_id = ? AND status = 'new'"
    params: list[Any] = [account_id]
    if symbol:
        where += " AND symbol = ?"
        params.append(symbol)
    return [r[0] for r in conn.execute(f"SELECT id FROM orders WHERE {where} ORDER BY id", params)]


def book_changes(conn: Conn, since_seq: int) -> tuple[int, list[BookRow]]:
    """For a matcher: the last seq, and the orders changed after `since_seq` (every open order
    when it is 0)."""
    if since_seq == 0:
        # sorted here: `ORDER BY id` made SQLite scan every order ever placed instead of the index
        # of open ones (50 ms at 50,000 orders, each second, with no order resting at all)
        rows = conn.execute(f"SELECT {BOOK_COLUMNS} FROM orders WHERE status = 'new'")
        changed = sorted(map(BookRow._make, rows))
    else:
        rows = conn.execute(f"SELECT {BOOK_COLUMNS} FROM orders WHERE seq > ? ORDER BY seq", (since_seq,))
        changed = list(map(BookRow._make, rows))
    last = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM orders").fetchone()[0]
    return last, changed


def book_moved(conn: Conn, since_seq: int, before: str) -> bool:
    """Whether an order changed after `since_seq` is open and acts on ticks before `before`
    (placed or triggered earlier): a matcher whose read of the book missed it must read again."""
    row = conn.execute(
        "SELECT 1 FROM orders WHERE seq > ? AND status = 'new' AND COALESCE(triggered_at, created_at) < ? LIMIT 1",
        (since_seq, before),
    ).fetchone()
    return row is not None


def order(conn: Conn, order_id: int, user_id: int, *, account_id: int | None = None) -> OrderRow | None:
    """One of the user's orders (of one of their accounts, if given)."""
    row = conn.execute(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = ? AND user_id = ? AND account_id = COALESCE(?, account_id)",
        (order_id, user_id, account_id),
    ).fetchone()
    return OrderRow._make(row) if row else None


def orders_page(
    conn: Conn, account_id: int, symbol: str | None, statuses: Sequence[str] | None, offset: int, limit: int,
    client_order_id: str | None = None,
) -> tuple[int, list[OrderRow]]:
    where = "account_id = ?"
    params: list[Any] = [account_id]
    if client_order_id is not None:
        where += " AND client_order_id = ?"
        params.append(client_order_id)
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
    )
    return total, list(map(OrderRow._make, rows))


def leaderboard_rows(conn: Conn) -> tuple[list[AccountAssetRow], list[FlowRow]]:
    """Every active user's accounts' non-zero balances (account id, asset, amount), and the
    cash flows of each account with cash movements since its last reset."""
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
        " WHERE u.disabled = 0 AND e.kind IN ('deposit', 'withdrawal') AND e.id > a.reset_entry"
        " GROUP BY a.id, u.username, u.display_name, a.name"
    )
    return list(map(AccountAssetRow._make, balances)), list(map(FlowRow._make, flows))


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
) -> list[LotRow]:
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
    return list(map(LotRow._make, conn.execute(
        f"SELECT id, symbol, order_id, opened_at, quantity, cost, remaining, remaining_cost FROM lots WHERE {where}"
        " ORDER BY symbol, id", params,
    )))


def pnl_rows(conn: Conn, account_id: int) -> PnlRows:
    """The account since its last reset: its balances, realized P&L and fees by asset, cash flows."""
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
    return PnlRows(list(map(HoldingRow._make, balances)), list(map(RealizedRow._make, realized)), *flows)


def moves_since(conn: Conn, account_id: int, since: str) -> tuple[dict[str, int], int]:
    """What the account's entries from `since` on (those after its last reset) moved, by asset
    in minor units; and of that, the cash its deposits and withdrawals brought in, net, cents."""
    moved: dict[str, int] = {}
    external = 0
    for asset, amount, flows in conn.execute(
        "SELECT p.asset, SUM(p.amount), SUM(CASE WHEN e.kind IN ('deposit', 'withdrawal') THEN p.amount ELSE 0 END)"
        " FROM entries e JOIN accounts a ON a.id = e.account_id"
        " JOIN postings p ON p.entry_id = e.id AND p.account_id = e.account_id"
        " WHERE e.account_id = ? AND e.created_at >= ? AND e.id > a.reset_entry GROUP BY p.asset",
        (account_id, since),
    ):
        moved[asset] = int(amount)
        if asset == USD:
            external = int(flows)
    return moved, external
