"""`admin copy`: a ledger moved from a SQLite file to PostgreSQL and back keeps every balance,
order, lot and user, verifies, and goes on working (new rows get new ids); a target that is
not empty is refused and left as it was."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import PASSWORD, Clock

from orderproc.engine import copy_ledger, errors
from orderproc.engine.schemas import OrderRequest, OrderStatus, OrderType, Side
from orderproc.engine.service import LocalEngine


async def _trade(location: Path | str, clock: Clock) -> dict[str, object]:
    """alice buys, sells part, leaves a limit order resting; what she sees afterwards."""
    engine = LocalEngine(location, clock=clock, hash_profile="fast", market_seed=7)
    try:
        await engine.register("alice", PASSWORD)
        token = (await engine.login("alice", PASSWORD)).token
        await engine.deposit(token, "10000", key="first")
        await engine.place_order(token, OrderRequest(symbol="ETH", side=Side.BUY, quantity="1"))
        await engine.place_order(token, OrderRequest(symbol="ETH", side=Side.SELL, quantity="0.25"))
        resting = await engine.place_order(token, OrderRequest(symbol="BTC", side=Side.BUY, quantity="0.01",
                                                               type=OrderType.LIMIT, limit_price=Decimal("1000")))
        assert resting.status is OrderStatus.NEW
        return await _seen(engine, token)
    finally:
        await engine.close()


async def _seen(engine: LocalEngine, token: str) -> dict[str, object]:
    return {"balance": await engine.balance(token), "portfolio": (await engine.portfolio(token)).positions,
            "orders": (await engine.orders(token, limit=100)).items, "lots": await engine.lots(token)}


async def _reopened(location: Path | str, clock: Clock) -> tuple[dict[str, object], LocalEngine, str]:
    engine = LocalEngine(location, clock=clock, hash_profile="fast", market_seed=7)
    token = (await engine.login("alice", PASSWORD)).token  # the copy's users log in again
    return await _seen(engine, token), engine, token


async def test_a_ledger_goes_to_postgresql_and_back_unchanged(tmp_path: Path, pg_url: str, clock: Clock) -> None:
    source = tmp_path / "source.db"
    before = await _trade(source, clock)

    report = copy_ledger(source, pg_url)
    assert report.rows["orders"] == 3 and report.rows["users"] == 1 and report.orders == 3
    on_pg, engine, token = await _reopened(pg_url, clock)
    try:
        assert on_pg == before
        assert (await engine.admin_verify(engine.operator_token)).ok
        # it goes on: new rows take new ids after the copied ones
        await engine.deposit(token, "5", key="after the copy")
        order = await engine.place_order(token, OrderRequest(symbol="ETH", side=Side.BUY, quantity="0.01"))
        assert order.id == 4
        after = await _seen(engine, token)
    finally:
        await engine.close()

    back = tmp_path / "back.db"
    copy_ledger(pg_url, back)
    on_sqlite, engine, _token = await _reopened(back, clock)
    try:
        assert on_sqlite == after
        assert (await engine.admin_verify(engine.operator_token)).ok
    finally:
        await engine.close()


async def test_a_target_that_is_not_empty_is_refused_and_left_as_it_was(
    tmp_path: Path, pg_url: str, clock: Clock
) -> None:
    source = tmp_path / "source.db"
    await _trade(source, clock)
    copy_ledger(source, pg_url)
    with pytest.raises(errors.Conflict):
        copy_ledger(source, pg_url)
    with pytest.raises(errors.LedgerUnavailable):
        copy_ledger(tmp_path / "missing.db", tmp_path / "new.db")
    assert not (tmp_path / "new.db").exists()
    seen, engine, _token = await _reopened(pg_url, clock)
    await engine.close()
    assert len(seen["orders"]) == 3  # type: ignore[arg-type]


def test_the_cli_copies_and_says_what_it_did(tmp_path: Path, pg_url: str) -> None:
    env_home = tmp_path / "home"
    env = {"XDG_DATA_HOME": str(env_home / "data"), "XDG_CONFIG_HOME": str(env_home / "config"),
           "ORDERPROC_HASH_PROFILE": "fast", "PATH": "/usr/bin:/bin"}
    source = tmp_path / "cli.db"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "orderproc", *args], env=env, input=PASSWORD + "\n",
                              capture_output=True, text=True, timeout=60)

    assert cli("--db", str(source), "register", "dave", "--password-stdin").returncode == 0
    assert cli("--db", str(source), "deposit", "100").returncode == 0
    done = cli("admin", "copy", "--from", str(source), "--to", pg_url)
    assert done.returncode == 0, done.stderr
    assert "the copy verifies" in done.stdout and "password" not in done.stdout
    again = cli("admin", "copy", "--from", str(source), "--to", pg_url)
    assert again.returncode == 1 and "error[conflict]" in again.stderr
    verified = cli("--db", pg_url, "admin", "verify")
    assert verified.returncode == 0 and "ledger ok" in verified.stdout
