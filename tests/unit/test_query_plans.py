"""What the engine reads on every request or every second must not scan every order ever placed:
a busy ledger grows by thousands of orders a minute."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest

from orderproc.engine.store import ledger, trading
from orderproc.engine.store.tables import schema_ddl


def _plans_of(read: Callable[[sqlite3.Connection], object]) -> list[tuple[str, str]]:
    """Each statement `read(conn)` runs on an empty ledger, with SQLite's plan for it."""
    conn = sqlite3.connect(":memory:")
    for statement in schema_ddl():
        conn.execute(statement)
    ran: list[str] = []
    conn.set_trace_callback(ran.append)
    read(conn)
    conn.set_trace_callback(None)
    plans = []
    for sql in ran:
        plan = " / ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
        plans.append((sql, plan))
    conn.close()
    return plans


@pytest.mark.parametrize("since_seq", [0, 7], ids=["first read", "changes since"])
def test_the_matcher_reads_the_book_through_an_index(since_seq: int) -> None:
    plans = _plans_of(lambda conn: (trading.book_changes(conn, since_seq), ledger.matched_through(conn)))
    assert plans
    for sql, plan in plans:
        assert not (plan.startswith("SCAN orders") and "INDEX" not in plan), (sql, plan)
