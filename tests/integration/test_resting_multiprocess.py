"""Several OS processes run the price loop on one ledger file at once: each resting order is
filled exactly once, at the tick a single matcher would have filled it.

Each process is `resting_mp_worker.py` with its own LocalEngine. They share a fake clock (a
market second every 1/SPEED wall seconds from a common start; see the worker), so hundreds of
ticks pass in a few seconds while every process matches them and places resting orders of its
own. Before they start, the test places many resting orders for three users with little cash to
spare (so that a stop buy's fill may find its cash gone and be rejected: the outcome depends on
the order in which fills happen) and copies the ledger; afterwards a single LocalEngine matches
the copy in one pass and the users' orders, balances and journal must come out the same. The
workers' own orders (ample cash) are checked against the market directly: each one filled at
its first crossing tick after its placement, or still open.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import EPOCH, PASSWORD, Clock

from orderproc.engine import errors
from orderproc.engine.prices import Market
from orderproc.engine.schemas import OrderRequest
from orderproc.engine.service import LocalEngine

WORKER = Path(__file__).with_name("resting_mp_worker.py")
PROCESSES = 3
DURATION = 480  # market seconds (ticks) the processes run through
SPEED = 160.0  # market seconds per wall second: about 3 s of wall time
END = math.floor(EPOCH) + DURATION
SYMBOLS = ("BTC", "ETH", "SOL", "DOGE", "XRP", "ADA")
UPFRONT = ("ann", "ben", "cat")
ORDERS_EACH = 40


def iso(tick: float) -> str:
    return datetime.fromtimestamp(tick, UTC).isoformat(timespec="microseconds")


def quantity_of(engine: LocalEngine, symbol: str, usd: int) -> Decimal:
    precision = engine._ctx.assets[symbol].precision
    price = engine.market.price(symbol, EPOCH)
    return (Decimal(usd) / price).quantize(Decimal(1).scaleb(-min(precision, 6)), rounding=ROUND_DOWN)


async def new_user(engine: LocalEngine, name: str, cash: str) -> str:
    await engine.register(name, PASSWORD)
    token = (await engine.login(name, PASSWORD)).token
    await engine.deposit(token, cash)
    return token


async def place_upfront(engine: LocalEngine, token: str, rng: random.Random) -> int:
    """Limit, stop and stop-limit orders of both sides priced off the coming ticks, then the cash
    no order holds withdrawn; the number placed."""
    market, now = engine.market, math.floor(EPOCH)
    for symbol in SYMBOLS[:4]:  # something to sell
        await engine.place_order(token, OrderRequest.model_validate(
            {"symbol": symbol, "side": "buy", "quantity": quantity_of(engine, symbol, 400)}))
    placed = 0
    for _ in range(ORDERS_EACH):
        symbol = rng.choice(SYMBOLS)
        price = market.price(symbol, now)
        target = market.price(symbol, now + rng.randint(2, DURATION))
        kind = rng.choice(["limit", "stop", "stop", "stop_limit"])
        if kind == "limit":
            fields: dict[str, Any] = {"side": "buy" if target < price else "sell", "limit_price": target}
        else:
            fields = {"side": "buy" if target > price else "sell", "stop_price": target}
            if target > price:  # a stop buy a little below a tick's price: its fill costs more than it held
                fields["stop_price"] = target.quantize(Decimal(1).scaleb(target.adjusted() - 2), rounding=ROUND_FLOOR)
            if kind == "stop_limit":
                fields["limit_price"] = market.price(symbol, now + rng.randint(2, DURATION))
        request = {"symbol": symbol, "type": kind, "quantity": quantity_of(engine, symbol, rng.choice([60, 150])),
                   **fields}
        try:
            await engine.place_order(token, OrderRequest.model_validate(request))
            placed += 1
        except (errors.InsufficientFunds, errors.InvalidAmount):
            pass  # the cash or the holding is all held already; a stop at the price
    available = (await engine.balance(token)).available
    if available:  # what no order holds goes: a stop buy that fills above its stop needs cash freed by a fill
        await engine.withdraw(token, available)
    return placed


def run_workers(tmp_path: Path, configs: list[dict[str, Any]], timeout: float = 60.0) -> list[dict[str, Any]]:
    """Start the workers, give them the common start time once all are ready, collect their reports."""
    go = tmp_path / "go"
    procs: list[subprocess.Popen[bytes]] = []
    files = []
    try:
        for i, config in enumerate(configs):
            ready, out, log = tmp_path / f"ready-{i}", tmp_path / f"out-{i}.json", tmp_path / f"log-{i}.txt"
            path = tmp_path / f"config-{i}.json"
            path.write_text(json.dumps({**config, "ready": str(ready), "go": str(go), "out": str(out)}))
            with log.open("wb") as err:
                procs.append(subprocess.Popen([sys.executable, str(WORKER), str(path)], stdout=err, stderr=err,
                                              env={**os.environ, "ORDERPROC_HASH_PROFILE": "fast"}))
            files.append((ready, out, log))
        deadline = time.monotonic() + timeout
        while not all(ready.exists() for ready, _, _ in files):
            dead = [i for i, p in enumerate(procs) if p.poll() is not None]
            assert not dead, f"worker {dead[0]} died: {files[dead[0]][2].read_text()}"
            assert time.monotonic() < deadline, "the workers did not get ready in time"
            time.sleep(0.01)
        go.with_suffix(".tmp").write_text(repr(time.time() + 0.05))
        go.with_suffix(".tmp").replace(go)  # whole, at once: a worker never reads half a time
        for proc in procs:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    reports = []
    for (_, out, log), proc in zip(files, procs, strict=True):
        assert proc.returncode == 0 and out.exists(), f"a worker failed ({proc.returncode}): {log.read_text()}"
        reports.append(json.loads(out.read_text()))
    return reports


def rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def what_users_see(path: Path, names: tuple[str, ...]) -> dict[str, list[tuple[Any, ...]]]:
    """These users' orders, balances and journal, as rows (ids included: the same orders)."""
    marks = ", ".join("?" * len(names))
    users = f"SELECT id FROM users WHERE username IN ({marks})"
    accounts = f"SELECT account_id FROM users WHERE username IN ({marks})"
    return {
        "orders": rows(path, "SELECT id, symbol, side, type, status, quantity, price, notional, reserved, reason,"
                             f" created_at, triggered_at, closed_at FROM orders WHERE user_id IN ({users}) ORDER BY id",
                       names),
        "balances": rows(path, "SELECT account_id, asset, amount, cost, reserved FROM balances"
                               f" WHERE account_id IN ({accounts}) ORDER BY 1, 2", names),
        "journal": rows(path, "SELECT e.kind, e.account_id, e.order_id, e.created_at, p.account_id, p.asset, p.amount"
                              " FROM entries e JOIN postings p ON p.entry_id = e.id"
                              f" WHERE e.account_id IN ({accounts}) ORDER BY e.id, p.id", names),
    }


def expected_outcome(market: Market, order: tuple[Any, ...]) -> tuple[str, Decimal | None, str | None, str | None]:
    """(status, fill price, fill time, trigger time) of a resting order with the cash to fill,
    straight from the market's ticks: the first tick after its placement that reaches it."""
    _, symbol, side, kind, limit, stop, created = order
    buy = side == "buy"
    triggered: int | None = None
    for tick in range(math.floor(datetime.fromisoformat(created).timestamp()) + 1, END + 1):
        price = market.price(symbol, tick)
        if kind != "limit" and triggered is None:
            if not (price >= Decimal(stop) if buy else price <= Decimal(stop)):
                continue
            triggered = tick
            if kind == "stop":
                return "filled", price, iso(tick), iso(tick)
        if price <= Decimal(limit) if buy else price >= Decimal(limit):
            return "filled", price, iso(tick), iso(triggered) if triggered is not None else None
    return "new", None, None, iso(triggered) if triggered is not None else None


@pytest.fixture
async def ledger(tmp_path: Path, clock: Clock) -> AsyncIterator[LocalEngine]:
    engine = LocalEngine(tmp_path / "ledger.db", clock=clock, hash_profile="fast", market_seed=7)
    try:
        yield engine
    finally:
        await engine.close()


async def test_processes_running_the_price_loop_together_fill_each_order_once_as_one_matcher_would(
    ledger: LocalEngine, clock: Clock, tmp_path: Path
) -> None:
    rng = random.Random(20261126)
    placed = {name: await place_upfront(ledger, await new_user(ledger, name, "3000"), rng) for name in UPFRONT}
    assert all(n >= 15 for n in placed.values()), placed
    traders = [f"worker{i}" for i in range(PROCESSES)]
    for name in traders:
        token = await new_user(ledger, name, "10000000")
        for symbol in SYMBOLS:  # enough of everything to sell
            await ledger.place_order(token, OrderRequest.model_validate(
                {"symbol": symbol, "side": "buy", "quantity": quantity_of(ledger, symbol, 20000)}))
    copy = tmp_path / "single.db"
    source, target = sqlite3.connect(ledger.path), sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()

    configs = [{"db": str(ledger.path), "username": name, "password": PASSWORD, "seed": i, "epoch": EPOCH,
                "speed": SPEED, "duration": DURATION, "symbols": SYMBOLS, "place_odds": 0.25,
                "quantity": {s: str(quantity_of(ledger, s, 100)) for s in SYMBOLS}}
               for i, name in enumerate(traders)]
    reports = await asyncio.to_thread(run_workers, tmp_path, configs)
    assert not [u for r in reports for u in r["unexpected"]], "\n".join(u for r in reports for u in r["unexpected"])
    assert set(code for r in reports for code in r["errors"]) <= {"invalid_amount"}  # a stop the price had passed
    assert all(r["passes"] > 20 for r in reports), [r["passes"] for r in reports]  # they did run side by side
    assert sum(r["changed"] for r in reports) > 100

    # every tick up to the end was matched by the workers: one more pass here finds nothing to do
    clock.now = END + 0.5
    assert await ledger.match() == 0
    assert rows(ledger.path, "SELECT value FROM meta WHERE key = 'matched_through'") == [(str(END),)]
    verified = await ledger.admin_verify(ledger.operator_token)
    assert verified.ok, verified.problems

    # each filled order has one journal entry and one fill in the audit log; nothing else has either
    statuses = dict(rows(ledger.path, "SELECT id, status FROM orders"))
    entries = Counter(r[0] for r in rows(ledger.path, "SELECT order_id FROM entries WHERE order_id IS NOT NULL"))
    assert entries == Counter({i: 1 for i, status in statuses.items() if status == "filled"})
    fills = Counter(int(r[0]) for r in rows(ledger.path, "SELECT target FROM audit WHERE action = 'order_filled'"))
    matched = {r[0] for r in rows(ledger.path, "SELECT id FROM orders WHERE status = 'filled'"
                                               " AND closed_at > created_at")}
    assert fills == Counter(dict.fromkeys(matched, 1))
    rejected = {int(r[0]) for r in rows(ledger.path, "SELECT target FROM audit WHERE action = 'order_rejected'"
                                                     " AND source = 'matcher'")}
    assert rejected == {i for i, status in statuses.items() if status == "rejected"}
    assert rows(ledger.path, "SELECT COUNT(*) FROM orders WHERE status != 'new' AND reserved != 0") == [(0,)]

    # the users with little cash: exactly what one matcher makes of the same orders in one pass
    single = LocalEngine(copy, clock=Clock(END + 0.5), hash_profile="fast")
    try:
        assert await single.match() > 0
        assert (await single.admin_verify(single.operator_token)).ok
    finally:
        await single.close()
    assert what_users_see(ledger.path, UPFRONT) == what_users_see(copy, UPFRONT)
    outcomes = Counter(statuses[r[0]] for r in what_users_see(ledger.path, UPFRONT)["orders"])
    assert outcomes["filled"] > 30 and outcomes["rejected"] > 0 and outcomes["new"] > 0, outcomes

    # the workers' own orders, placed while the loop ran: each at its first crossing tick
    ids = [i for r in reports for i in r["placed"]]
    assert len(ids) > 30
    checked = Counter()
    for order in rows(ledger.path, "SELECT id, symbol, side, type, limit_price, stop_price, created_at, status,"
                                   " price, closed_at, triggered_at FROM orders"
                                   f" WHERE id IN ({', '.join(map(str, ids))})"):
        status, price, closed, triggered = order[7], order[8], order[9], order[10]
        got = (status, Decimal(price) if price else None, closed, triggered)
        if status == "filled" and closed == order[6]:  # reached when placed: filled at once
            assert order[3] == "limit"
            assert Decimal(price) == ledger.market.price(order[1], datetime.fromisoformat(closed).timestamp())
            checked["at once"] += 1
            continue
        assert got == expected_outcome(ledger.market, order[:7]), order
        checked[status] += 1
    assert checked["filled"] > 10, checked
