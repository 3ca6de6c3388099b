"""How orderproc writes money, prices, quantities, changes and order statuses for people (CLI
and terminal), and how it reads the amounts people type.

A figure that rounds to zero is written without a sign: never `-$0.00` or `-0.00%`.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.text import Text

from orderproc.engine.errors import InvalidAmount
from orderproc.engine.rules import cash_text, price_text, quantity_text
from orderproc.engine.schemas import OrderStatus

if TYPE_CHECKING:
    from orderproc.engine.schemas import LeaderboardEntry, Order, Receipt

# what people read for each status ("new" is the engine's and the API's word for a resting order)
STATUS_WORDS: dict[OrderStatus, str] = {
    OrderStatus.NEW: "open",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.REJECTED: "rejected",
    OrderStatus.EXPIRED: "expired",
}


# The number format people chose (the `number_format` setting): how the figures below write
# thousands and decimals. The engine's own texts (and its messages) are written "1,234.56".
_MARKS: dict[str, dict[int, str | None]] = {
    "1,234.56": {},
    "1.234,56": str.maketrans(",.", ".,"),
    "1 234,56": str.maketrans(",.", "\u00a0,"),  # a no-break space: a figure stays on one line
    "1234.56": str.maketrans({",": None}),
}
_marks: dict[int, str | None] = {}
_decimal_comma = False  # people write decimals with a comma ("1.234,56", "1 234,56")


def use_number_format(number_format: str) -> None:
    """Write every figure from now on in `number_format` (one of config.NUMBER_FORMATS), and read
    typed amounts in it."""
    global _marks, _decimal_comma
    _marks = _MARKS[number_format]
    _decimal_comma = number_format.endswith(",56")


def marked(text: str) -> str:
    """`text`, a figure written "1,234.56", in the chosen number format."""
    return text.translate(_marks) if _marks else text


def _rounded(amount: Decimal, places: int = 2) -> Decimal:
    """`amount` to `places` decimals; one that rounds to zero is an unsigned zero."""
    near = amount.quantize(Decimal(1).scaleb(-places))
    return near if near else abs(near)


def usd(amount: Decimal) -> str:
    return marked(cash_text(amount))


def signed_usd(amount: Decimal) -> str:
    """`usd` with an explicit plus sign, for changes."""
    return f"+{usd(amount)}" if _rounded(amount) > 0 else usd(amount)


def price(amount: Decimal) -> str:
    """Cents for dollar prices, enough significant digits for fractions of a cent (as the
    engine's messages write them)."""
    return marked(price_text(amount))


def qty(amount: Decimal) -> str:
    return marked(quantity_text(amount))


def pct(amount: Decimal) -> str:
    """A change in percent, always signed: `+6.11%`, `-0.53%`, `+0.00%`."""
    return marked(f"{_rounded(amount):+.2f}%")


def share(amount: Decimal) -> str:
    """A part of a whole in percent, unsigned: `12.50%`."""
    return marked(f"{_rounded(amount):.2f}%")


def signed(amount: Decimal, text: str | None = None) -> Text:
    """`text` (or the amount as USD) coloured by sign, for tables."""
    style = "green" if amount > 0 else "red" if amount < 0 else ""
    return Text(text if text is not None else usd(amount), style=style)


def when(at: datetime) -> str:
    """Local time; the date only when it is not today."""
    local = at.astimezone()
    same_day = local.date() == datetime.now(local.tzinfo).date()
    return local.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M")


def sign(side: str, *, stop: bool) -> str:
    """The comparison that makes an order act: a buy limit waits for the price to fall to it (≤),
    a buy stop for the price to rise to it (≥); sells the other way round."""
    buying = side == "buy"
    return ("≥" if buying else "≤") if stop else ("≤" if buying else "≥")


def terms(order: Order) -> str:
    """When an order trades: "at market", "limit ≤ $3,000.00", "stop ≥ $3,500.00, then limit ≤ …"."""
    parts = []
    if order.stop_price is not None:
        parts.append(f"stop {sign(order.side, stop=True)} {price(order.stop_price)}")
    if order.limit_price is not None:
        parts.append(f"limit {sign(order.side, stop=False)} {price(order.limit_price)}")
    return ", then ".join(parts) if parts else "at market"


def held(side: str, symbol: str, amount: Decimal) -> str:
    """What an order holds back (or would): cash for a buy, the asset for a sell."""
    return usd(amount) if side == "buy" else f"{qty(amount)} {symbol}"


def reserved(order: Order) -> str:
    """What an open order holds back: cash for a buy, the asset for a sell."""
    return held(order.side, order.symbol, order.reserved)


def bps(amount: Decimal) -> str:
    """Basis points as the owner set them: `10 bps`, `2.5 bps`."""
    return f"{marked(format(amount.normalize(), 'f'))} bps"


def receipt_rows(receipt: Receipt) -> list[tuple[str, str]]:
    """A fill's receipt as (label, value) rows: from the ledger price to what the account paid
    or received."""
    return [
        ("Liquidity", receipt.liquidity),
        ("Ledger price", price(receipt.reference_price)),
        ("Spread", f"{price(receipt.spread)} a unit"),
        ("Slippage", f"{price(receipt.slippage)} a unit"),
        ("Fill price", price(receipt.price)),
        ("Fee", f"{usd(receipt.fee)} ({bps(receipt.fee_bps)})"),
        ("Total", usd(receipt.total)),
    ]


def trader(entry: LeaderboardEntry) -> str:
    """`alice`, `alice/scalping`, `alice (Alice A.)`: the account named unless it is `main`."""
    who = entry.username if entry.account == "main" else f"{entry.username}/{entry.account}"
    return who if not entry.display_name else f"{who} ({entry.display_name})"


def typed_number(text: str) -> str:
    """A number as people type it in a form ("$1,000.50 ", "1.000,50" when they write decimals
    with a comma) as the engine reads it ("1000.50"); the engine checks the rest."""
    plain = text.strip().replace("$", "").replace("_", "").replace(" ", "").replace("\u00a0", "")
    if _decimal_comma:
        return plain.replace(".", "").replace(",", ".")
    return plain.replace(",", "")


# Amounts as people type them: `$1,234.56`. Thousands groups must be whole (`1,00` is a typo),
# and scientific notation is refused rather than guessed (`1e3` is written 1000).
_PLAIN = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+", re.ASCII)
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?", re.ASCII)
_SCIENTIFIC = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+", re.ASCII)


def typed_amount(text: str, field: str = "amount", *, dollars: bool = True) -> Decimal:
    """What a person typed for an amount (`$100`, `10,000`, `1,234.56`; a quantity without `$`)
    as a Decimal above zero; the engine checks the rest (decimal places, range). InvalidAmount
    otherwise, with the plain form of scientific notation (`1e3`: write 1000)."""
    plain = text.strip()
    if dollars and plain.lstrip("+-").startswith("$"):
        plain = plain.replace("$", "", 1)  # `$100`, `-$5`, `$-5`
    negative = plain.startswith("-")
    plain = plain.removeprefix("-").removeprefix("+")
    if _decimal_comma:  # read as "1,234.56"
        plain = plain.replace("\u00a0", "").replace(" ", "").translate(str.maketrans(",.", ".,"))
    if _GROUPED.fullmatch(plain):
        plain = plain.replace(",", "")
    elif "," in plain:
        raise InvalidAmount(f"{field}: write thousands as 1,000 or 1000, not {text.strip()!r}", {"field": field})
    if _SCIENTIFIC.fullmatch(plain):
        value = Decimal(plain)
        plain_form = f"write {'-' * negative}{value:f}" if -30 <= value.adjusted() <= 30 else "it is out of range"
        raise InvalidAmount(f"{field} is in scientific notation: {plain_form}", {"field": field})
    if len(plain) > 64 or not _PLAIN.fullmatch(plain):
        raise InvalidAmount(f"{field} is not a number: {text[:64]!r}", {"field": field})
    value = Decimal(plain)
    if negative or not value:
        raise InvalidAmount(f"{field} must be positive", {"field": field})
    return value
