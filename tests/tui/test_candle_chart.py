"""The candle chart on the Dashboard, the Markets detail and the Trade ticket: candles from
`Engine.candles`, the average cost and resting orders' prices as lines, `g`/`G` switching the
range, fewer candles when narrow."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual_plotext import PlotextPlot

from orderproc.engine.schemas import Candles, OrderRequest, OrderType, PricePoint, Side
from orderproc.engine.service import LocalEngine
from orderproc.formatting import price
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.markets import MarketsScreen
from orderproc.tui.screens.trade import TradeScreen
from orderproc.tui.widgets.candle_chart import CandleChart, nice_step, tick_label
from tui_helpers import MakeApp, MemoryStore, on_page, wait_until

PASSWORD = "hunter22"


async def holder(engine: LocalEngine) -> str:
    """alice holds 0.2 BTC and has a resting limit buy and a resting limit sell near the price."""
    await engine.register("alice", PASSWORD)
    token = (await engine.login("alice", PASSWORD)).token
    await engine.deposit(token, Decimal("100000"))
    await engine.place_order(token, OrderRequest(symbol="BTC", side=Side.BUY, quantity=Decimal("0.2")))
    now = (await engine.quote("BTC")).price
    for side, limit in ((Side.BUY, now * Decimal("0.995")), (Side.SELL, now * Decimal("1.005"))):
        await engine.place_order(token, OrderRequest(symbol="BTC", side=side, type=OrderType.LIMIT,
                                                     quantity=Decimal("0.05"), limit_price=limit.quantize(Decimal("0.01"))))
    return token


def chart_of(screen: Screen[None]) -> CandleChart:
    return screen.query_one(CandleChart)


def loaded(chart: CandleChart, chart_range: str | None = None) -> bool:
    return chart.series is not None and (chart_range is None or chart.series.range == chart_range)


def plotted(chart: CandleChart) -> str:
    return chart.query_one(PlotextPlot).plt.uncolorize(chart.query_one(PlotextPlot).plt.build())


def legend(chart: CandleChart) -> str:
    return str(chart.query_one(".chart-legend").render())


async def settle(pilot: Pilot[None], chart: CandleChart, chart_range: str | None = None) -> None:
    await wait_until(pilot, lambda: loaded(chart, chart_range) and chart.marks)


async def test_the_dashboard_charts_candles_with_the_average_cost_and_resting_orders_as_lines(
    engine: LocalEngine, make_app: MakeApp
) -> None:
    token = await holder(engine)
    app = make_app(MemoryStore(token))
    async with app.run_test(size=(120, 40)) as pilot:
        chart = chart_of(await on_page(pilot, DashboardScreen))
        await settle(pilot, chart)
        series = chart.series
        assert series is not None and series.symbol == "BTC" and series.range == "1d"
        assert series.candles[-1].close == (await engine.quote("BTC")).price  # the test clock stands still
        kinds = sorted(mark.kind for mark in chart.marks)
        assert kinds == ["buy", "cost", "sell"]
        [position] = (await engine.portfolio(token)).positions
        assert [m.price for m in chart.marks if m.kind == "cost"] == [position.average_cost]
        shown = legend(chart)
        assert "avg cost" in shown and "buy limit #2" in shown and "sell limit #3" in shown
        assert "↑" not in shown and "↓" not in shown  # all three near the price: drawn on the chart
        picture = plotted(chart)
        assert "┤" in picture and "$" in picture  # a price axis with the app's prices
        assert "█" in picture or "│" in picture  # candles


@pytest.mark.parametrize(("screen", "key"), [(DashboardScreen, ""), (MarketsScreen, "m"), (TradeScreen, "t")])
async def test_g_and_shift_g_switch_the_charts_range_and_load_it(
    engine: LocalEngine, make_app: MakeApp, screen: type[Screen[None]], key: str
) -> None:
    token = await holder(engine)
    app = make_app(MemoryStore(token))
    async with app.run_test(size=(160, 50)) as pilot:
        await on_page(pilot, DashboardScreen)
        if key:
            await pilot.press(key)
        page = await on_page(pilot, screen)
        if isinstance(page, TradeScreen):
            await wait_until(pilot, lambda: page.ticket.symbol)
            await pilot.press("escape")  # out of the amount field: the page keys work
        chart = chart_of(page)
        await wait_until(pilot, lambda: loaded(chart, "1d"))
        await pilot.press("g")
        await wait_until(pilot, lambda: loaded(chart, "1w"))
        assert chart.series is not None and chart.series.interval >= 3600
        await pilot.press("G", "G")
        await wait_until(pilot, lambda: loaded(chart, "1h"))
        assert chart.series is not None and chart.series.interval <= 300  # 1 to 5 minutes, as wide as the chart is
        assert len(chart.series.candles) * chart.series.interval == 3600
        assert "1h" in str(chart.query_one(".chart-caption").render())


async def test_a_narrow_chart_asks_for_fewer_longer_candles_over_the_same_range(
    engine: LocalEngine, make_app: MakeApp
) -> None:
    token = await holder(engine)
    app = make_app(MemoryStore(token))
    async with app.run_test(size=(200, 60)) as pilot:
        chart = chart_of(await on_page(pilot, DashboardScreen))
        await settle(pilot, chart)
        assert chart.series is not None
        wide = (len(chart.series.candles), chart.series.interval)
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: chart.series is not None and len(chart.series.candles) < wide[0])
        assert chart.series.interval > wide[1] and chart.series.range == "1d"
        assert len(chart.series.candles) <= chart.room()


def test_live_prices_move_the_forming_candle() -> None:
    chart = CandleChart()
    bar = PricePoint(at=datetime(2026, 1, 1, tzinfo=UTC), open=Decimal(10), high=Decimal(12), low=Decimal(9),
                     close=Decimal(11))
    chart._candles = [bar]
    chart.series = Candles(symbol="X", range="1h", interval=60, candles=[bar])
    chart.update_price(Decimal(13))
    assert (chart._candles[-1].high, chart._candles[-1].close, chart._candles[-1].low) == (13, 13, 9)
    chart.update_price(Decimal(8))
    assert (chart._candles[-1].high, chart._candles[-1].close, chart._candles[-1].low) == (13, 8, 8)


def test_price_ticks_are_round_and_written_as_the_app_writes_prices() -> None:
    assert nice_step(6300, 3) == 2500
    assert nice_step(0.0004, 4) == 0.0001
    assert tick_label(247500.0, 2500) == "$247,500"
    assert tick_label(3901.25, 0.25) == "$3,901.25"
    assert tick_label(0.000012, 0.000001) == price(Decimal("0.000012"))
