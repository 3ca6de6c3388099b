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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from orderproc.engine.errors import LedgerBusy, LedgerUnavailable, SchemaMismatch
from orderproc.engine.security import load_or_create_secret

if TYPE_CHECKING:
    from orderproc.engine.store.backend import Backend

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Database:
    """A ledger file and how to connect to it."""

    dialect = "sqlite"

    def __init__(self, path: Path, *, synchronous: str = "NORMAL", busy_timeout: float = 30.0) -> None:
        synchronous = synchronous.upper()
        if synchronous not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
        self.path = path
        self.location = str(path)
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout

    def create(self) -> None:
        """Create the ledger file (and its folder) readable by its owner only, if it is missing.

        An existing file is only looked at, never opened here: closing any descriptor of a file
        drops every POSIX lock the process holds on it, SQLite's for connections already open
        included (sqlite.org/howtocorrupt.html, 2.2). A second engine opened in a process
        then let another process delete the WAL under the first one, losing acknowledged
        commits (found by tests/reliability/test_engines_in_one_process.py).
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if not self.path.is_file():
                raise LedgerUnavailable(f"cannot open the ledger file {self.path}: not a regular file") from None
            if not os.access(self.path, os.R_OK | os.W_OK):
                raise LedgerUnavailable(f"cannot open the ledger file {self.path}: permission denied") from None
            return
        except OSError as exc:
            raise LedgerUnavailable(f"cannot open the ledger file {self.path}: {exc.strerror}") from None
        os.close(fd)

    def connect(self, *, readonly: bool = False, wal: bool = True) -> sqlite3.Connection:
        """A connection with the ledger's pragmas; `wal=False` only to look at a file before adopting it."""
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            if wal:
                self.use_wal(conn)
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

    def use_wal(self, conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise SchemaMismatch(f"could not put {self.path} in WAL mode (got {mode})")

    @staticmethod
    def table_names(conn: sqlite3.Connection) -> set[str]:
        try:
            return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_locked(exc):
                raise LedgerBusy("the ledger is busy in another process; try again") from None
            raise SchemaMismatch(f"this file is not an orderproc ledger: {exc}") from None

    def adopt(self) -> sqlite3.Connection:
        """A connection in a write transaction, to create or check the ledger's schema: another
        program's SQLite file is refused before it is put in WAL mode, and left as it was."""
        conn = self.connect(wal=False)
        try:
            tables = self.table_names(conn)
            if tables and "meta" not in tables:
                raise SchemaMismatch(f"{self.path} is not an orderproc ledger")
            self.use_wal(conn)
            self.begin_write(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def token_secret(self, conn: sqlite3.Connection) -> bytes:
        """The token-signing key: a file beside the ledger that only its owner can read."""
        return load_or_create_secret(self.path.with_name(self.path.name + ".secret"))

    @staticmethod
    def after_copy(conn: sqlite3.Connection, tables: list[str]) -> None:
        """Nothing: SQLite gives a new row the id after the largest."""

    @staticmethod
    def begin_read(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN")

    @staticmethod
    def domain_error(exc: BaseException) -> BaseException:
        """What a client sees of a database failure: a stable code, never a raw sqlite3 error."""
        if isinstance(exc, sqlite3.OperationalError) and _is_locked(exc):
            return LedgerBusy("the ledger stayed locked by another process; try again")
        if isinstance(exc, sqlite3.Error):
            return LedgerUnavailable(f"the ledger could not be written: {exc}")
        return exc

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
CHECKPOINT_JOBS = 256  # inline commits' jobs between two checkpoints


class Checkpointer:
    """A thread of its own that checkpoints the WAL when asked, on its own connection.

    Not the writer thread: a checkpoint waiting in the writer's queue made the queue look busy,
    which sent the next group of jobs through the thread, behind the whole checkpoint, instead
    of committing it inline (measured: 10% of the jobs of a 32-client run, and a 5-15 ms stall of
    the event loop at every checkpoint; a sequential order stalled about 10 ms each time).

    A PASSIVE pass copies the WAL into the file while commits go on, leaving out only what was
    committed while it ran. The WAL starts over only at a commit that begins when all of it is
    copied, which never happens while commits keep coming (the WAL grew to 195 MB in 3,000
    orders, slowing every read), so a second pass holds the writer's lock: it copies the few
    frames left while the jobs arriving meanwhile wait, then the next commit starts the WAL over.
    """

    def __init__(self, db: Backend, holding_writes: Callable[[], AbstractContextManager[None]]) -> None:
        self._conn = db.connect()
        self._holding_writes = holding_writes
        self._due = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="orderproc-checkpoint", daemon=True)
        self._thread.start()

    def request(self) -> None:
        self._due.set()

    def close(self) -> None:
        self._closed = True
        self._due.set()
        self._thread.join()
        self._conn.close()

    def _loop(self) -> None:
        while True:
            self._due.wait()
            self._due.clear()
            if self._closed:
                return
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                with self._holding_writes():
                    self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass  # busy or failing: the next one, or another connection's, will do it


class Writer:
    """Serialises this process's writes, with group commit (see the module docstring).

    Fast path: jobs submitted from an event loop are collected while the loop's other ready
    tasks run (one `sleep(0)`), then the first caller to resume commits them all right there
    on the loop's thread through a second connection that never waits for the lock: one job for a
    lone caller, a whole group for concurrent ones, and no thread hand-off either way. This
    path is taken only where a commit does not fsync (synchronous OFF or NORMAL), so the event
    loop is held for the statements alone. While another thread of this process holds the write
    lock (the writer thread, the checkpointer's last pass), the jobs wait on their loop and are
    committed there as soon as it is released: sent to the thread instead, they kept it busy,
    which sent the next ones there too (16% of a busy server's orders went that way, each with
    a thread hand-off). Only while another process holds the ledger's lock do jobs go to the
    writer thread, which waits for it; with FULL every job goes there.

    That connection never checkpoints the WAL itself (a checkpoint copies pages and syncs the
    file, which held the loop for tens of milliseconds: the p99 of the HTTP order endpoint):
    every CHECKPOINT_JOBS jobs it commits, the `Checkpointer` thread runs a PASSIVE checkpoint,
    which waits for nobody and lets commits go on meanwhile.
    """

    def __init__(self, db: Backend, *, max_batch: int = 128) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()  # held while a batch runs, on either path
        self._conn = db.connect()
        self._inline: sqlite3.Connection | None = None
        self._pending: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        self._parked: set[asyncio.AbstractEventLoop] = set()  # loops whose jobs wait for the lock
        self._parked_lock = threading.Lock()
        self._checkpointer: Checkpointer | None = None
        if db.synchronous in ("OFF", "NORMAL"):
            self._inline = db.connect()
            self._inline.execute("PRAGMA busy_timeout = 0")
            self._inline.execute("PRAGMA wal_autocheckpoint = 0")
            self._checkpointer = Checkpointer(db, self._holding_writes)
        self._inline_jobs = 0
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="orderproc-writer", daemon=True)
        self._thread.start()

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run `job` in a write transaction; return once its commit is done."""
        if self._closed:
            raise _closed_error()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        item = (job, loop, future)
        if self._inline is None:
            self._queue.put(item)
            return await future
        self._pending.setdefault(loop, []).append(item)
        await asyncio.sleep(0)  # the other ready tasks submit theirs meanwhile: one commit for all
        if not future.done() and self._pending.get(loop):
            self._flush(loop)
        return await future

    def close(self) -> None:
        """Finish the jobs already queued, then close; later jobs fail with ledger_unavailable
        (a job still running on the event loop's thread is waited for, never cut off)."""
        with self._holding_writes():
            self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        if self._checkpointer is not None:
            self._checkpointer.close()
        with self._holding_writes():
            self._conn.close()
            if self._inline is not None:
                self._inline.close()

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the event loop's thread: commit what its tasks submitted, or park it, or pass it on."""
        batch = self._pending.pop(loop, [])
        assert self._inline is not None
        if not batch:
            return
        if self._closed:
            _settle([(future, False, _closed_error()) for *_, future in batch])
            return
        if not self._queue.empty():  # jobs wait on the writer thread for another process: after them
            self._send(batch)
            return
        if not self._acquire_or_park(loop, batch):
            return
        try:
            outcomes = None if self._closed else self._try_inline(self._inline, batch)
        finally:
            self._release()
        if outcomes is None:  # closed meanwhile, or another process is writing
            self._send(batch)
            return
        _settle([(future, ok, value) for (*_, future), (ok, value) in zip(batch, outcomes, strict=True)])
        self._inline_jobs += len(batch)
        if self._inline_jobs >= CHECKPOINT_JOBS and self._checkpointer is not None:
            self._inline_jobs = 0
            self._checkpointer.request()

    def _send(self, batch: list[Any]) -> None:
        """To the writer thread (which waits for another process's lock), or refused once closed."""
        if self._closed:
            _settle([(future, False, _closed_error()) for *_, future in batch])
            return
        for item in batch:
            self._queue.put(item)

    def _acquire_or_park(self, loop: asyncio.AbstractEventLoop, batch: list[Any]) -> bool:
        """Take the write lock, or leave the jobs on their loop until its holder lets go of it.

        Tried again under `_parked_lock`: a holder lets go first and then looks at the parked
        loops under that lock, so a loop parked here is always seen. (Not `Lock.locked()`: it
        says False while a thread that was waiting has the lock but not yet the GIL, and a loop
        that retried on that span without end.)"""
        if self._lock.acquire(blocking=False):
            return True
        with self._parked_lock:
            if self._lock.acquire(blocking=False):
                return True
            self._pending[loop] = batch + self._pending.get(loop, [])
            self._parked.add(loop)
            return False

    def _release(self) -> None:
        """Let go of the write lock; the loops whose jobs waited for it commit them now."""
        self._lock.release()
        with self._parked_lock:  # not a bare look at the set: a loop may be parking right now
            parked, self._parked = self._parked, set()
        for loop in parked:
            try:
                loop.call_soon_threadsafe(self._flush, loop)
            except RuntimeError:
                pass  # that loop is closed: nothing of it waits any more

    @contextmanager
    def _holding_writes(self) -> Iterator[None]:
        """The write lock, for a thread that is not a loop's (the writer, the checkpointer, close)."""
        self._lock.acquire()
        try:
            yield
        finally:
            self._release()

    def _try_inline(self, conn: sqlite3.Connection, batch: list[Any]) -> list[tuple[bool, Any]] | None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _is_locked(exc):
                return None  # another process is writing: wait for it on the writer thread
            raise
        return self._commit_jobs(conn, [job for job, _loop, _future in batch])

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
            with self._holding_writes():
                outcomes = self._run_batch(batch)
            # one wake-up per event loop for the whole batch, not one per job
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
            for (_job, loop, future), outcome in zip(batch, outcomes, strict=True):
                by_loop.setdefault(loop, []).append((future, *outcome))
            for loop, settled in by_loop.items():
                loop.call_soon_threadsafe(_settle, settled)
            if stop:
                return

    def _run_batch(self, batch: list[Any]) -> list[tuple[bool, Any]]:
        try:
            self._db.begin_write(self._conn)
        except LedgerBusy as exc:
            return [(False, exc)] * len(batch)
        return self._commit_jobs(self._conn, [job for job, _loop, _future in batch])

    def _commit_jobs(self, conn: sqlite3.Connection, jobs: list[Job]) -> list[tuple[bool, Any]]:
        """Run jobs in the open transaction and commit them together; a job that raises has no effect.

        A lone job needs no savepoint: if it fails, the whole transaction is rolled back.
        """
        alone = len(jobs) == 1
        outcomes: list[tuple[bool, Any]] = []
        try:
            for job in jobs:
                if not alone:
                    conn.execute("SAVEPOINT job")
                try:
                    outcomes.append((True, job(conn)))
                except Exception as exc:
                    conn.execute("ROLLBACK" if alone else "ROLLBACK TO job")
                    outcomes.append((False, self._db.domain_error(exc)))
                if not alone:
                    conn.execute("RELEASE job")
            if conn.in_transaction:
                conn.execute("COMMIT")
            return outcomes
        except BaseException as exc:  # nothing of the batch was committed
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return [(False, self._db.domain_error(exc))] * len(jobs)


def _closed_error() -> LedgerUnavailable:
    return LedgerUnavailable("the ledger is closed")


def _settle(settled: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in settled:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class Readers:
    """A small pool of reader threads, each with its own read-only connection."""

    def __init__(self, db: Backend, *, threads: int = 2) -> None:
        self._db = db
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
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
        self._db.begin_read(conn)
        try:
            return job(conn)
        finally:
            conn.execute("COMMIT")

    def run_here(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run a short read (an index lookup or two) in one snapshot on the caller's own thread.

        For what runs on a busy event loop every second: handed to a reader thread, each of its
        statements had to win the GIL back from the loop (up to the 5 ms switch interval each), so
        the price loop's read of the book took 50-80 ms while requests waited for it."""
        if self._closed:
            raise _closed_error()
        return self._snapshot(job)

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run `job` in one consistent read snapshot."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._snapshot, job)
        except RuntimeError:
            if self._closed:  # the pool is shut down
                raise _closed_error() from None
            raise

    def close(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
