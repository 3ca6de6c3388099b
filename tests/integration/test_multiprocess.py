"""Several OS processes, each with its own LocalEngine, on one ledger file at the same time.

Each process is `mp_worker.py` run with the test's Python: it logs in, waits for the common
"go", hammers the ledger and reports every acknowledged result and every error code. The test
then replays the acknowledged operations and asserts that the ledger holds exactly them: no
lost update, no double effect of a retried key, no raw "database is locked" reaching a client.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderproc.engine.schemas import OrderRequest, Side
from orderproc.engine.service import LocalEngine

WORKER = Path(__file__).with_name("mp_worker.py")
PASSWORD = "correct horse battery"
PROCESSES = 4
INITIAL = Decimal("50000.00")
# The only errors a client may see under contention: domain answers about its own request.
LEGITIMATE = {"insufficient_funds", "price_moved", "invalid_amount"}
PRECISION = {"BTC": 8, "ETH": 8, "DOGE": 4, "USDT": 4}


def run_workers(tmp_path: Path, configs: list[dict[str, Any]], timeout: float = 60.0) -> list[dict[str, Any]]:
    """Start one process per config, release them together, and return their reports."""
    go = tmp_path / "go"
    procs: list[subprocess.Popen[bytes]] = []
    files: list[tuple[Path, Path, Path]] = []
    env = {**os.environ, "ORDERPROC_HASH_PROFILE": "fast"}
    try:
        for i, config in enumerate(configs):
            ready, out, log = tmp_path / f"ready-{i}", tmp_path / f"out-{i}.json", tmp_path / f"stderr-{i}.txt"
            config_path = tmp_path / f"config-{i}.json"
            config_path.write_text(json.dumps({**config, "ready": str(ready), "go": str(go), "out": str(out)}))
            with log.open("wb") as err:
                procs.append(
                    subprocess.Popen([sys.executable, str(WORKER), str(config_path)], stdout=err, stderr=err, env=env)
                )
            files.append((ready, out, log))
        deadline = time.monotonic() + timeout
        while not all(ready.exists() for ready, _, _ in files):
            exited = [i for i, p in enumerate(procs) if p.poll() is not None]
            assert not exited, f"worker {exited[0]} died before it was ready: {files[exited[0]][2].read_text()}"
            assert time.monotonic() < deadline, "the workers did not get ready in time"
            time.sleep(0.01)
        go.touch()
        for proc in procs:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    reports = []
    for (_, out, log), proc in zip(files, procs, strict=True):
        assert proc.returncode == 0 and out.exists(), f"a worker failed (exit {proc.returncode}): {log.read_text()}"
        reports.append(json.loads(out.read_text()))
    return reports


@pytest.fixture
async def ledger(tmp_path: Path) -> Any:
    """A ledger on the real clock (the workers share wall time), opened by the test process too."""
    engine = LocalEngine(tmp_path / "ledger.db", hash_profile="fast", market_seed=7)
    try:
        yield engine
    finally:
        await engine.close()


async def new_user(engine: LocalEngine, name: str, cash: Decimal) -> str:
    await engine.register(name, PASSWORD)
    token = (await engine.login(name, PASSWORD)).token
    await engine.deposit(token, cash)
    return token


def positions_of(portfolio: Any) -> dict[str, Decimal]:
    return {p.symbol: p.quantity for p in portfolio.positions}


async def test_four_processes_trading_on_one_file_lose_no_update_and_see_no_lock_errors(
    ledger: LocalEngine, tmp_path: Path
) -> None:
    names = [f"trader{i}" for i in range(PROCESSES)]
    tokens = {name: await new_user(ledger, name, INITIAL) for name in names}
    configs = [
        {"db": str(ledger.path), "username": name, "password": PASSWORD, "mode": "trade", "seed": 1000 + i,
         "orders": 200, "cash_ops": 20}
        for i, name in enumerate(names)
    ]
    reports = await asyncio.to_thread(run_workers, tmp_path, configs)

    total_orders = 0
    replays = probes = 0
    for name, report in zip(names, reports, strict=True):
        assert not report["unexpected"], "\n".join(report["unexpected"])
        codes = Counter(e["code"] for e in report["errors"])
        assert set(codes) <= LEGITIMATE, f"{name} got {dict(codes)}"
        assert all(code == "conflict" for code in report["probes"]), report["probes"]
        probes += len(report["probes"])

        orders: dict[int, dict[str, Any]] = {}
        cash_moves: dict[int, Decimal] = {}
        effects_per_key: dict[str, set[tuple[str, int]]] = defaultdict(set)
        for ack in report["acks"]:
            if ack["key"]:
                effects_per_key[ack["key"]].add((ack["op"] == "order" and "order" or "cash", ack["id"]))
            if ack["op"] == "order":
                if ack["id"] in orders:
                    replays += 1
                    assert ack == orders[ack["id"]], "a retried order must return the first fill"
                orders[ack["id"]] = ack
            else:
                if ack["id"] in cash_moves:
                    replays += 1
                    assert Decimal(ack["cash"]) == cash_moves[ack["id"]]
                cash_moves[ack["id"]] = Decimal(ack["cash"])
        assert all(len(effects) == 1 for effects in effects_per_key.values()), "a key had two effects"
        assert len(orders) >= 100, f"{name} had only {len(orders)} orders filled: the test proves little"
        assert any(o["side"] == "sell" for o in orders.values())

        expected_cash = INITIAL + sum(cash_moves.values())
        expected_units: dict[str, Decimal] = defaultdict(Decimal)
        for order in orders.values():
            sign = 1 if order["side"] == Side.BUY.value else -1
            expected_cash -= sign * Decimal(order["notional"])
            expected_units[order["symbol"]] += sign * Decimal(order["quantity"])

        token = tokens[name]
        assert (await ledger.balance(token)).cash == expected_cash, f"{name}'s cash lost an update"
        held = positions_of(await ledger.portfolio(token))
        assert held == {s: q for s, q in expected_units.items() if q}, f"{name}'s positions lost an update"
        page = await ledger.orders(token, limit=500)
        assert page.total == len(orders)
        for stored in page.items:
            ack = orders[stored.id]
            assert (stored.side.value, stored.symbol, str(stored.quantity), str(stored.notional)) == (
                ack["side"], ack["symbol"], ack["quantity"], ack["notional"]
            )
        history = await ledger.history(token, limit=1)
        assert history.total == 1 + len(cash_moves) + len(orders)  # the initial deposit, then each effect once
        total_orders += len(orders)

    assert replays > 0 and probes > 0, "no retry or key reuse was exercised"
    verified = await ledger.admin_verify(ledger.operator_token)
    assert verified.ok, verified.problems
    assert verified.orders == total_orders


@pytest.mark.parametrize("mode", ["withdraw_all", "sell_all"])
async def test_four_processes_taking_everything_of_one_user_at_once_succeed_exactly_once(
    ledger: LocalEngine, tmp_path: Path, mode: str
) -> None:
    token = await new_user(ledger, "shared", Decimal("1000.00"))
    config: dict[str, Any] = {"db": str(ledger.path), "username": "shared", "password": PASSWORD, "mode": mode,
                              "attempts": 10}
    if mode == "withdraw_all":
        config["amount"] = "1000.00"
    else:
        bought = await ledger.place_order(token, OrderRequest(symbol="DOGE", side=Side.BUY, quantity=Decimal(1000)))
        config.update(symbol="DOGE", amount="1000")
    reports = await asyncio.to_thread(
        run_workers, tmp_path, [{**config, "seed": i} for i in range(PROCESSES)]
    )

    acks = [ack for report in reports for ack in report["acks"]]
    codes = Counter(e["code"] for report in reports for e in report["errors"])
    assert not [u for report in reports for u in report["unexpected"]]
    assert len(acks) == 1, f"{len(acks)} of {PROCESSES * 10} attempts succeeded"
    assert codes == {"insufficient_funds": PROCESSES * 10 - 1}
    if mode == "withdraw_all":
        assert (await ledger.balance(token)).cash == 0
    else:
        assert positions_of(await ledger.portfolio(token)) == {}
        cash = Decimal("1000.00") - bought.notional + Decimal(acks[0]["notional"])
        assert (await ledger.balance(token)).cash == cash
    verified = await ledger.admin_verify(ledger.operator_token)
    assert verified.ok, verified.problems
