"""Alpaca's crypto market data, `/v1beta3/crypto/{feed}/...`: what alpaca-py's
`CryptoHistoricalDataClient(url_override=SERVER)` reads, from the ledger's replayed market.

No credentials needed (Alpaca's crypto data needs none); APCA headers are accepted and ignored.
Symbols are pairs (`symbols=BTC/USD,ETH/USD`), answered keyed as `BTC/USD`; an unknown one is
an error naming it (404, `{"code": 40410000, ...}`) rather than left out of the answer: a typo
in a bot should show. Prices and sizes are JSON numbers, as Alpaca sends them (a price has at
most 12 significant digits, which a binary float carries exactly).

Where the replayed market differs from an exchange's data: a quote's bid and ask are both the
ledger's price (the mid: a fill adds the spread and slippage of the ledger's settings), with
sizes 0; the latest trade is that price too, of size 0; bars have volume 0, no trades, and as
`vw` the average of open, high, low and close. Bars start on multiples of their length since
1970-01-01T00:00:00Z (a day's at 00:00 UTC, where Alpaca's start at midnight in Chicago; a
week's on Mondays); their open and close are the prices at the bar's first and last second,
high and low the extremes of about 30 prices evenly through it (so a bar is the same on
whichever page). Not served: historical quotes and trades (`/quotes`, `/trades`), order books,
month bars.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from orderproc.engine import errors
from orderproc.engine.catalog import CANDLES_MAX, bar_offset
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import PricePoint, Quote
from orderproc.server.alpaca.common import AlpacaRoute, base_symbol, pair, when
from orderproc.server.deps import EngineDep

FEEDS = ("us",)  # alpaca-py's CryptoFeed: one market here, whichever feed
PAGE_DEFAULT, PAGE_MAX = 1000, 10000  # `limit`: bars in one page, over every symbol (Alpaca's bounds)
# A page holds at most this many bars however large the limit (Alpaca's pages too may hold fewer
# than the limit; its clients follow next_page_token): about 0.2 s of sampling prices, which
# holds the interpreter, so one request never stalls the others for long
PAGE_MOST = 1000
# Alpaca's timeframes: 1-59Min (or T), 1-23Hour (H), 1Day (D), 1Week (W); its Month (M) is not served
_TIMEFRAME = re.compile(r"([1-9][0-9]{0,2})(Min|T|Hour|H|Day|D|Week|W|Month|M)")
_UNITS = {"Min": (60, 59), "T": (60, 59), "Hour": (3600, 23), "H": (3600, 23), "Day": (86400, 1), "D": (86400, 1),
          "Week": (604800, 1), "W": (604800, 1)}

Symbols = Annotated[str, Query(max_length=4000, description="pairs, comma-separated: BTC/USD,ETH/USD")]


def _feed(feed: str) -> None:
    """The path's feed: only ours (alpaca-py's default, `us`); every route's, checked first."""
    if feed not in FEEDS:
        raise errors.NotFound(f"no crypto feed {feed!r}: this server has {', '.join(FEEDS)}", {"field": "feed"})


router = APIRouter(prefix="/v1beta3/crypto/{feed}", route_class=AlpacaRoute, include_in_schema=False,
                   tags=["alpaca"], dependencies=[Depends(_feed)])


def _symbols(text: str) -> list[str]:
    """Our symbols of the pairs in `text`, each once, in the order given."""
    symbols = list(dict.fromkeys(base_symbol(part) for part in text.split(",") if part.strip()))
    if not symbols:
        raise errors.ValidationError("symbols is a list of pairs such as BTC/USD,ETH/USD", {"field": "symbols"})
    return symbols


async def _quotes(engine: Engine, symbols: list[str]) -> list[Quote]:
    """The quotes of `symbols`; an unknown one is `unknown_asset` naming its pair."""
    try:
        return await engine.quotes(symbols)
    except errors.UnknownAsset as exc:
        named = pair(str(exc.details.get("symbol", "")).upper())
        raise errors.UnknownAsset(f"unknown symbol: {named}", {"symbol": named}) from None


def _quote(quote: Quote) -> dict[str, Any]:
    price = float(quote.price)
    return {"t": when(quote.at), "bp": price, "bs": 0, "ap": price, "as": 0}


def _trade(quote: Quote) -> dict[str, Any]:
    # the id is the price's second: the same while the price holds, larger once it moved
    return {"t": when(quote.at), "p": float(quote.price), "s": 0, "i": int(quote.at.timestamp()), "tks": "B"}


def _bar(bar: PricePoint) -> dict[str, Any]:
    average = (bar.open + bar.high + bar.low + bar.close) / 4
    return {"t": when(bar.at), "o": float(bar.open), "h": float(bar.high), "l": float(bar.low),
            "c": float(bar.close), "v": 0, "n": 0, "vw": float(average)}


@router.get("/latest/quotes")
async def latest_quotes(symbols: Symbols, engine: EngineDep) -> JSONResponse:
    """The latest quote of each pair: bid and ask are both the ledger's price (the mid; a fill
    adds the spread and slippage of the ledger's settings), sizes 0."""
    quotes = await _quotes(engine, _symbols(symbols))
    return JSONResponse({"quotes": {pair(q.symbol): _quote(q) for q in quotes}})


@router.get("/latest/trades")
async def latest_trades(symbols: Symbols, engine: EngineDep) -> JSONResponse:
    """The ledger's price of each pair as a trade of size 0 (`i`: the price's unix second, `tks`
    always B)."""
    quotes = await _quotes(engine, _symbols(symbols))
    return JSONResponse({"trades": {pair(q.symbol): _trade(q) for q in quotes}})


@router.get("/latest/bars")
async def latest_bars(symbols: Symbols, engine: EngineDep) -> JSONResponse:
    """The minute bar forming now of each pair (it closes at the price now)."""
    quotes = await _quotes(engine, _symbols(symbols))
    minutes = await asyncio.gather(*(engine.bars(q.symbol, interval=60, limit=1) for q in quotes))
    return JSONResponse({"bars": {pair(q.symbol): _bar(bars[-1]) for q, bars in zip(quotes, minutes)}})


@router.get("/snapshots")
async def snapshots(symbols: Symbols, engine: EngineDep) -> JSONResponse:
    """Each pair's latest trade and quote, the minute bar and the day's bar forming now, and the
    day's before (days from 00:00 UTC)."""
    quotes = await _quotes(engine, _symbols(symbols))
    minutes = await asyncio.gather(*(engine.bars(q.symbol, interval=60, limit=1) for q in quotes))
    days = await asyncio.gather(*(engine.bars(q.symbol, interval=86400, limit=2) for q in quotes))
    return JSONResponse({"snapshots": {
        pair(q.symbol): {"latestTrade": _trade(q), "latestQuote": _quote(q), "minuteBar": _bar(minute[-1]),
                         "dailyBar": _bar(day[-1]), "prevDailyBar": _bar(day[-2])}
        for q, minute, day in zip(quotes, minutes, days)}})


def _interval(timeframe: str) -> int:
    """The seconds of an Alpaca timeframe (`5Min`, `1Hour`, `1Day`, `1Week`)."""
    match = _TIMEFRAME.fullmatch(timeframe.strip())
    if match is None:
        raise errors.ValidationError(f"invalid timeframe {timeframe!r}: 1-59Min, 1-23Hour, 1Day or 1Week",
                                     {"field": "timeframe"})
    amount, unit = int(match[1]), match[2]
    if unit in ("Month", "M"):
        raise errors.ValidationError("month bars are not served here (months differ in length): use 1Week or 1Day",
                                     {"field": "timeframe"})
    seconds, most = _UNITS[unit]
    if amount > most:
        raise errors.ValidationError(f"invalid timeframe {timeframe!r}: {unit} bars of 1-{most}",
                                     {"field": "timeframe"})
    return amount * seconds


def _token(symbol: str, start: int) -> str:
    """The page token of the page that begins with `symbol`'s bar starting at `start`."""
    return base64.urlsafe_b64encode(f"{pair(symbol)}|{start}".encode()).decode()


def _resume(token: str, symbols: list[str]) -> tuple[int, int]:
    """(index of the symbol, start of its bar) a page token resumes at."""
    try:
        named, _, start = base64.urlsafe_b64decode(token.encode()).decode().partition("|")
        return symbols.index(base_symbol(named)), int(start)
    except (ValueError, binascii.Error, UnicodeError, errors.OrderprocError):
        raise errors.ValidationError("page_token is not one this request's previous page gave",
                                     {"field": "page_token"}) from None


async def _run(engine: Engine, symbol: str, interval: int, first: int, count: int) -> list[PricePoint]:
    """`count` bars of `symbol` from the one starting at `first`, oldest first (the engine's
    answers are at most CANDLES_MAX bars: asked for in turn)."""
    bars: list[PricePoint] = []
    while count:
        part = min(count, CANDLES_MAX)
        last = first + (part - 1) * interval
        bars += await engine.bars(symbol, interval=interval, end=datetime.fromtimestamp(last, UTC), limit=part)
        first, count = last + interval, count - part
    return bars


@router.get("/bars")
async def bars(
    symbols: Symbols,
    timeframe: str,
    engine: EngineDep,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
    sort: Literal["asc", "desc"] = "asc",
    page_token: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    """The bars of each pair of `timeframe` that start from `start` (default: today, 00:00 UTC)
    to `end` (default and at most now), oldest first (`sort=desc`: newest first), a pair's after
    another's. A page holds at most `limit` bars over every pair (and at most PAGE_MOST);
    `next_page_token` (opaque) asks for the next page, null on the last. A pair with no bar in
    the page is left out of it."""
    interval = _interval(timeframe)
    quotes = await _quotes(engine, _symbols(symbols))
    wanted, now = [q.symbol for q in quotes], quotes[0].at.timestamp()  # the engine's clock
    since = max(start.timestamp(), 0) if start else math.floor(now / 86400) * 86400  # no bar before 1970
    until = min(end.timestamp(), now) if end else now
    if end and start and end < start:
        raise errors.ValidationError("end is before start", {"field": "end"})
    offset = bar_offset(interval)
    first = math.ceil((since - offset) / interval) * interval + offset
    last = math.floor((until - offset) / interval) * interval + offset
    if first > last:
        return JSONResponse({"bars": {}, "next_page_token": None})
    ascending = sort == "asc"
    head, way = (first, interval) if ascending else (last, -interval)  # a pair's first bar in order, the way on
    index, at = _resume(page_token, wanted) if page_token else (0, head)
    page: dict[str, list[dict[str, Any]]] = {}
    room = min(limit, PAGE_MOST)
    for symbol in wanted[index:]:
        if room == 0:
            return JSONResponse({"bars": page, "next_page_token": _token(symbol, at)})
        at = min(max(at, first), last)
        left = (last - at if ascending else at - first) // interval + 1
        count = min(left, room)
        run = await _run(engine, symbol, interval, at if ascending else at - (count - 1) * interval, count)
        page[pair(symbol)] = [_bar(b) for b in (run if ascending else reversed(run))]
        room -= count
        if count < left:
            return JSONResponse({"bars": page, "next_page_token": _token(symbol, at + count * way)})
        at = head
    return JSONResponse({"bars": page, "next_page_token": None})
