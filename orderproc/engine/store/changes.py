"""What changed in the ledger since a watcher last looked (`usecases/watch.py`): the newest
journal entry, order, order change and alert firing, each an index lookup, and which accounts
moved them (an alert moves every account of its user).

The marks are ids and the orders' change sequence: both grow in commit order, because every
write transaction takes the ledger's write lock before it writes (SQLite's BEGIN IMMEDIATE,
PostgreSQL's advisory lock), so a mark never jumps over a change still to commit.
"""

from __future__ import annotations

from orderproc.engine.store.repo import Conn

Marks = tuple[int, int, int, int]  # the newest entry, order, order change, alert firing (0: none yet)


def marks(conn: Conn) -> Marks:
    """The ledger's newest entry, order, order change and alert firing: one statement, four
    index lookups."""
    row = conn.execute(
        "SELECT (SELECT COALESCE(MAX(id), 0) FROM entries), (SELECT COALESCE(MAX(id), 0) FROM orders),"
        " (SELECT COALESCE(MAX(seq), 0) FROM orders), (SELECT COALESCE(MAX(fired_seq), 0) FROM alerts)"
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def account_marks(conn: Conn, user_id: int, account_id: int) -> Marks:
    """One account's newest entry, order and order change, and its user's newest alert firing."""
    row = conn.execute(
        "SELECT (SELECT COALESCE(MAX(id), 0) FROM entries WHERE account_id = ?),"
        " (SELECT COALESCE(MAX(id), 0) FROM orders WHERE user_id = ? AND account_id = ?),"
        " (SELECT COALESCE(MAX(seq), 0) FROM orders WHERE user_id = ? AND account_id = ?),"
        " (SELECT COALESCE(MAX(fired_seq), 0) FROM alerts WHERE user_id = ?)",
        (account_id, user_id, account_id, user_id, account_id, user_id),
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def moved_since(conn: Conn, since: Marks) -> dict[int, Marks]:
    """The accounts with an entry, an order, an order change or (their user's) alert firing
    after `since`, with their newest of each among those (0 where none of that kind moved).
    Gathered here, not with GROUP BY, which made SQLite walk the whole (account, id) index
    instead of the few new rows."""
    entry, order, change, alert = since
    moved: dict[int, Marks] = {}
    for account, newest in conn.execute("SELECT account_id, id FROM entries WHERE id > ?", (entry,)):
        was = moved.get(account, (0, 0, 0, 0))
        moved[account] = (max(was[0], newest), was[1], was[2], was[3])
    for account, newest, seq in conn.execute("SELECT account_id, id, seq FROM orders WHERE id > ? OR seq > ?",
                                             (order, change)):
        was = moved.get(account, (0, 0, 0, 0))
        moved[account] = (was[0], max(was[1], newest), max(was[2], seq or 0), was[3])
    for account, fired in conn.execute("SELECT a.id, al.fired_seq FROM alerts al JOIN accounts a"
                                       " ON a.user_id = al.user_id WHERE al.fired_seq > ?", (alert,)):
        was = moved.get(account, (0, 0, 0, 0))
        moved[account] = (was[0], was[1], was[2], max(was[3], fired))
    return moved
