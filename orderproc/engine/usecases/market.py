"""Assets and prices: the listing, one asset, quotes, price history, the quote stream. No
session needed; prices come from the context's market (a pure function of time)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from orderproc.engine import errors
from orderproc.engine.catalog import (
    ASSET_SORT_FIELDS,
    BAR_INTERVAL_MAX,
    BAR_INTERVAL_MIN,
    CANDLES_MAX,
    CHART_RANGES,
    bar_offset,
)
from orderproc.engine.schemas import Asset, Candles, PricePoint, Quote
from orderproc.engine.usecases import mapping
from orderproc.engine.usecases.checks import check_type
from orderproc.engine.usecases.context import Context

SORT_KEYS: dict[str, Callable[[Asset], Any]] = {
    "rank": lambda a: (a.rank is None, a.rank or 0, a.symbol),
    "symbol": lambda a: a.symbol,
    "name": lambda a: a.name.lower(),
    "price": lambda a: a.price,
    "change": lambda a: a.change_24h,
    "category": lambda a: (a.category, a.rank or 0),
}


async def list_assets(ctx: Context, search: str | None, category: str | None, sort: str,
                      descending: bool) -> list[Asset]:
    if sort not in ASSET_SORT_FIELDS:
        raise errors.ValidationError(f"sort by one of: {', '.join(ASSET_SORT_FIELDS)}", {"field": "sort"})
    check_type(search, (str, type(None)), "search")
    check_type(category, (str, type(None)), "category")
    check_type(descending, bool, "descending")
    now = ctx.clock()
    needle = (search or "").strip().lower()[:64]
    chosen = [
        info
        for info in ctx.assets.values()
        if info.symbol in ctx.enabled
        and (not category or info.category == category.strip().lower())
        and (not needle or needle in info.symbol.lower() or needle in info.name.lower())
    ]
    found = await ctx.priced(lambda: [mapping.asset(ctx.market, info, now) for info in chosen])
    found.sort(key=SORT_KEYS[sort], reverse=descending)
    return found


async def get_asset(ctx: Context, symbol: str) -> Asset:
    return mapping.asset(ctx.market, ctx.asset(symbol), ctx.clock())


async def quote(ctx: Context, symbol: str) -> Quote:
    return mapping.quote(ctx.market, ctx.asset(symbol), ctx.clock())


async def quotes(ctx: Context, symbols: list[str] | None) -> list[Quote]:
    check_type(symbols, (list, tuple, type(None)), "symbols")
    now = ctx.clock()
    infos = [ctx.asset(s) for s in symbols] if symbols else [
        i for i in ctx.assets.values() if i.symbol in ctx.enabled
    ]
    return await ctx.priced(lambda: [mapping.quote(ctx.market, info, now) for info in infos])


async def price_history(ctx: Context, symbol: str, hours: int, points: int) -> list[PricePoint]:
    info = ctx.asset(symbol)
    if not (isinstance(hours, int) and isinstance(points, int)) or not (1 <= hours <= 24 * 365 and 1 <= points <= 1000):
        raise errors.ValidationError("hours must be 1-8760 and points 1-1000")
    now = ctx.clock()
    bars = await ctx.priced(lambda: ctx.market.history(info.symbol, now - hours * 3600, now, points))
    return [
        PricePoint(at=datetime.fromtimestamp(t, UTC), open=o, high=h, low=lo, close=c)
        for t, o, h, lo, c in bars
    ]


# Candle lengths a chart may use (seconds), shortest first: a range takes the shortest whose
# candles fit the limit (1h: 1 minute, 1d: 15 minutes, 1w: 2 hours, 1m: 6 hours, 1y: 1 week
# at the default 120; 1y: 1 day from 365).
CANDLE_INTERVALS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400, 604800)
# The price is sampled every this many seconds inside a candle: the shortest step that reads at
# most CANDLE_SAMPLES prices of it. It depends on the candle's length alone, so a candle is the
# same whichever request reads it (a chart's range, a bot's pages of bars); a chart's 120
# candles read at most about 3,900 prices (about 7 us each here: <= 28 ms, off the event loop,
# and on the Dashboard's way to its first usable frame), the most a request may ask for (500)
# about 16,000. 1-minute candles read every other second, 15-minute ones every 30 s, hours
# every 2 minutes, days every hour (steps that divide a day: the daily bars' own closes are
# among the samples).
SAMPLE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)
CANDLE_SAMPLES = 32


def candle_plan(chart_range: str, limit: int) -> tuple[int, int]:
    """(interval, count) of a range's candles, at most `limit` of them."""
    span = CHART_RANGES[chart_range]
    interval = next((i for i in CANDLE_INTERVALS if -(-span // i) <= limit), CANDLE_INTERVALS[-1])
    return interval, min(-(-span // interval), limit)


async def _candles(ctx: Context, symbol: str, interval: int, count: int, end: float, now: float) -> list[PricePoint]:
    """The last `count` candles of `interval` seconds starting at or before `end` (<= `now`):
    the one place that samples the price for candles (a chart's and a bot's alike)."""
    step = next((s for s in SAMPLE_STEPS if interval <= s * CANDLE_SAMPLES), SAMPLE_STEPS[-1])
    offset = bar_offset(interval)
    bars = await ctx.priced(lambda: ctx.market.candles(symbol, end, interval, count, step, offset, now))
    return [PricePoint(at=datetime.fromtimestamp(t, UTC), open=o, high=h, low=lo, close=c)
            for t, o, h, lo, c in bars]


def _check_limit(limit: object) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= CANDLES_MAX:
        raise errors.ValidationError(f"limit is a number of candles, 1-{CANDLES_MAX}", {"field": "limit"})


async def candles(ctx: Context, symbol: str, chart_range: str, limit: int) -> Candles:
    info = ctx.asset(symbol)
    if not isinstance(chart_range, str) or chart_range not in CHART_RANGES:
        raise errors.ValidationError(f"range is one of: {', '.join(CHART_RANGES)}", {"field": "range"})
    _check_limit(limit)
    interval, count = candle_plan(chart_range, limit)
    now = ctx.clock()
    return Candles(symbol=info.symbol, range=chart_range, interval=interval,
                   candles=await _candles(ctx, info.symbol, interval, count, now, now))


async def bars(ctx: Context, symbol: str, interval: int, end: datetime | None, limit: int) -> list[PricePoint]:
    """The last `limit` candles of `interval` seconds that start at or before `end` (default
    now; a later `end` is now: the market has no prices yet after it), and not before the unix
    epoch (the market's time starts there: fewer bars, or none, near or before 1970)."""
    info = ctx.asset(symbol)
    if (isinstance(interval, bool) or not isinstance(interval, int)
            or not BAR_INTERVAL_MIN <= interval <= BAR_INTERVAL_MAX or interval % 60):
        raise errors.ValidationError(f"interval is a whole number of minutes in seconds, {BAR_INTERVAL_MIN}-"
                                     f"{BAR_INTERVAL_MAX}", {"field": "interval"})
    _check_limit(limit)
    if end is not None and (not isinstance(end, datetime) or end.utcoffset() is None):
        raise errors.ValidationError("end is a time with its UTC offset", {"field": "end"})
    now = ctx.clock()
    at = now if end is None else min(end.timestamp(), now)
    count = min(limit, math.floor((at - bar_offset(interval)) / interval) + 1)  # the bars from 1970 on
    return await _candles(ctx, info.symbol, interval, count, at, now) if count > 0 else []


def check_interval(interval: float) -> None:
    """The quote stream's interval: a number of seconds, at most a day."""
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not 0 < interval <= 86400:
        raise errors.ValidationError("interval is a number of seconds, at most a day", {"field": "interval"})
