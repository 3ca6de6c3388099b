"""How orderproc writes money, prices, quantities and changes for people (CLI and terminal)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:
    from orderproc.engine.schemas import Order


def usd(amount: Decimal) -> str:
    return f"-${-amount:,.2f}" if amount < 0 else f"${amount:,.2f}"


def signed_usd(amount: Decimal) -> str:
    """`usd` with an explicit plus sign, for changes."""
    return f"+{usd(amount)}" if amount > 0 else usd(amount)


def price(amount: Decimal) -> str:
    """Cents for dollar prices, enough significant digits for fractions of a cent."""
    if amount >= 1:
        return f"${amount:,.2f}"
    digits = max(2, -amount.adjusted() + 4) if amount else 2
    return f"${amount:.{min(digits, 12)}f}"


def qty(amount: Decimal) -> str:
    return format(amount.normalize(), "f") if amount else "0"


def pct(amount: Decimal) -> str:
    return f"{amount:+.2f}%"


def signed(amount: Decimal, text: str | None = None) -> Text:
    """`text` (or the amount as USD) coloured by sign, for tables."""
    style = "green" if amount > 0 else "red" if amount < 0 else ""
    return Text(text if text is not None else usd(amount), style=style)


def when(at: datetime) -> str:
    """Local time; the date only when it is not today."""
    local = at.astimezone()
    same_day = local.date() == datetime.now(local.tzinfo).date()
    return local.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M")


def terms(order: Order) -> str:
    """When an order trades: "at market", "limit ≤ $3,000.00", "stop ≥ $3,500.00, then limit ≤ …"."""
    buy = order.side.value == "buy"
    parts = []
    if order.stop_price is not None:
        parts.append(f"stop {'≥' if buy else '≤'} {price(order.stop_price)}")
    if order.limit_price is not None:
        parts.append(f"limit {'≤' if buy else '≥'} {price(order.limit_price)}")
    return ", then ".join(parts) if parts else "at market"


def reserved(order: Order) -> str:
    """What an open order holds back: cash for a buy, the asset for a sell."""
    return usd(order.reserved) if order.side.value == "buy" else f"{qty(order.reserved)} {order.symbol}"
