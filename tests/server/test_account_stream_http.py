"""The account event stream over server-sent events: `GET /v1/stream/account`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from server_helpers import QUIET, bearer, code, sign_up
from streaming_asgi import StreamingASGITransport

from orderproc.engine.service import LocalEngine
from orderproc.engine.usecases import watch
from orderproc.server import sse
from orderproc.server.app import create_app


@pytest.fixture
async def app_and_http(engine: LocalEngine) -> AsyncIterator[tuple[object, httpx.AsyncClient]]:
    app = create_app(engine, QUIET)
    async with httpx.AsyncClient(transport=StreamingASGITransport(app), base_url="http://orderproc.test") as c:
        yield app, c


async def frames(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """(event, data) of each server-sent event as it comes; comments left out."""
    event, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif not line and event:
            yield event, data
            event, data = "", ""


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eA=="}],
                         ids=["none", "bad-token", "not-bearer"])
async def test_the_account_stream_needs_a_session_and_answers_401_with_the_error_envelope(
    app_and_http: tuple[object, httpx.AsyncClient], headers: dict[str, str]
) -> None:
    _, http = app_and_http
    answer = await http.get("/v1/stream/account", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["www-authenticate"] == "Bearer"
    assert code(answer) == "auth_required"
    assert set(answer.json()["error"]) == {"code", "message", "details"}


async def test_the_account_stream_sends_the_marks_at_once_then_what_changed(
    app_and_http: tuple[object, httpx.AsyncClient]
) -> None:
    _, http = app_and_http
    token = await sign_up(http, "alice")
    async with http.stream("GET", "/v1/stream/account", headers=bearer(token)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        events = frames(response)
        name, data = await anext(events)
        assert (name, json.loads(data)) == ("account", {"kinds": [], "entry": 0, "order": 0, "order_change": 0,
                                                        "ledger": 0, "alert": 0})
        deposit = await http.post("/v1/cash/deposit", json={"amount": "12.50"}, headers=bearer(token))
        assert deposit.status_code == 201
        name, data = await asyncio.wait_for(anext(events), 5)
        body = json.loads(data)
        assert name == "account"
        assert sorted(body["kinds"]) == ["balances", "leaderboard"] and body["entry"] == body["ledger"] > 0


async def test_a_session_that_ends_ends_its_stream_with_an_error_event(
    app_and_http: tuple[object, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch, "SESSION_CHECK_SECONDS", 0.1)
    _, http = app_and_http
    token = await sign_up(http, "alice")
    async with http.stream("GET", "/v1/stream/account", headers=bearer(token)) as response:
        events = frames(response)
        assert (await anext(events))[0] == "account"
        assert (await http.post("/v1/auth/logout", headers=bearer(token))).status_code == 204
        name, data = await asyncio.wait_for(anext(events), 5)
        assert name == "error" and json.loads(data)["error"]["code"] == "auth_required"
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(events), 5)  # and the stream ends


async def test_the_account_stream_ends_when_the_server_stops(app_and_http: tuple[object, httpx.AsyncClient]) -> None:
    app, http = app_and_http
    token = await sign_up(http, "alice")
    async with http.stream("GET", "/v1/stream/account", headers=bearer(token)) as response:
        events = frames(response)
        assert (await anext(events))[0] == "account"
        app.state.stopping.set()  # type: ignore[attr-defined]  # what SIGTERM sets
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(events), 2)


async def lines_until_event(response: httpx.Response) -> list[str]:
    """The lines of the stream up to the end of its first event."""
    found: list[str] = []
    async for line in response.aiter_lines():
        if not line and any(f.startswith("event: ") for f in found):
            return found
        found.append(line)
    return found


async def test_each_account_event_s_id_is_its_marks_and_the_first_says_retry(
    app_and_http: tuple[object, httpx.AsyncClient]
) -> None:
    _, http = app_and_http
    token = await sign_up(http, "alice")
    await http.post("/v1/cash/deposit", json={"amount": "5"}, headers=bearer(token))
    async with http.stream("GET", "/v1/stream/account", headers=bearer(token)) as response:
        first = await lines_until_event(response)
    assert first[0] == f"retry: {sse.RETRY_MS}"
    data = json.loads(first[3].removeprefix("data: "))
    assert first[1:3] == [f"id: {data['entry']}-{data['order']}-{data['order_change']}-{data['ledger']}-{data['alert']}",
                          "event: account"]
    assert data["entry"] > 0 and data["kinds"] == []


async def test_reconnecting_with_the_last_event_id_the_first_event_says_what_moved_meanwhile(
    app_and_http: tuple[object, httpx.AsyncClient]
) -> None:
    _, http = app_and_http
    token = await sign_up(http, "alice")
    async with http.stream("GET", "/v1/stream/account", headers=bearer(token)) as response:
        last_id = (await lines_until_event(response))[1].removeprefix("id: ")
    await http.post("/v1/cash/deposit", json={"amount": "5"}, headers=bearer(token))  # while away
    headers = {**bearer(token), "Last-Event-ID": last_id}
    async with http.stream("GET", "/v1/stream/account", headers=headers) as response:
        data = json.loads((await lines_until_event(response))[3].removeprefix("data: "))
    assert sorted(data["kinds"]) == ["balances", "leaderboard"]
    for unusable in ("1-2-3", "a-b-c-d", "x" * 300):  # taken as no id: the marks as they are
        async with http.stream("GET", "/v1/stream/account", headers={**bearer(token), "Last-Event-ID": unusable}) as r:
            assert json.loads((await lines_until_event(r))[-1].removeprefix("data: "))["kinds"] == []


async def test_an_idle_account_stream_sends_keepalive_comments(
    app_and_http: tuple[object, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sse, "KEEPALIVE_SECONDS", 0.05)
    _, http = app_and_http
    token = await sign_up(http, "alice")
    async with http.stream("GET", "/v1/stream/account", headers=bearer(token)) as response:
        lines = response.aiter_lines()
        while await anext(lines) != "":  # the first event
            pass
        assert await asyncio.wait_for(anext(lines), 2) == ": keepalive"
