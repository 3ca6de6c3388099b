"""One world market: every ledger (each file, each process) that was not given a market of its
own quotes the same price for a symbol at the same moment, whenever it was created; a ledger
given a seed of its own (`market_seed`, ORDERPROC_MARKET_SEED) has its own market."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import Clock

from orderproc.engine.prices import WORLD_EPOCH, WORLD_SEED, Market, load_assets
from orderproc.engine.service import LocalEngine

FROZEN = 1_790_000_000.0  # the instant every ledger is asked at
SYMBOLS = ["BTC", "ETH", "DOGE", "USDT"]

# a ledger opened in another process, at the frozen instant: its quotes as JSON
OTHER_PROCESS = """
import asyncio, json, sys
from orderproc.engine.service import LocalEngine

async def main():
    engine = LocalEngine(sys.argv[1], clock=lambda: float(sys.argv[2]), hash_profile="fast")
    try:
        quotes = await engine.quotes(sys.argv[3].split(","))
        print(json.dumps({q.symbol: [str(q.price), str(q.change_24h)] for q in quotes}))
    finally:
        await engine.close()

asyncio.run(main())
"""


async def _quotes(location: Path, created: float, seed: int | None = None) -> dict[str, list[str]]:
    clock = Clock(created)
    new = not location.exists()
    engine = LocalEngine(location, clock=clock, hash_profile="fast", market_seed=seed)
    try:
        if new:  # the ledger is in use before the instant
            await engine.register("someone", "correct horse battery")
        clock.now = FROZEN
        return {q.symbol: [str(q.price), str(q.change_24h)] for q in await engine.quotes(SYMBOLS)}
    finally:
        await engine.close()


async def test_two_ledgers_created_at_different_times_quote_the_same_prices_at_the_same_moment(tmp_path: Path) -> None:
    first = await _quotes(tmp_path / "one.db", created=FROZEN - 40 * 86400)
    second = await _quotes(tmp_path / "two.db", created=FROZEN - 3600.5)

    assert first == second
    world = Market(WORLD_SEED, WORLD_EPOCH, load_assets())
    assert {s: p for s, (p, _) in first.items()} == {s: str(world.price(s, FROZEN)) for s in SYMBOLS}


def test_a_ledger_in_another_process_quotes_the_world_market_too(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, str(tmp_path / "elsewhere.db"), repr(FROZEN), ",".join(SYMBOLS)],
        capture_output=True, text=True, timeout=120, check=True, env={"ORDERPROC_HASH_PROFILE": "fast", "PATH": ""},
    )
    world = Market(WORLD_SEED, WORLD_EPOCH, load_assets())
    assert {s: p for s, (p, _) in json.loads(done.stdout).items()} == {s: str(world.price(s, FROZEN)) for s in SYMBOLS}


async def test_a_ledger_given_a_market_of_its_own_quotes_other_prices(tmp_path: Path) -> None:
    world = await _quotes(tmp_path / "world.db", created=FROZEN - 600)
    own = await _quotes(tmp_path / "own.db", created=FROZEN - 600, seed=7)
    again = await _quotes(tmp_path / "own-again.db", created=FROZEN - 600, seed=7)

    assert own["BTC"] != world["BTC"] and own["ETH"] != world["ETH"]
    assert own == again  # its seed, and when it was made, decide its market


async def test_a_ledger_keeps_the_market_it_was_created_with(tmp_path: Path) -> None:
    location = tmp_path / "ledger.db"
    own = await _quotes(location, created=FROZEN - 600, seed=11)
    assert await _quotes(location, created=FROZEN - 600) == own  # reopened without a seed: still its own
