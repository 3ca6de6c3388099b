"""What operators see: Prometheus metrics by route template and outcome, one JSON log line per
request, and never a password or a token in either."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from orderproc.engine.service import LocalEngine
from orderproc.server.app import create_app
from server_helpers import PASSWORD, QUIET, bearer, captured_log, client, quiet

NEW_PASSWORD = "a brand new battery"
WRONG_PASSWORD = "Wrong-Guess-9876"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def labels(**pairs: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(pairs.items()))


async def test_metrics_count_orders_by_outcome_and_requests_by_route_template(
    engine: LocalEngine, token: str
) -> None:
    async with client(create_app(engine, QUIET)) as http:
        await http.post("/v1/cash/deposit", json={"amount": "100"}, headers=bearer(token))
        filled = await http.post("/v1/orders", json={"symbol": "BTC", "side": "buy", "notional": "25"},
                                 headers=bearer(token))
        refused = await http.post("/v1/orders", json={"symbol": "BTC", "side": "buy", "notional": "1000"},
                                  headers=bearer(token))
        unsold = await http.post("/v1/orders", json={"symbol": "ETH", "side": "sell", "quantity": "1"},
                                 headers=bearer(token))
        assert (filled.status_code, refused.status_code, unsold.status_code) == (201, 422, 422)
        assert refused.json()["error"]["code"] == unsold.json()["error"]["code"] == "insufficient_funds"
        for order_id in (1, 2, 3):  # one route template, whatever the id
            await http.get(f"/v1/orders/{order_id}", headers=bearer(token))
        await http.get("/v1/no/such/thing")
        page = await http.get("/metrics")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    text = page.text
    assert 'orderproc_orders_total{side="buy",status="filled"} 1.0' in text.splitlines()
    assert 'orderproc_orders_total{side="buy",status="insufficient_funds"} 1.0' in text.splitlines()
    assert 'orderproc_orders_total{side="sell",status="insufficient_funds"} 1.0' in text.splitlines()

    found = samples(text)
    requests = "orderproc_http_requests_total"
    assert found[(requests, labels(method="POST", route="/v1/orders", status="201"))] == 1
    assert found[(requests, labels(method="POST", route="/v1/orders", status="422"))] == 2
    assert found[(requests, labels(method="POST", route="/v1/cash/deposit", status="201"))] == 1
    assert found[(requests, labels(method="GET", route="/v1/orders/{order_id}", status="200"))] == 1
    assert found[(requests, labels(method="GET", route="/v1/orders/{order_id}", status="404"))] == 2
    assert found[(requests, labels(method="GET", route="unmatched", status="404"))] == 1
    assert not [key for key in found if "/v1/orders/1" in str(key) or "/v1/no/such" in str(key)]

    latency = "orderproc_http_request_duration_seconds"
    assert found[(f"{latency}_count", labels(method="POST", route="/v1/orders"))] == 3
    assert found[(f"{latency}_bucket", labels(le="+Inf", method="POST", route="/v1/orders"))] == 3
    buckets = [value for (name, lbls), value in found.items()
               if name == f"{latency}_bucket" and ("route", "/v1/orders") in lbls and ("method", "POST") in lbls]
    assert len(buckets) > 5
    assert found[(f"{latency}_sum", labels(method="POST", route="/v1/orders"))] > 0


async def test_each_app_counts_its_own_requests(engine: LocalEngine) -> None:
    async with client(create_app(engine, QUIET)) as first:
        await first.get("/healthz")
    async with client(create_app(engine, QUIET)) as second:
        text = (await second.get("/metrics")).text
    assert ("orderproc_http_requests_total", labels(method="GET", route="/healthz", status="200")) not in samples(text)


# -- the request log ---------------------------------------------------------------------------------


async def test_one_json_log_line_per_request_carries_its_id_method_route_and_status(
    engine: LocalEngine, token: str
) -> None:
    with captured_log() as log:
        async with client(create_app(engine, quiet(log_requests=True))) as http:
            answers = [
                await http.get("/healthz"),
                await http.get("/v1/me", headers={"X-Request-ID": "abc-123"}),
                await http.post("/v1/cash/deposit", json={"amount": "5"}, headers=bearer(token)),
                await http.get("/v1/orders/42", headers=bearer(token)),
                await http.get("/v1/missing?secret=1"),
                await http.post("/v1/cash/deposit", content=b"{", headers={"Content-Type": "application/json"}),
            ]
    entries = [json.loads(line) for line in log.lines()]
    assert all(record.levelno == logging.INFO for record in log.records)
    assert len(entries) == len(answers)
    expected = [
        ("GET", "/healthz", "/healthz", 200),
        ("GET", "/v1/me", "/v1/me", 401),
        ("POST", "/v1/cash/deposit", "/v1/cash/deposit", 201),
        ("GET", "/v1/orders/42", "/v1/orders/{order_id}", 404),
        ("GET", "/v1/missing", "unmatched", 404),
        ("POST", "/v1/cash/deposit", "/v1/cash/deposit", 422),
    ]
    for entry, answer, (method, path, route, status) in zip(entries, answers, expected, strict=True):
        assert answer.status_code == status
        assert entry["event"] == "request"
        assert entry["request_id"] == answer.headers["x-request-id"]
        assert (entry["method"], entry["path"], entry["route"], entry["status"]) == (method, path, route, status)
        assert isinstance(entry["ms"], int | float) and entry["ms"] >= 0
    assert entries[1]["request_id"] == "abc-123"


async def test_with_log_requests_off_there_is_no_request_log(engine: LocalEngine) -> None:
    with captured_log() as log:
        async with client(create_app(engine, quiet(log_requests=False))) as http:
            await http.get("/healthz")
            await http.get("/v1/me")
    assert log.lines() == []


async def test_no_log_line_and_no_answer_carries_a_password_or_someone_elses_token(engine: LocalEngine) -> None:
    answers: list[tuple[httpx.Response, set[str]]] = []  # each answer with the tokens it may show

    with captured_log() as server_log, captured_log("") as every_log:
        async with client(create_app(engine, quiet(log_requests=True))) as http:
            async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
                answer = await http.request(method, path, **kwargs)
                issued = {answer.json()["token"]} if answer.status_code == 200 and "token" in answer.text else set()
                answers.append((answer, issued))
                return answer

            await call("POST", "/v1/auth/register", json={"username": "alice", "password": PASSWORD})
            await call("POST", "/v1/auth/register", json={"username": "alice", "password": PASSWORD})  # taken
            await call("POST", "/v1/auth/login", json={"username": "alice", "password": WRONG_PASSWORD})
            token = (await call("POST", "/v1/auth/login", json={"username": "alice", "password": PASSWORD})).json()["token"]
            await call("POST", "/v1/cash/deposit", json={"amount": "100"}, headers=bearer(token))
            await call("GET", f"/v1/quotes?symbols=BTC&access_token={token}&password={PASSWORD}")
            await call("POST", "/v1/me/password", json={"old_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD},
                       headers=bearer(token))
            changed = await call("POST", "/v1/me/password", json={"old_password": PASSWORD, "new_password": NEW_PASSWORD},
                                 headers=bearer(token))
            new_token = changed.json()["token"]
            await call("GET", "/v1/me", headers=bearer(token))  # the ended session
            await call("GET", "/v1/cash", headers=bearer(new_token))
            await call("POST", "/v1/me/password", json={"old_password": NEW_PASSWORD, "new_password": "short"},
                       headers=bearer(new_token))

    statuses = [answer.status_code for answer, _ in answers]
    assert statuses == [201, 409, 401, 200, 201, 200, 401, 200, 401, 200, 422]
    passwords = [PASSWORD, WRONG_PASSWORD, NEW_PASSWORD]
    tokens = {token, new_token}
    for answer, issued in answers:
        for secret in passwords:
            assert secret not in answer.text, (answer.request.url.path, answer.text)
        for other in tokens - issued:
            assert other not in answer.text, answer.request.url.path

    assert len(server_log.lines()) == len(answers)
    # everything logged on the server's side (the test's own httpx client logs its URLs)
    server_side = [r for r in every_log.records if r.name.split(".")[0] not in ("httpx", "httpcore")]
    for record in server_log.records + server_side:
        line = logging.Formatter().format(record)
        for secret in [*passwords, *tokens]:
            assert secret not in line, line
