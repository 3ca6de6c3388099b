"""Exact money and quantity arithmetic: parsing at the edges, minor units, the rounding rule.

Cash is USD held in integer cents. An asset quantity is held in integer units of
10**-precision of that asset. Prices are Decimals with PRICE_DIGITS significant digits.

The rounding rule (one rule, in the house's favour): a buyer pays the notional
quantity x price rounded *up* to the cent; a seller receives it rounded *down*.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Context, Decimal

from orderproc.engine.errors import InvalidAmount

USD = "USD"
USD_PRECISION = 2
PRICE_DIGITS = 12
# The largest amount of cash one request may move, and the largest quantity: far below
# what overflows a signed 64-bit integer of minor units (9.2e18).
MAX_CASH = Decimal("1000000000000")  # 1e12 USD
MAX_UNITS = 10**17

# Plain ASCII decimal notation only: Decimal() alone would also take "1_000", full-width or
# other scripts' digits, "NaN" and "Infinity".
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?", re.ASCII)
_CTX = Context(prec=60)
_PRICE_CTX = Context(prec=PRICE_DIGITS)


def parse_decimal(value: object, field: str = "amount") -> Decimal:
    """Turn user input (str, int or Decimal; never float) into a finite Decimal."""
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidAmount(f"{field} must be a decimal string, not {type(value).__name__}", {"field": field})
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > 64 or not _NUMBER.fullmatch(text):
            raise InvalidAmount(f"{field} is not a number: {value[:64]!r}", {"field": field})
        d = Decimal(text)
    else:
        raise InvalidAmount(f"{field} must be a decimal", {"field": field})
    if not d.is_finite():
        raise InvalidAmount(f"{field} must be a finite number", {"field": field})
    if d.adjusted() > 30 or d.as_tuple().exponent < -30:  # type: ignore[operator]  # finite: an int exponent
        raise InvalidAmount(f"{field} is out of range", {"field": field})
    return d


def to_units(value: object, precision: int, field: str = "amount", *, max_units: int = MAX_UNITS) -> int:
    """A strictly positive Decimal with at most `precision` decimals, as integer minor units."""
    d = parse_decimal(value, field)
    if d <= 0:
        raise InvalidAmount(f"{field} must be greater than zero", {"field": field})
    scaled = _CTX.multiply(d, Decimal(10) ** precision)
    if scaled != scaled.to_integral_value():
        rule = f"at most {precision} decimal places" if precision else "a whole number"
        raise InvalidAmount(f"{field} must be {rule}", {"field": field, "max_decimals": precision})
    units = int(scaled)
    if units > max_units:
        raise InvalidAmount(f"{field} is too large", {"field": field})
    return units


def cash_to_cents(value: object, field: str = "amount") -> int:
    """A positive USD amount with at most two decimals, as cents, at most MAX_CASH."""
    return to_units(value, USD_PRECISION, field, max_units=int(MAX_CASH * 100))


def from_units(units: int, precision: int) -> Decimal:
    """Integer minor units back to an exact Decimal with `precision` decimals."""
    return Decimal(units).scaleb(-precision)


def cents_to_cash(cents: int) -> Decimal:
    return from_units(cents, USD_PRECISION)


def cash_text(amount: Decimal) -> str:
    """Dollars as people read them, in the ledger's messages, the CLI and the terminal alike:
    `$10,961.50`, `-$5.00`; an amount that rounds to zero cents is `$0.00`, never `-$0.00`."""
    cents = amount.quantize(Decimal("0.01"))
    if cents < 0:
        return f"-${-cents:,.2f}"
    return f"${abs(cents):,.2f}"


def quantity_text(amount: Decimal) -> str:
    """A quantity as written: `0.5`, `0` (not `0E-8`)."""
    return format(amount.normalize(), "f") if amount else "0"


def amount_text(amount: Decimal, asset: str) -> str:
    """An amount of `asset` as the ledger's messages write it: `$10,961.50`, `0.5 ETH`."""
    return cash_text(amount) if asset == USD else f"{quantity_text(amount)} {asset}"


def price_text(price: Decimal) -> str:
    """A price as the ledger's messages write it, as `orderproc.formatting.price` does: cents for
    dollar prices (`$3,836.18`), enough significant digits for fractions of a cent."""
    if price >= 1:
        return f"${price:,.2f}"
    digits = max(2, -price.adjusted() + 4) if price else 2
    return f"${price:.{min(digits, 12)}f}"


def round_price(price: Decimal) -> Decimal:
    """A price with PRICE_DIGITS significant digits, trailing zeros removed."""
    p = _PRICE_CTX.plus(price)
    return p.normalize(_PRICE_CTX) if p == p.to_integral_value() else p


def notional_cents(qty_units: int, precision: int, price: Decimal, *, buyer: bool) -> int:
    """Cash for `qty_units` at `price`, in cents: rounded up for a buyer, down for a seller."""
    exact = _CTX.multiply(_CTX.multiply(Decimal(qty_units), price), Decimal(10) ** (USD_PRECISION - precision))
    return int(exact.to_integral_value(rounding=ROUND_CEILING if buyer else ROUND_FLOOR))


def units_for_cash(cash_cents: int, precision: int, price: Decimal) -> int:
    """The most whole quantity units that `cash_cents` buys at `price` (rounded down)."""
    exact = _CTX.divide(Decimal(cash_cents).scaleb(precision - USD_PRECISION), price)
    return int(exact.to_integral_value(rounding=ROUND_DOWN))


def quantity_precision(price: Decimal) -> int:
    """Decimals of quantity for an asset: a smallest step worth about 1e-4 USD, 0..8."""
    if price <= 0:
        return 8
    return max(0, min(8, price.adjusted() + 5))
