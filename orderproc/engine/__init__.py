"""The headless core of orderproc: the Engine protocol, its DTOs and errors, its rules, and how
to open one.

Surfaces (the CLI, the terminal, the server) reach the engine through these public modules and
names only: `protocol`, `schemas`, `errors`, `rules`, `bound` (`Bound`, `bind`: a session-bound
handle), `apikeys` (an API key's credential from its id and secret) and the `open_*` functions
here (kept light: `orderproc --help` imports this package). Imports nothing of Textual, Typer,
Rich, FastAPI or uvicorn, nor of the
surfaces or their configuration (pyproject's import-linter contracts check it).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from orderproc.engine.store.backend import is_server_url

if TYPE_CHECKING:
    from orderproc.engine.bound import Bound
    from orderproc.engine.protocol import Engine
    from orderproc.engine.service import LocalEngine
    from orderproc.engine.store.rows import CopyReport

__all__ = ["EngineSettings", "copy_ledger", "is_server_url", "open_engine", "open_local_engine", "open_operator"]


class EngineSettings(Protocol):
    """What opening an engine reads of the settings (orderproc.config.Settings has it)."""

    @property
    def server(self) -> str | None: ...
    @property
    def db_path(self) -> Path | str: ...
    @property
    def hash_profile(self) -> str: ...
    @property
    def synchronous(self) -> str: ...
    @property
    def token_ttl_hours(self) -> float: ...
    @property
    def market_seed(self) -> int | None: ...
    @property
    def market_speed(self) -> float: ...


def open_engine(settings: EngineSettings) -> Engine:
    """The engine the settings point at: a server (`--server`) or else a ledger file."""
    if settings.server:
        from orderproc.engine.remote import RemoteEngine

        return RemoteEngine(settings.server)
    return open_local_engine(settings)


def open_local_engine(settings: EngineSettings) -> LocalEngine:
    """The ledger of the settings, a file or a PostgreSQL database (what `orderproc serve` and
    operator commands use)."""
    from orderproc.engine.service import LocalEngine

    return LocalEngine(
        settings.db_path,
        hash_profile=settings.hash_profile,
        synchronous=settings.synchronous,
        token_ttl=settings.token_ttl_hours * 3600,
        market_seed=settings.market_seed,
        market_speed=settings.market_speed,
    )


def open_operator(settings: EngineSettings) -> Bound:
    """The owner of the ledger file acting on it directly (the `admin` commands with `--db`):
    every admin call, no login. Close it with `.engine.close()`."""
    from orderproc.engine.bound import bind

    engine = open_local_engine(settings)
    return bind(engine, engine.operator_token)


def copy_ledger(source: Path | str, target: Path | str) -> CopyReport:
    """Copy the ledger at `source` (a file or a postgresql:// URL) into `target`, which must be
    empty or missing; the target is checked before it commits (see store/copying.py)."""
    from orderproc.engine import errors
    from orderproc.engine.store.backend import open_backend
    from orderproc.engine.store.copying import copy_ledger as copy

    if not is_server_url(source) and not Path(source).expanduser().is_file():
        raise errors.LedgerUnavailable(f"there is no ledger file {source}", {"source": str(source)})
    src = open_backend(source, synchronous="FULL")
    dst = open_backend(target, synchronous="FULL")
    dst.create()
    return copy(src, dst)
