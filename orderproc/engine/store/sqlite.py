"""Everything SQLite-specific: the file, pragmas, the write lock, and the threads that talk to it.

Why not async SQLAlchemy: on these machines every DBAPI call through aiosqlite is a round
trip to its thread (about 21 per order), which measured 1.5-3% of bare sqlite3. Instead a
whole use case is one job handed once to a thread that runs it synchronously.

Writes go to one writer thread per process, which owns the only write connection and
runs jobs in *group commits*: it takes every job waiting in its queue, opens one
`BEGIN IMMEDIATE` transaction (the write lock up front, so concurrent processes queue on the
busy timeout instead of losing updates), runs each job in its own SAVEPOINT (a failing job
rolls back alone and has no effect), commits once, and only then acknowledges each job.
Reads run on a small pool of reader threads with their own connections (WAL lets them
proceed while a writer holds the lock), each read job in one snapshot transaction.
"""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from orderproc.engine.errors import LedgerBusy, OrderprocError, SchemaMismatch

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
ErrorHook = Callable[[sqlite3.Connection, OrderprocError], None]

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Database:
    """A ledger file and how to connect to it."""

    def __init__(self, path: Path, *, synchronous: str = "NORMAL", busy_timeout: float = 30.0) -> None:
        synchronous = synchronous.upper()
        if synchronous not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
        self.path = path
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout

    def create_file(self) -> None:
        """Create the ledger file (and its folder) readable by its owner only."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)

    def connect(self, *, readonly: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise SchemaMismatch(f"could not put {self.path} in WAL mode (got {mode})")
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
            if readonly:
                conn.execute("PRAGMA query_only = ON")
        except sqlite3.DatabaseError as exc:
            conn.close()
            if isinstance(exc, sqlite3.OperationalError) and _is_locked(exc):
                raise LedgerBusy("the ledger is busy in another process; try again") from None
            raise SchemaMismatch(f"{self.path} is not an orderproc ledger: {exc}") from None
        return conn

    @staticmethod
    def begin_write(conn: sqlite3.Connection) -> None:
        """Take the write lock now, waiting up to the busy timeout for other processes."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _is_locked(exc):
                raise LedgerBusy("the ledger stayed locked by another process; try again") from None
            raise

    @staticmethod
    def integrity_problems(conn: sqlite3.Connection) -> list[str]:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        return [] if rows == [("ok",)] else [f"integrity_check: {r[0]}" for r in rows]


_STOP = object()


class Writer:
    """The one thread that writes, with group commit (see the module docstring)."""

    def __init__(self, db: Database, *, max_batch: int = 128) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._conn = db.connect()
        self._thread = threading.Thread(target=self._loop, name="orderproc-writer", daemon=True)
        self._thread.start()

    async def run(self, job: Callable[[sqlite3.Connection], T], on_error: ErrorHook | None = None) -> T:
        """Run `job` in a write transaction; return once its commit is durable."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((job, on_error, loop, future))
        return await future

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()
        self._conn.close()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._run_batch(batch)
            if stop:
                return

    def _run_batch(self, batch: list[Any]) -> None:
        conn = self._conn
        outcomes: list[tuple[bool, Any]] = []
        try:
            self._db.begin_write(conn)
            for job, on_error, _loop, _future in batch:
                outcomes.append(self._run_job(conn, job, on_error))
            conn.execute("COMMIT")
        except BaseException as exc:  # the whole batch failed: nothing of it was committed
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and _is_locked(exc):
                exc = LedgerBusy("the ledger stayed locked by another process; try again")
            outcomes = [(False, exc)] * len(batch)
        for (_job, _hook, loop, future), (ok, value) in zip(batch, outcomes, strict=True):
            loop.call_soon_threadsafe(_settle, future, ok, value)

    @staticmethod
    def _run_job(conn: sqlite3.Connection, job: Job, on_error: ErrorHook | None) -> tuple[bool, Any]:
        conn.execute("SAVEPOINT job")
        try:
            result = job(conn)
        except OrderprocError as exc:
            conn.execute("ROLLBACK TO job")
            if on_error is not None:
                on_error(conn, exc)
            conn.execute("RELEASE job")
            return False, exc
        except Exception as exc:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            return False, exc
        conn.execute("RELEASE job")
        return True, result


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class Readers:
    """A small pool of reader threads, each with its own read-only connection."""

    def __init__(self, db: Database, *, threads: int = 2) -> None:
        self._db = db
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="orderproc-reader")

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._db.connect(readonly=True)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _snapshot(self, job: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            return job(conn)
        finally:
            conn.execute("COMMIT")

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run `job` in one consistent read snapshot."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._snapshot, job)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
