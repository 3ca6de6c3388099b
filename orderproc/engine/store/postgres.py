"""Everything PostgreSQL-specific: the server's URL, the connection the store speaks to, the
ledger-wide write lock, snapshot reads, and the errors a client may see.

The store's SQL is written once (`repo.py`, qmark `?` and named `:name` parameters as sqlite3
takes them); `PgConn` gives a psycopg 3 connection that same surface, turning the parameters
into psycopg's `%s` / `%(name)s` (once per statement text) and binding them client-side, so an
untyped NULL (`? IS NULL`) means what it means in SQLite.

Writes are serialized the way SQLite serializes them: every write transaction first takes one
transaction-level advisory lock (`pg_advisory_xact_lock`), held until its COMMIT, whichever
server process runs it. So the engine's checks-then-writes (a guarded balance, an idempotency
key, an order that closes exactly once) hold across N servers exactly as across N processes on
one SQLite file, and no transaction ever fails on a serialization conflict; group commit (one
transaction, a savepoint per job) amortizes the lock and the commit's WAL flush. Reads run in
REPEATABLE READ snapshots and never wait for the lock.

psycopg is imported here only, and only when a PostgreSQL ledger is opened.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import ClientCursor, errors as pg_errors
from psycopg.adapt import Dumper, Loader
from psycopg.pq import TransactionStatus

from orderproc.engine.errors import LedgerBusy, LedgerUnavailable, SchemaMismatch
from orderproc.engine.store.ledger import SECRET_KEY

LEDGER_LOCK = 0x6F72646572  # the advisory lock key every write transaction takes ("order")


def shown_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """The store's `?` and `:name` parameters as psycopg's `%s` and `%(name)s` (a literal `%`
    doubled); text inside quotes is left as it is."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            end = sql.index(c, i + 1)
            out.append(sql[i:end + 1])
            i = end + 1
        elif c == "?":
            out.append("%s")
            i += 1
        elif c == ":" and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_") and sql[i - 1:i] != ":":
            end = i + 1
            while end < n and (sql[end].isalnum() or sql[end] == "_"):
                end += 1
            out.append(f"%({sql[i + 1:end]})s")
            i = end
        elif c == "%":
            out.append("%%")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


class _WholeNumeric(Loader):
    """NUMERIC as an int: the ledger's numbers are whole minor units, and PostgreSQL's SUM of a
    BIGINT column is a NUMERIC (sqlite3 gives an int)."""

    def load(self, data: Any) -> int:
        return int(bytes(data))


class _FlagDumper(Dumper):
    """A Python bool as 1 or 0: flags are integer columns, as sqlite3 writes them."""

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"

    def quote(self, obj: Any) -> bytes:
        return self.dump(obj)


class PgConn:
    """A psycopg connection with the DB-API surface the store uses (see repo.py)."""

    IntegrityError = psycopg.IntegrityError

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> psycopg.Cursor[Any]:
        cur = self.raw.cursor()
        if params:
            cur.execute(translate(sql), params)
        else:
            cur.execute(sql)  # no parameters: sent as written (a `%` stays one)
        return cur

    def executemany(self, sql: str, seq: Iterable[Sequence[Any] | dict[str, Any]]) -> psycopg.Cursor[Any]:
        cur = self.raw.cursor()
        cur.executemany(translate(sql), list(seq))
        return cur

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


class PgDatabase:
    """A ledger on a PostgreSQL server, and how to connect to it."""

    dialect = "postgresql"
    synchronous = "FULL"  # every commit is durable (WAL flushed): no write runs on an event loop

    def __init__(self, url: str, *, busy_timeout: float = 30.0) -> None:
        self.url = url
        self.location = shown_url(url)
        self.busy_timeout = busy_timeout

    def create(self) -> None:
        """Nothing to create beside the tables: check that the server answers."""
        self.connect().close()

    def connect(self, *, readonly: bool = False) -> PgConn:
        try:
            raw = psycopg.connect(self.url, autocommit=True, cursor_factory=ClientCursor,
                                  connect_timeout=max(1, int(self.busy_timeout)))
        except psycopg.Error as exc:
            raise LedgerUnavailable(f"cannot reach the ledger at {self.location}: {_first_line(exc)}") from None
        raw.adapters.register_loader("numeric", _WholeNumeric)
        raw.adapters.register_dumper(bool, _FlagDumper)
        raw.execute(f"SET lock_timeout = {int(self.busy_timeout * 1000)}".encode())
        return PgConn(raw)

    def adopt(self) -> PgConn:
        """A connection in a write transaction, to create or check the ledger's schema (the lock
        makes two servers starting at once create it once); a database holding other tables is
        refused: give orderproc a database of its own."""
        conn = self.connect()
        try:
            self.begin_write(conn)
            tables = self.table_names(conn)
            if tables and "meta" not in tables:
                raise SchemaMismatch(f"the database {self.location} holds other tables: not an orderproc ledger")
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def begin_write(conn: PgConn) -> None:
        """Open a write transaction holding the ledger's lock (waiting up to the busy timeout)."""
        try:
            conn.execute("BEGIN")
            conn.execute(f"SELECT pg_advisory_xact_lock({LEDGER_LOCK})")
        except pg_errors.LockNotAvailable:
            conn.execute("ROLLBACK")
            raise LedgerBusy("the ledger stayed locked by another server; try again") from None

    @staticmethod
    def after_copy(conn: PgConn, tables: list[str]) -> None:
        """Rows came with their ids: each table's id sequence continues after the largest."""
        for table in tables:
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                         f" COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")

    @staticmethod
    def begin_read(conn: PgConn) -> None:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    @staticmethod
    def table_names(conn: PgConn) -> set[str]:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
        return {r[0] for r in rows}

    @staticmethod
    def integrity_problems(conn: PgConn) -> list[str]:
        """PostgreSQL checks its own pages (checksums, WAL); the ledger's invariants are checked in SQL."""
        return []

    @staticmethod
    def domain_error(exc: BaseException) -> BaseException:
        """What a client sees of a database failure: a stable code, never a raw psycopg error."""
        if isinstance(exc, pg_errors.LockNotAvailable | pg_errors.QueryCanceled):
            return LedgerBusy("the ledger stayed locked by another server; try again")
        if isinstance(exc, psycopg.Error):
            return LedgerUnavailable(f"the ledger could not be written: {_first_line(exc)}")
        return exc

    @staticmethod
    def token_secret(conn: PgConn) -> bytes:
        """The token-signing key every server on this database shares, made by the first one
        (inside the caller's write transaction); a meta row that `read_meta` never shows."""
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (SECRET_KEY,)).fetchone()
        if row is not None:
            return bytes.fromhex(row[0])
        secret = secrets.token_bytes(64)
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (SECRET_KEY, secret.hex()))
        return secret


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
