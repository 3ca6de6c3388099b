"""Assets, quotes, price history and the live quote stream (server-sent events)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BeforeValidator, TypeAdapter

from orderproc.engine.catalog import (
    ASSET_SORT_FIELDS,
    BAR_INTERVAL_MAX,
    BAR_INTERVAL_MIN,
    CANDLES_DEFAULT,
    CANDLES_MAX,
    CHART_RANGES,
)
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import Asset, Candles, PricePoint, Quote
from orderproc.server import sse
from orderproc.server.deps import EngineDep
from orderproc.server.openapi import answers

router = APIRouter(prefix="/v1", tags=["assets"])

_QUOTES = TypeAdapter(list[Quote])
_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                      r"([Zz]|[+-][0-9]{2}:[0-9]{2})")
AssetSort = Literal[ASSET_SORT_FIELDS]  # type: ignore[valid-type]  # the engine's names, one list
ChartRange = Literal[tuple(CHART_RANGES)]  # type: ignore[valid-type]


@router.get("/assets")
async def list_assets(engine: EngineDep, search: str | None = None, category: str | None = None,
                      sort: AssetSort = "rank", descending: bool = False) -> list[Asset]:
    return await engine.list_assets(search=search, category=category, sort=sort, descending=descending)


@router.get("/assets/{symbol}", responses=answers(404))
async def get_asset(symbol: str, engine: EngineDep) -> Asset:
    return await engine.get_asset(symbol)


@router.get("/assets/{symbol}/history", responses=answers(404))
async def price_history(symbol: str, engine: EngineDep, hours: Annotated[int, Query(ge=1, le=24 * 365)] = 24,
                        points: Annotated[int, Query(ge=1, le=1000)] = 96) -> list[PricePoint]:
    return await engine.price_history(symbol, hours=hours, points=points)


@router.get("/assets/{symbol}/candles", responses=answers(404))
async def candles(
    symbol: str,
    engine: EngineDep,
    range: Annotated[ChartRange, Query(description="the time the chart spans: 1h, 1d, 1w, 1m (30 days), 1y")] = "1d",
    limit: Annotated[int, Query(ge=1, le=CANDLES_MAX, description="at most this many candles: "
                                "fewer, longer candles cover the range")] = CANDLES_DEFAULT,
) -> Candles:
    """OHLC candles of the asset's replayed price over `range`, oldest first. Each candle is
    `interval` seconds, the shortest of 1, 2, 5, 10, 15, 30 minutes, 1, 2, 4, 6, 12 hours, 1 day
    or 1 week that fits the range in `limit` candles (a 1y range at most 1 week each: the last
    `limit` weeks); candles start on multiples of it (weeks on Mondays, UTC), the last one is
    still forming and closes at the current price. Prices are decimal strings."""
    return await engine.candles(symbol, range=range, limit=limit)


def _instant(value: Any) -> Any:
    """A time as the schema says it (`format: date-time`, RFC 3339 with its offset), not any text
    pydantic makes a time of ("1700000000")."""
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise ValueError("a time is RFC 3339 with its offset, such as 2026-05-01T12:00:00Z")
    return value


@router.get("/assets/{symbol}/bars", responses=answers(404))
async def bars(
    symbol: str,
    engine: EngineDep,
    interval: Annotated[int, Query(ge=BAR_INTERVAL_MIN, le=BAR_INTERVAL_MAX, multiple_of=60,
                                   description="seconds each bar spans: a whole number of minutes, "
                                   "from a minute (60) to a week (604800)")],
    end: Annotated[AwareDatetime | None, BeforeValidator(_instant),
                   Query(description="the last bar starts at or before this time (RFC 3339 with its offset); "
                         "default and at most now")] = None,
    limit: Annotated[int, Query(ge=1, le=CANDLES_MAX, description="this many bars")] = CANDLES_DEFAULT,
) -> list[PricePoint]:
    """OHLC bars of the asset's replayed price, of any length and up to any time, oldest first:
    the last `limit` bars of `interval` seconds that start at or before `end`. A bar starts on a
    multiple of its interval since 1970-01-01T00:00:00Z (a week's on Monday 00:00 UTC); each is
    whole but the one forming now, which closes at the current price. Open and close are the
    prices at the bar's first and last second; high and low the extremes of about 30 prices
    evenly through it (a minute's every other second, an hour's every 2 minutes), so a bar is
    the same whichever request reads it. An `end` in the future is now; there are no bars before
    1970 (fewer than `limit` near it, none before it). Prices are decimal strings."""
    return await engine.bars(symbol, interval=interval, end=end, limit=limit)


@router.get("/quotes", responses=answers(404))
async def quotes(engine: EngineDep, symbols: Annotated[str | None, Query(max_length=4000)] = None) -> list[Quote]:
    wanted = [s for s in symbols.split(",") if s.strip()] if symbols else None
    return await engine.quotes(wanted)


@router.get("/quotes/{symbol}", responses=answers(404))
async def quote(symbol: str, engine: EngineDep) -> Quote:
    return await engine.quote(symbol)


class QuoteFeed:
    """The quotes once a second, serialised once however many clients stream them (once per
    choice of symbols)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._second = -1
        self._payloads: dict[tuple[str, ...], bytes] = {}
        self._lock = asyncio.Lock()

    async def payload(self, symbols: tuple[str, ...] = ()) -> bytes:
        """Every quote, or those of `symbols` (an unknown one raises `unknown_asset`)."""
        async with self._lock:
            second = int(time.time())
            if second != self._second:
                self._payloads.clear()
                self._second = second
            payload = self._payloads.get(symbols)
            if payload is None:
                payload = _QUOTES.dump_json(await self._engine.quotes(list(symbols) or None))
                if len(self._payloads) < 1000:
                    self._payloads[symbols] = payload
            return payload


@router.get("/stream/quotes", response_class=StreamingResponse,
            responses={200: {"content": {sse.MEDIA_TYPE: {}},
                             "description": "`event: quotes` with a JSON list of quotes as data, every interval"},
                       **answers(404)})
async def stream_quotes(
    request: Request,
    interval: Annotated[float, Query(ge=0.2, le=60)] = 1.0,
    count: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    symbols: Annotated[str | None, Query(max_length=4000, description="only these, e.g. BTC,ETH")] = None,
) -> StreamingResponse:
    """The quotes every `interval` seconds (of `symbols` only, if given): `id:` counts the
    events (on from a numeric `Last-Event-ID`), a `: keepalive` comment fills a long interval."""
    feed: QuoteFeed = request.app.state.quote_feed
    stopping: asyncio.Event = request.app.state.stopping
    wanted = tuple(dict.fromkeys(s.strip() for s in symbols.split(",") if s.strip())) if symbols else ()
    first = await feed.payload(wanted)  # errors (an unknown symbol) answer as errors, before the stream starts
    resumed = sse.last_event_id(request)
    start = int(resumed) if resumed is not None and resumed.isdigit() else 0

    async def events() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        payload, sent = first, 0
        while True:
            sent += 1
            yield sse.frame("quotes", payload, start + sent, first=sent == 1)
            if count is not None and sent >= count:
                return
            due = loop.time() + interval
            while (left := due - loop.time()) > 0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), min(left, sse.KEEPALIVE_SECONDS))
                if stopping.is_set():
                    return  # the server is stopping: the stream ends (a client reconnects elsewhere)
                if due - loop.time() > 0:
                    yield sse.KEEPALIVE
            payload = await feed.payload(wanted)

    return StreamingResponse(events(), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
