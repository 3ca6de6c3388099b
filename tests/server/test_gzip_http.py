"""Large answers come gzipped to a client that takes it; small ones, and the event streams, never."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from streaming_asgi import StreamingASGITransport

from orderproc.engine.service import LocalEngine
from orderproc.server.app import create_app
from orderproc.server.gateway import GZIP_MINIMUM
from server_helpers import QUIET, bearer, client


@pytest.fixture
async def http(engine: LocalEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with client(create_app(engine, QUIET)) as c:
        yield c


async def raw_get(http: httpx.AsyncClient, path: str, **headers: str) -> tuple[httpx.Response, bytes]:
    """An answer and its body as it came over the wire (not decoded)."""
    async with http.stream("GET", path, headers=headers) as response:
        return response, b"".join([chunk async for chunk in response.aiter_raw()])



async def test_the_asset_list_comes_gzipped_to_a_client_that_accepts_it_and_decodes_to_the_same_json(
    http: httpx.AsyncClient
) -> None:
    plain, plain_body = await raw_get(http, "/v1/assets", **{"Accept-Encoding": "identity"})
    zipped, zipped_body = await raw_get(http, "/v1/assets", **{"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip" and "accept-encoding" in zipped.headers["vary"].lower()
    assert int(zipped.headers["content-length"]) == len(zipped_body) < len(plain_body) / 4
    assert json.loads(gzip.decompress(zipped_body)) == json.loads(plain_body)
    assert len(plain_body) > 50_000


async def test_a_small_answer_is_not_compressed(http: httpx.AsyncClient, token: str) -> None:
    await http.post("/v1/cash/deposit", json={"amount": "100"}, headers=bearer(token))
    order = await http.post("/v1/orders", json={"symbol": "BTC", "side": "buy", "notional": "10"},
                            headers={**bearer(token), "Accept-Encoding": "gzip"})
    assert order.status_code == 201 and "content-encoding" not in order.headers
    assert len(order.content) < GZIP_MINIMUM
    answer, _ = await raw_get(http, "/healthz", **{"Accept-Encoding": "gzip"})
    assert "content-encoding" not in answer.headers


async def test_an_event_stream_is_never_compressed_and_still_streams(engine: LocalEngine) -> None:
    async with httpx.AsyncClient(transport=StreamingASGITransport(create_app(engine, QUIET)),
                                 base_url="http://orderproc.test") as http:
        async with http.stream("GET", "/v1/stream/quotes", params={"interval": 0.2},
                               headers={"Accept-Encoding": "gzip"}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert "content-encoding" not in response.headers
            lines = response.aiter_lines()  # an endless stream: its events come as they are sent
            seen = [await anext(lines) for _ in range(8)]
    assert seen.count("event: quotes") == 2
