"""The journal of some customer accounts, read whole for an export: the accounts, their
entries with their own postings, orders, lots and what each sale took from them, balances.

Plain, portable SQL on a DBAPI connection whose transaction the caller owns (see repo.py). The
accounts are chosen once (`journal_accounts`); every other query reads "those accounts" through
the same filter, a subquery rather than a list of ids.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from orderproc.engine.store.repo import Conn
from orderproc.engine.store.rows import LotRow, OrderRow
from orderproc.engine.store.trading import ORDER_COLUMNS


class Scope(NamedTuple):
    """Which customer accounts: every one, a user's, or one account (None: no narrowing)."""

    user_id: int | None = None
    account_id: int | None = None

    def sql(self) -> tuple[str, list[Any]]:
        """A subquery of the accounts' ids, and its parameters."""
        where, params = "kind = 'customer'", []
        if self.user_id is not None:
            where += " AND user_id = ?"
            params.append(self.user_id)
        if self.account_id is not None:
            where += " AND id = ?"
            params.append(self.account_id)
        return f"SELECT id FROM accounts WHERE {where}", params


class JournalAccountRow(NamedTuple):
    id: int
    name: str
    reset_entry: int
    user_id: int
    username: str


class JournalEntryRow(NamedTuple):
    id: int
    kind: str
    account_id: int
    order_id: int | None
    client_key: str | None
    created_at: str


class JournalPostingRow(NamedTuple):
    """An entry's posting on the entry's own account."""

    entry_id: int
    asset: str
    amount: int


class LotCloseRow(NamedTuple):
    """What a sale took from one lot, in the order the sale took it."""

    order_id: int
    lot_id: int
    quantity: int
    cost: int


class AccountHoldingRow(NamedTuple):
    account_id: int
    asset: str
    amount: int
    cost: int


class JournalRows(NamedTuple):
    accounts: list[JournalAccountRow]
    entries: list[JournalEntryRow]
    postings: list[JournalPostingRow]
    orders: list[tuple[int, OrderRow]]  # (account id, order)
    lots: list[tuple[int, LotRow]]  # (account id, lot)
    closes: list[LotCloseRow]
    balances: list[AccountHoldingRow]


def journal_accounts(conn: Conn, scope: Scope) -> list[JournalAccountRow]:
    ids, params = scope.sql()
    return list(map(JournalAccountRow._make, conn.execute(
        f"SELECT a.id, a.name, a.reset_entry, u.id, u.username FROM accounts a JOIN users u ON u.id = a.user_id"
        f" WHERE a.id IN ({ids}) ORDER BY u.id, a.id", params,
    )))


def journal_rows(conn: Conn, scope: Scope) -> JournalRows:
    """Everything the accounts' journal holds, each list in the order it was written."""
    ids, params = scope.sql()
    entries = conn.execute(
        f"SELECT id, kind, account_id, order_id, client_key, created_at FROM entries WHERE account_id IN ({ids})"
        " ORDER BY id", params,
    ).fetchall()
    postings = conn.execute(
        f"SELECT p.entry_id, p.asset, p.amount FROM postings p JOIN entries e ON e.id = p.entry_id"
        f" WHERE e.account_id IN ({ids}) AND p.account_id = e.account_id ORDER BY p.id", params,
    ).fetchall()
    orders = conn.execute(
        f"SELECT account_id, {ORDER_COLUMNS} FROM orders WHERE account_id IN ({ids}) ORDER BY id", params,
    ).fetchall()
    lots = conn.execute(
        "SELECT account_id, id, symbol, order_id, opened_at, quantity, cost, remaining, remaining_cost FROM lots"
        f" WHERE account_id IN ({ids}) ORDER BY id", params,
    ).fetchall()
    closes = conn.execute(
        "SELECT c.order_id, c.lot_id, c.quantity, c.cost FROM lot_closes c JOIN lots l ON l.id = c.lot_id"
        f" WHERE l.account_id IN ({ids}) ORDER BY c.id", params,
    ).fetchall()
    balances = conn.execute(
        f"SELECT account_id, asset, amount, cost FROM balances WHERE account_id IN ({ids})"
        " AND (amount != 0 OR asset = 'USD') ORDER BY account_id, asset", params,
    ).fetchall()
    return JournalRows(
        accounts=journal_accounts(conn, scope),
        entries=list(map(JournalEntryRow._make, entries)),
        postings=list(map(JournalPostingRow._make, postings)),
        orders=[(row[0], OrderRow._make(row[1:])) for row in orders],
        lots=[(row[0], LotRow._make(row[1:])) for row in lots],
        closes=list(map(LotCloseRow._make, closes)),
        balances=list(map(AccountHoldingRow._make, balances)),
    )
