"""The order and money rules, each written once, pure (no I/O, no store, no UI).

The engine enforces them; the CLI's usage errors and the Trade ticket's live hints ask the same
functions, so what a surface warns about is exactly what the engine would refuse:

- the shape of an order (which fields each order type takes, its time in force),
- a price an order names (positive, at most PRICE_DIGITS significant digits),
- marketable or resting (a limit reached fills now; stops always rest), the stop side, the
  market order's price guard,
- what a fill costs (`fill_terms`: friction, fee, cent rounding) and what a resting order
  reserves (`reservation`),
- valuation: a quantity x a price, to the cent (`value`).

Money is exact: Decimal here, integer minor units (cents, asset units) in the ledger. The
rounding rule is money.py's: a buyer pays quantity x price rounded up to the cent, a seller
receives it rounded down; a valuation rounds half to even.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import NamedTuple

from orderproc.engine import errors
from orderproc.engine.domain.friction import BPS, Execution, Friction, fee_cents
from orderproc.engine.domain.money import (  # noqa: F401 (cash_text, quantity_text: the surfaces' formats)
    PRICE_DIGITS,
    cash_text,
    cash_to_cents,
    cents_to_cash,
    from_units,
    notional_cents,
    parse_decimal,
    price_text,
    quantity_text,
    round_price,
    to_units,
    units_for_cash,
)
from orderproc.engine.schemas import OrderRequest, OrderType, Side, TimeInForce

__all__ = [
    "CENT", "NO_FRICTION", "Fill", "ParsedOrder", "cash_to_cents", "cents_to_cash", "check_guard", "check_price",
    "check_shape", "check_stop", "fill_terms", "fills_now", "from_units", "guard_breached", "held",
    "limit_reached", "order_kind", "parse_decimal", "parse_order", "reservation", "round_price",
    "stop_reached", "takes_guard", "takes_ioc", "to_units", "units_for_cash", "value", "within_price_digits",
]

CENT = Decimal("0.01")
NO_FRICTION = Friction()
# the fields each order type takes
NEEDS: dict[OrderType, tuple[str, ...]] = {
    OrderType.MARKET: (), OrderType.LIMIT: ("limit_price",), OrderType.STOP: ("stop_price",),
    OrderType.STOP_LIMIT: ("limit_price", "stop_price"),
}


def value(quantity: Decimal, price: Decimal) -> Decimal:
    """What `quantity` is worth at `price`, to the cent (half to even): positions, P&L, equity."""
    return (quantity * price).quantize(CENT, ROUND_HALF_EVEN)


def order_kind(limit_given: bool, stop_given: bool) -> OrderType:
    """The order type the prices given make: none a market order, a limit, a stop, or both."""
    return {(False, False): OrderType.MARKET, (True, False): OrderType.LIMIT, (False, True): OrderType.STOP,
            (True, True): OrderType.STOP_LIMIT}[(limit_given, stop_given)]


def takes_guard(kind: OrderType) -> bool:
    """Only a market order takes a price guard (a limit order has its limit)."""
    return kind is OrderType.MARKET


def takes_ioc(kind: OrderType) -> bool:
    """Only a limit order may be immediate-or-cancel (a market order is so by nature)."""
    return kind is OrderType.LIMIT


def check_shape(request: OrderRequest) -> TimeInForce:
    """The fields an order's type takes, one amount, a guard only on market orders, IOC only on
    limit orders; its time in force. Raises ValidationError or InvalidAmount with the field."""
    kind = request.type
    needs = NEEDS[kind]
    for field in ("limit_price", "stop_price"):
        given = getattr(request, field) is not None
        if given != (field in needs):
            verb = "needs" if field in needs else "takes no"
            raise errors.ValidationError(f"a {kind.value} order {verb} {field}", {"field": field})
    if kind is OrderType.MARKET:
        if request.time_in_force is TimeInForce.GTC:
            raise errors.ValidationError("a market order fills now or not at all (time_in_force ioc)",
                                         {"field": "time_in_force"})
        if (request.quantity is None) == (request.notional is None):
            raise errors.InvalidAmount("give either a quantity or a USD amount", {"field": "quantity"})
        return TimeInForce.IOC
    if request.notional is not None or request.quantity is None:
        raise errors.InvalidAmount(f"a {kind.value} order takes a quantity, not a USD amount", {"field": "quantity"})
    if request.price_limit is not None and not takes_guard(kind):
        raise errors.ValidationError("price_limit guards market orders; give limit_price", {"field": "price_limit"})
    tif = request.time_in_force or TimeInForce.GTC
    if tif is TimeInForce.IOC and not takes_ioc(kind):
        raise errors.ValidationError("only limit orders can be ioc", {"field": "time_in_force"})
    return tif


def check_price(price: object, field: str, *, label: str | None = None, digits: bool = True) -> Decimal:
    """A price an order names: a positive decimal; with `digits`, of at most PRICE_DIGITS
    significant digits (a resting order's price; a market order's guard is only compared).
    Errors name `label` (default: the field) and carry the field."""
    label = label or field
    try:
        checked = parse_decimal(price, label)
    except errors.InvalidAmount as exc:
        raise errors.InvalidAmount(exc.message, {"field": field}) from None
    if checked <= 0:
        raise errors.InvalidAmount(f"{label} must be greater than zero", {"field": field})
    if digits and not within_price_digits(checked):
        raise errors.InvalidAmount(f"{label} has more than {PRICE_DIGITS} significant digits", {"field": field})
    return checked


def within_price_digits(price: Decimal) -> bool:
    """A price a resting order may name: at most PRICE_DIGITS significant digits."""
    return round_price(price) == price


def stop_reached(side: Side, stop: Decimal, price: Decimal) -> bool:
    """A buy stop waits for the price to rise to it, a sell stop for it to fall to it: one at or
    past the price already is reached (and refused by the engine)."""
    return stop <= price if side is Side.BUY else stop >= price


def check_stop(symbol: str, side: Side, stop: Decimal | None, price: Decimal) -> None:
    if stop is not None and stop_reached(side, stop, price):
        where = "above" if side is Side.BUY else "below"
        raise errors.InvalidAmount(
            f"a {side.value} stop must be {where} the price ({symbol} is at {price_text(price)})",
            {"field": "stop_price", "price": str(price)},
        )


def limit_reached(side: Side, price: Decimal, limit: Decimal) -> bool:
    """A buy at `price` is within a limit at or above it; a sell within one at or below it."""
    return price <= limit if side is Side.BUY else price >= limit


def fills_now(kind: OrderType, side: Side, price: Decimal, limit: Decimal | None) -> bool:
    """Marketable: a market order, or a limit order whose limit `price` (the fill price) already
    reached. Stop and stop-limit orders always rest until their stop."""
    if kind is OrderType.MARKET:
        return True
    return kind is OrderType.LIMIT and limit is not None and limit_reached(side, price, limit)


def guard_breached(side: Side, price: Decimal, guard: Decimal | None) -> bool:
    """A market order's price guard: a buy refuses a fill above it, a sell below it."""
    return guard is not None and not limit_reached(side, price, guard)


def check_guard(symbol: str, side: Side, price: Decimal, guard: Decimal | None) -> None:
    if guard is not None and guard_breached(side, price, guard):
        raise errors.PriceMoved(f"{symbol} is at {price_text(price)}, past your limit of {price_text(guard)}",
                                {"price": str(price), "limit": str(guard)})


class Fill(NamedTuple):
    """A fill's terms: quantity units, how it is priced, notional cents, fee cents."""

    units: int
    execution: Execution
    cents: int
    fee: int


def fill_terms(friction: Friction, precision: int, side: Side, reference: Decimal, *, units: int | None = None,
               cash: int | None = None, taker: bool = True) -> Fill:
    """A fill at `reference` of `units`, or of what `cash` cents buy (the notional and the fee
    within it) or sell."""
    buy = side is Side.BUY
    size = cents_to_cash(cash) if cash is not None else from_units(units or 0, precision) * reference
    ex = friction.execution(reference, buy, size, taker=taker)
    if units is None:
        assert cash is not None
        budget = int(Decimal(cash) * BPS // (BPS + ex.fee_bps)) if buy else cash
        units = units_for_cash(budget, precision, ex.price)
        while buy and units > 0 and (
                (c := notional_cents(units, precision, ex.price, buyer=True)) + fee_cents(c, ex.fee_bps) > cash):
            units -= 1
    cents = notional_cents(units, precision, ex.price, buyer=buy)
    return Fill(units, ex, cents, fee_cents(cents, ex.fee_bps))


def reservation(friction: Friction, precision: int, side: Side, kind: OrderType, units: int,
                limit: Decimal | None, stop: Decimal | None) -> int:
    """What a resting order holds back, in minor units: a sell its quantity; a buy the most it
    expects to pay: at its limit with the maker fee, or (a stop order) as a taker at its stop."""
    if side is Side.SELL:
        return units
    at = stop if kind is OrderType.STOP else limit
    assert at is not None, "a resting order has its price"
    fill = fill_terms(friction, precision, side, at, units=units, taker=kind is OrderType.STOP)
    return fill.cents + fill.fee


def held(side: Side, amount: int, precision: int) -> Decimal:
    """A reservation as a Decimal: cash for a buy, the asset for a sell."""
    return cents_to_cash(amount) if side is Side.BUY else from_units(amount, precision)


@dataclass(frozen=True, slots=True)
class ParsedOrder:
    """An order request checked and in minor units (the asset already resolved)."""

    symbol: str
    precision: int
    side: Side
    kind: OrderType
    tif: TimeInForce
    units: int | None  # quantity units (None: a market order by USD amount)
    cash: int | None  # USD cents of a market order by amount
    guard: Decimal | None  # a market order's price guard
    limit: Decimal | None
    stop: Decimal | None
    lot_id: int | None

    def identity(self) -> list[object]:
        """What makes two requests the same request, however their numbers were written
        ("100" and "100.0"): the parts an idempotency key's request hash covers."""
        parts: list[object] = ["order", self.symbol, self.side, self.units, self.cash,
                               self.guard.normalize() if self.guard else None]
        if self.kind is not OrderType.MARKET:
            parts += [self.kind.value, self.tif.value, self.limit.normalize() if self.limit else None,
                      self.stop.normalize() if self.stop else None]
        if self.lot_id is not None:
            parts.append(f"lot {self.lot_id}")
        return parts


def parse_order(request: OrderRequest, symbol: str, precision: int) -> ParsedOrder:
    """`request` for the asset `symbol` (of `precision` decimals), checked by every rule that
    needs no price and no balance."""
    tif = check_shape(request)
    units = to_units(request.quantity, precision, "quantity") if request.quantity is not None else None
    cash = cash_to_cents(request.notional, "notional") if request.notional is not None else None
    if request.lot_id is not None and request.side is not Side.SELL:
        raise errors.ValidationError("only a sell closes a lot: lot_id goes with side sell", {"field": "lot_id"})

    def price(field: str, digits: bool = True) -> Decimal | None:
        given = getattr(request, field)
        return None if given is None else check_price(given, field, digits=digits)

    return ParsedOrder(symbol, precision, request.side, request.type, tif, units, cash,
                       price("price_limit", digits=False), price("limit_price"), price("stop_price"), request.lot_id)
