"""CandleChart: an asset's OHLC candles with price and time axes, over a range the user picks
(1h 1d 1w 1m 1y), with the position's average cost and each resting order's price as lines.

Drawn by plotext through textual-plotext's `PlotextPlot`. The chart asks for as many candles as
its width holds (`room`): narrow, the engine answers with fewer, longer candles over the same
range. The caller loads the candles (`Engine.candles`) and the marks; live prices move the last
candle (`update_price`) without an engine call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.color import Color
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label
from textual_plotext import PlotextPlot

from orderproc.engine.catalog import CANDLES_MAX, CHART_RANGES
from orderproc.engine.schemas import Candles, Order, OrderType, Position, PricePoint
from orderproc.formatting import pct, price

RANGES = tuple(CHART_RANGES)
DEFAULT_RANGE = "1d"
# the x axis' time labels for each range, in local time
_TIME_FORMATS = {"1h": "%H:%M", "1d": "%H:%M", "1w": "%a %d", "1m": "%b %d", "1y": "%b %Y"}
_INTERVAL_NAMES = {60: "1m", 120: "2m", 300: "5m", 600: "10m", 900: "15m", 1800: "30m", 3600: "1h", 7200: "2h",
                   14400: "4h", 21600: "6h", 43200: "12h", 86400: "1d", 604800: "1w"}
_CANDLE_COLUMNS = 2  # plotext draws a candle and a gap
_FRAME_COLUMNS = 3  # the plot's border and the tick between labels and plot
_LABEL_GUESS = 11  # y labels' width before there are labels: "$247,500.00" is 11
MIN_CANDLES = 6


class CandlePlot(PlotextPlot):
    """textual-plotext's widget, building the plot once per change: its own `render` builds it
    again for every repaint (about 10 ms here, several times per page shown)."""

    def __init__(self) -> None:
        super().__init__()
        self.version = 0  # bumped by whoever changes the plot
        self._built: tuple[object, RenderResult] | None = None

    def render(self) -> RenderResult:
        key = (self.version, self.size, self.app.theme, self.theme)
        if self._built is None or self._built[0] != key:
            self._built = (key, super().render())
        return self._built[1]


@dataclass(frozen=True)
class ChartMark:
    """A horizontal line: the average cost (`cost`) or a resting order's trigger price."""

    label: str
    price: Decimal
    kind: Literal["cost", "buy", "sell"]


def marks_for(symbol: str, position: Position | None, orders: Sequence[Order]) -> list[ChartMark]:
    """The average cost of `position` and the price of each open order in `symbol`."""
    marks = []
    if position is not None and position.quantity and position.average_cost:
        marks.append(ChartMark("avg cost", position.average_cost, "cost"))
    for order in orders:
        if order.symbol != symbol or not order.is_open:
            continue
        side = order.side.value
        if order.stop_price is not None and order.triggered_at is None:
            marks.append(ChartMark(f"{side} stop #{order.id}", order.stop_price, "buy" if side == "buy" else "sell"))
        elif order.limit_price is not None and order.type is not OrderType.MARKET:
            marks.append(ChartMark(f"{side} limit #{order.id}", order.limit_price, "buy" if side == "buy" else "sell"))
    return marks


def nice_step(span: float, ticks: int) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about `ticks` ticks over `span`."""
    raw = span / max(1, ticks)
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next((m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw), 10 * power)


def tick_label(value: float, step: float) -> str:
    """A price on the y axis as the app writes prices, without the cents when the step is whole dollars."""
    text = price(Decimal(repr(value)) if value < 1 else Decimal(f"{value:.2f}"))
    return text[:-3] if step >= 1 and text.endswith(".00") else text


class CandleChart(Vertical):
    """Shows `show(series, marks)`; `range` is what the caller should load next."""

    DEFAULT_CSS = """
    CandleChart {
        height: auto;
        min-height: 6;
    }
    CandleChart > .chart-caption {
        width: 100%;
        height: 1;
        color: $text-muted;
    }
    CandleChart > .chart-legend {
        width: 100%;
        height: auto;
    }
    CandleChart > PlotextPlot {
        height: 1fr;
        min-height: 4;
    }
    """

    class RoomChanged(Message):
        """The chart holds a different number of candles now (resized): worth loading again."""

        def __init__(self, chart: CandleChart) -> None:
            super().__init__()
            self.chart = chart

        @property
        def control(self) -> CandleChart:
            return self.chart

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.range = DEFAULT_RANGE
        self.symbol: str | None = None
        self.series: Candles | None = None
        self.marks: list[ChartMark] = []
        self._candles: list[PricePoint] = []
        self._asked = 0  # the limit of the last load
        self._shown_caption: Text | None = None
        self._shown_legend: Text | None = None

    def compose(self) -> ComposeResult:
        yield Label("", classes="chart-caption")
        yield CandlePlot()
        yield Label("", classes="chart-legend")

    def on_mount(self) -> None:
        # the candles' and lines' colours are the theme's: draw again in a new one
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._draw())

    @property
    def plot(self) -> CandlePlot:
        return self.query_one(CandlePlot)

    def room(self) -> int:
        """How many candles the plot's width holds (at least MIN_CANDLES)."""
        width = self.plot.size.width if self.is_mounted else 0
        if width <= 0:
            return 60
        return max(MIN_CANDLES, min(CANDLES_MAX, (width - _LABEL_GUESS - _FRAME_COLUMNS) // _CANDLE_COLUMNS))

    def candle_limit(self) -> int:
        """The number of candles to ask the engine for: as many as the chart holds now."""
        self._asked = self.room()
        return self._asked

    def on_resize(self) -> None:
        # a load asked for before the layout (a guess) or at another width: worth loading again
        if self._asked and self.room() != self._asked:
            self._asked = 0  # once: the next load records what it asks for
            self.post_message(self.RoomChanged(self))
        self._draw()

    def cycle_range(self, step: int) -> str:
        """The next (or previous) range; the caller loads it."""
        self.range = RANGES[(RANGES.index(self.range) + step) % len(RANGES)]
        self._caption()
        return self.range

    def show_loading(self, symbol: str) -> None:
        if symbol != self.symbol:
            self.symbol, self.series, self._candles, self.marks = symbol, None, [], []
            self._draw()
        self._caption(note="loading")

    def show(self, series: Candles, marks: Sequence[ChartMark] = ()) -> None:
        self.symbol, self.series, self.marks = series.symbol, series, list(marks)
        self._candles = list(series.candles)
        self._draw()

    def set_marks(self, marks: Sequence[ChartMark]) -> None:
        if list(marks) != self.marks:
            self.marks = list(marks)
            self._draw()

    def update_price(self, now: Decimal) -> None:
        """A live price moves the forming candle (the next load starts a new one on time)."""
        if not self._candles or self._candles[-1].close == now:
            return
        last = self._candles[-1]
        self._candles[-1] = last.model_copy(update={"close": now, "high": max(last.high, now), "low": min(last.low, now)})
        self._draw()

    # -- drawing --------------------------------------------------------------------------------

    def _caption(self, note: str = "") -> None:
        """`BTC 1d · 15m candles  $247,455.81 +0.20%  low ..  high ..  g 1h 1d 1w 1m 1y`, as much
        of it as the width holds, whole parts only (the range list and low/high go first)."""
        candles = self._candles
        parts: list[Text] = []
        if self.symbol is None:
            parts.append(Text("no asset"))
        else:
            parts.append(Text.assemble((self.symbol, "bold"), " ", (self.range, "bold")))
            if note or self.series is None:
                parts.append(Text(note or "no price history"))
            elif candles:
                first, last = candles[0].open, candles[-1].close
                change = (last - first) * 100 / first if first else Decimal(0)
                every = _INTERVAL_NAMES.get(self.series.interval, f"{self.series.interval}s")
                parts.append(Text(f"· {every} candles "))
                parts.append(Text.assemble((price(last), "bold"), " ",
                                           (pct(change), "green" if change > 0 else "red" if change < 0 else "")))
                parts.append(Text(f" low {price(min(c.low for c in candles))}"))
                parts.append(Text(f" high {price(max(c.high for c in candles))}"))
        ranges = Text.assemble(" ", ("g", "bold"), " ")
        for name in RANGES:
            ranges.append(f" {name} ", style="reverse bold" if name == self.range else "")
        parts.append(ranges)
        width = self.size.width or 200
        caption = Text()
        for part in parts:
            if caption.cell_len + 1 + part.cell_len > width:
                continue
            if caption:
                caption.append(" ")
            caption.append_text(part)
        if caption != self._shown_caption:
            self._shown_caption = caption
            # one line of fixed height: no need to lay the page out again
            self.query_one(".chart-caption", Label).update(caption, layout=False)

    def _colour(self, variable: str, fallback: str) -> tuple[int, int, int]:
        value = self.app.theme_variables.get(variable, fallback)
        return Color.parse(value).rgb

    def _draw(self) -> None:
        if not self.is_mounted:
            return
        self._caption()
        plot = self.plot
        plt = plot.plt
        plot.version += 1
        plt.clear_data()
        plt.clear_figure()
        legend = self.query_one(".chart-legend", Label)
        room = self.room()
        candles = self._candles[-room:]
        legend.display = bool(candles and self.marks)
        # the axes below and left only: a row and a column more for candles
        plt.xaxes(True, False)
        plt.yaxes(True, False)
        if not candles:
            plot.refresh()
            return
        lows = [float(c.low) for c in candles]
        highs = [float(c.high) for c in candles]
        bottom, top = min(lows), max(highs)
        span = (top - bottom) or max(top * 0.001, 1e-12)
        up, down = self._colour("success", "green"), self._colour("error", "red")
        colours = {"cost": self._colour("accent", "yellow"), "buy": self._colour("primary", "blue"),
                   "sell": self._colour("warning", "orange")}
        drawn: list[tuple[ChartMark, str]] = []
        for mark in self.marks:
            at = float(mark.price)
            if bottom - span / 2 <= at <= top + span / 2:
                bottom, top = min(bottom, at), max(top, at)
                drawn.append((mark, ""))
            else:
                drawn.append((mark, " ↑ above" if at > top else " ↓ below"))
        span = (top - bottom) or span
        xs = list(range(len(candles)))
        plt.candlestick(xs, {"Open": [float(c.open) for c in candles], "Close": [float(c.close) for c in candles],
                             "High": highs, "Low": lows}, colors=[up, down])
        for mark, off in drawn:
            if not off:
                plt.hline(float(mark.price), colours[mark.kind])
        height = plot.size.height
        wanted = max(2, (height - 2) // 3)
        for attempt in range(4):  # at least two prices on the axis, however few rows
            step = nice_step(span, wanted * 2**attempt)
            first_tick = math.ceil(bottom / step) * step
            ticks = [first_tick + i * step for i in range(int((top - first_tick) / step + 1e-9) + 1)]
            if len(ticks) >= 2:
                break
        plt.yticks(ticks, [tick_label(t, step) for t in ticks])
        plt.ylim(bottom - span * 0.02, top + span * 0.02)
        plt.xlim(-1, len(candles))
        plt.xticks(*self._time_ticks(candles, room))
        plot.refresh()
        named = Text.assemble(*(
            part for mark, off in drawn
            for part in (("── ", Color(*colours[mark.kind]).hex), f"{mark.label} {price(mark.price)}{off}  ")
        ))
        if named != self._shown_legend:  # unchanged with each live price: no new layout
            self._shown_legend = named
            legend.update(named)

    def _time_ticks(self, candles: Sequence[PricePoint], room: int) -> tuple[list[int], list[str]]:
        """About one label per 14 columns, none cut at the right edge."""
        fmt = _TIME_FORMATS.get(self.range, "%H:%M")
        width = len(datetime.now().strftime(fmt)) + 3
        every = max(1, math.ceil(width / _CANDLE_COLUMNS) + 2)
        positions = list(range(len(candles) - 1, -1, -every))[::-1]
        positions = [p for p in positions if p * _CANDLE_COLUMNS >= width // 2]
        return positions, [candles[p].at.astimezone().strftime(fmt) for p in positions]
