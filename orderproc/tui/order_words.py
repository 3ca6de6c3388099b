"""How the terminal words an order: its kind ("limit buy"), when it trades ("fills when ETH ≤
$3,000.00"), its price in a table cell and what became of it.

One place, so the ticket's preview, the confirmation, the result, the open orders and the
notifications all say the same thing. What the CLI says too (the comparison signs, an order's
terms, what it holds back, a receipt) is in `orderproc.formatting`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from orderproc.engine.schemas import Order, OrderStatus, OrderType, Side
from orderproc.formatting import price, qty, reserved, sign, signed_usd, usd, when

TYPE_LABELS: dict[OrderType, str] = {
    OrderType.MARKET: "Market",
    OrderType.LIMIT: "Limit",
    OrderType.STOP: "Stop",
    OrderType.STOP_LIMIT: "Stop-limit",
}
# what the user reads for each status ("new" is the engine's word for a resting order)
STATUS_WORDS: dict[OrderStatus, str] = {
    OrderStatus.NEW: "open",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.REJECTED: "rejected",
    OrderStatus.EXPIRED: "expired",
}
NONE = "—"  # a figure an order does not have (yet): the fill price of an open order


def short_when(at: datetime) -> str:
    """`when` for narrow tables: the time today, `05-28 20:29` before (no year)."""
    text = when(at)
    return text[5:] if len(text) > len("00:00:00") else text


def kind_of(kind: OrderType, side: Side) -> str:
    """`buy`, `limit buy`, `stop-limit sell`."""
    if kind is OrderType.MARKET:
        return side.value
    return f"{TYPE_LABELS[kind].lower()} {side.value}"


def conditions(
    symbol: str, side: Side, kind: OrderType, limit: Decimal | None, stop: Decimal | None, *, triggered: bool = False
) -> str:
    """When a resting order trades: `fills when ETH ≤ $3,000.00`, `buys at market when ETH ≥ …`,
    `when ETH ≥ $3,500.00, a limit buy at ≤ $3,550.00`."""
    verb = "buys" if side is Side.BUY else "sells"
    if kind is OrderType.LIMIT or (kind is OrderType.STOP_LIMIT and triggered):
        assert limit is not None
        return f"fills when {symbol} {sign(side, stop=False)} {price(limit)}"
    assert stop is not None
    when = f"when {symbol} {sign(side, stop=True)} {price(stop)}"
    if kind is OrderType.STOP:
        return f"{verb} at market {when}"
    assert limit is not None
    return f"{when}, a limit {side.value} at {sign(side, stop=False)} {price(limit)}"


def order_conditions(order: Order) -> str:
    return conditions(order.symbol, order.side, order.type, order.limit_price, order.stop_price,
                      triggered=order.triggered_at is not None)


def short_terms(order: Order) -> str:
    """An order's price in one table cell: the fill price, else `≤ $3,000.00` (a limit, or a
    triggered stop-limit), `stop ≥ $3,500.00` (a stop, or a stop-limit not triggered yet)."""
    if order.price is not None:
        return price(order.price)
    limit_active = order.type is OrderType.LIMIT or (order.type is OrderType.STOP_LIMIT and order.triggered_at)
    if limit_active and order.limit_price is not None:
        return f"{sign(order.side, stop=False)} {price(order.limit_price)}"
    if order.stop_price is not None:
        return f"stop {sign(order.side, stop=True)} {price(order.stop_price)}"
    return NONE


def price_lines(order: Order) -> str:
    """`short_terms`, with a stop-limit's limit on a second line until its stop is reached."""
    terms = short_terms(order)
    if order.is_open and order.type is OrderType.STOP_LIMIT and not order.triggered_at and order.limit_price:
        terms += f"\nthen {sign(order.side, stop=False)} {price(order.limit_price)}"
    return terms


def outcome(order: Order) -> str:
    """What became of an order, in one sentence (a fill, a resting order, an expiry...); a sale's
    realized P&L on a line of its own."""
    what = f"{qty(order.quantity)} {order.symbol}"
    if order.status is OrderStatus.FILLED and order.price is not None and order.notional is not None:
        verb = "Bought" if order.side is Side.BUY else "Sold"
        fee = order.receipt.fee if order.receipt is not None else Decimal(0)
        paid = f" ({'+' if order.side is Side.BUY else '-'}{usd(fee)} fee)" if fee else ""
        realized = ""
        if order.realized_pnl is not None:  # the engine's is before fees: say so when one was paid
            realized = f"\nRealized P&L {signed_usd(order.realized_pnl)}{' before the fee' if fee else ''}"
        return f"{verb} {what} at {price(order.price)} for {usd(order.notional)}{paid}{realized}"
    if order.is_open:
        return (f"{kind_of(order.type, order.side).capitalize()} {what}: {order_conditions(order)} · "
                f"{reserved(order)} reserved")
    if order.status is OrderStatus.EXPIRED:
        return f"{kind_of(order.type, order.side).capitalize()} {what} expired: {order.reason or 'nothing traded'}"
    reason = f": {order.reason}" if order.reason else ""
    return f"{kind_of(order.type, order.side).capitalize()} {what} {STATUS_WORDS[order.status]}{reason}"
