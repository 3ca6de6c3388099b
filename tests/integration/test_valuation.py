"""A portfolio revalued at newer quotes (what a terminal does between reads) is the portfolio
the engine gives at those quotes' second."""

from __future__ import annotations

from conftest import Clock

from orderproc.engine.schemas import OrderRequest
from orderproc.engine.service import LocalEngine
from orderproc.engine.valuation import revalued


async def test_a_portfolio_revalued_at_later_quotes_is_the_engines_portfolio_then(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "10000")
    for symbol, usd in (("BTC", "3000"), ("ETH", "2500"), ("DOGE", "40")):
        await engine.place_order(token, OrderRequest.model_validate({"symbol": symbol, "side": "buy", "notional": usd}))
    before = await engine.portfolio(token)
    for seconds in (1, 97, 3600):  # within the (UTC) day
        clock.advance(seconds)
        quotes = {q.symbol: q for q in await engine.quotes()}
        after = await engine.portfolio(token)
        assert revalued(before, quotes) == after
        assert after.equity != before.equity  # the prices moved: the test compares something


async def test_a_portfolio_without_positions_or_quotes_is_left_as_it_is(engine: LocalEngine, token: str) -> None:
    await engine.deposit(token, "10")
    portfolio = await engine.portfolio(token)
    assert revalued(portfolio, {q.symbol: q for q in await engine.quotes()}) == portfolio
