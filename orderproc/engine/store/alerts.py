"""Price alerts in the ledger: set, list, remove, and fire (once: the price loop's write
transaction marks an alert fired only if it was not, under the ledger's write lock)."""

from __future__ import annotations

from typing import NamedTuple

from orderproc.engine.store.repo import Conn, inserted

COLUMNS = "id, symbol, direction, price, created_at, fired_at, fired_price"


class AlertRow(NamedTuple):
    id: int
    symbol: str
    direction: str
    price: str
    created_at: str
    fired_at: str | None
    fired_price: str | None


class PendingAlert(NamedTuple):
    id: int
    symbol: str
    direction: str
    price: str
    created_at: str


def add(conn: Conn, user_id: int, symbol: str, direction: str, price: str, now: str) -> int:
    return inserted(conn, "INSERT INTO alerts (user_id, symbol, direction, price, created_at) VALUES (?, ?, ?, ?, ?)",
                    (user_id, symbol, direction, price, now))


def of_user(conn: Conn, user_id: int, *, fired: bool | None = None) -> list[AlertRow]:
    """The user's alerts, oldest first (`fired`: only those that fired, or only those that did not)."""
    where = "" if fired is None else " AND fired_at IS NOT NULL" if fired else " AND fired_at IS NULL"
    return list(map(AlertRow._make, conn.execute(
        f"SELECT {COLUMNS} FROM alerts WHERE user_id = ?{where} ORDER BY id", (user_id,))))


def one(conn: Conn, user_id: int, alert_id: int) -> AlertRow | None:
    row = conn.execute(f"SELECT {COLUMNS} FROM alerts WHERE user_id = ? AND id = ?", (user_id, alert_id)).fetchone()
    return AlertRow._make(row) if row else None


def count_pending(conn: Conn, user_id: int) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM alerts WHERE user_id = ? AND fired_at IS NULL",
                            (user_id,)).fetchone()[0])


def remove(conn: Conn, user_id: int, alert_id: int) -> bool:
    return bool(conn.execute("DELETE FROM alerts WHERE user_id = ? AND id = ?", (user_id, alert_id)).rowcount)


def pending(conn: Conn) -> list[PendingAlert]:
    """Every alert that has not fired, on any user's list: what the price loop looks at."""
    return list(map(PendingAlert._make, conn.execute(
        "SELECT id, symbol, direction, price, created_at FROM alerts WHERE fired_at IS NULL ORDER BY id")))


def set_since(conn: Conn, seen: int, through: str) -> bool:
    """Whether an alert newer than id `seen` waits that was set by `through`: set after the
    price loop read the alerts, its ticks up to `through` would be passed over (read again)."""
    return conn.execute("SELECT 1 FROM alerts WHERE id > ? AND fired_at IS NULL AND created_at <= ? LIMIT 1",
                        (seen, through)).fetchone() is not None


def fire(conn: Conn, alert_id: int, at: str, price: str) -> bool:
    """Mark the alert fired at `at` and `price`, unless it has fired already (or is gone)."""
    cursor = conn.execute(
        "UPDATE alerts SET fired_at = ?, fired_price = ?,"
        " fired_seq = (SELECT COALESCE(MAX(fired_seq), 0) + 1 FROM alerts) WHERE id = ? AND fired_at IS NULL",
        (at, price, alert_id),
    )
    return cursor.rowcount == 1
