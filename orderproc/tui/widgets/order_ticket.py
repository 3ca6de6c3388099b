"""OrderTicket: the form that drafts an order and posts `OrderTicket.Submitted`.

An order is a market order (by quantity or by USD amount, with an optional price guard), or a
limit, stop or stop-limit order (by quantity, with its prices; a limit order good till
canceled or immediate or cancel) that rests until the price reaches it, holding back what it
could spend.

The ticket only drafts: it checks the fields with the engine's own money rules (so the
preview rounds exactly as a fill will: a buyer pays quantity x price rounded up to the cent,
a seller receives it rounded down, and a resting buy reserves its quantity at its limit, or at
its stop, rounded up) and posts the draft. The screen confirms, places the order in a worker
and hands back what became of it (`show_result`) or the error (`show_error`), which lands
next to the field it is about.

Each ticket carries one idempotency key, sent as `client_order_id`: a retry or a double press
of the same order can never be placed twice. The key changes only after an order is placed
(or `new_ticket`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from orderproc.engine import errors
from orderproc.engine.domain.money import (
    cash_to_cents,
    cents_to_cash,
    from_units,
    notional_cents,
    parse_decimal,
    round_price,
    to_units,
    units_for_cash,
)
from orderproc.engine.schemas import (
    Asset,
    Order,
    OrderPreview,
    OrderRequest,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    TimeInForce,
)
from orderproc.formatting import held, price, qty, sign, usd, when
from orderproc.tui.order_words import TYPE_LABELS, conditions, kind_of, outcome
from orderproc.tui.widgets.quote_bar import QuoteBar

AmountIn = Literal["quantity", "usd"]
FieldName = Literal["symbol", "amount", "limit", "limit_price", "stop_price", "ticket"]
# where each field's errors are shown ("limit": the market order's price guard; "ticket": about
# the order as a whole)
ERROR_IDS: dict[FieldName, str] = {
    "symbol": "#ticket-symbol-error",
    "amount": "#ticket-amount-error",
    "stop_price": "#ticket-stop-price-error",
    "limit_price": "#ticket-limit-price-error",
    "limit": "#ticket-limit-error",
    "ticket": "#ticket-error",
}
FIELD_INPUTS: dict[FieldName, str] = {
    "symbol": "#ticket-symbol",
    "amount": "#ticket-amount",
    "stop_price": "#ticket-stop-price",
    "limit_price": "#ticket-limit-price",
    "limit": "#ticket-limit",
}
# the order types in the order the ticket offers (and `k` cycles through) them
KINDS = list(TYPE_LABELS)
NEEDS_LIMIT = (OrderType.LIMIT, OrderType.STOP_LIMIT)
NEEDS_STOP = (OrderType.STOP, OrderType.STOP_LIMIT)
PRICE_CHARS = "0123456789.,$"


@dataclass(frozen=True)
class Draft:
    """An order as the ticket would send it, priced at the latest quote.

    `cash` is what the buyer pays or the seller receives: at the quote when the order fills
    now, at its limit (or stop) price when it rests. `reserve` is what a resting order holds
    back (cash for a buy, the quantity for a sell); None when the order fills or expires now.

    The ticket prices a draft itself, as the engine does on a ledger without fees; before the
    confirmation `with_preview` puts in the engine's own figures (the fill price after the
    spread and slippage, the fee, what a resting order reserves with its fee), so what the
    user confirms is what the engine would do at that moment.
    """

    request: OrderRequest
    asset: Asset
    price: Decimal  # the ledger's price
    quantity: Decimal
    cash: Decimal
    reserve: Decimal | None = None
    fill_price: Decimal | None = None  # the engine's: after spread and slippage
    fee: Decimal | None = None  # the engine's, on a fill now
    rests: bool | None = None  # the engine's say (with a spread, a limit may not be reached yet)

    def with_preview(self, preview: OrderPreview) -> Draft:
        """This draft with the engine's figures (`Engine.preview_order`)."""
        if preview.rests:
            reserve = preview.reserved if preview.reserved is not None else self.reserve
            cash = reserve if self.buying and reserve is not None else self.cash
            return replace(self, price=preview.reference_price, reserve=reserve, cash=cash, rests=True)
        receipt = preview.receipt
        if receipt is None:
            return replace(self, price=preview.reference_price, rests=False)
        return replace(self, price=preview.reference_price, quantity=receipt.quantity, cash=receipt.total,
                       fill_price=receipt.price, fee=receipt.fee, reserve=None, rests=False)

    @property
    def side(self) -> Side:
        return self.request.side

    @property
    def kind(self) -> OrderType:
        return self.request.type

    @property
    def buying(self) -> bool:
        return self.side is Side.BUY

    @property
    def fills_now(self) -> bool:
        """A market order, or a limit order whose limit the price has already reached."""
        limit = self.request.limit_price
        if self.kind is OrderType.MARKET:
            return True
        if self.rests is not None:
            return not self.rests
        return self.kind is OrderType.LIMIT and limit is not None and (
            self.price <= limit if self.buying else self.price >= limit
        )

    @property
    def expires_now(self) -> bool:
        """An immediate-or-cancel limit order the price has not reached."""
        return self.request.time_in_force is TimeInForce.IOC and not self.fills_now

    @property
    def stop_reached(self) -> bool:
        """The stop is already at or past the price: the engine refuses such a stop."""
        stop = self.request.stop_price
        return stop is not None and (stop <= self.price if self.buying else stop >= self.price)

    @property
    def what(self) -> str:
        """`Limit buy 0.5 ETH`; a market order by USD amount says `about`."""
        about = "about " if self.request.notional is not None else ""
        return f"{kind_of(self.kind, self.side).capitalize()} {about}{qty(self.quantity)} {self.asset.symbol}"

    def conditions(self) -> str:
        """When a resting order trades: `fills when ETH ≤ $3,000.00`."""
        r = self.request
        return conditions(self.asset.symbol, self.side, self.kind, r.limit_price, r.stop_price)

    def held(self) -> str:
        assert self.reserve is not None
        return held(self.side, self.asset.symbol, self.reserve)

    def title(self) -> str:
        return f"Confirm {kind_of(self.kind, self.side)}"

    def with_fee(self) -> str:
        """` including a $0.39 fee` (a buy) or ` after a $0.39 fee` (a sell) when the fill pays one."""
        if not self.fee:
            return ""
        return f" {'including' if self.buying else 'after'} a {usd(self.fee)} fee"

    def summary(self) -> str:
        """The question the confirmation asks: `Buy 0.01 BTC at about $109,000.00 for about $1,090.00`,
        `Limit buy 0.5 ETH at $3,000.00 or less`."""
        if self.kind is OrderType.MARKET:
            verb = "Buy" if self.buying else "Sell"
            about = "about " if self.request.notional is not None else ""
            return (
                f"{verb} {about}{qty(self.quantity)} {self.asset.symbol} at about "
                f"{price(self.fill_price or self.price)} for about {usd(self.cash)}{self.with_fee()}"
            )
        limit = self.request.limit_price
        if self.kind is OrderType.LIMIT and limit is not None:
            return f"{self.what} at {price(limit)} or {'less' if self.buying else 'more'}"
        stop = self.request.stop_price
        if self.kind is OrderType.STOP and stop is not None:
            return f"{self.what} at market when {self.asset.symbol} {sign(self.side, stop=True)} {price(stop)}"
        return self.what

    def explanation(self) -> str:
        """What the confirmation says happens: when it trades, what it holds back until then."""
        symbol, now = self.asset.symbol, price(self.price)
        if self.kind is OrderType.MARKET:
            return self.guard()
        if self.fills_now:
            instead = "expires" if self.request.time_in_force is TimeInForce.IOC else "rests"
            at = f"about {price(self.fill_price)}" if self.fill_price else "about that price"
            return (
                f"{symbol} is at {now}, within your limit: it fills now at {at}, "
                f"{'for' if self.buying else 'receiving'} about {usd(self.cash)}{self.with_fee()}. If the "
                f"price has moved past your limit by then, it {instead} instead."
            )
        if self.expires_now:
            return (
                f"Immediate or cancel: {symbol} is at {now}, {'above' if self.buying else 'below'} your limit, "
                "so it would expire unfilled now. Nothing is reserved."
            )
        until = f"It reserves {self.held()}{' of your cash' if self.buying else ''} until it fills or you cancel it"
        stop = self.request.stop_price
        if self.kind is OrderType.STOP and stop is not None:
            return (
                f"{symbol} is at {now}. When it reaches {price(stop)}, the order "
                f"{'buys' if self.buying else 'sells'} at the price of that second, which may be "
                f"{'higher' if self.buying else 'lower'}"
                + ("; if your cash no longer covers it then, it is rejected" if self.buying else "")
                + f". {until}."
            )
        limit = self.request.limit_price or Decimal(0)
        if self.kind is OrderType.STOP_LIMIT and stop is not None:
            return (
                f"When {symbol} {sign(self.side, stop=True)} {price(stop)} (now {now}) it becomes a limit "
                f"{self.side.value} at {price(limit)} or {'less' if self.buying else 'more'}. {until} "
                "(good till canceled)."
            )
        return (
            f"It rests until {symbol} {sign(self.side, stop=False)} {price(limit)} (now {now}). {until} "
            "(good till canceled)."
        )

    def guard(self) -> str:
        limit = self.request.price_limit
        if limit is None:
            return "No price guard: it fills at the price of the moment."
        above = "above" if self.buying else "below"
        return f"It is rejected if {self.asset.symbol} is {above} {price(limit)} when it fills."


def _price_field(text: str, field: FieldName, label: str) -> Decimal:
    """A price typed in the ticket, checked as the engine checks it."""
    text = text.strip()
    if not text:
        raise errors.InvalidAmount(f"enter a {label}", {"field": field})
    try:
        value = parse_decimal(text, label)
    except errors.InvalidAmount as exc:
        raise errors.InvalidAmount(exc.message, {"field": field}) from None
    if value <= 0:
        raise errors.InvalidAmount(f"the {label} must be greater than zero", {"field": field})
    if round_price(value) != value:
        raise errors.InvalidAmount(f"the {label} has too many digits", {"field": field})
    return value


def draft_order(
    asset: Asset,
    quote_price: Decimal,
    side: Side,
    amount_in: AmountIn,
    amount_text: str,
    limit_text: str,
    key: str,
    *,
    kind: OrderType = OrderType.MARKET,
    limit_price_text: str = "",
    stop_price_text: str = "",
    tif: TimeInForce = TimeInForce.GTC,
) -> Draft:
    """The order these fields make, checked by the engine's rules; raises InvalidAmount with a
    field. `limit_text` is a market order's price guard; a limit, stop or stop-limit order is
    always by quantity and takes its own prices."""
    market = kind is OrderType.MARKET
    if not market:
        amount_in = "quantity"
    amount = amount_text.strip()
    if not amount:
        what = "a quantity" if amount_in == "quantity" else "a USD amount"
        raise errors.InvalidAmount(f"enter {what}", {"field": "amount"})
    buyer = side is Side.BUY
    try:
        if amount_in == "quantity":
            units = to_units(amount, asset.precision, "quantity")
        else:
            cents = cash_to_cents(amount, "USD amount")
            units = units_for_cash(cents, asset.precision, quote_price)
            if units <= 0:
                raise errors.InvalidAmount(
                    "that amount buys less than the smallest quantity of this asset", {"field": "notional"}
                )
    except errors.InvalidAmount as exc:
        raise errors.InvalidAmount(exc.message, {**exc.details, "field": "amount"}) from None
    stop = _price_field(stop_price_text, "stop_price", "stop price") if kind in NEEDS_STOP else None
    limit_price = _price_field(limit_price_text, "limit_price", "limit price") if kind in NEEDS_LIMIT else None
    guard: Decimal | None = None
    if market and limit_text.strip():
        try:
            guard = parse_decimal(limit_text, "price guard")
        except errors.InvalidAmount as exc:
            raise errors.InvalidAmount(exc.message, {"field": "limit"}) from None
        if guard <= 0:
            raise errors.InvalidAmount("the price guard must be greater than zero", {"field": "limit"})
    value = parse_decimal(amount)  # checked above: to_units and cash_to_cents parsed it
    request = OrderRequest(
        symbol=asset.symbol,
        side=side,
        type=kind,
        quantity=value if amount_in == "quantity" else None,
        notional=value if amount_in == "usd" else None,
        price_limit=guard,
        limit_price=limit_price,
        stop_price=stop,
        time_in_force=tif if kind is OrderType.LIMIT else None,
        client_order_id=key,
    )
    quantity = from_units(units, asset.precision)
    draft = Draft(request, asset, quote_price, quantity,
                  cents_to_cash(notional_cents(units, asset.precision, quote_price, buyer=buyer)))
    if draft.fills_now or draft.expires_now:
        return draft
    # it rests: a buy holds back its quantity at its limit (at its stop for a stop order)
    at = limit_price if limit_price is not None else stop
    assert at is not None
    cash = cents_to_cash(notional_cents(units, asset.precision, at, buyer=buyer))
    return Draft(request, asset, quote_price, quantity, cash, cash if buyer else quantity)


def error_field(exc: errors.OrderprocError) -> FieldName:
    """Which field of the ticket an engine error is about."""
    field = exc.details.get("field")
    if isinstance(exc, errors.UnknownAsset) or field == "symbol":
        return "symbol"
    if field in ("stop_price", "limit_price"):
        return "stop_price" if field == "stop_price" else "limit_price"
    if isinstance(exc, errors.PriceMoved) or field in ("price_limit", "limit"):
        return "limit"
    if isinstance(exc, errors.InsufficientFunds) or field in ("quantity", "notional", "amount"):
        return "amount"
    return "ticket"


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


class KnownSymbol(Validator):
    def __init__(self, ticket: OrderTicket) -> None:
        super().__init__()
        self.ticket = ticket

    def validate(self, value: str) -> ValidationResult:
        symbol = value.strip().upper()
        if not symbol:
            return self.failure("choose an asset")
        if self.ticket.assets and symbol not in self.ticket.assets:
            return self.failure(f"no asset {symbol}")
        return self.success()


class AmountInput(Input):
    """A number field. A key that can never be part of a number is not swallowed: it goes to
    the Trade page's own bindings (b, s, k, i, n, $, /), so they work while the cursor is here. The
    app's page keys are not passed on: a typo must not take the user away from the ticket."""

    def __init__(self, allow: str, *, placeholder: str, id: str) -> None:
        super().__init__(placeholder=placeholder, id=id, max_length=40, restrict=f"[{re.escape(allow)}]*")
        self.allow = frozenset(allow)

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return character is not None and character in self.allow

    async def on_key(self, event: events.Key) -> None:
        if event.is_printable and not self.check_consume_key(event.key, event.character):
            event.prevent_default()  # not for Input's handler, which would swallow it
            event.stop()
            active = self.screen.active_bindings.get(event.key)
            if active is not None and active.enabled and active.node is not self.app:
                await self.app.run_action(active.binding.action, active.node)


class OrderTicket(Vertical):
    """Symbol, side, order type, quantity or USD amount, the prices the type needs, a live
    preview of what it costs or reserves."""

    DEFAULT_CSS = """
    OrderTicket {
        height: auto;
        padding: 0 1;
    }
    OrderTicket Input, OrderTicket RadioSet {
        border-title-color: $text-muted;
    }
    OrderTicket .ticket-row {
        height: auto;
    }
    OrderTicket #ticket-symbol {
        width: 16;
    }
    OrderTicket RadioSet {
        width: auto;
        layout: horizontal;
        margin-left: 1;
    }
    OrderTicket #ticket-type {
        margin-left: 0;
    }
    OrderTicket RadioSet > RadioButton {
        width: auto;
        margin-right: 1;
    }
    OrderTicket .ticket-field {
        width: 1fr;
        height: auto;
        margin-left: 1;
    }
    OrderTicket #ticket-amount-field {
        margin-left: 0;
    }
    OrderTicket .field-error {
        padding: 0 1;
    }
    OrderTicket #ticket-preview {
        height: auto;
        min-height: 2;
        padding: 0 1;
        margin-top: 1;
    }
    OrderTicket #ticket-warning {
        height: auto;
        padding: 0 1;
        color: $warning;
        text-style: bold;
    }
    OrderTicket #ticket-holdings {
        height: auto;
        padding: 0 1;
        color: $text-muted;
    }
    OrderTicket .form-buttons {
        height: auto;
        margin-top: 1;
    }
    OrderTicket .form-buttons Button {
        margin-right: 1;
    }
    OrderTicket #ticket-result {
        height: auto;
        padding: 0 1;
    }
    OrderTicket #ticket-result.-filled {
        border: round $success;
    }
    OrderTicket #ticket-result.-resting {
        border: round $accent;
    }
    OrderTicket #ticket-result.-closed {
        border: round $warning;
    }
    """

    class Submitted(Message):
        """The user asked to place this order (the screen confirms and places it)."""

        def __init__(self, ticket: OrderTicket, draft: Draft) -> None:
            super().__init__()
            self.ticket = ticket
            self.draft = draft

        @property
        def control(self) -> OrderTicket:
            return self.ticket

    class SymbolChanged(Message):
        """The ticket now shows another asset (the screen loads its chart and position)."""

        def __init__(self, ticket: OrderTicket, symbol: str) -> None:
            super().__init__()
            self.ticket = ticket
            self.symbol = symbol

        @property
        def control(self) -> OrderTicket:
            return self.ticket

    class KindChanged(Message):
        """The order type changed (the screen shows the keys that type takes)."""

        def __init__(self, ticket: OrderTicket, kind: OrderType) -> None:
            super().__init__()
            self.ticket = ticket
            self.kind = kind

        @property
        def control(self) -> OrderTicket:
            return self.ticket

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.assets: dict[str, Asset] = {}
        self.asset: Asset | None = None
        self.quote: Quote | None = None
        self.cash: Decimal | None = None  # all the cash
        self.available: Decimal | None = None  # the cash open orders do not hold back
        self.holdings: dict[str, Decimal] = {}
        self.free: dict[str, Decimal] = {}  # what of each holding open sell orders do not hold back
        self.friction = False  # the ledger charges a spread, slippage or fees: the preview is before them
        self.key = uuid.uuid4().hex
        self.pending = False  # a draft was posted and the screen has not answered yet
        self._symbol = ""
        self._kind = OrderType.MARKET
        # errors found while typing, and errors the last submission met (kept until an edit)
        self._live_errors: dict[FieldName, str] = {}
        self._held_errors: dict[FieldName, str] = {}
        self._shown_errors: dict[FieldName, str] = {}

    def compose(self) -> ComposeResult:
        yield QuoteBar(id="ticket-quote")
        yield Static("", id="ticket-holdings")
        with Horizontal(classes="ticket-row"):
            yield Input(
                placeholder="BTC",
                id="ticket-symbol",
                max_length=16,
                restrict=r"[A-Za-z0-9]*",
                validators=[KnownSymbol(self)],
                validate_on=["changed", "submitted"],
            )
            with RadioSet(id="ticket-side"):
                yield RadioButton("Buy", value=True, id="ticket-buy")
                yield RadioButton("Sell", id="ticket-sell")
            with RadioSet(id="ticket-mode"):
                yield RadioButton("Quantity", value=True, id="ticket-by-quantity")
                yield RadioButton("USD", id="ticket-by-usd")
        yield Static("", id="ticket-symbol-error", classes="field-error")
        with Horizontal(classes="ticket-row"):
            with RadioSet(id="ticket-type"):
                for kind, label in TYPE_LABELS.items():
                    yield RadioButton(label, value=kind is OrderType.MARKET, id=f"ticket-type-{kind.value}")
            with RadioSet(id="ticket-tif"):
                yield RadioButton("GTC", value=True, id="ticket-gtc", tooltip="Good till canceled: it rests")
                yield RadioButton("IOC", id="ticket-ioc", tooltip="Immediate or cancel: fills now or expires")
        with Horizontal(classes="ticket-row"):
            with Vertical(classes="ticket-field", id="ticket-amount-field"):
                yield AmountInput("0123456789.,", placeholder="0.01", id="ticket-amount")
                yield Static("", id="ticket-amount-error", classes="field-error")
            with Vertical(classes="ticket-field", id="ticket-stop-price-field"):
                yield AmountInput(PRICE_CHARS, placeholder="USD", id="ticket-stop-price")
                yield Static("", id="ticket-stop-price-error", classes="field-error")
            with Vertical(classes="ticket-field", id="ticket-limit-price-field"):
                yield AmountInput(PRICE_CHARS, placeholder="USD", id="ticket-limit-price")
                yield Static("", id="ticket-limit-price-error", classes="field-error")
            with Vertical(classes="ticket-field", id="ticket-limit-field"):
                yield AmountInput(PRICE_CHARS, placeholder="none", id="ticket-limit")
                yield Static("", id="ticket-limit-error", classes="field-error")
        yield Static("", id="ticket-preview")
        yield Static("", id="ticket-warning")
        with Horizontal(classes="form-buttons"):
            yield Button("Review order", variant="success", id="ticket-submit")
            yield Button("New ticket", id="ticket-new")
        yield Static("", id="ticket-error", classes="field-error")
        yield Static("", id="ticket-result")

    def on_mount(self) -> None:
        self.query_one("#ticket-symbol", Input).border_title = "Symbol"
        self.query_one("#ticket-side", RadioSet).border_title = "Side"
        self.query_one("#ticket-mode", RadioSet).border_title = "Amount in"
        self.query_one("#ticket-type", RadioSet).border_title = "Order type"
        self.query_one("#ticket-tif", RadioSet).border_title = "Time in force"
        self.query_one("#ticket-stop-price", Input).border_title = "Stop price"
        self.query_one("#ticket-limit-price", Input).border_title = "Limit price"
        for hidden in self.query(".field-error, #ticket-warning, #ticket-result"):
            hidden.display = False
        self._show_fields()
        self._relabel()
        self._redraw()

    # -- what the fields say ----------------------------------------------------------------

    @property
    def side(self) -> Side:
        return Side.SELL if self.query_one("#ticket-sell", RadioButton).value else Side.BUY

    @property
    def kind(self) -> OrderType:
        return self._kind

    @property
    def tif(self) -> TimeInForce:
        return TimeInForce.IOC if self.query_one("#ticket-ioc", RadioButton).value else TimeInForce.GTC

    @property
    def amount_in(self) -> AmountIn:
        if self._kind is not OrderType.MARKET:
            return "quantity"  # limit and stop orders are by quantity only
        return "usd" if self.query_one("#ticket-by-usd", RadioButton).value else "quantity"

    @property
    def symbol(self) -> str:
        return self._symbol

    def _value(self, selector: str) -> str:
        return self.query_one(selector, Input).value.replace(",", "").replace("$", "")

    def draft(self) -> Draft:
        """The order the fields make now; raises a domain error that names its field."""
        if self.asset is None:
            raise errors.UnknownAsset("choose an asset", {"field": "symbol"})
        if self.quote is None:
            raise errors.OrderprocError("waiting for the price", {"field": "ticket"})
        return draft_order(
            self.asset,
            self.quote.price,
            self.side,
            self.amount_in,
            self._value("#ticket-amount"),
            self._value("#ticket-limit"),
            self.key,
            kind=self._kind,
            limit_price_text=self._value("#ticket-limit-price"),
            stop_price_text=self._value("#ticket-stop-price"),
            tif=self.tif,
        )

    # -- what the screen tells it --------------------------------------------------------------

    def set_assets(self, assets: list[Asset]) -> None:
        self.assets = {a.symbol: a for a in assets}
        self.query_one("#ticket-symbol", Input).suggester = SuggestFromList(sorted(self.assets), case_sensitive=False)
        self._symbol_edited(self.query_one("#ticket-symbol", Input).value)

    def set_holdings(
        self,
        cash: Decimal,
        holdings: dict[str, Decimal],
        *,
        reserved_cash: Decimal = Decimal(0),
        reserved: dict[str, Decimal] | None = None,
    ) -> None:
        """The user's cash and holdings, and what of them open orders hold back."""
        self.cash = cash
        self.available = cash - reserved_cash
        self.holdings = holdings
        reserved = reserved or {}
        self.free = {symbol: held - reserved.get(symbol, Decimal(0)) for symbol, held in holdings.items()}
        self._redraw()

    def set_friction(self, friction: bool) -> None:
        """Whether the ledger's fills pay a spread, slippage or fees (the preview says it is before them)."""
        if friction != self.friction:
            self.friction = friction
            self._redraw()

    def set_quote(self, quote: Quote | None) -> None:
        if quote is None or quote.symbol != self._symbol:
            return
        old = self.quote.price if self.quote is not None else None
        self.quote = quote
        self.query_one(QuoteBar).set_quote(quote)
        if quote.price != old:
            self._redraw()

    def prefill(self, symbol: str, side: str) -> None:
        """Open the ticket on this asset and side (from another page)."""
        self.query_one("#ticket-sell" if side == "sell" else "#ticket-buy", RadioButton).value = True
        field = self.query_one("#ticket-symbol", Input)
        if field.value.strip().upper() != symbol:
            with self.prevent(Input.Changed):
                field.value = symbol
            self.new_ticket()  # an amount typed for another asset means nothing for this one
            self._symbol_edited(symbol)

    def set_side(self, side: Side) -> None:
        self.query_one("#ticket-sell" if side is Side.SELL else "#ticket-buy", RadioButton).value = True

    def set_kind(self, kind: OrderType) -> None:
        self.query_one(f"#ticket-type-{kind.value}", RadioButton).value = True

    def cycle_kind(self) -> None:
        """The next order type: market, limit, stop, stop-limit, market..."""
        self.set_kind(KINDS[(KINDS.index(self._kind) + 1) % len(KINDS)])

    def toggle_tif(self) -> None:
        self.query_one("#ticket-gtc" if self.tif is TimeInForce.IOC else "#ticket-ioc", RadioButton).value = True

    def toggle_amount_in(self) -> None:
        usd_button = self.query_one("#ticket-by-usd", RadioButton)
        if usd_button.value:
            self.query_one("#ticket-by-quantity", RadioButton).value = True
        else:
            usd_button.value = True

    def new_ticket(self) -> None:
        """A fresh ticket: a new idempotency key, empty amount and prices, no errors (the type stays)."""
        self.key = uuid.uuid4().hex
        self.finish()
        for field in FIELD_INPUTS.values():
            if field != "#ticket-symbol":
                self.query_one(field, Input).value = ""
        self._held_errors.clear()
        self._set_result(None)
        self._redraw()

    def finish(self) -> None:
        """The posted draft was dealt with (cancelled or failed): the ticket may submit again."""
        self.pending = False
        self.query_one("#ticket-submit", Button).disabled = False

    def show_placing(self) -> None:
        self._set_result(Text("Placing the order...", style="dim"))

    def show_result(self, order: Order) -> None:
        """The order was placed: show what became of it (filled, resting, expired), start a fresh
        ticket (a new key) on the same asset and type."""
        at = when(order.created_at)
        if order.status is OrderStatus.FILLED:
            heading, style = f"Filled · order #{order.id} · {at}", "-filled"
        elif order.is_open:
            heading, style = f"Resting as order #{order.id} · {at} · Esc o: your open orders", "-resting"
        else:
            heading, style = f"{order.status.value.capitalize()} · order #{order.id} · {at}", "-closed"
        self.new_ticket()
        self._set_result(Text.assemble(Text(heading + "\n", style="bold"), outcome(order)), style=style)

    def show_error(self, exc: errors.OrderprocError) -> None:
        """Put an engine error next to the field it is about."""
        self.finish()
        self._set_result(None)
        field = error_field(exc)
        message = f"{describe(exc)} ({exc.code})"
        if isinstance(exc, errors.Conflict):
            message += ": press n for a new ticket"
        self._held_errors[field] = message
        self._show_errors()
        target = FIELD_INPUTS.get(field)
        if target is not None and self.query_one(target, Input).display:
            self.query_one(target, Input).focus()

    # -- events -------------------------------------------------------------------------------

    @on(Input.Changed, "#ticket-symbol")
    def _symbol_input(self, event: Input.Changed) -> None:
        event.stop()
        self._held_errors.clear()
        self._symbol_edited(event.value)

    def _symbol_edited(self, value: str) -> None:
        symbol = value.strip().upper()
        if not self.assets:
            return
        if symbol in self.assets:
            self._live_errors.pop("symbol", None)
            self._show_errors()
            if symbol != self._symbol:
                self._symbol = symbol
                self.asset = self.assets[symbol]
                self.quote = None
                self.query_one(QuoteBar).set_asset(self.asset)
                self._relabel()
                self._redraw()
                self.post_message(self.SymbolChanged(self, symbol))
        else:
            self._live_errors["symbol"] = f"no asset {symbol}" if symbol else "choose an asset"
            self._show_errors()
            if self._symbol:
                self._symbol = ""
                self.asset = None
                self.quote = None
                self.query_one(QuoteBar).set_asset(None)
                self._relabel()
                self._redraw()

    @on(Input.Changed, "#ticket-amount, #ticket-limit, #ticket-limit-price, #ticket-stop-price")
    def _amount_input(self, event: Input.Changed) -> None:
        event.stop()
        self._held_errors.clear()
        self._redraw()

    @on(RadioSet.Changed)
    def _choice_changed(self, event: RadioSet.Changed) -> None:
        event.stop()
        self._held_errors.clear()
        if event.radio_set.id == "ticket-type":
            kind = KINDS[event.index]
            if kind is not self._kind:
                self._kind = kind
                self._show_fields()
                self.post_message(self.KindChanged(self, kind))
        self._relabel()
        self._redraw()

    @on(Input.Submitted)
    def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "ticket-symbol" and self.asset is not None:
            self.query_one("#ticket-amount", Input).focus()
        else:
            self.submit()

    @on(Button.Pressed, "#ticket-submit")
    def _submit_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.submit()

    @on(Button.Pressed, "#ticket-new")
    def _new_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.new_ticket()
        self.query_one("#ticket-amount", Input).focus()

    def submit(self) -> None:
        """Check the fields and post the draft, once: a second press while it is pending does nothing."""
        if self.pending:
            return
        self._held_errors.clear()
        try:
            draft = self.draft()
        except errors.OrderprocError as exc:
            self.show_error(exc)
            return
        self.pending = True
        self.query_one("#ticket-submit", Button).disabled = True
        self.post_message(self.Submitted(self, draft))

    # -- drawing -------------------------------------------------------------------------------

    def _show_fields(self) -> None:
        """Show the fields the order type takes (a hidden field keeps what was typed in it)."""
        kind = self._kind
        self.query_one("#ticket-mode").display = kind is OrderType.MARKET
        self.query_one("#ticket-tif").display = kind is OrderType.LIMIT
        self.query_one("#ticket-limit-field").display = kind is OrderType.MARKET
        self.query_one("#ticket-limit-price-field").display = kind in NEEDS_LIMIT
        self.query_one("#ticket-stop-price-field").display = kind in NEEDS_STOP
        if isinstance(self.app.focused, Input) and not self.app.focused.display:
            self.query_one("#ticket-amount", Input).focus()

    def _relabel(self) -> None:
        symbol = self._symbol or "asset"
        amount = self.query_one("#ticket-amount", Input)
        if self.amount_in == "quantity":
            amount.border_title = f"Quantity ({symbol})"
            amount.placeholder = "e.g. 0.5"
        else:
            amount.border_title = "Amount (USD)"
            amount.placeholder = "e.g. 1000"
        buying = self.side is Side.BUY
        limit = self.query_one("#ticket-limit", Input)
        limit.border_title = "Max price (optional)" if buying else "Min price (optional)"
        self.query_one("#ticket-limit-price", Input).border_title = f"Limit price ({sign(self.side, stop=False)})"
        self.query_one("#ticket-stop-price", Input).border_title = f"Stop price ({sign(self.side, stop=True)})"
        submit = self.query_one("#ticket-submit", Button)
        submit.variant = "success" if buying else "error"
        label = f"Review {kind_of(self._kind, self.side)}"
        if str(submit.label) != label:
            submit.label = label
            submit.refresh(layout=True)  # a Button's width does not follow its label by itself

    def _redraw(self) -> None:
        """The holdings line and the preview, from the fields and the latest quote."""
        self.query_one("#ticket-holdings", Static).update(self._holdings_line())
        preview = self.query_one("#ticket-preview", Static)
        found: dict[FieldName, str] = {}
        warnings: list[str] = []
        try:
            draft = self.draft()
        except errors.OrderprocError as exc:
            field = error_field(exc)
            empty = not self.query_one("#ticket-amount", Input).value.strip()
            if field != "amount" or not empty:
                typed = self.query_one(FIELD_INPUTS[field], Input).value.strip() if field in FIELD_INPUTS else ""
                if typed or field == "amount":
                    found[field] = exc.message
            preview.update(Text(self._hint(empty, field, found), style="dim"))
        else:
            preview.update(self._preview(draft))
            warnings = self._warnings(draft)
        warning = self.query_one("#ticket-warning", Static)
        warning.update("\n".join(warnings))
        warning.display = bool(warnings)
        for field in ("amount", "limit", "limit_price", "stop_price"):
            if field in found:
                self._live_errors[field] = found[field]
            else:
                self._live_errors.pop(field, None)
        self._show_errors()

    def _holdings_line(self) -> str:
        parts = []
        if self.cash is not None and self.available is not None:
            if self.available != self.cash:
                parts.append(f"Cash {usd(self.cash)}, {usd(self.available)} available")
            else:
                parts.append(f"Cash {usd(self.cash)}")
        if self.asset is not None:
            symbol = self.asset.symbol
            held_now = self.holdings.get(symbol, Decimal(0))
            line = f"you hold {qty(held_now)} {symbol}"
            free = self.free.get(symbol, held_now)
            if free != held_now:
                line += f" ({qty(held_now - free)} in orders)"
            elif held_now and self.quote is not None:
                line += f" (about {usd(held_now * self.quote.price)})"
            parts.append(line)
        return " · ".join(parts)

    def _hint(self, empty: bool, field: FieldName, found: dict[FieldName, str]) -> str:
        if self.asset is None:
            return "Choose an asset: type its symbol."
        if self.quote is None:
            return "Waiting for the price..."
        if empty:
            what = "a quantity" if self.amount_in == "quantity" else "a USD amount"
            return f"Enter {what} to see what it {'costs' if self._kind is OrderType.MARKET else 'reserves'}."
        if field in ("limit_price", "stop_price") and field not in found:
            return f"Enter the {'limit' if field == 'limit_price' else 'stop'} price."
        return "Fix the highlighted field to see the cost."

    def _preview(self, draft: Draft) -> Text:
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
            if self.friction:
                text.append("\n(before the ledger's spread and fees: Review shows them)", style="dim")
            else:
                text.append(f"\n(rounded {'up' if buying else 'down'} to the cent at the fill price)", style="dim")
            return text
        symbol, now = draft.asset.symbol, price(draft.price)
        text.append(draft.what, style="bold")
        if draft.fills_now:
            text.append(f": {symbol} is at {now}, within your limit\n")
            text.append(f"It fills now: {'you pay' if buying else 'you receive'} about ")
            text.append(usd(draft.cash), style="bold")
            text.append(" (before spread and fees)" if self.friction else " (at the fill price)", style="dim")
            return text
        text.append(f" {draft.conditions()} (now {now})\n")
        if draft.expires_now:
            text.append("Immediate or cancel: it fills now or expires; nothing is reserved", style="dim")
            return text
        text.append("Reserves ")
        text.append(draft.held(), style="bold")
        if buying and self.friction:
            text.append(" + fee")
        if draft.kind is OrderType.STOP:
            text.append(" (at the stop) · may fill higher" if buying else " · may fill lower than the stop")
        elif buying:
            text.append(" · you pay at most that")
        else:
            text.append(f" · you receive at least {usd(draft.cash)}")
        text.append(" · good till canceled", style="dim")
        return text

    def _warnings(self, draft: Draft) -> list[str]:
        """What would make the engine refuse this order (or let it expire) if it were placed now."""
        buying = draft.buying
        symbol = draft.asset.symbol
        found = []
        limit = draft.request.price_limit
        if limit is not None and (draft.price > limit if buying else draft.price < limit):
            found.append(f"The price is {'above' if buying else 'below'} your guard: it would be rejected now.")
        if draft.stop_reached:
            found.append(
                f"A {draft.side.value} stop must be {'above' if buying else 'below'} the price ({price(draft.price)}): "
                "it would be refused now."
            )
        if draft.expires_now:
            found.append(f"{symbol} is {'above' if buying else 'below'} your limit now: this IOC order would expire.")
        if buying and self.available is not None and not draft.expires_now and draft.cash > self.available:
            what = "That is" if draft.fills_now else "That reserves"
            cash = "your cash" if self.available == self.cash else "your available cash"
            found.append(f"{what} more than {cash} ({usd(self.available)}).")
        free = self.free.get(symbol, self.holdings.get(symbol, Decimal(0)))
        if not buying and not draft.expires_now and draft.quantity > free:
            held_now = self.holdings.get(symbol, Decimal(0))
            extra = f", {qty(held_now - free)} of it in open orders" if free != held_now else ""
            found.append(f"That is more than you hold ({qty(held_now)} {symbol}{extra}).")
        return found

    def _show_errors(self) -> None:
        """Each field's error: what the last submission met, else what is wrong as typed."""
        for field, error_id in ERROR_IDS.items():
            message = self._held_errors.get(field) or self._live_errors.get(field) or ""
            if self._shown_errors.get(field, "") != message:
                self._shown_errors[field] = message
                error = self.query_one(error_id, Static)
                error.update(message)
                error.display = bool(message)

    def _set_result(self, result: Text | None, *, style: str = "") -> None:
        widget = self.query_one("#ticket-result", Static)
        widget.update(result or "")
        widget.display = result is not None
        for name in ("-filled", "-resting", "-closed"):
            widget.set_class(name == style, name)
