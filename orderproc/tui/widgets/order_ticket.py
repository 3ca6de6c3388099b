"""OrderTicket: the form that drafts a market order and posts `OrderTicket.Submitted`.

The ticket only drafts: it checks the fields with the engine's own money rules (so the
preview rounds exactly as a fill will: a buyer pays quantity x price rounded up to the cent,
a seller receives it rounded down) and posts the draft. The screen confirms, places the order
in a worker and hands back the fill (`show_fill`) or the error (`show_error`), which lands
next to the field it is about.

Each ticket carries one idempotency key, sent as `client_order_id`: a retry or a double press
of the same order can never fill twice. The key changes only after a fill (or `new_ticket`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
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
    to_units,
    units_for_cash,
)
from orderproc.engine.schemas import Asset, Order, OrderRequest, Quote, Side
from orderproc.formatting import price, qty, usd, when
from orderproc.tui.widgets.quote_bar import QuoteBar

AmountIn = Literal["quantity", "usd"]
FieldName = Literal["symbol", "amount", "limit", "ticket"]
# where each field's errors are shown ("ticket": about the order as a whole)
ERROR_IDS: dict[FieldName, str] = {
    "symbol": "#ticket-symbol-error",
    "amount": "#ticket-amount-error",
    "limit": "#ticket-limit-error",
    "ticket": "#ticket-error",
}


@dataclass(frozen=True)
class Draft:
    """An order as the ticket would send it, priced at the latest quote."""

    request: OrderRequest
    asset: Asset
    price: Decimal
    quantity: Decimal  # what it buys or sells at `price`
    cash: Decimal  # what the buyer pays or the seller receives at `price`

    @property
    def side(self) -> Side:
        return self.request.side

    def summary(self) -> str:
        """`Buy 0.01 BTC at about $109,000.00 for about $1,090.00`."""
        verb = "Buy" if self.side is Side.BUY else "Sell"
        about = "about " if self.request.notional is not None else ""
        return (
            f"{verb} {about}{qty(self.quantity)} {self.asset.symbol} at about {price(self.price)} "
            f"for about {usd(self.cash)}"
        )

    def guard(self) -> str:
        limit = self.request.price_limit
        if limit is None:
            return "No price guard: it fills at the price of the moment."
        above = "above" if self.side is Side.BUY else "below"
        return f"It is rejected if {self.asset.symbol} is {above} {price(limit)} when it fills."


def draft_order(
    asset: Asset,
    quote_price: Decimal,
    side: Side,
    amount_in: AmountIn,
    amount_text: str,
    limit_text: str,
    key: str,
) -> Draft:
    """The order these fields make, checked by the engine's rules; raises InvalidAmount with a field."""
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
    cash = cents_to_cash(notional_cents(units, asset.precision, quote_price, buyer=buyer))
    limit: Decimal | None = None
    if limit_text.strip():
        try:
            limit = parse_decimal(limit_text, "price guard")
        except errors.InvalidAmount as exc:
            raise errors.InvalidAmount(exc.message, {"field": "limit"}) from None
        if limit <= 0:
            raise errors.InvalidAmount("the price guard must be greater than zero", {"field": "limit"})
    value = parse_decimal(amount)  # checked above: to_units and cash_to_cents parsed it
    request = OrderRequest(
        symbol=asset.symbol,
        side=side,
        quantity=value if amount_in == "quantity" else None,
        notional=value if amount_in == "usd" else None,
        price_limit=limit,
        client_order_id=key,
    )
    return Draft(request, asset, quote_price, from_units(units, asset.precision), cash)


def error_field(exc: errors.OrderprocError) -> FieldName:
    """Which field of the ticket an engine error is about."""
    field = exc.details.get("field")
    if isinstance(exc, errors.UnknownAsset) or field == "symbol":
        return "symbol"
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
                return f"not enough cash: you have {usd(available)}"
            return f"not enough {asset}: you hold {qty(available)}"
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
    the Trade page's own bindings (b, s, n, $, /), so they work while the cursor is here. The
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
    """Symbol, side, quantity or USD amount, an optional price guard, a live cost preview."""

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
    OrderTicket RadioSet > RadioButton {
        width: auto;
        margin-right: 1;
    }
    OrderTicket #ticket-amount, OrderTicket #ticket-limit {
        width: 1fr;
    }
    OrderTicket #ticket-limit {
        margin-left: 1;
    }
    OrderTicket .ticket-errors > .field-error {
        width: 1fr;
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

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.assets: dict[str, Asset] = {}
        self.asset: Asset | None = None
        self.quote: Quote | None = None
        self.cash: Decimal | None = None
        self.holdings: dict[str, Decimal] = {}
        self.key = uuid.uuid4().hex
        self.pending = False  # a draft was posted and the screen has not answered yet
        self._symbol = ""
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
            yield AmountInput("0123456789.,", placeholder="0.01", id="ticket-amount")
            yield AmountInput("0123456789.,$", placeholder="none", id="ticket-limit")
        with Horizontal(classes="ticket-row ticket-errors"):
            yield Static("", id="ticket-amount-error", classes="field-error")
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
        for hidden in self.query(".field-error, .ticket-errors, #ticket-warning, #ticket-result"):
            hidden.display = False
        for error in self.query(".ticket-errors > .field-error"):
            error.display = True
            error.visible = False
        self._relabel()
        self._redraw()

    # -- what the fields say ----------------------------------------------------------------

    @property
    def side(self) -> Side:
        return Side.SELL if self.query_one("#ticket-sell", RadioButton).value else Side.BUY

    @property
    def amount_in(self) -> AmountIn:
        return "usd" if self.query_one("#ticket-by-usd", RadioButton).value else "quantity"

    @property
    def symbol(self) -> str:
        return self._symbol

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
            self.query_one("#ticket-amount", Input).value.replace(",", ""),
            self.query_one("#ticket-limit", Input).value.replace(",", "").replace("$", ""),
            self.key,
        )

    # -- what the screen tells it --------------------------------------------------------------

    def set_assets(self, assets: list[Asset]) -> None:
        self.assets = {a.symbol: a for a in assets}
        self.query_one("#ticket-symbol", Input).suggester = SuggestFromList(sorted(self.assets), case_sensitive=False)
        self._symbol_edited(self.query_one("#ticket-symbol", Input).value)

    def set_holdings(self, cash: Decimal, holdings: dict[str, Decimal]) -> None:
        self.cash = cash
        self.holdings = holdings
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

    def toggle_amount_in(self) -> None:
        usd_button = self.query_one("#ticket-by-usd", RadioButton)
        if usd_button.value:
            self.query_one("#ticket-by-quantity", RadioButton).value = True
        else:
            usd_button.value = True

    def new_ticket(self) -> None:
        """A fresh ticket: a new idempotency key, empty amount and guard, no errors."""
        self.key = uuid.uuid4().hex
        self.finish()
        self.query_one("#ticket-amount", Input).value = ""
        self.query_one("#ticket-limit", Input).value = ""
        self._held_errors.clear()
        self._set_result(None)
        self._redraw()

    def finish(self) -> None:
        """The posted draft was dealt with (cancelled or failed): the ticket may submit again."""
        self.pending = False
        self.query_one("#ticket-submit", Button).disabled = False

    def show_placing(self) -> None:
        self._set_result(Text("Placing the order...", style="dim"))

    def show_fill(self, order: Order) -> None:
        """The order filled: show it, start a fresh ticket (a new key) on the same asset."""
        verb = "Bought" if order.side is Side.BUY else "Sold"
        result = Text.assemble(
            Text(f"Filled · order #{order.id} · {when(order.created_at)}\n", style="bold"),
            f"{verb} {qty(order.quantity)} {order.symbol} at {price(order.price)} for {usd(order.notional)}",
        )
        self.new_ticket()
        self._set_result(result, filled=True)

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
        target = {"symbol": "#ticket-symbol", "amount": "#ticket-amount", "limit": "#ticket-limit"}.get(field)
        if target is not None:
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

    @on(Input.Changed, "#ticket-amount, #ticket-limit")
    def _amount_input(self, event: Input.Changed) -> None:
        event.stop()
        self._held_errors.clear()
        self._redraw()

    @on(RadioSet.Changed)
    def _choice_changed(self, event: RadioSet.Changed) -> None:
        event.stop()
        self._held_errors.clear()
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

    def _relabel(self) -> None:
        symbol = self._symbol or "asset"
        amount = self.query_one("#ticket-amount", Input)
        if self.amount_in == "quantity":
            amount.border_title = f"Quantity ({symbol})"
            amount.placeholder = "e.g. 0.5"
        else:
            amount.border_title = "Amount (USD)"
            amount.placeholder = "e.g. 1000"
        limit = self.query_one("#ticket-limit", Input)
        limit.border_title = "Max price (optional)" if self.side is Side.BUY else "Min price (optional)"
        submit = self.query_one("#ticket-submit", Button)
        submit.variant = "success" if self.side is Side.BUY else "error"
        submit.label = f"Review {'buy' if self.side is Side.BUY else 'sell'}"

    def _redraw(self) -> None:
        """The holdings line and the cost preview, from the fields and the latest quote."""
        holdings = []
        if self.cash is not None:
            holdings.append(f"Cash {usd(self.cash)}")
        if self.asset is not None:
            held = self.holdings.get(self.asset.symbol, Decimal(0))
            line = f"you hold {qty(held)} {self.asset.symbol}"
            if held and self.quote is not None:
                line += f" (about {usd(held * self.quote.price)})"
            holdings.append(line)
        self.query_one("#ticket-holdings", Static).update(" · ".join(holdings))

        preview = self.query_one("#ticket-preview", Static)
        amount_error = limit_error = None
        warnings: list[str] = []
        try:
            draft = self.draft()
        except errors.OrderprocError as exc:
            field = error_field(exc)
            empty = not self.query_one("#ticket-amount", Input).value.strip()
            if field == "amount" and not empty:
                amount_error = exc.message
            elif field == "limit":
                limit_error = exc.message
            preview.update(Text(self._hint(empty), style="dim"))
        else:
            preview.update(self._preview(draft))
            warnings = self._warnings(draft)
        warning = self.query_one("#ticket-warning", Static)
        warning.update("\n".join(warnings))
        warning.display = bool(warnings)
        found: tuple[tuple[FieldName, str | None], ...] = (("amount", amount_error), ("limit", limit_error))
        for field, error in found:
            if error is None:
                self._live_errors.pop(field, None)
            else:
                self._live_errors[field] = error
        self._show_errors()

    def _hint(self, empty: bool) -> str:
        if self.asset is None:
            return "Choose an asset: type its symbol."
        if self.quote is None:
            return "Waiting for the price..."
        if empty:
            what = "a quantity" if self.amount_in == "quantity" else "a USD amount"
            return f"Enter {what} to see what it costs."
        return "Fix the highlighted field to see the cost."

    def _preview(self, draft: Draft) -> Text:
        buying = draft.side is Side.BUY
        text = Text()
        if draft.request.notional is not None:
            text.append(f"{usd(Decimal(draft.request.notional))} {'buys' if buying else 'sells'} about ")
            text.append(f"{qty(draft.quantity)} {draft.asset.symbol}", style="bold")
            text.append(f" at {price(draft.price)}: ")
        else:
            text.append(f"{qty(draft.quantity)} {draft.asset.symbol} at about {price(draft.price)} = ")
        text.append(f"{'you pay' if buying else 'you receive'} about ")
        text.append(usd(draft.cash), style="bold")
        text.append(f"\n(rounded {'up' if buying else 'down'} to the cent at the fill price)", style="dim")
        return text

    def _warnings(self, draft: Draft) -> list[str]:
        """What would make the engine refuse this order if it were placed now."""
        buying = draft.side is Side.BUY
        found = []
        limit = draft.request.price_limit
        if limit is not None and (draft.price > limit if buying else draft.price < limit):
            found.append(f"The price is {'above' if buying else 'below'} your guard: it would be rejected now.")
        if buying and self.cash is not None and draft.cash > self.cash:
            found.append(f"That is more than your cash ({usd(self.cash)}).")
        held = self.holdings.get(draft.asset.symbol, Decimal(0))
        if not buying and draft.quantity > held:
            found.append(f"That is more than you hold ({qty(held)} {draft.asset.symbol}).")
        return found

    def _show_errors(self) -> None:
        """Each field's error: what the last submission met, else what is wrong as typed."""
        for field, error_id in ERROR_IDS.items():
            message = self._held_errors.get(field) or self._live_errors.get(field) or ""
            if self._shown_errors.get(field, "") != message:
                self._shown_errors[field] = message
                error = self.query_one(error_id, Static)
                error.update(message)
                if field in ("amount", "limit"):
                    error.visible = bool(message)  # keeps its column: the error sits under its field
                else:
                    error.display = bool(message)
        below = self.query_one(".ticket-errors")
        below.display = bool(self._shown_errors.get("amount") or self._shown_errors.get("limit"))

    def _set_result(self, result: Text | None, *, filled: bool = False) -> None:
        widget = self.query_one("#ticket-result", Static)
        widget.update(result or "")
        widget.display = result is not None
        widget.set_class(filled, "-filled")
