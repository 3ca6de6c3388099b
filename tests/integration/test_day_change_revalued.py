"""A terminal that values its last portfolio again at newer quotes (`engine/valuation.py`)
moves today's change with the equity: at the quotes' second it is the engine's figure."""

from __future__ import annotations

from conftest import Clock
from depth_helpers import buy, trader

from orderproc.engine.service import LocalEngine
from orderproc.engine.valuation import revalued

MIDNIGHT = 1_780_012_800.0  # 00:00 UTC, the day after the test clock's start


async def test_a_portfolio_revalued_at_later_quotes_has_the_days_change_the_engine_gives_then(
    engine: LocalEngine, clock: Clock
) -> None:
    clock.now = MIDNIGHT - 600
    token = await trader(engine, "alice", "10000")
    await engine.place_order(token, buy("BTC", "0.03"))
    clock.now = MIDNIGHT + 3600
    await engine.place_order(token, buy("ETH", "0.4"))
    earlier = await engine.portfolio(token)
    clock.advance(90)

    quotes = {q.symbol: q for q in await engine.quotes(["BTC", "ETH"])}
    later = await engine.portfolio(token)
    assert later.day_change != earlier.day_change
    assert revalued(earlier, quotes) == later
