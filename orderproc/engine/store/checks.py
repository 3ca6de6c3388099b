"""The checker: everything recomputed from the journal, in SQL (`admin verify`)."""

from __future__ import annotations

from orderproc.engine.store.ledger import meta_value
from orderproc.engine.store.repo import Conn
from orderproc.engine.store.rows import LedgerCheck


def ledger_problems(conn: Conn) -> LedgerCheck:  # noqa: C901 - one query per invariant, in a row
    """Recompute everything from the journal: the problems found, per-asset sums, row counts."""
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
    for account_id, order_id, realized, closed in conn.execute(
        "SELECT o.account_id, o.id, o.realized, COALESCE(SUM(c.proceeds - c.cost), 0) FROM orders o"
        " LEFT JOIN lot_closes c ON c.order_id = o.id WHERE o.status = 'filled' AND o.side = 'sell'"
        " GROUP BY o.account_id, o.id, o.realized"
        " HAVING o.realized IS NULL OR o.realized != COALESCE(SUM(c.proceeds - c.cost), 0)"
    ):
        problems.append(f"account {account_id}: filled sell {order_id} realized {realized} cents of P&L but its"
                        f" lot closes give {closed}")
    counts = {
        name: conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]
        for name in ("entries", "postings", "orders", "accounts")
    }
    return LedgerCheck(problems, sums, counts)
