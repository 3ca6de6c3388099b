"""Alpaca's crypto market data on `orderproc serve`: alpaca-py's own CryptoHistoricalDataClient
(`url_override`), unmodified, against a real server reads the ledger's market; the pages, the
timeframes and the errors also in-process on a fixed clock (and the `/v1` bars route's own
validation)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.data.historical.crypto import CryptoHistoricalDataClient
from alpaca.data.requests import (
    CryptoBarsRequest,
    CryptoLatestBarRequest,
    CryptoLatestQuoteRequest,
    CryptoLatestTradeRequest,
    CryptoSnapshotRequest,
)
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from conftest import Clock
from serve_support import free_port, serving
from server_helpers import QUIET, client, code

from orderproc.engine.service import LocalEngine
from orderproc.server.app import create_app

DATA = "/v1beta3/crypto/us"
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def _number(text: str) -> float:
    """A decimal string of the `/v1` API as the JSON number Alpaca's answers carry."""
    return float(Decimal(text))


def _exact(number: float) -> Decimal:
    """The decimal a JSON number of at most 15 significant digits (every price here) was written as."""
    return Decimal(repr(number))


def _ohlc(bar: Any) -> tuple[float, float, float, float]:
    return bar.open, bar.high, bar.low, bar.close


# -- alpaca-py against a real server -------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One `orderproc serve` on a new ledger (the world's market) for the whole module."""
    home = tmp_path_factory.mktemp("alpaca-data")
    with serving(home / "ledger.db", free_port(), home / "server", home / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def data(served: str) -> CryptoHistoricalDataClient:
    return CryptoHistoricalDataClient(url_override=served)


@pytest.fixture(scope="module")
def http(served: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served) as session:
        yield session


def test_the_latest_quotes_of_pairs_are_the_ledgers_prices_at_that_moment(
    data: CryptoHistoricalDataClient, http: httpx.Client
) -> None:
    # the replayed price moves each second: a quote read between two of ours that saw the same
    # prices less than a second apart (at most one change between them, to the same price) has it
    for _ in range(30):
        before = http.get("/v1/quotes", params={"symbols": "BTC,ETH"}).json()
        got = data.get_crypto_latest_quote(CryptoLatestQuoteRequest(symbol_or_symbols=["BTC/USD", "ETH/USD"]))
        after = http.get("/v1/quotes", params={"symbols": "BTC,ETH"}).json()
        first, last = (datetime.fromisoformat(q[0]["at"]) for q in (before, after))
        if [q["price"] for q in before] == [q["price"] for q in after] and last - first < timedelta(seconds=1):
            break
    else:
        pytest.fail("the prices never held still across one request")
    assert sorted(got) == ["BTC/USD", "ETH/USD"]
    for ours, pair in zip(before, ("BTC/USD", "ETH/USD"), strict=True):
        quote = got[pair]
        assert quote.bid_price == quote.ask_price == _number(ours["price"])
        assert quote.bid_size == quote.ask_size == 0
        assert first <= quote.timestamp <= last


def test_hourly_bars_over_a_day_are_whole_hours_and_the_ledgers_own_bars(
    data: CryptoHistoricalDataClient, http: httpx.Client
) -> None:
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - HOUR  # the last whole hour
    start = end - 23 * HOUR
    request = CryptoBarsRequest(symbol_or_symbols="BTC/USD", timeframe=TimeFrame.Hour, start=start, end=end)
    bars = data.get_crypto_bars(request)["BTC/USD"]
    assert [b.timestamp for b in bars] == [start + i * HOUR for i in range(24)]
    assert all(b.low <= min(b.open, b.close) and max(b.open, b.close) <= b.high for b in bars)
    assert all((b.volume, b.trade_count, b.vwap) == (0, 0, float(sum(map(_exact, _ohlc(b))) / 4)) for b in bars)
    ours = http.get("/v1/assets/BTC/bars", params={"interval": 3600, "end": end.isoformat(), "limit": 24}).json()
    assert [(datetime.fromisoformat(p["at"]), *map(_number, (p["open"], p["high"], p["low"], p["close"])))
            for p in ours] == [(b.timestamp, *_ohlc(b)) for b in bars]


def test_bars_start_today_at_midnight_utc_and_end_with_the_one_forming_now(data: CryptoHistoricalDataClient) -> None:
    before = datetime.now(UTC)
    bars = data.get_crypto_bars(CryptoBarsRequest(symbol_or_symbols="ETH/USD", timeframe=TimeFrame.Hour))["ETH/USD"]
    after = datetime.now(UTC)
    midnights = {t.replace(hour=0, minute=0, second=0, microsecond=0) for t in (before, after)}
    assert bars[0].timestamp in midnights
    assert all(b.timestamp - a.timestamp == HOUR for a, b in zip(bars, bars[1:]))
    assert before - HOUR < bars[-1].timestamp <= after


def test_bars_beyond_one_page_come_whole_pair_after_pair_in_order_without_duplicates(
    data: CryptoHistoricalDataClient, http: httpx.Client
) -> None:
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    start = end - 12 * HOUR + timedelta(minutes=1)  # 720 minutes a pair: 1440 bars, over a page of 1000
    request = CryptoBarsRequest(symbol_or_symbols=["BTC/USD", "ETH/USD"], timeframe=TimeFrame.Minute,
                                start=start, end=end)
    got = data.get_crypto_bars(request)  # asks for pages of up to 10000 bars
    for pair in ("BTC/USD", "ETH/USD"):
        assert [b.timestamp for b in got[pair]] == [start + timedelta(minutes=i) for i in range(720)]
    first = http.get(f"{DATA}/bars", params={"symbols": "BTC/USD,ETH/USD", "timeframe": "1Min", "limit": 10000,
                                             "start": start.isoformat(), "end": end.isoformat()}).json()
    assert first["next_page_token"] and [len(b) for b in first["bars"].values()] == [720, 280]
    limited = data.get_crypto_bars(CryptoBarsRequest(**{**dict(request), "limit": 1300}))
    assert limited["BTC/USD"] == got["BTC/USD"] and limited["ETH/USD"] == got["ETH/USD"][:580]


def test_bars_sorted_descending_are_the_ascending_ones_newest_first(data: CryptoHistoricalDataClient) -> None:
    now = datetime.now(UTC)
    end = now.replace(minute=now.minute // 5 * 5, second=0, microsecond=0) - HOUR
    asked = {"symbol_or_symbols": "BTC/USD", "timeframe": TimeFrame(5, TimeFrameUnit.Minute), "start": end - 2 * HOUR,
             "end": end}
    ascending = data.get_crypto_bars(CryptoBarsRequest(**asked))["BTC/USD"]
    descending = data.get_crypto_bars(CryptoBarsRequest(**asked, sort=Sort.DESC))["BTC/USD"]
    assert len(ascending) == 25 and descending == ascending[::-1]


def test_latest_trades_bars_and_snapshots_read_as_alpacas_models_whatever_keys_are_sent(served: str) -> None:
    data = CryptoHistoricalDataClient(api_key="PKNOTAKEYATALL000000", secret_key="ignored", url_override=served)
    trade = data.get_crypto_latest_trade(CryptoLatestTradeRequest(symbol_or_symbols="BTC/USD"))["BTC/USD"]
    assert trade.size == 0 and trade.price > 0 and trade.id == math.floor(trade.timestamp.timestamp())
    bar = data.get_crypto_latest_bar(CryptoLatestBarRequest(symbol_or_symbols="BTC/USD"))["BTC/USD"]
    assert bar.timestamp.second == 0 and bar.low <= bar.close <= bar.high
    snapshot = data.get_crypto_snapshot(CryptoSnapshotRequest(symbol_or_symbols=["BTC/USD", "ETH/USD"]))["ETH/USD"]
    assert snapshot.latest_quote is not None and snapshot.latest_trade is not None
    assert snapshot.latest_trade.price == snapshot.latest_quote.bid_price == snapshot.latest_quote.ask_price
    minute = snapshot.latest_quote.timestamp.replace(second=0, microsecond=0)
    assert snapshot.minute_bar is not None and minute <= snapshot.minute_bar.timestamp <= minute + timedelta(minutes=1)
    assert snapshot.daily_bar is not None and snapshot.previous_daily_bar is not None
    assert snapshot.daily_bar.timestamp == snapshot.previous_daily_bar.timestamp + DAY
    assert snapshot.daily_bar.timestamp == snapshot.minute_bar.timestamp.replace(hour=0, minute=0)


def test_an_unknown_pair_is_alpacas_404_naming_it_and_month_bars_are_refused(data: CryptoHistoricalDataClient) -> None:
    with pytest.raises(APIError) as unknown:
        data.get_crypto_latest_quote(CryptoLatestQuoteRequest(symbol_or_symbols=["BTC/USD", "NOPE/USD"]))
    assert (unknown.value.status_code, unknown.value.code) == (404, 40410000)
    assert "NOPE/USD" in unknown.value.message
    with pytest.raises(APIError) as unknown_bars:
        data.get_crypto_bars(CryptoBarsRequest(symbol_or_symbols="NOPE/USD", timeframe=TimeFrame.Day))
    assert (unknown_bars.value.status_code, unknown_bars.value.code) == (404, 40410000)
    with pytest.raises(APIError) as months:
        data.get_crypto_bars(CryptoBarsRequest(symbol_or_symbols="BTC/USD", timeframe=TimeFrame.Month))
    assert (months.value.status_code, months.value.code) == (422, 42210000)


# -- in-process, on a fixed clock ----------------------------------------------------------------


@pytest.fixture
async def asgi(engine: LocalEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with client(create_app(engine, QUIET)) as http:
        yield http


async def _pages(asgi: httpx.AsyncClient, **query: Any) -> list[dict[str, Any]]:
    """Every page of a bars request, following next_page_token."""
    pages = [(await asgi.get(f"{DATA}/bars", params=query)).json()]
    while pages[-1]["next_page_token"]:
        pages.append((await asgi.get(f"{DATA}/bars", params={**query, "page_token": pages[-1]["next_page_token"]}))
                     .json())
    return pages


@pytest.mark.parametrize("sort", ["asc", "desc"])
async def test_small_pages_hold_the_bars_of_one_page_each_once_in_order(asgi: httpx.AsyncClient, sort: str) -> None:
    query = {"symbols": "BTC/USD,ETH/USD,DOGE/USD", "timeframe": "15Min", "start": "2026-05-28T12:00:00Z",
             "end": "2026-05-28T14:30:00Z", "sort": sort}
    (whole,) = await _pages(asgi, **query)
    assert [len(bars) for bars in whole["bars"].values()] == [11, 11, 11]
    times = [b["t"] for b in whole["bars"]["ETH/USD"]]
    assert times[0 if sort == "asc" else -1] == "2026-05-28T12:00:00Z"
    assert times == sorted(times, reverse=sort == "desc")
    pages = await _pages(asgi, **query, limit=4)
    assert [sum(map(len, p["bars"].values())) for p in pages] == [4] * 8 + [1]
    joined: dict[str, list[dict[str, Any]]] = {}
    for page in pages:
        for pair, bars in page["bars"].items():
            joined.setdefault(pair, []).extend(bars)
    assert joined == whole["bars"]


async def test_bars_end_now_however_late_the_end_asked_for_and_start_today(
    asgi: httpx.AsyncClient, clock: Clock
) -> None:
    later = (await asgi.get(f"{DATA}/bars", params={"symbols": "BTC/USD", "timeframe": "1Hour",
                                                    "end": "2099-01-01T00:00:00Z"})).json()
    bars = later["bars"]["BTC/USD"]
    midnight = math.floor(clock.now / 86400) * 86400
    assert [datetime.fromisoformat(b["t"]).timestamp() for b in bars] == list(range(midnight, int(clock.now), 3600))
    price = (await asgi.get("/v1/quotes/BTC")).json()["price"]
    assert bars[-1]["c"] == _number(price)
    since_1970 = await asgi.get(f"{DATA}/bars", params={"symbols": "BTC/USD", "timeframe": "1Day",
                                                        "start": "1969-12-30T00:00:00Z", "limit": 2})
    assert [b["t"] for b in since_1970.json()["bars"]["BTC/USD"]] == ["1970-01-01T00:00:00Z", "1970-01-02T00:00:00Z"]
    nothing_yet = await asgi.get(f"{DATA}/bars", params={"symbols": "BTC/USD", "timeframe": "1Hour",
                                                         "start": "2099-01-01T00:00:00Z"})
    assert nothing_yet.json() == {"bars": {}, "next_page_token": None}


@pytest.mark.parametrize(("timeframe", "seconds"), [("1Min", 60), ("5T", 300), ("59Min", 3540), ("4Hour", 14400),
                                                    ("23H", 82800), ("1Day", 86400), ("1D", 86400), ("1Week", 604800)])
async def test_each_alpaca_timeframe_is_bars_of_its_length(
    asgi: httpx.AsyncClient, timeframe: str, seconds: int
) -> None:
    answer = await asgi.get(f"{DATA}/bars", params={"symbols": "BTC/USD", "timeframe": timeframe,
                                                   "start": "2026-01-01T00:00:00Z", "limit": 5})
    starts = [datetime.fromisoformat(b["t"]) for b in answer.json()["bars"]["BTC/USD"]]
    assert len(starts) == 5 and all((b - a).total_seconds() == seconds for a, b in zip(starts, starts[1:]))
    if timeframe == "1Week":
        assert starts[0].weekday() == 0  # weeks start on Mondays


@pytest.mark.parametrize(("query", "status", "reason"), [
    ({"timeframe": "60Min"}, 422, "validation_error"), ({"timeframe": "24Hour"}, 422, "validation_error"),
    ({"timeframe": "2Day"}, 422, "validation_error"), ({"timeframe": "1Month"}, 422, "validation_error"),
    ({"timeframe": "hourly"}, 422, "validation_error"), ({"limit": "10001"}, 422, "validation_error"),
    ({"sort": "up"}, 422, "validation_error"), ({"page_token": "not-a-token"}, 422, "validation_error"),
    ({"start": "2026-05-02T00:00:00Z", "end": "2026-05-01T00:00:00Z"}, 422, "validation_error"),
    ({"symbols": "BTC/EUR"}, 404, "unknown_asset"),
    ({"symbols": " , "}, 422, "validation_error"),
])
async def test_a_bad_bars_request_is_answered_in_alpacas_error_shape(
    asgi: httpx.AsyncClient, query: dict[str, str], status: int, reason: str
) -> None:
    answer = await asgi.get(f"{DATA}/bars", params={"symbols": "BTC/USD", "timeframe": "1Hour", **query})
    assert answer.status_code == status
    assert answer.json() == {"code": status * 100000 + 10000, "message": answer.json()["message"], "reason": reason}


async def test_another_feed_is_not_found(asgi: httpx.AsyncClient) -> None:
    answer = await asgi.get("/v1beta3/crypto/global/latest/quotes", params={"symbols": "BTC/USD"})
    assert (answer.status_code, answer.json()["code"]) == (404, 40410000)


@pytest.mark.parametrize(("query", "field"), [
    ({"interval": "90"}, "interval"), ({}, "interval"), ({"interval": "604860"}, "interval"),
    ({"interval": "60", "limit": "501"}, "limit"), ({"interval": "60", "end": "2026-05-01T00:00:00"}, "end"),
    ({"interval": "60", "end": "yesterday"}, "end"), ({"interval": "60", "end": "1700000000"}, "end"),
])
async def test_a_bad_v1_bars_query_is_a_validation_error_naming_the_field(
    asgi: httpx.AsyncClient, query: dict[str, str], field: str
) -> None:
    answer = await asgi.get("/v1/assets/BTC/bars", params=query)
    assert (answer.status_code, code(answer), answer.json()["error"]["details"]["field"]) == (
        422, "validation_error", field)


async def test_v1_bars_of_an_unknown_asset_are_unknown_asset(asgi: httpx.AsyncClient) -> None:
    answer = await asgi.get("/v1/assets/NOPE/bars", params={"interval": 60})
    assert (answer.status_code, code(answer)) == (404, "unknown_asset")
