"""API keys: a user's keys, each scoped to one of their accounts; the secret kept only as a hash.

Plain, portable SQL on a DBAPI connection whose transaction the caller owns (see repo.py).
"""

from __future__ import annotations

from typing import NamedTuple

from orderproc.engine.store.repo import USER_COLUMNS, Conn, _user, inserted
from orderproc.engine.store.rows import UserRow

KEY_COLUMNS = "k.id, k.key_id, k.name, a.name, k.read_only, k.created_at, k.revoked_at, k.last_used_at"


class KeyRow(NamedTuple):
    """A key as its owner sees it (never its secret's hash)."""

    id: int
    key_id: str
    name: str
    account: str  # the account's name
    read_only: bool
    created_at: str
    revoked_at: str | None
    last_used_at: str | None


class KeyHolder(NamedTuple):
    """What a request with a key needs: the key's hash, account and state, and its user."""

    id: int
    secret_hash: str
    account_id: int
    read_only: bool
    revoked: bool
    user: UserRow


def _key(row: tuple[object, ...]) -> KeyRow:
    kid, key_id, name, account, read_only, created, revoked, used = row
    return KeyRow(kid, key_id, name, account, bool(read_only), created, revoked, used)  # type: ignore[arg-type]


def insert_key(conn: Conn, key_id: str, user_id: int, account_id: int, name: str, secret_hash: str,
               read_only: bool, now: str) -> int:
    return inserted(
        conn,
        "INSERT INTO api_keys (key_id, user_id, account_id, name, secret_hash, read_only, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (key_id, user_id, account_id, name, secret_hash, int(read_only), now),
    )


def live_keys(conn: Conn, user_id: int) -> int:
    """How many of the user's keys are not revoked."""
    found: int = conn.execute("SELECT COUNT(*) FROM api_keys WHERE user_id = ? AND revoked_at IS NULL",
                              (user_id,)).fetchone()[0]
    return found


def keys_of(conn: Conn, user_id: int) -> list[KeyRow]:
    """The user's keys, oldest first, revoked ones too."""
    return [_key(r) for r in conn.execute(
        f"SELECT {KEY_COLUMNS} FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.user_id = ?"
        " ORDER BY k.id", (user_id,))]


def key_of(conn: Conn, user_id: int, key_id: str) -> KeyRow | None:
    row = conn.execute(
        f"SELECT {KEY_COLUMNS} FROM api_keys k JOIN accounts a ON a.id = k.account_id"
        " WHERE k.user_id = ? AND k.key_id = ?", (user_id, key_id)).fetchone()
    return _key(row) if row else None


def revoke_key(conn: Conn, key_row_id: int, now: str) -> bool:
    """Revoke a key (once: False if it already was)."""
    return conn.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                        (now, key_row_id)).rowcount == 1


def key_holder(conn: Conn, key_id: str) -> KeyHolder | None:
    """A key by its public id, with its user, in one statement (None: no such key)."""
    user_columns = ", ".join(f"u.{c.strip()}" for c in USER_COLUMNS.split(","))
    row = conn.execute(
        f"SELECT k.id, k.secret_hash, k.account_id, k.read_only, k.revoked_at, {user_columns}"
        " FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_id = ?", (key_id,)).fetchone()
    if row is None:
        return None
    return KeyHolder(row[0], row[1], row[2], bool(row[3]), row[4] is not None, _user(row[5:]))


def touch_key(conn: Conn, key_row_id: int, now: str) -> None:
    """Mark when a key was last used (never moving the mark back)."""
    conn.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                 (now, key_row_id, now))
