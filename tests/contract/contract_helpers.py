"""What both contract suites share: the engine under test (the ledger's LocalEngine on a SQLite
file or on a PostgreSQL database, or a RemoteEngine over the HTTP app on either), the ledger
check after each test, a user with cash."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import PASSWORD, Clock

from orderproc.engine.protocol import Engine
from orderproc.engine.service import LocalEngine


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, ledger_path: Path, clock: Clock) -> AsyncIterator[LocalEngine]:
    """The ledger: a SQLite file, or a fresh PostgreSQL database (pg_support.py)."""
    location: Path | str = ledger_path if request.param == "sqlite" else request.getfixturevalue("pg_url")
    eng = LocalEngine(location, clock=clock, hash_profile="fast", market_seed=7)
    try:
        yield eng
    finally:
        await eng.close()


@pytest.fixture(autouse=True)
async def ledger_checks_out(engine: LocalEngine) -> AsyncIterator[None]:
    """After each test, the ledger's checker passes (imported, it runs for the whole module)."""
    yield
    report = await engine.admin_verify(engine.operator_token)
    assert report.ok, report.problems


async def signed_up(api: Engine, name: str = "alice", cash: str | None = None) -> str:
    """`name` registered and logged in (with `cash` deposited, under a key of its own): the token."""
    await api.register(name, PASSWORD)
    token = (await api.login(name, PASSWORD)).token
    if cash is not None:
        await api.deposit(token, cash, key=f"{name}-first-deposit")
    return token
