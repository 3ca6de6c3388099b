"""A portfolio valued again at newer quotes, without asking the engine: a terminal follows the
quote stream with it, and reads the portfolio again only when the account changes
(`orderproc.engine.events`). The same rules as the engine's valuation (`usecases/reports.py`,
which allocates with `allocated` too): each position worth `rules.value(quantity, price)`;
at the quotes' second it is the portfolio the engine gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal

from orderproc.engine import rules
from orderproc.engine.schemas import Portfolio, Position, Quote

ZERO = Decimal("0.00")


def revalued(portfolio: Portfolio, quotes: Mapping[str, Quote]) -> Portfolio:
    """`portfolio` at the prices of `quotes` (a position with no quote keeps its price)."""
    moved = [quotes[p.symbol] for p in portfolio.positions if p.symbol in quotes]
    if not moved:
        return portfolio
    positions = []
    for p in portfolio.positions:
        price = quotes[p.symbol].price if p.symbol in quotes else p.price
        value = rules.value(p.quantity, price)
        positions.append(p.model_copy(update={"price": price, "market_value": value,
                                              "unrealized_pnl": value - p.cost_basis}))
    market_value = sum((p.market_value for p in positions), ZERO)
    equity = portfolio.cash + market_value
    positions = allocated(positions, equity)
    return portfolio.model_copy(update={
        "equity": equity, "market_value": market_value, "positions": positions,
        "unrealized_pnl": sum((p.unrealized_pnl for p in positions), ZERO),
        "day_change": portfolio.day_change + equity - portfolio.equity,  # the day's start and flows stay
        "as_of": max(q.at for q in moved),
    })


def allocated(positions: list[Position], equity: Decimal) -> list[Position]:
    """The positions largest first, each with its share of `equity` in percent, to the cent
    (half to even): the engine's valuation and a revaluation alike."""
    return [p.model_copy(update={"allocation": share(p.market_value, equity) if equity else ZERO})
            for p in sorted(positions, key=lambda p: -p.market_value)]


def share(part: Decimal, whole: Decimal) -> Decimal:
    """`part` in percent of `whole`, to the cent (half to even)."""
    return (part * 100 / whole).quantize(rules.CENT, ROUND_HALF_EVEN)
