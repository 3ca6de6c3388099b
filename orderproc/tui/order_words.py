"""How the terminal words an order: its kind ("limit buy"), when it trades ("fills when ETH ≤
$3,000.00"), its price in a table cell and what became of it; and a draft on the ticket: the
live preview, the warnings, the confirmation's question and explanation, an engine refusal.

One place, so the ticket's preview, the confirmation, the result, the open orders and the
notifications all say the same thing. What the CLI says too (the comparison signs, an order's
terms, what it holds back, a receipt) is in `orderproc.formatting`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from rich.text import Text

from orderproc.engine import errors
from orderproc.engine.schemas import Order, OrderStatus, OrderType, Side, TimeInForce
from orderproc.engine.watching import Alert, AlertDirection
from orderproc.formatting import STATUS_WORDS, held, price, qty, reserved, sign, signed_usd, typed_number, usd, when
from orderproc.tui.order_draft import Draft, Funds

TYPE_LABELS: dict[OrderType, str] = {
    OrderType.MARKET: "Market",
    OrderType.LIMIT: "Limit",
    OrderType.STOP: "Stop",
    OrderType.STOP_LIMIT: "Stop-limit",
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


# -- a draft on the ticket ------------------------------------------------------------------------


def draft_what(draft: Draft) -> str:
    """`Limit buy 0.5 ETH`; a market order by USD amount says `about`."""
    about = "about " if draft.request.notional is not None else ""
    return f"{kind_of(draft.kind, draft.side).capitalize()} {about}{qty(draft.quantity)} {draft.asset.symbol}"


def draft_conditions(draft: Draft) -> str:
    """When a resting order trades: `fills when ETH ≤ $3,000.00`."""
    r = draft.request
    return conditions(draft.asset.symbol, draft.side, draft.kind, r.limit_price, r.stop_price)


def draft_held(draft: Draft) -> str:
    assert draft.reserve is not None
    return held(draft.side, draft.asset.symbol, draft.reserve)


def confirmation_title(draft: Draft) -> str:
    return f"Confirm {kind_of(draft.kind, draft.side)}"


def with_fee(draft: Draft) -> str:
    """` including a $0.39 fee` (a buy) or ` after a $0.39 fee` (a sell) when the fill pays one."""
    if not draft.fee:
        return ""
    return f" {'including' if draft.buying else 'after'} a {usd(draft.fee)} fee"


def summary(draft: Draft) -> str:
    """The question the confirmation asks: `Buy 0.01 BTC at about $109,000.00 for about $1,090.00`,
    `Limit buy 0.5 ETH at $3,000.00 or less`."""
    if draft.kind is OrderType.MARKET:
        verb = "Buy" if draft.buying else "Sell"
        about = "about " if draft.request.notional is not None else ""
        return (
            f"{verb} {about}{qty(draft.quantity)} {draft.asset.symbol} at about "
            f"{price(draft.fill_price or draft.price)} for about {usd(draft.cash)}{with_fee(draft)}"
        )
    limit = draft.request.limit_price
    if draft.kind is OrderType.LIMIT and limit is not None:
        return f"{draft_what(draft)} at {price(limit)} or {'less' if draft.buying else 'more'}"
    stop = draft.request.stop_price
    if draft.kind is OrderType.STOP and stop is not None:
        return f"{draft_what(draft)} at market when {draft.asset.symbol} {sign(draft.side, stop=True)} {price(stop)}"
    return draft_what(draft)


def explanation(draft: Draft) -> str:
    """What the confirmation says happens: when it trades, what it holds back until then."""
    symbol, now, buying = draft.asset.symbol, price(draft.price), draft.buying
    if draft.kind is OrderType.MARKET:
        return guard(draft)
    if draft.fills_now:
        instead = "expires" if draft.request.time_in_force is TimeInForce.IOC else "rests"
        at = f"about {price(draft.fill_price)}" if draft.fill_price else "about that price"
        return (
            f"{symbol} is at {now}, within your limit: it fills now at {at}, "
            f"{'for' if buying else 'receiving'} about {usd(draft.cash)}{with_fee(draft)}. If the "
            f"price has moved past your limit by then, it {instead} instead."
        )
    if draft.expires_now:
        return (
            f"Immediate or cancel: {symbol} is at {now}, {'above' if buying else 'below'} your limit, "
            "so it would expire unfilled now. Nothing is reserved."
        )
    until = f"It reserves {draft_held(draft)}{' of your cash' if buying else ''} until it fills or you cancel it"
    stop = draft.request.stop_price
    if draft.kind is OrderType.STOP and stop is not None:
        return (
            f"{symbol} is at {now}. When it reaches {price(stop)}, the order "
            f"{'buys' if buying else 'sells'} at the price of that second, which may be "
            f"{'higher' if buying else 'lower'}"
            + ("; if your cash no longer covers it then, it is rejected" if buying else "")
            + f". {until}."
        )
    limit = draft.request.limit_price or Decimal(0)
    if draft.kind is OrderType.STOP_LIMIT and stop is not None:
        return (
            f"When {symbol} {sign(draft.side, stop=True)} {price(stop)} (now {now}) it becomes a limit "
            f"{draft.side.value} at {price(limit)} or {'less' if buying else 'more'}. {until} "
            "(good till canceled)."
        )
    return (
        f"It rests until {symbol} {sign(draft.side, stop=False)} {price(limit)} (now {now}). {until} "
        "(good till canceled)."
    )


def guard(draft: Draft) -> str:
    """What a market order's price guard does."""
    limit = draft.request.price_limit
    if limit is None:
        return "No price guard: it fills at the price of the moment."
    above = "above" if draft.buying else "below"
    return f"It is rejected if {draft.asset.symbol} is {above} {price(limit)} when it fills."


def preview(draft: Draft, friction: bool) -> Text:
    """The ticket's live preview: what the order costs or brings, or when it trades and what it
    reserves until then. `friction`: the ledger charges a spread, slippage or fees, which the
    draft is before."""
    buying = draft.buying
    text = Text()
    if draft.kind is OrderType.MARKET:
        if draft.request.notional is not None:
            text.append(f"{usd(Decimal(draft.request.notional))} {'buys' if buying else 'sells'} about ")
            text.append(f"{qty(draft.quantity)} {draft.asset.symbol}", style="bold")
            text.append(f" at {price(draft.price)}: ")
        else:
            text.append(f"{qty(draft.quantity)} {draft.asset.symbol} at about {price(draft.price)} = ")
        text.append(f"{'you pay' if buying else 'you receive'} about ")
        text.append(usd(draft.cash), style="bold")
        if friction:
            text.append("\n(before the ledger's spread and fees: Review shows them)", style="dim")
        else:
            text.append(f"\n(rounded {'up' if buying else 'down'} to the cent at the fill price)", style="dim")
        return text
    symbol, now = draft.asset.symbol, price(draft.price)
    text.append(draft_what(draft), style="bold")
    if draft.fills_now:
        text.append(f": {symbol} is at {now}, within your limit\n")
        text.append(f"It fills now: {'you pay' if buying else 'you receive'} about ")
        text.append(usd(draft.cash), style="bold")
        text.append(" (before spread and fees)" if friction else " (at the fill price)", style="dim")
        return text
    text.append(f" {draft_conditions(draft)} (now {now})\n")
    if draft.expires_now:
        text.append("Immediate or cancel: it fills now or expires; nothing is reserved", style="dim")
        return text
    text.append("Reserves ")
    text.append(draft_held(draft), style="bold")
    if buying and friction:
        text.append(" + fee")
    if draft.kind is OrderType.STOP:
        text.append(" (at the stop) · may fill higher" if buying else " · may fill lower than the stop")
    elif buying:
        text.append(" · you pay at most that")
    else:
        text.append(f" · you receive at least {usd(draft.cash)}")
    text.append(" · good till canceled", style="dim")
    return text


def warnings(draft: Draft, funds: Funds) -> list[str]:
    """What would make the engine refuse this order (or let it expire) if it were placed now."""
    buying = draft.buying
    symbol = draft.asset.symbol
    found = []
    if draft.guard_breached:
        found.append(f"The price is {'above' if buying else 'below'} your guard: it would be rejected now.")
    if draft.stop_reached:
        found.append(
            f"A {draft.side.value} stop must be {'above' if buying else 'below'} the price ({price(draft.price)}): "
            "it would be refused now."
        )
    if draft.expires_now:
        found.append(f"{symbol} is {'above' if buying else 'below'} your limit now: this IOC order would expire.")
    available = funds.available
    if buying and available is not None and not draft.expires_now and draft.cash > available:
        what = "That is" if draft.fills_now else "That reserves"
        cash = "your cash" if available == funds.cash else "your available cash"
        found.append(f"{what} more than {cash} ({usd(available)}).")
    free = funds.free_of(symbol)
    if not buying and not draft.expires_now and draft.quantity > free:
        held_now = funds.held(symbol)
        extra = f", {qty(held_now - free)} of it in open orders" if free != held_now else ""
        found.append(f"That is more than you hold ({qty(held_now)} {symbol}{extra}).")
    return found


def describe(exc: errors.OrderprocError) -> str:
    """The engine's message, with the numbers of a refusal written as money and quantities."""
    try:
        if isinstance(exc, errors.PriceMoved):
            now, limit = Decimal(str(exc.details["price"])), Decimal(str(exc.details["limit"]))
            return f"the price moved to {price(now)}, past your guard of {price(limit)}"
        if isinstance(exc, errors.InsufficientFunds):
            asset, available = str(exc.details["asset"]), Decimal(str(exc.details["available"]))
            if asset == "USD":
                return f"not enough cash: you have {usd(available)} available"
            return f"not enough {asset}: you hold {qty(available)} not held by open orders"
    except (KeyError, ArithmeticError):
        pass
    return exc.message


def alert_fired(alert: Alert) -> str:
    """A fired price alert in a sentence: `ETH rose to $4,001.23 at 14:05:03 (your alert at or above $4,000)`."""
    moved = "rose" if alert.direction is AlertDirection.ABOVE else "fell"
    at = when(alert.fired_at) if alert.fired_at else ""
    reached = price(alert.fired_price) if alert.fired_price is not None else ""
    return f"{alert.symbol} {moved} to {reached} {at} (your alert at or {alert.direction.value} {price(alert.price)})"


def alert_level(typed: str, current: Decimal) -> tuple[AlertDirection, Decimal]:
    """What a person types for an alert: a price (above the current one: an alert above it;
    below: below it), or one after `>` or `<` to say which way. Raises InvalidAmount."""
    text = typed.strip()
    way = {">": AlertDirection.ABOVE, "<": AlertDirection.BELOW}.get(text[:1])
    level = typed_number(text[1:] if way else text)
    try:
        amount = Decimal(level)
    except ArithmeticError:
        raise errors.InvalidAmount("type a price, e.g. 4000 (or >4000, <3500)") from None
    if not amount.is_finite() or amount <= 0:
        raise errors.InvalidAmount("the price must be greater than zero")
    return way or (AlertDirection.ABOVE if amount > current else AlertDirection.BELOW), amount
