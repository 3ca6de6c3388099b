"""The order the Trade ticket drafts: its fields parsed, priced and checked, with no Textual.

A draft is checked by the engine's own rules (`orderproc.engine.rules`), so the ticket's live
hints say what the engine would do: a buyer pays quantity x price rounded up to the cent, a
seller receives it rounded down, a resting buy reserves its quantity at its limit (at its stop
for a stop order) rounded up, a limit the price has reached fills now, a stop the price has
reached is refused, a market order's price guard refuses a fill past it. Errors are the engine's
`InvalidAmount`, each naming the ticket field it is about (`error_field`).

How a draft is put into words (the preview, the warnings, the confirmation) is in `order_words`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from orderproc.engine import errors, rules
from orderproc.engine.schemas import Asset, OrderPreview, OrderRequest, OrderType, Side, TimeInForce
from orderproc.formatting import typed_number

AmountIn = Literal["quantity", "usd"]
# the ticket's fields ("limit": the market order's price guard; "ticket": the order as a whole)
FieldName = Literal["symbol", "amount", "limit", "limit_price", "stop_price", "ticket"]
NEEDS_LIMIT = (OrderType.LIMIT, OrderType.STOP_LIMIT)
NEEDS_STOP = (OrderType.STOP, OrderType.STOP_LIMIT)


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
        """A market order, or a limit order whose limit the price has already reached (the
        engine's preview has the last word: with a spread, a limit may not be reached yet)."""
        if self.rests is not None and self.kind is not OrderType.MARKET:
            return not self.rests
        return rules.fills_now(self.kind, self.side, self.price, self.request.limit_price)

    @property
    def expires_now(self) -> bool:
        """An immediate-or-cancel limit order the price has not reached."""
        return self.request.time_in_force is TimeInForce.IOC and not self.fills_now

    @property
    def stop_reached(self) -> bool:
        """The stop is already at or past the price: the engine refuses such a stop."""
        stop = self.request.stop_price
        return stop is not None and rules.stop_reached(self.side, stop, self.price)

    @property
    def guard_breached(self) -> bool:
        """The price is past the market order's price guard: the engine refuses the fill."""
        return rules.guard_breached(self.side, self.price, self.request.price_limit)


@dataclass(frozen=True)
class Funds:
    """What the user trades with, as last loaded: all the cash and what open orders leave of it
    (None until loaded), each holding and what open sell orders leave of it."""

    cash: Decimal | None = None
    available: Decimal | None = None
    holdings: Mapping[str, Decimal] = dataclasses.field(default_factory=dict)
    free: Mapping[str, Decimal] = dataclasses.field(default_factory=dict)

    def held(self, symbol: str) -> Decimal:
        return self.holdings.get(symbol, Decimal(0))

    def free_of(self, symbol: str) -> Decimal:
        """What of the holding in `symbol` no open order holds back."""
        return self.free.get(symbol, self.held(symbol))


def _price_field(text: str, field: FieldName, label: str, *, digits: bool = True) -> Decimal:
    """A price typed in the ticket, checked as the engine checks it (positive and, for a price an
    order rests at, `rules.within_price_digits`) and worded the ticket's way."""
    if not text.strip():
        raise errors.InvalidAmount(f"enter a {label}", {"field": field})
    try:
        value = rules.parse_decimal(typed_number(text), label)
    except errors.InvalidAmount as exc:
        raise errors.InvalidAmount(exc.message, {"field": field}) from None
    if value <= 0:
        raise errors.InvalidAmount(f"the {label} must be greater than zero", {"field": field})
    if digits and not rules.within_price_digits(value):
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
    amount = typed_number(amount_text)
    if not amount:
        what = "a quantity" if amount_in == "quantity" else "a USD amount"
        raise errors.InvalidAmount(f"enter {what}", {"field": "amount"})
    try:
        if amount_in == "quantity":
            units = rules.to_units(amount, asset.precision, "quantity")
        else:
            units = rules.units_for_cash(rules.cash_to_cents(amount, "USD amount"), asset.precision, quote_price)
            if units <= 0:
                raise errors.InvalidAmount(
                    "that amount buys less than the smallest quantity of this asset", {"field": "notional"}
                )
    except errors.InvalidAmount as exc:
        raise errors.InvalidAmount(exc.message, {**exc.details, "field": "amount"}) from None
    stop = _price_field(stop_price_text.strip(), "stop_price", "stop price") if kind in NEEDS_STOP else None
    limit = _price_field(limit_price_text.strip(), "limit_price", "limit price") if kind in NEEDS_LIMIT else None
    guard = _price_field(limit_text, "limit", "price guard", digits=False) if market and limit_text.strip() else None
    value = rules.parse_decimal(amount)  # checked above: to_units and cash_to_cents parsed it
    request = OrderRequest(
        symbol=asset.symbol,
        side=side,
        type=kind,
        quantity=value if amount_in == "quantity" else None,
        notional=value if amount_in == "usd" else None,
        price_limit=guard,
        limit_price=limit,
        stop_price=stop,
        time_in_force=tif if kind is OrderType.LIMIT else None,
        client_order_id=key,
    )
    quantity = rules.from_units(units, asset.precision)
    draft = Draft(request, asset, quote_price, quantity, _cash(asset, side, quote_price, units))
    if draft.fills_now or draft.expires_now:
        return draft
    # it rests: priced at its limit (a stop order at its stop), holding back what the engine would
    held = rules.reservation(rules.NO_FRICTION, asset.precision, side, kind, units, limit, stop)
    if side is Side.BUY:
        cash = rules.cents_to_cash(held)
        return Draft(request, asset, quote_price, quantity, cash, cash)
    at = stop if kind is OrderType.STOP else limit
    assert at is not None
    reserve = rules.from_units(held, asset.precision)
    return Draft(request, asset, quote_price, quantity, _cash(asset, side, at, units), reserve)


def _cash(asset: Asset, side: Side, at: Decimal, units: int) -> Decimal:
    """What `units` of `asset` cost a buyer or bring a seller at `at`, rounded the engine's way."""
    return rules.cents_to_cash(rules.fill_terms(rules.NO_FRICTION, asset.precision, side, at, units=units).cents)


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
