"""OrderTicket: the form that drafts an order and posts `OrderTicket.Submitted`.

An order is a market order (by quantity or by USD amount, with an optional price guard), or a
limit, stop or stop-limit order (by quantity, with its prices; a limit order good till
canceled or immediate or cancel) that rests until the price reaches it, holding back what it
could spend.

The ticket only drafts: `order_draft` turns its fields into a `Draft` checked and priced by the
engine's own rules (so the preview rounds exactly as a fill will), `order_words` puts it into
words; the ticket posts the draft. The screen confirms, places the order in a worker and hands
back what became of it (`show_result`) or the error (`show_error`), which lands next to the
field it is about. Its look is in styles/order_ticket.tcss, which the screens showing it load.

Each ticket carries one idempotency key, sent as `client_order_id`: a retry or a double press
of the same order can never be placed twice. The key changes only after an order is placed
(or `new_ticket`).
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from orderproc.engine import errors
from orderproc.engine.schemas import Asset, Order, OrderStatus, OrderType, Quote, Side, TimeInForce
from orderproc.formatting import qty, sign, usd, when
from orderproc.tui.order_draft import (
    NEEDS_LIMIT,
    NEEDS_STOP,
    AmountIn,
    Draft,
    FieldName,
    Funds,
    draft_order,
    error_field,
)
from orderproc.tui.order_words import TYPE_LABELS, describe, kind_of, outcome, preview, warnings
from orderproc.tui.widgets.quote_bar import QuoteBar

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
PRICE_CHARS = "0123456789.,$"


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
    """A number field. A key that can never be part of a number is not swallowed when the Trade
    page binds it: it goes to the page's own bindings (b, s, k, i, n, $, /), so they work while
    the cursor is here. The app's keys (the page keys, q) are swallowed, and so not shown in the
    footer: a typo must not take the user away from the ticket (Esc first)."""

    def __init__(self, allow: str, *, placeholder: str, id: str) -> None:
        super().__init__(placeholder=placeholder, id=id, max_length=40, restrict=f"[{re.escape(allow)}]*")
        self.allow = frozenset(allow)

    def check_consume_key(self, key: str, character: str | None) -> bool:
        if character is None or not character.isprintable():
            return False
        return character in self.allow or key not in self.screen._bindings.key_to_bindings

    async def on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character not in self.allow:
            event.prevent_default()  # not for Input's handler, which would swallow it
            event.stop()
            active = self.screen.active_bindings.get(event.key)
            if active is not None and active.enabled and active.node is self.screen:
                await self.app.run_action(active.binding.action, active.node)


class OrderTicket(Vertical):
    """Symbol, side, order type, quantity or USD amount, the prices the type needs, a live
    preview of what it costs or reserves."""

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

    class ChoicesChanged(Message):
        """The side or the order type changed (the screen shows the keys they take)."""

        def __init__(self, ticket: OrderTicket) -> None:
            super().__init__()
            self.ticket = ticket

        @property
        def control(self) -> OrderTicket:
            return self.ticket

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.assets: dict[str, Asset] = {}
        self.asset: Asset | None = None
        self.quote: Quote | None = None
        self.funds = Funds()  # the user's cash and holdings, and what open orders leave of them
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
        reserved = reserved or {}
        free = {symbol: held - reserved.get(symbol, Decimal(0)) for symbol, held in holdings.items()}
        self.funds = Funds(cash, cash - reserved_cash, holdings, free)
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
        if event.radio_set.id in ("ticket-type", "ticket-side"):
            self.post_message(self.ChoicesChanged(self))
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
        shown = self.query_one("#ticket-preview", Static)
        found: dict[FieldName, str] = {}
        refusals: list[str] = []
        try:
            draft = self.draft()
        except errors.OrderprocError as exc:
            field = error_field(exc)
            empty = not self.query_one("#ticket-amount", Input).value.strip()
            if field != "amount" or not empty:
                typed = self.query_one(FIELD_INPUTS[field], Input).value.strip() if field in FIELD_INPUTS else ""
                if typed or field == "amount":
                    found[field] = exc.message
            shown.update(Text(self._hint(empty, field, found), style="dim"))
        else:
            shown.update(preview(draft, self.friction))
            refusals = warnings(draft, self.funds)
        warning = self.query_one("#ticket-warning", Static)
        warning.update("\n".join(refusals))
        warning.display = bool(refusals)
        for field in ("amount", "limit", "limit_price", "stop_price"):
            if field in found:
                self._live_errors[field] = found[field]
            else:
                self._live_errors.pop(field, None)
        self._show_errors()

    def _holdings_line(self) -> str:
        parts = []
        cash, available = self.funds.cash, self.funds.available
        if cash is not None and available is not None:
            if available != cash:
                parts.append(f"Cash {usd(cash)}, {usd(available)} available")
            else:
                parts.append(f"Cash {usd(cash)}")
        if self.asset is not None:
            symbol = self.asset.symbol
            held_now = self.funds.held(symbol)
            line = f"you hold {qty(held_now)} {symbol}"
            free = self.funds.free_of(symbol)
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
