"""The writer's group commit: jobs share a transaction but fail alone and are acknowledged after commit."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from orderproc.engine import errors
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import OrderRequest, Side
from orderproc.engine.service import LocalEngine
from orderproc.engine.store.sqlite import Database, Writer


def test_local_engine_implements_the_engine_protocol(engine: LocalEngine) -> None:
    assert isinstance(engine, Engine)


async def test_a_failing_order_in_a_batch_rolls_back_alone(engine: LocalEngine, token: str) -> None:
    await engine.deposit(token, "1000")
    good = OrderRequest(symbol="ETH", side=Side.BUY, quantity="0.001")  # about $4
    bad = OrderRequest(symbol="BTC", side=Side.BUY, quantity="5")  # about $550,000
    requests = [bad if i % 4 == 0 else good for i in range(40)]
    results = await asyncio.gather(*[engine.place_order(token, r) for r in requests], return_exceptions=True)
    filled = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, errors.InsufficientFunds) for r in refused)
    assert len(refused) == 10
    spent = sum((o.notional for o in filled), Decimal(0))
    assert (await engine.balance(token)).cash == Decimal("1000.00") - spent
    assert (await engine.orders(token, limit=100)).total == len(filled)
    assert (await engine.admin_verify(engine.operator_token)).ok


@pytest.fixture(params=["NORMAL", "FULL"])
def scratch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Database, Writer]]:
    """A one-table database and its writer: NORMAL commits on the event loop, FULL on the writer thread."""
    db, writer = _one_table(tmp_path, request.param)
    yield db, writer
    writer.close()


def _one_table(tmp_path: Path, synchronous: str, columns: str = "n INTEGER") -> tuple[Database, Writer]:
    db = Database(tmp_path / "w.db", synchronous=synchronous)
    db.create()
    setup = db.connect()
    setup.execute(f"CREATE TABLE t ({columns})")
    setup.close()
    return db, Writer(db)


def _rows(db: Database) -> list[tuple[int, ...]]:
    conn = sqlite3.connect(db.path)
    try:
        return conn.execute("SELECT n FROM t ORDER BY n").fetchall()
    finally:
        conn.close()


async def test_an_acknowledged_write_is_visible_to_a_new_connection(scratch: tuple[Database, Writer]) -> None:
    db, writer = scratch
    await asyncio.gather(*[writer.run(lambda c, i=i: c.execute("INSERT INTO t VALUES (?)", (i,))) for i in range(50)])
    assert _rows(db) == [(i,) for i in range(50)]


async def test_a_crashing_job_fails_only_its_caller(scratch: tuple[Database, Writer]) -> None:
    db, writer = scratch

    def crash(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (-1)")
        raise RuntimeError("boom")

    results = await asyncio.gather(
        writer.run(lambda c: c.execute("INSERT INTO t VALUES (1)")),
        writer.run(crash),
        writer.run(lambda c: c.execute("INSERT INTO t VALUES (2)")),
        return_exceptions=True,
    )
    assert isinstance(results[1], RuntimeError)
    assert not isinstance(results[0], BaseException) and not isinstance(results[2], BaseException)
    assert _rows(db) == [(1,), (2,)]


async def test_a_lone_crashing_job_leaves_nothing_behind(scratch: tuple[Database, Writer]) -> None:
    db, writer = scratch

    def crash(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (-1)")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await writer.run(crash)
    await writer.run(lambda c: c.execute("INSERT INTO t VALUES (3)"))
    assert _rows(db) == [(3,)]


async def test_a_ledger_locked_by_another_process_gives_ledger_busy_not_a_raw_error(tmp_path: Path) -> None:
    db = Database(tmp_path / "w.db", busy_timeout=0.2)
    db.create()
    setup = db.connect()
    setup.execute("CREATE TABLE t (n INTEGER)")
    holder = db.connect()
    holder.execute("BEGIN IMMEDIATE")
    writer = Writer(db)
    try:
        with pytest.raises(errors.LedgerBusy):
            await writer.run(lambda c: c.execute("INSERT INTO t VALUES (1)"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        setup.close()
        writer.close()


async def test_price_history_and_the_quote_stream_serve_every_enabled_asset(engine: LocalEngine) -> None:
    points = await engine.price_history("BTC", hours=6, points=24)
    assert len(points) == 24
    assert all(p.low <= min(p.open, p.close) and max(p.open, p.close) <= p.high for p in points)
    stream = engine.stream_quotes(interval=0.01)
    first = await anext(stream)
    await stream.aclose()
    assert {q.symbol for q in first} == {a.symbol for a in await engine.list_assets()}


async def test_the_wal_starts_over_while_orders_keep_coming(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints run beside the commits, yet the WAL starts over, so the file does not grow without end."""
    monkeypatch.setattr("orderproc.engine.store.sqlite.CHECKPOINT_JOBS", 32)
    db, writer = _one_table(tmp_path, "NORMAL", "n INTEGER, data BLOB")
    blob, wal = bytes(4096), tmp_path / "w.db-wal"

    def restarts() -> int:  # the WAL header's checkpoint sequence: 0 while the WAL only ever grew
        with wal.open("rb") as header:
            return int.from_bytes(header.read(16)[12:16], "big")

    jobs, deadline = 0, time.monotonic() + 30  # on a busy machine the checkpointer runs late: go on
    try:
        while jobs < 1000 or (restarts() < 2 and time.monotonic() < deadline):
            await writer.run(lambda c, i=jobs: c.execute("INSERT INTO t VALUES (?, ?)", (i, blob)))
            jobs += 1
        seen = restarts()
    finally:
        writer.close()
    assert seen >= 2, f"the WAL never started over in {jobs} jobs"  # checkpoints only beside commits
    assert len(_rows(db)) == jobs


async def test_jobs_wait_on_their_loop_while_another_thread_writes(tmp_path: Path) -> None:
    """While another thread of the process holds the write lock (the writer thread, a checkpoint's
    last pass), jobs wait without spinning the loop, and all commit once it is released."""
    db, writer = _one_table(tmp_path, "NORMAL")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with writer._holding_writes():
            held.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        held.wait()
        jobs = [asyncio.ensure_future(writer.run(lambda c, i=i: c.execute("INSERT INTO t VALUES (?)", (i,))))
                for i in range(50)]
        cpu0 = time.process_time()
        await asyncio.sleep(0.3)
        cpu = time.process_time() - cpu0
        assert not any(job.done() for job in jobs)
        release.set()
        await asyncio.wait_for(asyncio.gather(*jobs), timeout=10)
    finally:
        release.set()
        holder.join()
        writer.close()
    assert cpu < 0.15  # parked, not retrying: a loop that retried used the whole 0.3 s
    assert _rows(db) == [(i,) for i in range(50)]
