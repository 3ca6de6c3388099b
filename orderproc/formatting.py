"""How orderproc writes money, prices, quantities and changes for people (CLI and terminal)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from rich.text import Text


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
