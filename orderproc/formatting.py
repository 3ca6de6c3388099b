"""How orderproc writes money, prices, quantities and changes for people (CLI and terminal)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:
    from orderproc.engine.schemas import LeaderboardEntry, Order, Receipt


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
    return f"{format(amount.normalize(), 'f')} bps"


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
