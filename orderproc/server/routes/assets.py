"""Assets, quotes, price history and the live quote stream (server-sent events)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter

from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import Asset, PricePoint, Quote
from orderproc.server.deps import EngineDep

router = APIRouter(prefix="/v1", tags=["assets"])

_QUOTES = TypeAdapter(list[Quote])


@router.get("/assets")
async def list_assets(engine: EngineDep, search: str | None = None, category: str | None = None,
                      sort: str = "rank", descending: bool = False) -> list[Asset]:
    return await engine.list_assets(search=search, category=category, sort=sort, descending=descending)


@router.get("/assets/{symbol}")
async def get_asset(symbol: str, engine: EngineDep) -> Asset:
    return await engine.get_asset(symbol)


@router.get("/assets/{symbol}/history")
async def price_history(symbol: str, engine: EngineDep, hours: Annotated[int, Query(ge=1, le=24 * 365)] = 24,
                        points: Annotated[int, Query(ge=2, le=2000)] = 96) -> list[PricePoint]:
    return await engine.price_history(symbol, hours=hours, points=points)


@router.get("/quotes")
async def quotes(engine: EngineDep, symbols: Annotated[str | None, Query(max_length=4000)] = None) -> list[Quote]:
    wanted = [s for s in symbols.split(",") if s.strip()] if symbols else None
    return await engine.quotes(wanted)


@router.get("/quotes/{symbol}")
async def quote(symbol: str, engine: EngineDep) -> Quote:
    return await engine.quote(symbol)


class QuoteFeed:
    """Every quote once a second, serialised once however many clients stream them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._second = -1
        self._payload = b""
        self._lock = asyncio.Lock()

    async def payload(self) -> bytes:
        async with self._lock:
            second = int(time.time())
            if second != self._second:
                self._payload = _QUOTES.dump_json(await self._engine.quotes())
                self._second = second
            return self._payload


@router.get("/stream/quotes", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "`event: quotes` with a JSON list of quotes as data, every interval"}})
async def stream_quotes(
    request: Request,
    interval: Annotated[float, Query(ge=0.2, le=60)] = 1.0,
    count: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> StreamingResponse:
    feed: QuoteFeed = request.app.state.quote_feed
    stopping: asyncio.Event = request.app.state.stopping
    first = await feed.payload()  # errors answer as errors, before the stream starts

    async def events() -> AsyncIterator[bytes]:
        payload, sent = first, 0
        while True:
            yield b"event: quotes\ndata: " + payload + b"\n\n"
            sent += 1
            if count is not None and sent >= count:
                return
            with suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval)
            if stopping.is_set():
                return  # the server is stopping: the stream ends (a client reconnects elsewhere)
            payload = await feed.payload()

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
