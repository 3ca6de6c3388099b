"""EquitySummary: a portfolio's equity, cash, market value and unrealized P&L as four tiles.

Cash is all the cash; what open buy orders hold back of it is noted under the figure.
"""

from __future__ import annotations

from decimal import Decimal

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Static

from orderproc.engine.schemas import Portfolio
from orderproc.formatting import pct, signed_usd, usd

PLACEHOLDER = "…"


def reserved_note(portfolio: Portfolio) -> tuple[str, ...]:
    """`$3,000.00 reserved` (or, narrow, `$3,000.00 held`) when open buy orders hold back cash."""
    reserved = usd(portfolio.reserved_cash)
    return (f"{reserved} reserved", f"{reserved} held") if portfolio.reserved_cash else ()


class SummaryTile(Vertical):
    """One figure with its caption above it (also the Dashboard's cards)."""

    def __init__(self, caption: str, *, id: str) -> None:
        super().__init__(id=id, classes="summary-tile")
        self._caption = caption
        self._notes: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        yield Label(self._caption, classes="summary-caption")
        yield Static(PLACEHOLDER, classes="summary-value")
        yield Static("", classes="summary-note")

    def on_mount(self) -> None:
        self.query_one(".summary-note").display = False

    def set_note(self, *texts: str) -> None:
        """A muted line under the figure: the first of `texts` that fits the tile (`$3,000.00
        reserved`, then a shorter way to say it); none hides it."""
        self._notes = texts
        self._fit_note()

    def on_resize(self) -> None:
        self._fit_note()

    def _fit_note(self) -> None:
        notes = self._notes
        note = self.query_one(".summary-note", Static)
        width = note.content_region.width or self.content_region.width
        text = next((t for t in notes if not width or len(t) <= width), notes[-1] if notes else "")
        note.update(text)
        note.display = bool(text)

    def set_value(self, text: str, sign: Decimal | None = None) -> None:
        """Show `text`; with `sign`, colour it as a gain (> 0) or a loss (< 0)."""
        value = self.query_one(".summary-value", Static)
        value.update(text)
        value.set_class(sign is not None and sign > 0, "-positive")
        value.set_class(sign is not None and sign < 0, "-negative")


class EquitySummary(Horizontal):
    """Shows `show(portfolio)`; the caller loads the portfolio (engine.portfolio) and refreshes it.

    Tile ids: #summary-equity, #summary-cash, #summary-market-value, #summary-pnl.
    """

    DEFAULT_CSS = """
    EquitySummary {
        height: auto;
        width: 100%;
        padding: 0 1;
    }
    EquitySummary > .summary-tile {
        width: 1fr;
        height: auto;
        min-width: 16;
        padding: 0 1;
        border-left: tall $primary 40%;
    }
    EquitySummary > .summary-tile .summary-caption {
        color: $text-muted;
        width: 100%;
    }
    EquitySummary > .summary-tile .summary-value {
        text-style: bold;
        width: 100%;
    }
    EquitySummary > .summary-tile .summary-note {
        color: $text-muted;
        width: 100%;
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    EquitySummary .summary-value.-positive {
        color: $success;
    }
    EquitySummary .summary-value.-negative {
        color: $error;
    }
    """

    def compose(self) -> ComposeResult:
        yield SummaryTile("Equity", id="summary-equity")
        yield SummaryTile("Cash", id="summary-cash")
        yield SummaryTile("Market value", id="summary-market-value")
        yield SummaryTile("Unrealized P&L", id="summary-pnl")

    def show(self, portfolio: Portfolio) -> None:
        """Put the portfolio's figures in the tiles (cheap: call it on every reload)."""
        cost = portfolio.market_value - portfolio.unrealized_pnl
        pnl = portfolio.unrealized_pnl
        pnl_text = signed_usd(pnl)
        if cost > 0:
            pnl_text += f" ({pct(pnl * 100 / cost)})"
        self.query_one("#summary-equity", SummaryTile).set_value(usd(portfolio.equity))
        cash = self.query_one("#summary-cash", SummaryTile)
        cash.set_value(usd(portfolio.cash))
        cash.set_note(*reserved_note(portfolio))
        self.query_one("#summary-market-value", SummaryTile).set_value(usd(portfolio.market_value))
        self.query_one("#summary-pnl", SummaryTile).set_value(pnl_text, sign=pnl)

    def values(self) -> dict[str, str]:
        """What each tile shows now, by tile id (for tests and the Dashboard)."""
        return {
            str(tile.id): str(tile.query_one(".summary-value", Static).content)
            for tile in self.query(SummaryTile)
        }
