"""Orders: place (market, limit, stop, stop-limit), list, read one, cancel one or all."""

from __future__ import annotations

from typing import Annotated

import pydantic
from fastapi import APIRouter, Path, Request, Response, status

from orderproc.engine import errors
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import Order, OrderPreview, OrderRequest, OrderStatus, Page
from orderproc.server.deps import EngineDep, Token, bearer_token
from orderproc.server.gateway import Metrics
from orderproc.server.routes.account import Limit, Offset

router = APIRouter(prefix="/v1", tags=["orders"])


# The hottest route reads its request itself (and app.py serves it through a plain Starlette
# route): FastAPI's parameter machinery (body model, header, dependencies), its request handler
# and its re-validation of the result cost more than the order (measured with
# bench/server_orders.py); the documentation says what FastAPI would have said.
_PLACE_ORDER_DOCS = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": OrderRequest.model_json_schema()}}},
    "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"},
                    "description": "Repeating a request with the same key has one effect"}],
    "security": [{"HTTPBearer": []}],
}


@router.post("/orders", status_code=status.HTTP_201_CREATED, response_model=Order, openapi_extra=_PLACE_ORDER_DOCS)
async def place_order(request: Request) -> Response:
    """A market order by `quantity` or USD `notional` (`price_limit` guards its fill price), or a
    limit, stop or stop-limit order by `quantity` that rests (gtc) or fills now or expires (ioc)."""
    engine: Engine = request.app.state.engine
    metrics: Metrics = request.app.state.metrics
    token = bearer_token(request.headers.get("authorization"))
    key = request.headers.get("idempotency-key")
    try:
        body = OrderRequest.model_validate_json(await request.body())
    except pydantic.ValidationError as exc:  # the model's own checks raise domain errors
        raise _invalid(exc) from None
    if key is not None:
        if body.client_order_id is not None and body.client_order_id != key:
            raise errors.ValidationError("Idempotency-Key and client_order_id differ", {"field": "client_order_id"})
        body = body.model_copy(update={"client_order_id": key})
    try:
        order = await engine.place_order(token, body)
    except errors.OrderprocError as exc:
        metrics.orders.labels(body.side.value, exc.code).inc()
        raise
    metrics.orders.labels(body.side.value, order.status.value).inc()
    # the engine's Order as it is: the hottest route skips FastAPI's re-validation of its result
    return Response(order.model_dump_json(), status_code=status.HTTP_201_CREATED, media_type="application/json")


def _invalid(exc: pydantic.ValidationError) -> errors.ValidationError:
    problem = exc.errors()[0]
    if problem["type"] == "json_invalid":
        return errors.ValidationError("the request body is not valid JSON")
    field = ".".join(str(part) for part in problem["loc"]) or None
    return errors.ValidationError(f"{field or 'body'}: {problem['msg']}", {"field": field})


OrderId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/orders")
async def orders(engine: EngineDep, token: Token, offset: Offset = 0, limit: Limit = 50,
                 symbol: str | None = None, status: OrderStatus | None = None,
                 open: bool | None = None) -> Page[Order]:
    """This user's orders, newest first: of one `symbol`, one `status`, or only `open` (resting)
    ones (`open=false`: the closed ones)."""
    return await engine.orders(token, offset=offset, limit=limit, symbol=symbol, status=status, open=open)


@router.delete("/orders")
async def cancel_orders(engine: EngineDep, token: Token, symbol: str | None = None) -> list[Order]:
    """Cancel every open order (of one `symbol`); the canceled orders, their reservations released."""
    return await engine.cancel_orders(token, symbol=symbol)


@router.post("/orders/preview")
async def preview_order(body: OrderRequest, engine: EngineDep, token: Token) -> OrderPreview:
    """What an order would do now (its fill's receipt: price, spread, slippage, fee; or what it
    would reserve while resting), without placing it."""
    return await engine.preview_order(token, body)


@router.get("/orders/{order_id}")
async def get_order(order_id: OrderId, engine: EngineDep, token: Token) -> Order:
    return await engine.get_order(token, order_id)


@router.delete("/orders/{order_id}")
async def cancel_order(order_id: OrderId, engine: EngineDep, token: Token) -> Order:
    """Cancel an open order (`order_not_open` if it has filled, expired or was canceled)."""
    return await engine.cancel_order(token, order_id)
