"""The store: the ledger's SQL, one group of functions per aggregate, returning typed rows
(`rows.py`). This module: users and their accounts, the journal and balances, idempotency
keys, the audit log; `ledger.py` the schema and meta, `trading.py` orders, lots and P&L,
`checks.py` the checker.

The interface a second SQL backend implements: every function takes a DB-API connection
(`Conn`: qmark parameters, `INSERT ... RETURNING id`, `ON CONFLICT ... DO UPDATE`, savepoints,
and the DB-API's exception classes on the connection, `conn.IntegrityError`) whose
transaction the caller owns; nothing here commits. What is SQLite's own (the file, pragmas,
locking, `integrity_check`) lives in `sqlite.py` with the writer and reader threads both
backends use; PostgreSQL's own in `postgres.py`, whose `PgConn` gives psycopg this surface.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from orderproc.engine.domain.ledger import SYSTEM_ACCOUNTS, Posting, check_balanced
from orderproc.engine.domain.money import USD, USD_PRECISION, amount_text, from_units
from orderproc.engine.errors import Conflict, InsufficientFunds, UsernameTaken
from orderproc.engine.store.rows import (
    AccountRow,
    AuditRow,
    BalanceRow,
    EntryLine,
    EntryRow,
    HoldingRow,
    IdempotentRef,
    PositionRow,
    SessionRow,
    UserRow,
)

# the DB-API connection the store speaks to (typed as sqlite3's, the first backend's; only
# the DB-API surface is used)
Conn = sqlite3.Connection


# -- users and their paper accounts ---------------------------------------------------

USER_COLUMNS = "id, username, role, display_name, email, disabled, token_version, account_id, created_at"


def insert_user(conn: Conn, username: str, password_hash: str, now: str) -> int:
    account_id = inserted(conn, "INSERT INTO accounts (kind, user_id, name) VALUES ('customer', NULL, 'main')")
    try:
        user_id = inserted(
            conn,
            "INSERT INTO users (username, username_key, password_hash, role, disabled, token_version,"
            " account_id, created_at) VALUES (?, ?, ?, 'customer', 0, 0, ?, ?)",
            (username, username.lower(), password_hash, account_id, now),
        )
    except conn.IntegrityError:
        raise UsernameTaken(f"the username {username!r} is taken", {"field": "username"}) from None
    conn.execute("UPDATE accounts SET user_id = ? WHERE id = ?", (user_id, account_id))
    return user_id


def inserted(conn: Conn, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
    """Run an INSERT of one row; the new row's id (`RETURNING id`, portable SQL)."""
    new_id: int = conn.execute(sql + " RETURNING id", params).fetchone()[0]
    return new_id


def _user(row: Sequence[Any]) -> UserRow:
    uid, username, role, display_name, email, disabled, version, account_id, created = row
    return UserRow(uid, username, role, display_name, email, bool(disabled), version, account_id, created)


def user_by_id(conn: Conn, user_id: int) -> UserRow | None:
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
    return _user(row) if row else None


def user_by_name(conn: Conn, username: str) -> UserRow | None:
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE username_key = ?", (username.lower(),)).fetchone()
    return _user(row) if row else None


def password_hash(conn: Conn, user_id: int) -> str | None:
    row = conn.execute("SELECT password_hash FROM users WHERE id = ?", (user_id,)).fetchone()
    return row[0] if row else None


def session_user(conn: Conn, user_id: int, jti: str, account: int | None = None) -> SessionRow:
    """The token's user, whether the token was revoked, and the token's account if it is one of
    the user's (the user's first account when the token names none), in one statement."""
    row = conn.execute(
        f"SELECT {USER_COLUMNS}, (SELECT 1 FROM revoked_tokens WHERE jti = ?),"
        " COALESCE((SELECT id FROM accounts WHERE id = ? AND user_id = users.id), CASE WHEN ? IS NULL THEN"
        " account_id END) FROM users WHERE id = ?",
        (jti, account, account, user_id),
    ).fetchone()
    if row is None:
        return SessionRow(None, False, None)
    return SessionRow(_user(row[:-2]), row[-2] is not None, row[-1])


def accounts_of(conn: Conn, user_id: int) -> list[AccountRow]:
    """Each of the user's accounts with its cash, oldest first."""
    return list(map(AccountRow._make, conn.execute(
        "SELECT a.id, a.name, COALESCE(b.amount, 0), COALESCE(b.reserved, 0) FROM accounts a"
        " LEFT JOIN balances b ON b.account_id = a.id AND b.asset = 'USD' WHERE a.user_id = ? ORDER BY a.id",
        (user_id,),
    )))


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
        return inserted(conn, "INSERT INTO accounts (kind, user_id, name) VALUES ('customer', ?, ?)", (user_id, name))
    except conn.IntegrityError:
        raise Conflict(f"you already have an account named {name!r}", {"field": "name"}) from None


def holdings(conn: Conn, account_id: int) -> list[HoldingRow]:
    """Everything the account holds."""
    return list(map(HoldingRow._make, conn.execute(
        "SELECT asset, amount, cost FROM balances WHERE account_id = ? AND amount != 0 ORDER BY asset", (account_id,)
    )))


def mark_reset(conn: Conn, account_id: int, entry_id: int) -> None:
    """The account starts again from `entry_id`: its lots are closed (their history stays)."""
    conn.execute("UPDATE lots SET remaining = 0, remaining_cost = 0 WHERE account_id = ? AND remaining > 0",
                 (account_id,))
    conn.execute("UPDATE accounts SET reset_entry = ? WHERE id = ?", (entry_id, account_id))


def list_users(conn: Conn) -> list[UserRow]:
    return [_user(r) for r in conn.execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY id")]


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
    entry_id = inserted(
        conn, "INSERT INTO entries (kind, account_id, order_id, client_key, created_at) VALUES (?, ?, ?, ?, ?)",
        (kind, account_id, order_id, client_key, now),
    )
    conn.executemany(
        "INSERT INTO postings (entry_id, account_id, asset, amount) VALUES (?, ?, ?, ?)",
        [(entry_id, p.account_id, p.asset, p.amount) for p in postings],
    )
    return entry_id


def _insufficient(conn: Conn, account_id: int, asset: str) -> InsufficientFunds:
    held, _, reserved = balance(conn, account_id, asset)
    row = conn.execute("SELECT precision FROM assets WHERE symbol = ?", (asset,)).fetchone()
    available = from_units(held - reserved, USD_PRECISION if asset == USD else row[0] if row else 0)
    return InsufficientFunds(
        f"insufficient funds: {amount_text(available, asset)} available",
        {"asset": asset, "available": format(available, "f")},
    )


def balance(conn: Conn, account_id: int, asset: str) -> BalanceRow:
    """One asset in one account (zeros if it never held any)."""
    row = conn.execute(
        "SELECT amount, cost, reserved FROM balances WHERE account_id = ? AND asset = ?", (account_id, asset)
    ).fetchone()
    return BalanceRow._make(row) if row else BalanceRow(0, 0, 0)


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


def positions(conn: Conn, account_id: int) -> list[PositionRow]:
    return list(map(PositionRow._make, conn.execute(
        "SELECT asset, amount, cost, reserved FROM balances WHERE account_id = ? AND amount != 0 ORDER BY asset",
        (account_id,),
    )))


def entry(conn: Conn, entry_id: int, account_id: int) -> EntryRow | None:
    """One entry of the account, with its postings on that account."""
    head = conn.execute(
        "SELECT id, kind, created_at, order_id, client_key FROM entries WHERE id = ? AND account_id = ?",
        (entry_id, account_id),
    ).fetchone()
    if head is None:
        return None
    lines = conn.execute(
        "SELECT asset, amount FROM postings WHERE entry_id = ? AND account_id = ?", (entry_id, account_id)
    )
    return _entry(head, list(map(EntryLine._make, lines)))


def entries_page(
    conn: Conn, account_id: int, kinds: Sequence[str] | None, offset: int, limit: int
) -> tuple[int, list[EntryRow]]:
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
    lines: dict[int, list[EntryLine]] = {i: [] for i in ids}
    for entry_id, asset, amount in conn.execute(
        f"SELECT entry_id, asset, amount FROM postings WHERE account_id = ? AND entry_id IN ({', '.join('?' * len(ids))})",
        [account_id, *ids],
    ):
        lines[entry_id].append(EntryLine(asset, amount))
    return total, [_entry(h, lines[h[0]]) for h in heads]


def _entry(head: Sequence[Any], lines: list[EntryLine]) -> EntryRow:
    entry_id, kind, created_at, order_id, client_key = head
    return EntryRow(entry_id, kind, created_at, order_id, client_key, lines)


# -- idempotency keys ----------------------------------------------------------------------


def idempotent_ref(conn: Conn, user_id: int, key: str) -> IdempotentRef | None:
    """What a key this user used before was for: its kind, request hash and result id."""
    row = conn.execute(
        "SELECT kind, request_hash, ref_id FROM idempotency_keys WHERE user_id = ? AND client_key = ?",
        (user_id, key),
    ).fetchone()
    return IdempotentRef._make(row) if row else None


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


def audit_page(conn: Conn, offset: int, limit: int) -> tuple[int, list[AuditRow]]:
    total = conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    rows = conn.execute(
        "SELECT id, at, actor, action, target, detail, source FROM audit ORDER BY id DESC LIMIT ? OFFSET ?",
        (limit, offset),
    )
    return total, list(map(AuditRow._make, rows))


def rate_bucket(conn: Conn, key: str) -> tuple[float, float] | None:
    """A login-limit bucket's tokens and when it held them (None: full, or never used)."""
    row = conn.execute("SELECT tokens, at FROM rate_buckets WHERE key = ?", (key,)).fetchone()
    return (row[0], row[1]) if row else None


def save_rate_bucket(conn: Conn, key: str, tokens: float, at: float, full_at: float) -> None:
    conn.execute(
        "INSERT INTO rate_buckets (key, tokens, at, full_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE"
        " SET tokens = excluded.tokens, at = excluded.at, full_at = excluded.full_at",
        (key, tokens, at, full_at),
    )


def forget_full_buckets(conn: Conn, now: float) -> None:
    """Drop the buckets that are full again by now: a missing bucket is a full one."""
    conn.execute("DELETE FROM rate_buckets WHERE full_at <= ?", (now,))
