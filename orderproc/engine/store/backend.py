"""Where a ledger lives: a SQLite file (`sqlite.py`, the embedded default) or a PostgreSQL
database (`postgres.py`, for several servers on one ledger). Both give the writer and the
readers (`sqlite.py`) the same few operations; the store's SQL (`repo.py`) runs on either."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class Backend(Protocol):
    dialect: str  # "sqlite" or "postgresql": how the schema's DDL is written
    location: str  # what messages name: the file, or the URL without its password
    synchronous: str  # OFF or NORMAL: commits do not wait for the disk, and may run on the event loop

    def create(self) -> None: ...
    def connect(self, *, readonly: bool = False) -> Any: ...
    def adopt(self) -> Any: ...
    def begin_write(self, conn: Any) -> None: ...
    def begin_read(self, conn: Any) -> None: ...
    def table_names(self, conn: Any) -> set[str]: ...
    def integrity_problems(self, conn: Any) -> list[str]: ...
    def domain_error(self, exc: BaseException) -> BaseException: ...
    def token_secret(self, conn: Any) -> bytes: ...
    def after_copy(self, conn: Any, tables: list[str]) -> None: ...


def is_server_url(location: object) -> bool:
    """Whether a ledger location (`--db`) names a PostgreSQL database (`postgresql://...`)
    rather than a SQLite file."""
    return isinstance(location, str) and location.partition("://")[0] in ("postgresql", "postgres") \
        and "://" in location


def open_backend(location: Path | str, *, synchronous: str) -> Backend:
    """The backend for `--db`: a `postgresql://` URL, or a ledger file's path (`~` expanded)."""
    if is_server_url(location):
        from orderproc.engine.store.postgres import PgDatabase  # psycopg only when asked for

        return PgDatabase(str(location))
    from orderproc.engine.store.sqlite import Database

    return Database(Path(location).expanduser(), synchronous=synchronous)
