"""Market orders: place, list, read one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from orderproc.engine import errors
from orderproc.engine.schemas import Order, OrderRequest, Page
from orderproc.server.deps import EngineDep, IdempotencyKey, MetricsDep, Token
from orderproc.server.routes.account import Limit, Offset

router = APIRouter(prefix="/v1", tags=["orders"])


@router.post("/orders", status_code=status.HTTP_201_CREATED)
async def place_order(body: OrderRequest, engine: EngineDep, token: Token, metrics: MetricsDep,
                      key: IdempotencyKey = None) -> Order:
    """A market order by `quantity` or by USD `notional`; `price_limit` guards the fill price."""
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


@router.get("/orders")
async def orders(engine: EngineDep, token: Token, offset: Offset = 0, limit: Limit = 50,
                 symbol: str | None = None) -> Page[Order]:
    return await engine.orders(token, offset=offset, limit=limit, symbol=symbol)


@router.get("/orders/{order_id}")
async def get_order(order_id: Annotated[int, Path(ge=1, le=2**63 - 1)], engine: EngineDep, token: Token) -> Order:
    return await engine.get_order(token, order_id)
