"""What every request passes through: request ids, the rate and login limits, the body limit,
the error format of malformed requests, health, the API description and CORS."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import httpx
import pytest

import orderproc.server
from orderproc.engine.protocol import Engine
from orderproc.engine.service import LocalEngine
from orderproc.server.app import create_app
from server_helpers import PASSWORD, QUIET, bearer, captured_log, cash, client, code, error, quiet

GENERATED_ID = re.compile(r"[0-9a-f]{32}")

# the API table of orderproc/server/__init__.py: "    METHOD  /path  ..."
TABLE = re.findall(r"^\s{4}(GET|POST|PATCH|PUT|DELETE)\s+(/\S+)", orderproc.server.__doc__ or "", re.MULTILINE)


def test_the_api_table_is_read_from_the_package_docstring() -> None:
    assert len(TABLE) >= 27
    assert ("POST", "/v1/orders") in TABLE and ("GET", "/metrics") in TABLE


# -- request ids ---------------------------------------------------------------------------------

LIMITS = quiet(rate_limit=5, rate_burst=5, max_body_bytes=2048)
LIMITED = "/v1/quotes/BTC"  # a cheap public route (/healthz and /metrics are never rate limited)

Call = Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[httpx.Response]]


async def _rate_limited(http: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    for _ in range(5):
        await http.get(LIMITED)
    return await http.get(LIMITED, headers=headers)


ANSWERS: dict[int, Call] = {
    200: lambda http, headers: http.get("/healthz", headers=headers),
    401: lambda http, headers: http.get("/v1/me", headers=headers),
    404: lambda http, headers: http.get("/v1/nothing-here", headers=headers),
    405: lambda http, headers: http.delete("/v1/cash", headers=headers),
    413: lambda http, headers: http.post("/v1/auth/register", headers=headers,
                                         json={"username": "alice", "password": "x" * 4096}),
    422: lambda http, headers: http.post("/v1/auth/register", headers=headers, json={"username": "alice"}),
    429: _rate_limited,
}


@pytest.mark.parametrize("status", ANSWERS)
async def test_every_answer_carries_a_request_id_the_clients_if_sane(engine: LocalEngine, status: int) -> None:
    app = create_app(engine, LIMITS)
    async with client(app, ("10.0.0.1", 1)) as first, client(app, ("10.0.0.2", 1)) as second:
        echoed = await ANSWERS[status](first, {"X-Request-ID": "abc-123"})
        generated = await ANSWERS[status](second, {})
    assert echoed.status_code == generated.status_code == status
    assert echoed.headers["x-request-id"] == "abc-123"
    assert GENERATED_ID.fullmatch(generated.headers["x-request-id"])


class Failing:
    """The test ledger, but quotes fail the way a bug in the engine would."""

    def __init__(self, engine: LocalEngine) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    async def quotes(self, symbols: list[str] | None = None) -> Any:
        raise RuntimeError("internal detail 0xdeadbeef")


async def test_an_unexpected_error_answers_500_in_the_error_format_with_the_request_id(engine: LocalEngine) -> None:
    # the 500 body tells the client to quote X-Request-ID: the header must be there, and be
    # the id the request log has for this request
    app = create_app(cast(Engine, Failing(engine)), quiet(log_requests=True))
    with captured_log() as log:
        async with client(app, raise_app_exceptions=False) as http:
            answer = await http.get("/v1/quotes", headers={"X-Request-ID": "abc-123"})
    assert answer.status_code == 500
    assert code(answer) == "internal_error"
    assert "X-Request-ID" in error(answer)["message"]
    assert "0xdeadbeef" not in answer.text
    logged = [json.loads(line) for line in log.lines() if line.startswith("{")]
    assert [(entry["request_id"], entry["status"]) for entry in logged] == [("abc-123", 500)]
    assert answer.headers.get("x-request-id") == "abc-123"


async def test_each_request_without_an_id_gets_a_new_one(engine: LocalEngine) -> None:
    async with client(create_app(engine, QUIET)) as http:
        ids = {(await http.get("/healthz")).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize("sent", ["a" * 300, "a" * 129, "abc 123", " abc-123", "abc/123", "<script>", "a\"b", "ab;c"])
async def test_a_garbage_request_id_is_replaced_by_a_new_one(engine: LocalEngine, sent: str) -> None:
    async with client(create_app(engine, QUIET)) as http:
        answer = await http.get("/healthz", headers={"X-Request-ID": sent})
    assert answer.status_code == 200
    assert GENERATED_ID.fullmatch(answer.headers["x-request-id"])


@pytest.mark.parametrize("sent", ["a" * 128, "req.42:retry-1_b", "X"])
async def test_a_sane_request_id_up_to_128_characters_is_kept(engine: LocalEngine, sent: str) -> None:
    async with client(create_app(engine, QUIET)) as http:
        answer = await http.get("/healthz", headers={"X-Request-ID": sent})
    assert answer.headers["x-request-id"] == sent


# -- the rate limit per address --------------------------------------------------------------------


def retry_after(answer: httpx.Response) -> int:
    assert answer.status_code == 429
    assert code(answer) == "rate_limited"
    header = answer.headers["retry-after"]
    assert header.isdigit(), header
    seconds = int(header)
    assert seconds >= 1
    assert error(answer)["details"]["retry_after"] == seconds
    return seconds


async def test_the_sixth_request_of_a_burst_answers_429_before_doing_anything(
    engine: LocalEngine, token: str
) -> None:
    app = create_app(engine, quiet(rate_limit=5, rate_burst=5))
    async with client(app) as http, client(app, ("192.0.2.9", 4000)) as neighbour:
        for _ in range(5):
            assert (await http.get(LIMITED)).status_code == 200
        limited = await http.post("/v1/cash/deposit", json={"amount": "100"}, headers=bearer(token))
        assert retry_after(limited) >= 1
        assert (await http.get(LIMITED)).status_code == 429

        # another address has its own allowance
        assert await cash(neighbour, token) == 0  # the deposit never ran
        assert (await neighbour.get(LIMITED)).status_code == 200


async def test_the_rate_limit_refills_over_time(engine: LocalEngine) -> None:
    app = create_app(engine, quiet(rate_limit=5, rate_burst=5))
    async with client(app) as http:
        statuses = [(await http.get(LIMITED)).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        await asyncio.sleep(0.25)  # 5 a second: one more request
        assert (await http.get(LIMITED)).status_code == 200


async def test_with_rate_limit_0_there_is_no_limit(engine: LocalEngine) -> None:
    async with client(create_app(engine, quiet(rate_limit=0, rate_burst=1))) as http:
        statuses = {(await http.get(LIMITED)).status_code for _ in range(30)}
    assert statuses == {200}


# -- the login limit -----------------------------------------------------------------------------


async def test_logins_to_one_account_are_limited_whatever_the_address(engine: LocalEngine) -> None:
    await engine.register("alice", PASSWORD)
    await engine.register("bob", PASSWORD)
    app = create_app(engine, quiet(login_limit=3))

    async def login(address: str, username: str, password: str = PASSWORD) -> httpx.Response:
        async with client(app, (address, 5000)) as http:
            return await http.post("/v1/auth/login", json={"username": username, "password": password})

    assert (await login("10.0.0.1", "alice", "wrong password 1")).status_code == 401
    assert (await login("10.0.0.2", "alice", "wrong password 2")).status_code == 401
    assert (await login("10.0.0.3", "alice")).status_code == 200
    blocked = await login("10.0.0.4", "alice")  # even with the right password
    retry_after(blocked)
    assert "token" not in blocked.text
    retry_after(await login("10.0.0.5", "ALICE"))  # the same account, spelled otherwise

    assert (await login("10.0.0.6", "bob")).status_code == 200


async def test_logins_from_one_address_are_limited_across_accounts(engine: LocalEngine) -> None:
    app = create_app(engine, quiet(login_limit=3))  # 6 x 3 a burst per address
    async with client(app, ("10.0.0.9", 5000)) as http, client(app, ("10.0.0.10", 5000)) as other:
        for n in range(18):
            guess = await http.post("/v1/auth/login", json={"username": f"user{n}", "password": PASSWORD})
            assert guess.status_code == 401
        retry_after(await http.post("/v1/auth/login", json={"username": "user99", "password": PASSWORD}))
        assert (await other.post("/v1/auth/login", json={"username": "user99", "password": PASSWORD})).status_code == 401


# -- the body limit ---------------------------------------------------------------------------------


@pytest.fixture
async def small(engine: LocalEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with client(create_app(engine, quiet(max_body_bytes=2048))) as http:
        yield http


def too_large(answer: httpx.Response) -> None:
    assert answer.status_code == 413
    assert code(answer) == "payload_too_large"
    assert error(answer)["details"]["limit"] == 2048


async def test_a_body_over_the_limit_with_a_content_length_answers_413(
    small: httpx.AsyncClient, engine: LocalEngine
) -> None:
    body = {"username": "alice", "password": PASSWORD, "pad": "x" * 4096}
    request = small.build_request("POST", "/v1/auth/register", json=body)
    assert int(request.headers["content-length"]) > 4096
    too_large(await small.send(request))


async def test_a_chunked_body_over_the_limit_answers_413_and_does_nothing(
    small: httpx.AsyncClient, engine: LocalEngine
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"username": "alice", "password": "' + PASSWORD.encode() + b'", "x": "'
        for _ in range(8):
            yield b"y" * 512
        yield b'"}'

    request = small.build_request("POST", "/v1/auth/register", content=chunks(),
                                  headers={"Content-Type": "application/json"})
    assert "content-length" not in request.headers
    too_large(await small.send(request))
    assert (await small.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})).status_code == 401


async def test_bodies_within_the_limit_go_through_with_or_without_a_length(small: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"username": "bob", '
        yield b'"password": "' + PASSWORD.encode() + b'"}'

    registered = await small.post("/v1/auth/register", content=chunks(), headers={"Content-Type": "application/json"})
    assert registered.status_code == 201, registered.text
    logged_in = await small.post("/v1/auth/login", json={"username": "bob", "password": PASSWORD})
    assert logged_in.status_code == 200


@pytest.mark.parametrize(("size", "over"), [(2048, False), (2049, True)])
async def test_the_body_limit_is_inclusive(small: httpx.AsyncClient, size: int, over: bool) -> None:
    prefix, suffix = b'{"username": "alice", "password": "', b'"}'
    content = prefix + b"p" * (size - len(prefix) - len(suffix)) + suffix
    assert len(content) == size
    for body in (content, _chunks(content)):
        answer = await small.post("/v1/auth/register", content=body, headers={"Content-Type": "application/json"})
        if over:
            too_large(answer)
        else:  # read and judged: the password is too long
            assert answer.status_code == 422
            assert code(answer) == "validation_error"


async def _chunks(content: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(content), 700):
        yield content[start:start + 700]


# -- malformed requests --------------------------------------------------------------------------


@pytest.fixture
async def http(engine: LocalEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with client(create_app(engine, QUIET)) as c:
        yield c


@pytest.mark.parametrize("content", [b"{bad", b'{"username": "alice", "password": ', b"\xff\xfe", b"[1, 2,]"])
async def test_a_body_that_is_not_json_answers_422_saying_so(http: httpx.AsyncClient, content: bytes) -> None:
    answer = await http.post("/v1/auth/register", content=content, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    assert code(answer) == "validation_error"
    assert "JSON" in error(answer)["message"]


async def test_a_missing_field_answers_422_naming_it(http: httpx.AsyncClient) -> None:
    answer = await http.post("/v1/auth/register", json={"username": "alice"})
    assert answer.status_code == 422
    assert code(answer) == "validation_error"
    assert error(answer)["details"]["field"] == "password"


async def test_an_unknown_route_answers_404_not_found_in_the_error_format(http: httpx.AsyncClient) -> None:
    for path in ("/v1/nothing", "/v3/orders", "/", "/v1/orders/1/cancel"):
        answer = await http.get(path)
        assert answer.status_code == 404
        assert code(answer) == "not_found"


async def test_a_wrong_method_answers_405_in_the_error_format(http: httpx.AsyncClient) -> None:
    for method, path, allowed in [("DELETE", "/v1/cash", "GET"), ("GET", "/v1/cash/deposit", "POST"),
                                  ("PUT", "/healthz", "GET")]:
        answer = await http.request(method, path)
        assert answer.status_code == 405
        assert code(answer) == "method_not_allowed"
        assert allowed in answer.headers["allow"]


async def test_healthz_says_ok(http: httpx.AsyncClient) -> None:
    answer = await http.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


# -- the API description ---------------------------------------------------------------------------


async def test_the_openapi_description_has_every_route_of_the_api_table(http: httpx.AsyncClient) -> None:
    answer = await http.get("/openapi.json")
    assert answer.status_code == 200
    paths: dict[str, Any] = answer.json()["paths"]
    missing = [f"{method} {path}" for method, path in TABLE if method.lower() not in paths.get(path, {})]
    assert missing == []


async def test_the_interactive_docs_answer(http: httpx.AsyncClient) -> None:
    answer = await http.get("/docs")
    assert answer.status_code == 200
    assert "text/html" in answer.headers["content-type"]
    assert "/openapi.json" in answer.text


# -- CORS -------------------------------------------------------------------------------------------

ORIGIN = "https://class.example"


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"}


async def test_a_configured_origin_may_call_the_api_and_others_may_not(engine: LocalEngine, token: str) -> None:
    async with client(create_app(engine, quiet(cors_origins=f"{ORIGIN}, https://other.example"))) as http:
        allowed = await http.options("/v1/cash/deposit", headers=preflight(ORIGIN))
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == ORIGIN
        assert "idempotency-key" in allowed.headers["access-control-allow-headers"].lower()
        assert "x-request-id" in allowed.headers

        refused = await http.options("/v1/cash/deposit", headers=preflight("https://evil.example"))
        assert "access-control-allow-origin" not in refused.headers

        simple = await http.get("/v1/cash", headers={"Origin": ORIGIN, **bearer(token)})
        assert simple.headers["access-control-allow-origin"] == ORIGIN
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
        other = await http.get("/v1/cash", headers={"Origin": "https://evil.example", **bearer(token)})
        assert "access-control-allow-origin" not in other.headers


GATEWAY_ANSWERS: dict[int, tuple[dict[str, Any], Call]] = {
    429: ({"rate_limit": 1, "rate_burst": 1}, _rate_limited),
    413: ({"max_body_bytes": 2048}, ANSWERS[413]),
}


@pytest.mark.parametrize("status", GATEWAY_ANSWERS)
async def test_a_configured_origin_can_read_the_gateways_own_answers(engine: LocalEngine, status: int) -> None:
    # a browser app on the allowed origin must see a 429 as a 429 (the CORS set-up exposes
    # Retry-After for it), not as an opaque network error
    fields, call = GATEWAY_ANSWERS[status]
    async with client(create_app(engine, quiet(cors_origins=ORIGIN, **fields))) as http:
        answer = await call(http, {"Origin": ORIGIN})
    assert answer.status_code == status
    assert answer.headers.get("access-control-allow-origin") == ORIGIN


async def test_without_cors_origins_no_cors_headers_are_sent(engine: LocalEngine, token: str) -> None:
    async with client(create_app(engine, quiet(cors_origins=""))) as http:
        answers = [
            await http.options("/v1/cash/deposit", headers=preflight(ORIGIN)),
            await http.get("/v1/cash", headers={"Origin": ORIGIN, **bearer(token)}),
        ]
    for answer in answers:
        assert not [name for name in answer.headers if name.startswith("access-control-")], answer.headers
