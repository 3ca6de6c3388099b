"""Shared by the resting-order tests: limit and stop prices read off the market's future ticks.

The market is a pure function of time, so a test can look ahead and choose a limit (or stop)
that the price first reaches at a tick it knows. A *record* is the first tick after `start` whose
price is below (a low) or above (a high) every price from `start` on: a limit buy at a low's
price rests at `start` and fills exactly at that tick, a limit sell (or a stop buy) likewise at a
high.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from orderproc.engine.domain.money import round_price
from orderproc.engine.prices import Market

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Record:
    tick: int
    price: Decimal  # the price at `tick`
    before: Decimal  # the lowest (for a low) or highest (for a high) price from `start` to `tick - 1`

    @property
    def inside(self) -> Decimal:
        """A price strictly between `before` and `price`: an order there fills at `tick`, at `price`
        (a better price than its limit, or past its stop)."""
        return between(self.price, self.before)


def record(market: Market, symbol: str, start: float, *, low: bool, skip: int = 0, within: int = 1800) -> Record:
    """The first tick after `start + skip` whose price is a new low (or high) since `start`'s tick."""
    first = math.floor(start)
    extreme = market.price(symbol, first)
    for tick in range(first + 1, first + within + 1):
        price = market.price(symbol, tick)
        if (price < extreme if low else price > extreme) and tick > first + skip:
            return Record(tick, price, extreme)
        extreme = min(extreme, price) if low else max(extreme, price)
    raise AssertionError(f"no new {'low' if low else 'high'} of {symbol} within {within} s of {start}: pick another")


def between(a: Decimal, b: Decimal) -> Decimal:
    """A price (at most 12 significant digits, as the engine takes) strictly between a and b."""
    mid = round_price((a + b) / 2)
    assert min(a, b) < mid < max(a, b), (a, b, mid)
    return mid


def cost(quantity: Decimal, price: Decimal) -> Decimal:
    """What a buyer pays: quantity x price rounded up to the cent."""
    return (quantity * price).quantize(CENT, rounding=ROUND_CEILING)


def proceeds(quantity: Decimal, price: Decimal) -> Decimal:
    """What a seller receives: quantity x price rounded down to the cent."""
    return (quantity * price).quantize(CENT, rounding=ROUND_FLOOR)
