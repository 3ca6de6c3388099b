"""Server conventions: health and metrics outside the rate limit, the process and the collector in
/metrics, and a body that does not say it is JSON refused with 415 naming the header."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import Route

from orderproc.engine.service import LocalEngine
from orderproc.server.alpaca.common import is_alpaca
from orderproc.server.app import create_app
from server_helpers import QUIET, bearer, client, code, error, quiet, sign_up


@pytest.fixture
async def http(engine: LocalEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with client(create_app(engine, QUIET)) as c:
        yield c


# -- the rate limit ------------------------------------------------------------------------------------


async def test_health_and_metrics_answer_whatever_the_rate_limit(engine: LocalEngine) -> None:
    async with client(create_app(engine, quiet(rate_limit=1, rate_burst=1))) as http:
        assert (await http.get("/v1/quotes/BTC")).status_code == 200
        assert code(await http.get("/v1/quotes/BTC")) == "rate_limited"
        for _ in range(20):
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/metrics")).status_code == 200
        assert (await http.get("/v1/quotes/BTC")).status_code == 429  # the others still are limited


# -- /metrics: the process and the interpreter -----------------------------------------------------------


async def test_metrics_carry_the_process_and_the_garbage_collector_for_prometheus_to_read(
    http: httpx.AsyncClient
) -> None:
    page = await http.get("/metrics")
    families = {family.name: family for family in text_string_to_metric_families(page.text)}
    for name in ("process_cpu_seconds", "process_resident_memory_bytes", "process_open_fds",
                 "process_start_time_seconds", "python_gc_objects_collected", "python_gc_collections",
                 "python_info", "orderproc_http_requests"):
        assert name in families, sorted(families)
    samples = {s.name: s.value for f in families.values() for s in f.samples}
    assert samples["process_cpu_seconds_total"] > 0 and samples["process_resident_memory_bytes"] > 1e6
    gc_generations = {s.labels["generation"] for s in families["python_gc_collections"].samples}
    assert gc_generations >= {"0", "1", "2"}


# -- 415: a body must say it is JSON ------------------------------------------------------------------


def body_routes() -> list[tuple[str, str]]:
    """(method, path) of every route that takes a body, path parameters filled in."""
    app = create_app(engine=None, settings=QUIET)  # type: ignore[arg-type]  # only its routes are read
    found = set()
    for route in app.routes:
        if isinstance(route, Route):
            for method in (route.methods or set()) & {"POST", "PUT", "PATCH"}:
                found.add((method, re.sub(r"\{[^}]+\}", "x", route.path)))
    return sorted(found)


BODY_ROUTES = body_routes()


def test_the_body_routes_are_found() -> None:
    assert {("POST", "/v1/orders"), ("POST", "/v1/auth/register"), ("PATCH", "/v1/admin/users/x"),
            ("POST", "/v1/cash/deposit")} <= set(BODY_ROUTES)


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain"],
                         ids=["none", "curl-d", "text"])
async def test_a_body_that_does_not_say_json_answers_415_naming_the_header(
    http: httpx.AsyncClient, token: str, method: str, path: str, content_type: str | None
) -> None:
    headers = {**bearer(token), **({"Content-Type": content_type} if content_type else {})}
    answer = await http.request(method, path, content=b'{"amount": "10"}', headers=headers)
    assert answer.status_code == 415, answer.text
    assert answer.headers["connection"] == "close"
    if is_alpaca(path):  # in Alpaca's shape
        assert answer.json()["code"] == 41510000 and answer.json()["reason"] == "unsupported_media_type"
        assert "Content-Type: application/json" in answer.json()["message"]
        return
    assert code(answer) == "unsupported_media_type"
    assert "Content-Type: application/json" in error(answer)["message"]
    assert error(answer)["details"] == {"content_type": content_type, "expected": "application/json"}


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=utf-8",
                                          "application/merge-patch+json"])
async def test_json_in_any_spelling_goes_through(http: httpx.AsyncClient, token: str, content_type: str) -> None:
    answer = await http.post("/v1/cash/deposit", content=b'{"amount": "10"}',
                             headers={**bearer(token), "Content-Type": content_type})
    assert answer.status_code == 201, answer.text


async def test_requests_without_a_body_need_no_content_type(http: httpx.AsyncClient) -> None:
    token = await sign_up(http, "bob")
    assert (await http.post("/v1/auth/logout", headers=bearer(token))).status_code == 204
    assert (await http.get("/v1/quotes/BTC", headers={"Content-Type": "text/plain"})).status_code == 200


async def test_a_chunked_body_that_is_not_json_answers_415(http: httpx.AsyncClient, token: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"amount=10"

    answer = await http.post("/v1/cash/deposit", content=chunks(),
                             headers={**bearer(token), "Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 415 and code(answer) == "unsupported_media_type"
