"""What the pages with a candle chart share: the lines it draws for the user (average cost,
resting orders) and the keys that change its range."""

from __future__ import annotations

from textual.binding import Binding

from orderproc.engine.schemas import Position
from orderproc.tui.terminal import Terminal
from orderproc.tui.widgets.candle_chart import ChartMark, marks_for

RANGE_HELP = "The chart's range: 1h, 1d, 1w, 1m (a month), 1y"


def range_bindings(scope: str, *, show: bool = True) -> list[Binding]:
    """`g` the next range, `G` the previous one, with ids `<scope>.chart-range(-back)`. Where the
    footer is full at 80 columns (`show=False`) the chart's caption names the key."""
    return [
        Binding("g", "chart_range(1)", "Range", show=show, tooltip=RANGE_HELP, id=f"{scope}.chart-range"),
        Binding("G", "chart_range(-1)", "Range back", show=False, tooltip=RANGE_HELP, id=f"{scope}.chart-range-back"),
    ]


async def load_marks(terminal: Terminal, symbol: str, positions: dict[str, Position] | None = None) -> list[ChartMark]:
    """The average cost of the user's position in `symbol` and each open order's price (none
    when signed out or when the engine cannot say: the candles show regardless)."""
    if positions is None:
        portfolio = await terminal.call(lambda me: me.portfolio(), quiet=True)
        positions = {p.symbol: p for p in portfolio.positions} if portfolio else {}
    page = await terminal.call(lambda me: me.orders(symbol=symbol, open=True, limit=100), quiet=True)
    return marks_for(symbol, positions.get(symbol), page.items if page is not None else [])
