"""The live quote stream over server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from orderproc.engine.service import LocalEngine
from orderproc.server.app import create_app
from server_helpers import QUIET, client, code


@pytest.fixture
async def http(engine: LocalEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with client(create_app(engine, QUIET)) as c:
        yield c


def events(text: str) -> list[tuple[str, str]]:
    """(event, data) of each server-sent event of a finished stream."""
    found = []
    for block in text.split("\n\n"):
        if not block.strip():
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
