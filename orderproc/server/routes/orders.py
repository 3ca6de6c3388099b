"""Orders: place (market, limit, stop, stop-limit), list, read one, cancel one or all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.routing import APIRoute

from orderproc.engine import errors, wire
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import Order, OrderPreview, OrderRequest, OrderStatus, Page
from orderproc.server.deps import (
    EngineDep, IdempotencyKey, MetricsDep, OrderBody, Token, bearer_token, check_key, read_json)
from orderproc.server.gateway import Metrics
from orderproc.server.openapi import answers
from orderproc.server.routes.account import Limit, Offset

router = APIRouter(prefix="/v1", tags=["orders"])


# the placed order's id is what GET /v1/orders/{order_id} takes: a link for generated clients
# and for a fuzzer's sequences of calls
_PLACED = {status.HTTP_201_CREATED: {"description": "The order, filled, resting or expired", "links": {
    "GetOrder": {"operationId": "get_order_v1_orders__order_id__get", "parameters": {"order_id": "$response.body#/id"}},
}}}


# The hottest route reads its request itself, and app.py serves it through a plain Starlette
# route in front of FastAPI's (which documents it, and would answer the same): FastAPI's
# parameter machinery, its request handler and its re-validation of the result cost more than
# the order (measured with bench/server_orders.py).
@router.post("/orders", status_code=status.HTTP_201_CREATED, responses={**_PLACED, **answers(404, 409)},
             summary="Place Order", operation_id="place_order_v1_orders_post")
async def documented_place_order(body: OrderBody, engine: EngineDep, token: Token, metrics: MetricsDep,
                                 key: IdempotencyKey = None) -> Order:
    """A market order by `quantity` or USD `notional` (`price_limit` guards its fill price), or a
    limit, stop or stop-limit order by `quantity` that rests (gtc) or fills now or expires (ioc)."""
    return await _placed(engine, metrics, token, key, body)


async def place_order(request: Request) -> Response:
    """POST /v1/orders without FastAPI (app.py's plain route): the same checks and answers."""
    engine: Engine = request.app.state.engine
    metrics: Metrics = request.app.state.metrics
    token = bearer_token(request.headers.get("authorization"))
    key = check_key(request.headers.get("idempotency-key"))
    order = await _placed(engine, metrics, token, key, await read_json(request, OrderRequest))
    # the engine's Order as it is: the hottest route skips FastAPI's re-validation of its result
    return Response(order.model_dump_json(), status_code=status.HTTP_201_CREATED, media_type="application/json")


async def _placed(engine: Engine, metrics: Metrics, token: str, key: str | None, body: OrderRequest) -> Order:
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
    return order


OrderId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ClientOrderId = Annotated[str | None, Query(pattern=wire.KEY_PATTERN)]


@router.get("/orders", responses=answers(404))
async def orders(engine: EngineDep, token: Token, offset: Offset = 0, limit: Limit = 50,
                 symbol: str | None = None, status: OrderStatus | None = None,
                 open: bool | None = None, client_order_id: ClientOrderId = None) -> Page[Order]:
    """This user's orders, newest first: of one `symbol`, one `status`, or only `open` (resting)
    ones (`open=false`: the closed ones), or the one placed with `client_order_id`."""
    return await engine.orders(token, offset=offset, limit=limit, symbol=symbol, status=status, open=open,
                               client_order_id=client_order_id)


@router.delete("/orders", responses=answers(404))
async def cancel_orders(engine: EngineDep, token: Token, symbol: str | None = None) -> list[Order]:
    """Cancel every open order (of one `symbol`); the canceled orders, their reservations released."""
    return await engine.cancel_orders(token, symbol=symbol)


@router.post("/orders/preview", responses=answers(404))
async def preview_order(body: OrderBody, engine: EngineDep, token: Token) -> OrderPreview:
    """What an order would do now (its fill's receipt: price, spread, slippage, fee; or what it
    would reserve while resting), without placing it."""
    return await engine.preview_order(token, body)


# `:int`: a path that is no number is no order (and /v1/orders/preview no GET of one)
@router.get("/orders/{order_id:int}", responses=answers(404))
async def get_order(order_id: OrderId, engine: EngineDep, token: Token) -> Order:
    return await engine.get_order(token, order_id)


@router.delete("/orders/{order_id:int}", responses=answers(404, 409))
async def cancel_order(order_id: OrderId, engine: EngineDep, token: Token) -> Order:
    """Cancel an open order (`order_not_open` if it has filled, expired or was canceled)."""
    return await engine.cancel_order(token, order_id)


for _route in router.routes:  # metrics and logs label a request by its template, as documented (no `:int`)
    if isinstance(_route, APIRoute):
        _route.path = _route.path_format
