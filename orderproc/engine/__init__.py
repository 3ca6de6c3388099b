"""The headless core of orderproc: the Engine protocol, its DTOs and errors, and how to open one.

Imports nothing of Textual, Typer, Rich, FastAPI or uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orderproc.config import Settings
    from orderproc.engine.protocol import Engine
    from orderproc.engine.service import LocalEngine


def open_engine(settings: Settings) -> Engine:
    """The engine the settings point at: a server (`--server`) or else a ledger file."""
    if settings.server:
        from orderproc.engine.remote import RemoteEngine

        return RemoteEngine(settings.server)
    return open_local_engine(settings)


def open_local_engine(settings: Settings) -> LocalEngine:
    """The embedded ledger file of the settings (what `orderproc serve` and operator commands use)."""
    from orderproc.engine.service import LocalEngine

    return LocalEngine(
        settings.db_path,
        hash_profile=settings.hash_profile,
        synchronous=settings.synchronous,
        token_ttl=settings.token_ttl_hours * 3600,
        market_seed=settings.market_seed,
        market_speed=settings.market_speed,
    )
