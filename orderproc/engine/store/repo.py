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
from orderproc.engine.domain.money import USD, USD_PRECISION, from_units
from orderproc.engine.errors import InsufficientFunds, SchemaMismatch, UsernameTaken

SCHEMA_VERSION = 1
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
    conn.executemany(
        "INSERT INTO assets (symbol, name, category, rank, peg, reference_price, reference_date, source,"
        " volatility, precision, history, enabled) VALUES (:symbol, :name, :category, :rank, :peg,"
        " :reference_price, :reference_date, :source, :volatility, :precision, :history, 1)",
        list(assets),
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


# -- users -------------------------------------------------------------------------------

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


def session_user(conn: Conn, user_id: int, jti: str) -> tuple[Row | None, bool]:
    """The token's user and whether the token was revoked, in one statement."""
    row = conn.execute(
        f"SELECT {USER_COLUMNS}, (SELECT 1 FROM revoked_tokens WHERE jti = ?) FROM users WHERE id = ?",
        (jti, user_id),
    ).fetchone()
    if row is None:
        return None, False
    return row[:-1], row[-1] is not None


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
                " WHERE account_id = :account AND asset = :asset AND amount >= :need",
                {"amount": p.amount, "cost": p.cost, "account": p.account_id, "asset": p.asset, "need": -p.amount},
            )
            if cur.rowcount != 1:
                held = balance(conn, p.account_id, p.asset)[0]
                available = format(from_units(held, USD_PRECISION), "f") if p.asset == USD else str(held)
                raise InsufficientFunds(
                    f"insufficient funds: {available} {p.asset} available",
                    {"asset": p.asset, "available": available},
                )
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


def balance(conn: Conn, account_id: int, asset: str) -> tuple[int, int]:
    """(amount, cost basis) of one asset in one account."""
    row = conn.execute(
        "SELECT amount, cost FROM balances WHERE account_id = ? AND asset = ?", (account_id, asset)
    ).fetchone()
    return (row[0], row[1]) if row else (0, 0)


def positions(conn: Conn, account_id: int) -> list[Row]:
    return conn.execute(
        "SELECT asset, amount, cost FROM balances WHERE account_id = ? AND amount != 0 ORDER BY asset",
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

ORDER_COLUMNS = "id, symbol, side, status, quantity, price, notional, client_order_id, created_at"


def insert_order(
    conn: Conn,
    user_id: int,
    account_id: int,
    symbol: str,
    side: str,
    units: int,
    price: str,
    cents: int,
    client_order_id: str | None,
    now: str,
) -> int:
    cur = conn.execute(
        "INSERT INTO orders (user_id, account_id, symbol, side, status, quantity, price, notional,"
        " client_order_id, created_at) VALUES (?, ?, ?, ?, 'filled', ?, ?, ?, ?, ?)",
        (user_id, account_id, symbol, side, units, price, cents, client_order_id, now),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def order(conn: Conn, order_id: int, user_id: int) -> Row | None:
    row: Row | None = conn.execute(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = ? AND user_id = ?", (order_id, user_id)
    ).fetchone()
    return row


def orders_page(conn: Conn, user_id: int, symbol: str | None, offset: int, limit: int) -> tuple[int, list[Row]]:
    where = "user_id = ?"
    params: list[Any] = [user_id]
    if symbol:
        where += " AND symbol = ?"
        params.append(symbol)
    total = conn.execute(f"SELECT COUNT(*) FROM orders WHERE {where}", params).fetchone()[0]
    rows = conn.execute(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return total, rows


def leaderboard_rows(conn: Conn) -> tuple[list[Row], list[Row]]:
    """Every active user's non-zero balances (user id, asset, amount), and per active user with
    cash movements: (user id, username, display name, deposited cents, withdrawn cents, first
    deposit time)."""
    balances = conn.execute(
        "SELECT u.id, b.asset, b.amount FROM users u"
        " JOIN balances b ON b.account_id = u.account_id WHERE u.disabled = 0 AND b.amount != 0"
    ).fetchall()
    flows = conn.execute(
        "SELECT u.id, u.username, u.display_name,"
        " SUM(CASE WHEN e.kind = 'deposit' THEN p.amount ELSE 0 END),"
        " -SUM(CASE WHEN e.kind = 'withdrawal' THEN p.amount ELSE 0 END),"
        " MIN(CASE WHEN e.kind = 'deposit' THEN e.created_at END)"
        " FROM users u JOIN entries e ON e.account_id = u.account_id"
        " JOIN postings p ON p.entry_id = e.id AND p.account_id = u.account_id AND p.asset = 'USD'"
        " WHERE u.disabled = 0 AND e.kind IN ('deposit', 'withdrawal') GROUP BY u.id"
    ).fetchall()
    return balances, flows


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
        " JOIN postings p ON p.entry_id = e.id GROUP BY o.id HAVING COUNT(p.id) != 4"
    ):
        problems.append(f"order {order_id} does not have exactly its four postings")
    counts = {
        name: conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]
        for name in ("entries", "postings", "orders", "accounts")
    }
    return problems, sums, counts
