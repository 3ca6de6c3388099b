"""EquityCards: the Dashboard's headline numbers (equity, cash, unrealized P&L, today's change)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Static

from orderproc.engine.schemas import Portfolio, Position, Quote
from orderproc.formatting import pct, usd

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


def signed_usd(amount: Decimal) -> str:
    """`usd` with an explicit plus sign, for changes."""
    return f"+{usd(amount)}" if amount > 0 else usd(amount)


class EquityCard(Vertical):
    """One labelled number; `positive`/`negative` classes colour changes."""

    def __init__(self, label: str, *, id: str) -> None:
        super().__init__(id=id, classes="equity-card")
        self._label = label

    def compose(self) -> ComposeResult:
        yield Label(self._label, classes="equity-card-label")
        yield Static("…", classes="equity-card-value")

    def set_value(self, text: str, sign: Decimal | None = None) -> None:
        value = self.query_one(".equity-card-value", Static)
        value.update(text)
        value.set_class(sign is not None and sign > 0, "positive")
        value.set_class(sign is not None and sign < 0, "negative")


class EquityCards(Vertical):
    """The headline row: `show(portfolio, quotes)` after each valuation."""

    DEFAULT_CSS = """
    EquityCards {
        height: auto;
    }
    EquityCards > .equity-cards-row {
        height: auto;
    }
    EquityCards .equity-card {
        width: 1fr;
        height: auto;
        padding: 0 1;
    }
    EquityCards .equity-card-label {
        color: $text-muted;
    }
    EquityCards .equity-card-value {
        text-style: bold;
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
            yield EquityCard("Total equity", id="card-equity")
            yield EquityCard("Cash", id="card-cash")
            yield EquityCard("Unrealized P&L", id="card-pnl")
            yield EquityCard("Today's change", id="card-today")
        yield Static(TODAY_CAPTION, classes="equity-cards-caption")

    def show(self, portfolio: Portfolio, quotes: Mapping[str, Quote]) -> None:
        self.query_one("#card-equity", EquityCard).set_value(usd(portfolio.equity))
        self.query_one("#card-cash", EquityCard).set_value(usd(portfolio.cash))
        pnl = portfolio.unrealized_pnl
        self.query_one("#card-pnl", EquityCard).set_value(signed_usd(pnl), pnl)
        today = todays_change(portfolio.positions, quotes)
        day_ago = portfolio.market_value - today
        text = signed_usd(today)
        if day_ago > 0:
            text += f" ({pct(today * 100 / day_ago)})"
        self.query_one("#card-today", EquityCard).set_value(text, today)
