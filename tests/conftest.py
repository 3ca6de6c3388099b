"""Shared fixtures: a real ledger file in tmp_path, a controllable clock, a logged-in user."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orderproc.config import Settings
from orderproc.engine.protocol import Engine
from orderproc.engine.remote import RemoteEngine
from orderproc.engine.service import LocalEngine
from orderproc.server.app import create_app

# a throwaway PostgreSQL for the whole session (tests/pg_support.py); registered here only
from pg_support import pg_server, pg_url  # noqa: F401 - fixtures

PASSWORD = "correct horse battery"
EPOCH = 1_780_000_000.0  # a fixed market epoch: prices are reproducible


class Clock:
    """A clock the test moves by hand; prices are a function of it."""

    def __init__(self, now: float = EPOCH) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
async def engine(ledger_path: Path, clock: Clock) -> AsyncIterator[LocalEngine]:
    eng = LocalEngine(ledger_path, clock=clock, hash_profile="fast", market_seed=7)
    try:
        yield eng
    finally:
        await eng.close()


@pytest.fixture(params=["local", "remote"])
async def api(request: pytest.FixtureRequest, engine: LocalEngine) -> AsyncIterator[Engine]:
    """The engine under test: the ledger itself, or a RemoteEngine over the HTTP app on it (a module
    that overrides `engine`, such as the contract suites on PostgreSQL, gets its own under both)."""
    if request.param == "local":
        yield engine
        return
    app = create_app(engine, Settings(rate_limit=0, login_limit=0, log_requests=False))
    remote = RemoteEngine("http://orderproc.test", transport=httpx.ASGITransport(app=app))
    try:
        yield remote
    finally:
        await remote.close()


@pytest.fixture
async def token(engine: LocalEngine) -> str:
    """A logged-in customer `alice` with no cash yet."""
    await engine.register("alice", PASSWORD)
    return (await engine.login("alice", PASSWORD)).token


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Environment for running the CLI in isolation: its own data and config dirs, cheap hashing."""
    env = {
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "ORDERPROC_HASH_PROFILE": "fast",
        "ORDERPROC_DB": str(tmp_path / "cli-ledger.db"),
    }
    for name in ("ORDERPROC_PASSWORD", "ORDERPROC_NEW_PASSWORD", "ORDERPROC_SERVER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield env


@pytest.fixture
def make_app(engine: LocalEngine) -> Callable[..., Any]:
    """Build the trading terminal on the test ledger (Textual is imported only by TUI tests)."""
    from orderproc.tui.app import OrderprocApp

    def make(store: Any = None, price_interval: float = 0.05) -> OrderprocApp:
        return OrderprocApp(engine, ledger_label="ledger.db", store=store, price_interval=price_interval)

    return make
