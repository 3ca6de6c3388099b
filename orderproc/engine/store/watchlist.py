"""A user's watchlist: its symbols in the order they were added, and the sort they chose
(kept in `user_settings`, so it follows them to any terminal and server)."""

from __future__ import annotations

from orderproc.engine.store.repo import Conn

SORT_SETTING = "watchlist_sort"


def symbols(conn: Conn, user_id: int) -> list[tuple[str, str]]:
    """The watched symbols with when each was added, in the user's order."""
    return [(str(symbol), str(added_at)) for symbol, added_at in conn.execute(
        "SELECT symbol, added_at FROM watchlist WHERE user_id = ? ORDER BY position", (user_id,))]


def add(conn: Conn, user_id: int, symbol: str, now: str) -> None:
    """Put `symbol`, not on the list yet, last on it."""
    position = conn.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM watchlist WHERE user_id = ?",
                            (user_id,)).fetchone()[0]
    conn.execute("INSERT INTO watchlist (user_id, symbol, position, added_at) VALUES (?, ?, ?, ?)",
                 (user_id, symbol, int(position), now))


def remove(conn: Conn, user_id: int, symbol: str) -> bool:
    """Take `symbol` off the list; False when it was not on it."""
    cursor = conn.execute("DELETE FROM watchlist WHERE user_id = ? AND symbol = ?", (user_id, symbol))
    return bool(cursor.rowcount)


def sort(conn: Conn, user_id: int) -> str | None:
    row = conn.execute("SELECT value FROM user_settings WHERE user_id = ? AND key = ?",
                       (user_id, SORT_SETTING)).fetchone()
    return str(row[0]) if row else None


def set_sort(conn: Conn, user_id: int, value: str) -> None:
    conn.execute("DELETE FROM user_settings WHERE user_id = ? AND key = ?", (user_id, SORT_SETTING))
    conn.execute("INSERT INTO user_settings (user_id, key, value) VALUES (?, ?, ?)", (user_id, SORT_SETTING, value))
