"""PriceChart: an asset's recent closes as a sparkline, with its range and change."""

from __future__ import annotations

from decimal import Decimal

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Sparkline

from orderproc.engine.schemas import PricePoint
from orderproc.formatting import pct, price


class PriceChart(Vertical):
    """Shows `set_points(symbol, points)`; the caller loads the points (engine.price_history)."""

    DEFAULT_CSS = """
    PriceChart {
        height: auto;
        min-height: 4;
    }
    PriceChart > .chart-caption {
        width: 100%;
        color: $text-muted;
    }
    PriceChart > Sparkline {
        height: 3;
        margin: 0 0;
    }
    """

    def compose(self) -> ComposeResult:
        yield Label("", classes="chart-caption")
        yield Sparkline([], summary_function=max)

    def set_points(self, symbol: str, points: list[PricePoint], span: str = "24h") -> None:
        caption = self.query_one(".chart-caption", Label)
        sparkline = self.query_one(Sparkline)
        if not points:
            caption.update(f"{symbol}: no price history")
            sparkline.data = []
            return
        closes = [p.close for p in points]
        first, last = points[0].open, closes[-1]
        change = (last - first) * 100 / first if first else Decimal(0)
        low = min(p.low for p in points)
        high = max(p.high for p in points)
        caption.update(f"{symbol} {span}  {price(last)}  {pct(change)}  low {price(low)}  high {price(high)}")
        sparkline.data = [float(c) for c in closes]
