"""EquityCards: the Dashboard's headline numbers (equity, cash, unrealized P&L, today's change)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from orderproc.engine.schemas import Portfolio, Position, Quote
from orderproc.formatting import pct, signed_usd, usd
from orderproc.tui.widgets.summary import SummaryTile, reserved_note

TODAY_CAPTION = "Today's change: your current positions revalued by each asset's 24 h change"


def todays_change(positions: Iterable[Position], quotes: Mapping[str, Quote]) -> Decimal:
    """How much the current positions' value moved over 24 h, from each asset's 24 h change.

    A position worth `v` now whose asset moved `c`% was worth `v / (1 + c/100)` a day ago, so
    it contributed `v - v / (1 + c/100)`. Trades made during the day are not accounted for: this
    is the change of what is held now, not a P&L.
    """
    total = Decimal(0)
    for position in positions:
        quote = quotes.get(position.symbol)
        if quote is None:
            continue
        factor = 1 + quote.change_24h / 100
        if factor <= 0:
            continue
        total += position.market_value - position.market_value / factor
    return total


class EquityCards(Vertical):
    """The headline row: `show(portfolio, quotes)` after each valuation."""

    DEFAULT_CSS = """
    EquityCards {
        height: auto;
    }
    EquityCards > .equity-cards-row {
        height: auto;
    }
    EquityCards .summary-tile {
        width: 1fr;
        height: auto;
        padding: 0 1;
    }
    EquityCards.-noted .summary-tile {
        min-height: 3;  /* a tile with a note is a line taller: the row keeps one height */
    }
    EquityCards .summary-caption {
        color: $text-muted;
    }
    EquityCards .summary-value {
        text-style: bold;
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    EquityCards .summary-value.-positive {
        color: $success;
    }
    EquityCards .summary-value.-negative {
        color: $error;
    }
    EquityCards .summary-note {
        color: $text-muted;
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    EquityCards > .equity-cards-caption {
        color: $text-muted;
        padding: 0 1;
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def compose(self) -> ComposeResult:
        with Horizontal(classes="equity-cards-row"):
            yield SummaryTile("Total equity", id="card-equity")
            yield SummaryTile("Cash", id="card-cash")
            yield SummaryTile("Unrealized P&L", id="card-pnl")
            yield SummaryTile("Today's change", id="card-today")
        yield Static(TODAY_CAPTION, classes="equity-cards-caption")

    def show(self, portfolio: Portfolio, quotes: Mapping[str, Quote]) -> None:
        self.query_one("#card-equity", SummaryTile).set_value(usd(portfolio.equity))
        cash = self.query_one("#card-cash", SummaryTile)
        cash.set_value(usd(portfolio.cash))
        cash.set_note(*reserved_note(portfolio))
        self.set_class(bool(portfolio.reserved_cash), "-noted")
        pnl = portfolio.unrealized_pnl
        self.query_one("#card-pnl", SummaryTile).set_value(signed_usd(pnl), pnl)
        if portfolio.positions and not quotes:
            return  # the first prices have not arrived: no "today's change" to show yet
        today = todays_change(portfolio.positions, quotes)
        day_ago = portfolio.market_value - today
        text = signed_usd(today)
        if day_ago > 0:
            text += f" ({pct(today * 100 / day_ago)})"
        self.query_one("#card-today", SummaryTile).set_value(text, today)
