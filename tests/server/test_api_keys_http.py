"""API keys over HTTP: a key's `token` sent as `Authorization: Bearer` reads every route a session
reads; a read-only key placing an order is refused (403 `read_only_key`) with the ledger as it
was; a revoked key is 401 as a missing session is; keys are managed under /v1/keys with a
session only; no answer and no log line carries a key's secret but the one that made it."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from orderproc.engine.service import LocalEngine
from orderproc.server.app import create_app
from server_helpers import bearer, captured_log, client, code, ledger_state, quiet, sign_up

ORDER = {"symbol": "BTC", "side": "buy", "quantity": "0.001"}


async def _funded(http: httpx.AsyncClient) -> str:
    token = await sign_up(http, "alice")
    assert (await http.post("/v1/cash/deposit", json={"amount": "1000"}, headers=bearer(token))).status_code == 201
    return token


async def _key(http: httpx.AsyncClient, token: str, **body: Any) -> dict[str, Any]:
    made = await http.post("/v1/keys", json=body, headers=bearer(token))
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


async def test_a_key_as_bearer_reads_what_a_session_reads(engine: LocalEngine) -> None:
    async with client(create_app(engine, quiet())) as http:
        token = await _funded(http)
        key = (await _key(http, token, name="reader"))["token"]
        for path in ("/v1/cash", "/v1/portfolio", "/v1/orders", "/v1/transactions", "/v1/me", "/v1/accounts",
                     "/v1/pnl", "/v1/lots", "/v1/leaderboard", "/v1/settings"):
            answer = await http.get(path, headers=bearer(key))
            assert answer.status_code == 200, (path, answer.text)
            assert answer.json() == (await http.get(path, headers=bearer(token))).json(), path
        placed = await http.post("/v1/orders", json=ORDER, headers=bearer(key))
        assert placed.status_code == 201, placed.text


async def test_a_read_only_key_placing_an_order_is_refused_and_changes_nothing(engine: LocalEngine) -> None:
    async with client(create_app(engine, quiet())) as http:
        token = await _funded(http)
        key = (await _key(http, token, read_only=True))["token"]
        before = await ledger_state(engine), (await http.get("/v1/cash", headers=bearer(token))).json()
        for method, path, body in (("POST", "/v1/orders", ORDER), ("POST", "/v1/cash/deposit", {"amount": "1"}),
                                   ("POST", "/v1/cash/withdraw", {"amount": "1"}), ("DELETE", "/v1/orders", None)):
            answer = await http.request(method, path, json=body, headers=bearer(key))
            assert (answer.status_code, code(answer)) == (403, "read_only_key"), (path, answer.text)
        assert (await http.get("/v1/quotes?symbols=BTC", headers=bearer(key))).status_code == 200
        assert (await ledger_state(engine), (await http.get("/v1/cash", headers=bearer(token))).json()) == before


async def test_a_revoked_key_is_unauthorized_as_a_missing_session_is(engine: LocalEngine) -> None:
    async with client(create_app(engine, quiet())) as http:
        token = await _funded(http)
        made = await _key(http, token)
        assert (await http.get("/v1/cash", headers=bearer(made["token"]))).status_code == 200
        revoked = await http.delete(f"/v1/keys/{made['key_id']}", headers=bearer(token))
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
        for method, path in (("GET", "/v1/cash"), ("POST", "/v1/orders")):
            answer = await http.request(method, path, json=ORDER if method == "POST" else None,
                                        headers=bearer(made["token"]))
            assert (answer.status_code, code(answer)) == (401, "auth_required")
            assert answer.headers["WWW-Authenticate"] == "Bearer"
        wrong = await http.get("/v1/cash", headers=bearer(made["key_id"] + ".not-the-secret"))
        assert wrong.status_code == 401 and wrong.json() == answer.json()  # the same answer, word for word
        assert (await http.get("/v1/orders", headers=bearer(token))).json()["total"] == 0


async def test_keys_are_managed_with_a_session_only(engine: LocalEngine) -> None:
    async with client(create_app(engine, quiet())) as http:
        token = await _funded(http)
        made = await _key(http, token)
        key = made["token"]
        for method, path, body in (("POST", "/v1/keys", {}), ("GET", "/v1/keys", None),
                                   ("DELETE", f"/v1/keys/{made['key_id']}", None),
                                   ("POST", "/v1/me/password", {"old_password": "x" * 8, "new_password": "y" * 8}),
                                   ("POST", "/v1/accounts", {"name": "other"}),
                                   ("POST", "/v1/accounts/switch", {"name": "main"}),
                                   ("POST", "/v1/auth/logout", None)):
            answer = await http.request(method, path, json=body, headers=bearer(key))
            assert (answer.status_code, code(answer)) == (403, "session_required"), (path, answer.text)
        listed = (await http.get("/v1/keys", headers=bearer(token))).json()
        assert [(k["key_id"], k["revoked_at"]) for k in listed] == [(made["key_id"], None)]
        assert "secret" not in listed[0] and made["secret"] not in str(listed)
        unknown = await http.delete("/v1/keys/PKNOSUCHKEY", headers=bearer(token))
        assert (unknown.status_code, code(unknown)) == (404, "not_found")
        bad = await http.post("/v1/keys", json={"name": "x" * 65}, headers=bearer(token))
        assert (bad.status_code, code(bad)) == (422, "validation_error")


async def test_no_log_line_and_no_later_answer_carries_a_keys_secret(engine: LocalEngine) -> None:
    answers: list[httpx.Response] = []
    with captured_log() as server_log, captured_log("") as every_log:
        async with client(create_app(engine, quiet(log_requests=True))) as http:
            token = await _funded(http)
            made = await _key(http, token, name="logged")
            secret, key = made["secret"], made["token"]
            for method, path in (("GET", "/v1/cash"), ("POST", "/v1/orders"), ("GET", "/v1/keys"),
                                 ("GET", f"/v1/quotes?symbols=BTC&access_token={key}"),
                                 ("DELETE", f"/v1/keys/{made['key_id']}"), ("GET", "/v1/portfolio")):  # revoked
                answers.append(await http.request(method, path, json=ORDER if method == "POST" else None,
                                                  headers=bearer(key if path != "/v1/keys" and "keys/" not in path
                                                                 else token)))
            answers.append(await http.get("/v1/cash", headers=bearer(key)))
    assert [a.status_code for a in answers] == [200, 201, 200, 200, 200, 401, 401]
    for answer in answers:
        assert secret not in answer.text
    assert server_log.lines()
    server_side = [r for r in every_log.records if r.name.split(".")[0] not in ("httpx", "httpcore")]
    for record in server_log.records + server_side:
        line = logging.Formatter().format(record)
        assert secret not in line and key not in line, line
    events = (await engine.admin_audit(engine.operator_token, limit=100)).items
    assert {"api_key_create", "api_key_revoke"} <= {e.action for e in events}
    assert secret not in str([e.model_dump(mode="json") for e in events])


# what each private route asks of a key (a route added to the app must be classed here)
KEY_READS = {("GET", p) for p in ("/v1/me", "/v1/accounts", "/v1/cash", "/v1/transactions", "/v1/orders",
                                  "/v1/orders/{order_id}", "/v1/portfolio", "/v1/lots", "/v1/journal", "/v1/pnl",
                                  "/v1/leaderboard", "/v1/settings", "/v1/stream/account", "/v1/watchlist",
                                  "/v1/alerts")} | {("POST", "/v1/orders/preview")}
KEY_TRADES = {("POST", "/v1/cash/deposit"), ("POST", "/v1/cash/withdraw"), ("POST", "/v1/orders"),
              ("DELETE", "/v1/orders"), ("DELETE", "/v1/orders/{order_id}"), ("PATCH", "/v1/watchlist"),
              ("PUT", "/v1/watchlist/{symbol}"), ("DELETE", "/v1/watchlist/{symbol}"), ("POST", "/v1/alerts"),
              ("DELETE", "/v1/alerts/{alert_id}")}


async def test_every_private_route_reads_trades_or_needs_a_session_with_a_key(engine: LocalEngine) -> None:
    from test_auth_http import PRIVATE, TEMPLATES

    async with client(create_app(engine, quiet())) as http:
        token = await _funded(http)
        reader = (await _key(http, token, read_only=True))["token"]
        trader = (await _key(http, token))["token"]
        for method, path, body in PRIVATE:
            route = (method, TEMPLATES.get(path, path))
            if route == ("GET", "/v1/stream/account"):
                continue  # a stream that holds: the contract suite streams with a key
            as_reader = await http.request(method, path, json=body, headers=bearer(reader))
            as_trader = await http.request(method, path, json=body, headers=bearer(trader))
            if route in KEY_READS:
                assert as_reader.status_code in (200, 201, 404), (route, as_reader.text)
            elif route in KEY_TRADES:
                assert (as_reader.status_code, code(as_reader)) == (403, "read_only_key"), route
                assert as_trader.status_code in (200, 201, 404, 409, 422), (route, as_trader.text)
            else:
                for answer in (as_reader, as_trader):
                    assert (answer.status_code, code(answer)) == (403, "session_required"), (route, answer.text)
        assert KEY_READS | KEY_TRADES <= {(m, TEMPLATES.get(p, p)) for m, p, _ in PRIVATE}
