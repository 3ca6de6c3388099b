"""The live quote stream over server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from orderproc.engine.service import LocalEngine
from orderproc.server import sse
from orderproc.server.app import create_app
from server_helpers import QUIET, client, code


@pytest.fixture
async def http(engine: LocalEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with client(create_app(engine, QUIET)) as c:
        yield c


def events(text: str) -> list[tuple[str, str]]:
    """(event, data) of each server-sent event of a finished stream (comments left out)."""
    found = []
    for block in text.split("\n\n"):
        if not block.strip() or block.startswith(":"):
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        found.append((fields["event"], fields["data"]))
    return found


async def test_the_quote_stream_sends_count_events_of_every_quote_then_ends(
    engine: LocalEngine, http: httpx.AsyncClient
) -> None:
    answer = await http.get("/v1/stream/quotes", params={"count": 2, "interval": 0.2})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.text.endswith("\n\n")

    sent = events(answer.text)
    assert [name for name, _ in sent] == ["quotes", "quotes"]
    symbols = {quote.symbol for quote in await engine.quotes()}
    for _, data in sent:
        quotes = json.loads(data)
        assert isinstance(quotes, list)
        assert {quote["symbol"] for quote in quotes} == symbols
        for quote in quotes:
            assert isinstance(quote["price"], str)
            assert Decimal(quote["price"]) > 0
            assert "E" not in quote["price"].upper()


async def test_a_stream_of_one_event_sends_one(http: httpx.AsyncClient) -> None:
    answer = await http.get("/v1/stream/quotes", params={"count": 1})
    assert [name for name, _ in events(answer.text)] == ["quotes"]


@pytest.mark.parametrize("query", [{"interval": 0}, {"interval": 0.1}, {"interval": -1}, {"interval": 61},
                                   {"count": 0}, {"interval": "soon"}], ids=str)
async def test_a_stream_with_an_unusable_interval_or_count_answers_422(
    http: httpx.AsyncClient, query: dict[str, int | float | str]
) -> None:
    answer = await http.get("/v1/stream/quotes", params={"count": 1, **query})
    assert answer.status_code == 422
    assert code(answer) == "validation_error"
    assert answer.headers["content-type"].startswith("application/json")


# -- the event format: ids, retry, keepalive; a choice of symbols ------------------------------------


def blocks(text: str) -> list[list[str]]:
    """The lines of each block (an event or a comment) of a finished stream."""
    return [block.splitlines() for block in text.split("\n\n") if block.strip()]


async def test_each_quote_event_has_an_id_counting_up_and_the_first_says_retry(http: httpx.AsyncClient) -> None:
    answer = await http.get("/v1/stream/quotes", params={"count": 3, "interval": 0.2})
    first, second, third = blocks(answer.text)
    assert first[:3] == [f"retry: {sse.RETRY_MS}", "id: 1", "event: quotes"]
    assert second[:2] == ["id: 2", "event: quotes"] and third[:2] == ["id: 3", "event: quotes"]


async def test_a_reconnecting_client_s_ids_carry_on_from_its_last_event_id(http: httpx.AsyncClient) -> None:
    answer = await http.get("/v1/stream/quotes", params={"count": 2, "interval": 0.2},
                            headers={"Last-Event-ID": "41"})
    first, second = blocks(answer.text)
    assert (first[1], second[0]) == ("id: 42", "id: 43")
    for sent in ("garbage", "-3", "4" * 200):
        ignored = await http.get("/v1/stream/quotes", params={"count": 1}, headers={"Last-Event-ID": sent})
        assert blocks(ignored.text)[0][1] == "id: 1"


async def test_an_idle_stretch_of_the_stream_carries_keepalive_comments(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sse, "KEEPALIVE_SECONDS", 0.05)
    answer = await http.get("/v1/stream/quotes", params={"count": 2, "interval": 0.3})
    found = blocks(answer.text)
    assert found[0][-2] == "event: quotes" and found[-1][-2] == "event: quotes"
    comments = found[1:-1]
    assert comments and all(block == [": keepalive"] for block in comments)
    assert [name for name, _ in events(answer.text)] == ["quotes", "quotes"]


async def test_the_quote_stream_sends_only_the_symbols_asked_for(http: httpx.AsyncClient) -> None:
    answer = await http.get("/v1/stream/quotes", params={"count": 2, "interval": 0.2, "symbols": "ETH, BTC,ETH,"})
    assert answer.status_code == 200
    for _, data in events(answer.text):
        assert [quote["symbol"] for quote in json.loads(data)] == ["ETH", "BTC"]


@pytest.mark.parametrize("symbols", ["NOPE", "BTC,NOPE"])
async def test_an_unknown_symbol_answers_404_unknown_asset_before_any_event(
    http: httpx.AsyncClient, symbols: str
) -> None:
    answer = await http.get("/v1/stream/quotes", params={"count": 1, "symbols": symbols})
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/json")
    assert code(answer) == "unknown_asset"
    assert "NOPE" in answer.json()["error"]["message"]
