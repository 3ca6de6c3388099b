"""The ledger's friction profile: what a fill costs beyond the ledger price, without I/O.

The ledger's owner chooses it (none by default):

    maker_fee_bps, taker_fee_bps   a fee on the fill's notional, in basis points (rounded up to
                                   the cent, in the house's favour); a resting limit order filled
                                   by the price loop is a maker, everything that trades at once
                                   (market orders, limit orders the price already reached, stop
                                   orders when they trigger) is a taker
    spread_bps                     the quoted spread: a taker buys half of it above the ledger
                                   price and sells half of it below
    slippage_bps_per_1000_usd      a taker's price moves further against it in proportion to the
                                   trade's size: this many basis points per $1,000 of notional

A maker trades at the ledger price (it provided the liquidity). Every fill keeps its receipt:
the reference (ledger) price, the spread and slippage per unit, the final price, the fee.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from orderproc.engine.domain.money import round_price

BPS = Decimal(10_000)
MAX_BPS = Decimal(1_000)  # 10%: any single setting
MAX_SLIPPAGE_BPS = Decimal(1_000)  # a trade never slips more than 10%
_ZERO = Decimal(0)
SETTINGS = ("maker_fee_bps", "taker_fee_bps", "spread_bps", "slippage_bps_per_1000_usd")


@dataclass(frozen=True, slots=True)
class Execution:
    """How one fill is priced: per unit, the ledger price, the half spread and the slippage
    paid (always against the taker), and the price the fill is booked at."""

    reference: Decimal
    spread: Decimal
    slippage: Decimal
    price: Decimal
    fee_bps: Decimal
    taker: bool


@dataclass(frozen=True, slots=True)
class Friction:
    maker_fee_bps: Decimal = Decimal(0)
    taker_fee_bps: Decimal = Decimal(0)
    spread_bps: Decimal = Decimal(0)
    slippage_bps_per_1000_usd: Decimal = Decimal(0)

    @classmethod
    def from_meta(cls, meta: dict[str, str]) -> Friction:
        return cls(**{name: Decimal(meta[name]) for name in SETTINGS if name in meta})

    def as_meta(self) -> dict[str, str]:
        return {name: str(getattr(self, name)) for name in SETTINGS}

    @property
    def is_free(self) -> bool:
        return not any(getattr(self, name) for name in SETTINGS)

    def execution(self, reference: Decimal, buy: bool, size_usd: Decimal, *, taker: bool) -> Execution:
        """The fill price of a trade worth about `size_usd` at `reference`."""
        if not taker:
            return Execution(reference, _ZERO, _ZERO, reference, self.maker_fee_bps, False)
        if not (self.spread_bps or self.slippage_bps_per_1000_usd):
            return Execution(reference, _ZERO, _ZERO, reference, self.taker_fee_bps, True)
        half = round_price(reference * self.spread_bps / BPS / 2)
        slip_bps = min(MAX_SLIPPAGE_BPS, self.slippage_bps_per_1000_usd * size_usd / 1000)
        slip = round_price(reference * slip_bps / BPS)
        price = round_price(reference + half + slip) if buy else round_price(reference - half - slip)
        return Execution(reference, half, slip, price, self.taker_fee_bps, True)



def fee_cents(notional_cents: int, fee_bps: Decimal) -> int:
    """The fee on a fill of `notional_cents`, rounded up to the cent."""
    if not fee_bps:
        return 0
    return int((notional_cents * fee_bps / BPS).to_integral_value(rounding=ROUND_CEILING))
