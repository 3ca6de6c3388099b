"""EquityCards: the Dashboard's headline numbers (equity, cash, unrealized P&L, today's change)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from orderproc.engine.schemas import Portfolio
from orderproc.formatting import pct, signed_usd, usd
from orderproc.tui.widgets.summary import SummaryTile, reserved_note

TODAY_CAPTION = "Today's change: P&L since 00:00 UTC, after fees; deposits/withdrawals excluded"


class EquityCards(Vertical):
    """The headline row: `show(portfolio)` after each valuation."""

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

    def show(self, portfolio: Portfolio) -> None:
        self.query_one("#card-equity", SummaryTile).set_value(usd(portfolio.equity))
        cash = self.query_one("#card-cash", SummaryTile)
        cash.set_value(usd(portfolio.cash))
        cash.set_note(*reserved_note(portfolio))
        self.set_class(bool(portfolio.reserved_cash), "-noted")
        pnl = portfolio.unrealized_pnl
        self.query_one("#card-pnl", SummaryTile).set_value(signed_usd(pnl), pnl)
        today = portfolio.day_change
        # against what the day started with (plus what was paid in today): the equity less today's change
        base = portfolio.equity - today
        text = signed_usd(today) + (f" ({pct(today * 100 / base)})" if base > 0 else "")
        self.query_one("#card-today", SummaryTile).set_value(text, today)
