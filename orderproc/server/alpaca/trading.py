"""Alpaca's trading API under `/v2`, over the engine: what alpaca-py's TradingClient reads and does.

Covered: the account; positions (list, one, close one, close all); orders (submit market, limit,
stop and stop-limit by qty or notional, gtc or ioc, with a client_order_id; list, get one by id
or by client_order_id, cancel one, cancel all); crypto assets (list, one). Everything a call
does goes through the same engine calls as `/v1` with the caller's API key, so it is the same
ledger, with the same checks and the same exactness (amounts are exact decimal strings).

Where we differ from Alpaca (say it, do not hide it):
- A market order fills now or is refused, so its time in force is ioc, whatever was asked;
  a resting order is `new` until it fills whole (there are no partial fills).
- Repeating an order with its client_order_id answers the order the first request made (an
  idempotent retry), where Alpaca refuses the duplicate; a different order with the same
  client_order_id is refused (422) as Alpaca does.
- Only simple orders of pairs against USD; no margin, no shorting (an account is all cash).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from orderproc.engine import errors, rules
from orderproc.engine.catalog import MAX_PAGE
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import Asset, Order, OrderRequest, OrderStatus, OrderType, Position, Side, TimeInForce
from orderproc.server.alpaca.common import (
    AlpacaRoute, Credential, alpaca_error, alpaca_status, asset_id, base_symbol, number_id,
    order_number, pair, read_body, text, when)
from orderproc.server.deps import EngineDep

router = APIRouter(prefix="/v2", route_class=AlpacaRoute, include_in_schema=False)

_ZERO = "0"
_STATUS_TIME = {OrderStatus.FILLED: "filled_at", OrderStatus.CANCELED: "canceled_at",
                OrderStatus.EXPIRED: "expired_at", OrderStatus.REJECTED: "failed_at"}


# ---- account ---------------------------------------------------------------------------------

@router.get("/account")
async def account(engine: EngineDep, token: Credential) -> dict[str, Any]:
    """The account the key trades: its cash, what of it buys (cash not held by open orders),
    and its equity (cash and the positions at the ledger price)."""
    accounts = await engine.accounts(token)
    current = next(a for a in accounts if a.current)
    book = await engine.portfolio(token)
    buying_power = text(book.cash - book.reserved_cash)
    return {
        "id": str(number_id(current.id)), "account_number": current.name, "status": "ACTIVE",
        "crypto_status": "ACTIVE", "currency": "USD", "cash": text(book.cash), "buying_power": buying_power,
        "regt_buying_power": buying_power, "non_marginable_buying_power": buying_power,
        "daytrading_buying_power": _ZERO, "options_buying_power": _ZERO, "equity": text(book.equity),
        "portfolio_value": text(book.equity), "last_equity": text(book.equity - book.day_change),
        "long_market_value": text(book.market_value), "short_market_value": _ZERO, "multiplier": "1",
        "initial_margin": _ZERO, "maintenance_margin": _ZERO, "last_maintenance_margin": _ZERO, "sma": _ZERO,
        "accrued_fees": _ZERO, "pending_transfer_in": _ZERO, "pending_transfer_out": _ZERO, "daytrade_count": 0,
        "pattern_day_trader": False, "trading_blocked": False, "transfers_blocked": False,
        "account_blocked": False, "trade_suspended_by_user": False, "shorting_enabled": False,
    }


# ---- assets ----------------------------------------------------------------------------------

def _asset(asset: Asset) -> dict[str, Any]:
    step = text(Decimal(1).scaleb(-asset.precision))
    return {
        "id": str(asset_id(asset.symbol)), "class": "crypto", "exchange": "CRYPTO", "symbol": pair(asset.symbol),
        "name": f"{asset.name} / US Dollar", "status": "active" if asset.enabled else "inactive",
        "tradable": asset.enabled, "marginable": False, "shortable": False, "easy_to_borrow": False,
        "fractionable": True, "min_order_size": step, "min_trade_increment": step, "attributes": [],
    }


@router.get("/assets")
async def assets(engine: EngineDep, token: Credential, status: str | None = None,
                 asset_class: str | None = None) -> list[dict[str, Any]]:
    """The crypto pairs (`asset_class` us_equity or us_option: none); `status` active or inactive."""
    if asset_class not in (None, "crypto"):
        return []
    listed = [_asset(a) for a in await engine.list_assets()]
    return [a for a in listed if status in (None, a["status"])]


async def _find_asset(engine: Engine, symbol_or_id: str) -> Asset:
    try:
        wanted = uuid.UUID(symbol_or_id)
    except ValueError:
        return await engine.get_asset(base_symbol(symbol_or_id))
    found = next((a for a in await engine.list_assets() if asset_id(a.symbol) == wanted), None)
    if found is None:
        raise errors.UnknownAsset(f"asset not found for {symbol_or_id}")
    return found


@router.get("/assets/{symbol_or_id:path}")
async def asset(symbol_or_id: str, engine: EngineDep, token: Credential) -> dict[str, Any]:
    """One pair by symbol (`BTC/USD`, `BTCUSD`) or asset id."""
    return _asset(await _find_asset(engine, symbol_or_id))


# ---- positions -------------------------------------------------------------------------------

def _position(held: Position, change_today: Decimal | None) -> dict[str, Any]:
    cost = held.cost_basis
    return {
        "asset_id": str(asset_id(held.symbol)), "symbol": pair(held.symbol), "exchange": "CRYPTO",
        "asset_class": "crypto", "asset_marginable": False, "side": "long", "qty": text(held.quantity),
        "qty_available": text(held.quantity - held.reserved), "avg_entry_price": text(held.average_cost),
        "cost_basis": text(cost), "market_value": text(held.market_value), "current_price": text(held.price),
        "unrealized_pl": text(held.unrealized_pnl),
        "unrealized_plpc": text((held.unrealized_pnl / cost).quantize(Decimal("1e-8"))) if cost else _ZERO,
        "change_today": None if change_today is None else text(change_today / 100),
    }


async def _answered(engine: Engine, held: list[Position]) -> list[dict[str, Any]]:
    """Positions as Alpaca's, with their 24 hour change."""
    if not held:
        return []
    changes = {q.symbol: q.change_24h for q in await engine.quotes([p.symbol for p in held])}
    return [_position(p, changes.get(p.symbol)) for p in held]


@router.get("/positions")
async def positions(engine: EngineDep, token: Credential) -> list[dict[str, Any]]:
    """The account's holdings at the ledger price (`change_today`: over the last 24 hours)."""
    return await _answered(engine, (await engine.portfolio(token)).positions)


async def _holding(engine: Engine, token: str, symbol_or_id: str) -> Position:
    symbol = (await _find_asset(engine, symbol_or_id)).symbol
    found = next((p for p in (await engine.portfolio(token)).positions if p.symbol == symbol), None)
    if found is None:
        raise errors.NotFound("position does not exist", {"symbol": pair(symbol)})
    return found


@router.get("/positions/{symbol_or_id:path}")
async def position(symbol_or_id: str, engine: EngineDep, token: Credential) -> dict[str, Any]:
    (answer,) = await _answered(engine, [await _holding(engine, token, symbol_or_id)])
    return answer


async def _close(engine: Engine, token: str, held: Position, qty: str | None = None,
                 percentage: str | None = None) -> Order:
    """Sell what is held of a position (not held back by open sells): all, `qty` or `percentage`."""
    available = quantity = held.quantity - held.reserved
    if qty is not None and percentage is not None:
        raise errors.ValidationError("give qty or percentage, not both", {"field": "qty"})
    if qty is not None:
        quantity = rules.check_price(qty, "qty", digits=False)  # a positive decimal
    elif percentage is not None:
        share = rules.check_price(percentage, "percentage", digits=False)
        if share > 100:
            raise errors.ValidationError("percentage is more than 0 and at most 100", {"field": "percentage"})
        quantity = (available * share / 100).quantize(available, rounding=ROUND_DOWN)
    if quantity > available:
        raise errors.InsufficientFunds(f"insufficient qty available for order (requested: {quantity}, "
                                       f"available: {available})", {"field": "qty"})
    return await engine.place_order(token, OrderRequest(symbol=held.symbol, side=Side.SELL, quantity=quantity))


@router.delete("/positions/{symbol_or_id:path}")
async def close_position(symbol_or_id: str, engine: EngineDep, token: Credential, qty: str | None = None,
                         percentage: str | None = None) -> dict[str, Any]:
    """Sell the position at the market (all of it, or `qty`, or `percentage` of it): the order."""
    return _order(await _close(engine, token, await _holding(engine, token, symbol_or_id), qty, percentage))


@router.delete("/positions")
async def close_positions(engine: EngineDep, token: Credential, cancel_orders: bool = False) -> JSONResponse:
    """Sell every position at the market (first cancelling open orders with `cancel_orders`);
    207 with each one's status and order (or error)."""
    if cancel_orders:
        await engine.cancel_orders(token)
    answers = []
    for held in (await engine.portfolio(token)).positions:
        symbol = pair(held.symbol)
        try:
            sold = await _close(engine, token, held)
            answer = {"order_id": str(number_id(sold.id)), "status": 200, "body": _order(sold)}
        except errors.OrderprocError as exc:
            answer = {"status": alpaca_status(exc), "body": {**alpaca_error(exc), "symbol": symbol}}
        answers.append({"symbol": symbol, **answer})
    return JSONResponse(answers, status_code=status.HTTP_207_MULTI_STATUS)


# ---- orders ----------------------------------------------------------------------------------

def _order(order: Order) -> dict[str, Any]:
    updated = order.closed_at or order.triggered_at or order.created_at
    filled = order.status is OrderStatus.FILLED
    answer = {
        "id": str(number_id(order.id)), "client_order_id": order.client_order_id or str(number_id(order.id)),
        "created_at": when(order.created_at), "updated_at": when(updated), "submitted_at": when(order.created_at),
        "filled_at": None, "expired_at": None, "canceled_at": None, "failed_at": None, "replaced_at": None,
        "replaced_by": None, "replaces": None, "asset_id": str(asset_id(order.symbol)), "symbol": pair(order.symbol),
        "asset_class": "crypto", "notional": None, "qty": text(order.quantity),
        "filled_qty": text(order.quantity) if filled else _ZERO, "filled_avg_price": text(order.price),
        "order_class": "simple", "order_type": order.type.value, "type": order.type.value, "side": order.side.value,
        "time_in_force": order.time_in_force.value, "limit_price": text(order.limit_price),
        "stop_price": text(order.stop_price), "status": order.status.value, "extended_hours": False,
        "legs": None, "trail_percent": None, "trail_price": None, "hwm": None, "position_intent": None,
    }
    if order.status in _STATUS_TIME:
        answer[_STATUS_TIME[order.status]] = when(order.closed_at)
    return answer


_UNSUPPORTED = {"trail_price": "trailing stop orders", "trail_percent": "trailing stop orders",
                "take_profit": "bracket orders", "stop_loss": "bracket orders", "legs": "multi-leg orders"}
_TYPES = {"market": OrderType.MARKET, "limit": OrderType.LIMIT, "stop": OrderType.STOP,
          "stop_limit": OrderType.STOP_LIMIT}


def order_request(body: dict[str, Any]) -> OrderRequest:
    """Our order of an Alpaca order's JSON (a request our engine could not place is refused)."""
    for field, what in _UNSUPPORTED.items():
        if body.get(field) is not None:
            raise errors.ValidationError(f"{what} are not supported here: simple orders only", {"field": field})
    if body.get("order_class") not in (None, "", "simple"):
        raise errors.ValidationError(f"order_class {body['order_class']} is not supported here: simple orders only",
                                     {"field": "order_class"})
    named = body.get("type", body.get("order_type"))
    kind = _TYPES.get(named) if isinstance(named, str) else None
    if kind is None:
        raise errors.ValidationError("type is one of: market, limit, stop, stop_limit", {"field": "type"})
    tif = body.get("time_in_force")
    if tif not in ("gtc", "ioc"):
        raise errors.ValidationError("time_in_force for crypto is gtc or ioc", {"field": "time_in_force"})
    amounts = {"quantity": body.get("qty"), "notional": body.get("notional"),
               "limit_price": body.get("limit_price"), "stop_price": body.get("stop_price")}
    return OrderRequest.model_validate({
        "symbol": base_symbol(body.get("symbol")), "side": body.get("side"), "type": kind,
        # a market order fills now or not at all: gtc (what Alpaca's crypto examples send) is ioc
        "time_in_force": None if kind is OrderType.MARKET else TimeInForce(tif),
        "client_order_id": body.get("client_order_id") or str(uuid.uuid4()),
        **{field: value for field, value in amounts.items() if value is not None},
    })


@router.post("/orders")
async def submit_order(request: Request, engine: EngineDep, token: Credential) -> dict[str, Any]:
    """Place an order: market (fills now or is refused), or limit, stop or stop-limit (rests
    until the price reaches it, gtc; or fills now or expires, ioc: limit orders only)."""
    order = order_request(await read_body(request))
    try:
        return _order(await engine.place_order(token, order))
    except errors.Conflict as exc:  # the client_order_id of another order
        raise errors.ValidationError(f"client_order_id must be unique: {exc.message}",
                                     {"field": "client_order_id"}) from None


@router.get("/orders")
async def list_orders(
    engine: EngineDep, token: Credential,
    status: Literal["open", "closed", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    after: datetime | None = None, until: datetime | None = None,
    direction: Literal["asc", "desc"] = "desc",
    side: Literal["buy", "sell"] | None = None,
    symbols: str | None = None,
    nested: bool = False,
) -> list[dict[str, Any]]:
    """The account's orders (open by default), newest first (`direction=asc`: oldest first),
    created after `after` and until `until`, of one `side`, of some `symbols` (comma-separated)."""
    wanted = {base_symbol(s) for s in symbols.split(",") if s.strip()} if symbols else set()
    found: list[Order] = []
    async for order in _orders(engine, token, {"open": True, "closed": False, "all": None}[status],
                               next(iter(wanted)) if len(wanted) == 1 else None):
        if after is not None and order.created_at <= after:
            break  # newest first: the rest are older still
        if ((until is None or order.created_at <= until) and side in (None, order.side.value)
                and (not wanted or order.symbol in wanted)):
            found.append(order)
            if direction == "desc" and len(found) == limit:
                break
    chosen = found[-limit:][::-1] if direction == "asc" else found
    return [_order(o) for o in chosen]


async def _orders(engine: Engine, token: str, open: bool | None, symbol: str | None) -> AsyncIterator[Order]:
    """The account's orders, newest first, page by page."""
    offset = 0
    while True:
        page = await engine.orders(token, offset=offset, limit=MAX_PAGE, symbol=symbol, open=open)
        for order in page.items:
            yield order
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return


@router.get("/orders:by_client_order_id")
async def order_by_client_id(client_order_id: str, engine: EngineDep, token: Credential) -> dict[str, Any]:
    """The order placed with this `client_order_id` (ours when it was placed without one: its id)."""
    found = (await engine.orders(token, limit=1, client_order_id=client_order_id)).items
    if not found:
        try:
            return await get_order(client_order_id, engine, token)
        except errors.ValidationError:
            raise errors.NotFound("order not found", {"client_order_id": client_order_id}) from None
    return _order(found[0])


@router.get("/orders/{order_id}")
async def get_order(order_id: str, engine: EngineDep, token: Credential) -> dict[str, Any]:
    return _order(await engine.get_order(token, order_number(order_id)))


@router.delete("/orders/{order_id}", status_code=status.HTTP_204_NO_CONTENT)
async def cancel_order(order_id: str, engine: EngineDep, token: Credential) -> Response:
    """Cancel an open order: 204; 422 if it filled, expired or was canceled already."""
    await engine.cancel_order(token, order_number(order_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/orders")
async def cancel_orders(engine: EngineDep, token: Credential) -> JSONResponse:
    """Cancel every open order: 207 with each one's id, status and order."""
    canceled = await engine.cancel_orders(token)
    return JSONResponse([{"id": str(number_id(o.id)), "status": 200, "body": _order(o)} for o in canceled],
                        status_code=status.HTTP_207_MULTI_STATUS)


for _route in router.routes:  # metrics and logs label a request by its template (no `:path`)
    if isinstance(_route, APIRoute):
        _route.path = _route.path_format
