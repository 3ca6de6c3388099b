"""Who may call what over HTTP: bearer tokens, sessions ending, roles, other users' data,
fields a client must not set, and what error answers give away."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from orderproc.engine.schemas import Role
from orderproc.engine.service import LocalEngine
from orderproc.server.app import create_app
from server_helpers import (
    PASSWORD,
    QUIET,
    bearer,
    cash,
    claims_of,
    client,
    code,
    error,
    ledger_secret,
    ledger_state,
    log_in,
    sign,
    sign_up,
    unsigned,
    with_payload,
)

NEW_PASSWORD = "a brand new battery"

# every route of the API table that takes a token, with a body it would accept
PRIVATE: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/auth/logout", None),
    ("GET", "/v1/me", None),
    ("PATCH", "/v1/me", {"display_name": "Alice"}),
    ("POST", "/v1/me/password", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}),
    ("GET", "/v1/accounts", None),
    ("POST", "/v1/accounts", {"name": "second"}),
    ("POST", "/v1/accounts/switch", {"name": "main"}),
    ("POST", "/v1/accounts/reset", {"cash": "100.00"}),
    ("POST", "/v1/keys", {"name": "bot"}),
    ("GET", "/v1/keys", None),
    ("DELETE", "/v1/keys/PKAAAAAAAAAAAAAAAAAA", None),
    ("GET", "/v1/cash", None),
    ("POST", "/v1/cash/deposit", {"amount": "100.00"}),
    ("POST", "/v1/cash/withdraw", {"amount": "1.00"}),
    ("GET", "/v1/transactions", None),
    ("POST", "/v1/orders", {"symbol": "BTC", "side": "buy", "notional": "10"}),
    ("GET", "/v1/orders", None),
    ("GET", "/v1/orders/1", None),
    ("DELETE", "/v1/orders/1", None),
    ("DELETE", "/v1/orders", None),
    ("POST", "/v1/orders/preview", {"symbol": "BTC", "side": "buy", "notional": "10"}),
    ("GET", "/v1/portfolio", None),
    ("GET", "/v1/lots", None),
    ("GET", "/v1/journal", None),
    ("GET", "/v1/pnl", None),
    ("GET", "/v1/leaderboard", None),
    ("GET", "/v1/settings", None),
    ("GET", "/v1/admin/users", None),
    ("PATCH", "/v1/admin/settings", {"taker_fee_bps": "10"}),
    ("PATCH", "/v1/admin/users/alice", {"role": "admin"}),
    ("GET", "/v1/admin/audit", None),
    ("GET", "/v1/admin/verify", None),
    ("GET", "/v1/stream/account", None),
    ("GET", "/v1/watchlist", None),
    ("PATCH", "/v1/watchlist", {"sort": "symbol"}),
    ("PUT", "/v1/watchlist/BTC", None),
    ("DELETE", "/v1/watchlist/BTC", None),
    ("GET", "/v1/alerts", None),
    ("POST", "/v1/alerts", {"symbol": "BTC", "direction": "below", "price": "1"}),
    ("DELETE", "/v1/alerts/1", None),
]
PUBLIC = {
    ("POST", "/v1/auth/register"), ("POST", "/v1/auth/login"), ("GET", "/v1/assets"), ("GET", "/v1/assets/{symbol}"),
    ("GET", "/v1/assets/{symbol}/history"), ("GET", "/v1/assets/{symbol}/candles"),
    ("GET", "/v1/assets/{symbol}/bars"), ("GET", "/v1/quotes"),
    ("GET", "/v1/quotes/{symbol}"),
    ("GET", "/v1/stream/quotes"), ("GET", "/healthz"), ("GET", "/metrics"), ("GET", "/docs"), ("GET", "/redoc"),
    # Alpaca's crypto market data (tests/server/test_alpaca_market_data.py): no credentials, as Alpaca's
    *{("GET", f"/v1beta3/crypto/{{feed}}/{what}") for what in ("latest/quotes", "latest/trades", "latest/bars",
                                                                "snapshots", "bars")},
}
TEMPLATES = {"/v1/orders/1": "/v1/orders/{order_id}", "/v1/admin/users/alice": "/v1/admin/users/{username}",
             "/v1/watchlist/BTC": "/v1/watchlist/{symbol}", "/v1/alerts/1": "/v1/alerts/{alert_id}",
             "/v1/keys/PKAAAAAAAAAAAAAAAAAA": "/v1/keys/{key_id}"}

ADMIN: list[tuple[str, str, dict[str, Any] | None]] = [
    (method, path, body) for method, path, body in PRIVATE if path.startswith("/v1/admin/")
]


def _id(route: tuple[str, str, Any]) -> str:
    return f"{route[0]} {route[1]}"


@pytest.fixture
async def http(engine: LocalEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with client(create_app(engine, QUIET)) as c:
        yield c


async def call(http: httpx.AsyncClient, route: tuple[str, str, dict[str, Any] | None],
               token: str | None = None) -> httpx.Response:
    method, path, body = route
    return await http.request(method, path, json=body, headers=bearer(token) if token else {})


# -- no token, a bad one, an ended one ---------------------------------------------------------


def test_every_route_of_the_app_is_either_public_or_checked_here_as_private(engine: LocalEngine) -> None:
    app = create_app(engine, QUIET)
    # Alpaca's trading routes (/v2): tests/server/test_alpaca_trading.py checks them, in their shape
    served = {(method, route.path) for route in app.routes if isinstance(route, APIRoute)
              and not route.path.startswith("/v2/") for method in route.methods or ()}
    private = {(method, TEMPLATES.get(path, path)) for method, path, _ in PRIVATE}
    assert served == private | PUBLIC


@pytest.mark.parametrize("route", PRIVATE, ids=_id)
async def test_a_private_route_without_a_token_answers_401_auth_required_and_does_nothing(
    engine: LocalEngine, http: httpx.AsyncClient, token: str, route: tuple[str, str, dict[str, Any] | None]
) -> None:
    before = await ledger_state(engine)
    answer = await call(http, route)
    assert answer.status_code == 401
    assert code(answer) == "auth_required"
    assert await ledger_state(engine) == before


@pytest.mark.parametrize("header", ["Basic YWxpY2U6cGFzc3dvcmQ=", "Bearer", "Bearer ", "Token abc", "bearer-abc"])
async def test_an_authorization_header_without_a_bearer_token_answers_401(
    http: httpx.AsyncClient, header: str
) -> None:
    answer = await http.get("/v1/me", headers={"Authorization": header})
    assert answer.status_code == 401
    assert code(answer) == "auth_required"


async def test_a_token_signed_with_the_ledgers_own_key_is_accepted(
    engine: LocalEngine, http: httpx.AsyncClient, token: str
) -> None:
    # the forgeries below are refused for what they change, not for how this file signs them
    remade = sign(claims_of(token), ledger_secret(engine))
    answer = await http.get("/v1/me", headers=bearer(remade))
    assert answer.status_code == 200
    assert answer.json()["username"] == "alice"


Forgery = Callable[[dict[str, Any], str, bytes, float], str]

FORGERIES: dict[str, Forgery] = {
    "signed with another key": lambda claims, token, key, now: sign(claims, secrets.token_bytes(64)),
    "payload tampered to another user": lambda claims, token, key, now: with_payload(token, {**claims, "sub": "2"}),
    "alg none": lambda claims, token, key, now: unsigned(claims),
    "alg none as another user": lambda claims, token, key, now: unsigned({**claims, "sub": "2"}),
    "expired": lambda claims, token, key, now: sign({**claims, "iat": int(now) - 7200, "exp": int(now) - 60}, key),
    "without exp": lambda claims, token, key, now: sign({k: v for k, v in claims.items() if k != "exp"}, key),
    "for another ledger": lambda claims, token, key, now: sign({**claims, "aud": uuid.uuid4().hex}, key),
    "from another issuer": lambda claims, token, key, now: sign({**claims, "iss": "someone-else"}, key),
    "not a jwt": lambda claims, token, key, now: "not-a-token",
}


@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
async def test_a_forged_or_foreign_token_answers_401_and_moves_no_money(
    engine: LocalEngine, http: httpx.AsyncClient, token: str, clock: Any, forgery: Forgery
) -> None:
    assert (await http.post("/v1/cash/deposit", json={"amount": "100"}, headers=bearer(token))).status_code == 201
    bob = await sign_up(http, "bob")
    assert claims_of(bob)["sub"] == "2"
    forged = forgery(claims_of(token), token, ledger_secret(engine), clock())
    before = await ledger_state(engine)

    for method, path, body in [("POST", "/v1/cash/deposit", {"amount": "1000"}), ("GET", "/v1/cash", None),
                               ("POST", "/v1/cash/withdraw", {"amount": "50"})]:
        answer = await http.request(method, path, json=body, headers=bearer(forged))
        assert answer.status_code == 401, (path, answer.text)
        assert code(answer) == "auth_required"

    assert await ledger_state(engine) == before
    assert await cash(http, token) == Decimal("100")
    assert await cash(http, bob) == Decimal("0")


async def test_a_session_of_another_ledger_answers_401_even_for_the_same_user_name(
    engine: LocalEngine, http: httpx.AsyncClient, token: str, tmp_path: Path, clock: Any
) -> None:
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    async with LocalEngine(other_dir / "ledger.db", clock=clock, hash_profile="fast", market_seed=7) as other:
        await other.register("alice", PASSWORD)
        foreign = (await other.login("alice", PASSWORD)).token
        assert (await other.balance(foreign)).cash == 0
    assert claims_of(foreign)["sub"] == claims_of(token)["sub"]  # the same user id, another ledger
    before = await ledger_state(engine)

    answer = await http.post("/v1/cash/deposit", json={"amount": "1000"}, headers=bearer(foreign))
    assert answer.status_code == 401
    assert code(answer) == "auth_required"
    assert await ledger_state(engine) == before
    assert await cash(http, token) == 0


async def test_a_session_works_until_its_expiry_and_answers_401_after_it(
    http: httpx.AsyncClient, token: str, clock: Any
) -> None:
    left = claims_of(token)["exp"] - clock()
    clock.advance(left - 60)
    assert (await http.get("/v1/me", headers=bearer(token))).status_code == 200
    clock.advance(61)
    answer = await http.post("/v1/cash/deposit", json={"amount": "5"}, headers=bearer(token))
    assert answer.status_code == 401
    assert code(answer) == "auth_required"
    fresh = await log_in(http, "alice")
    assert await cash(http, fresh) == 0


async def test_a_token_stops_working_after_logout(http: httpx.AsyncClient, token: str) -> None:
    other_session = await log_in(http, "alice")
    out = await http.post("/v1/auth/logout", headers=bearer(token))
    assert out.status_code == 204
    for method, path in [("GET", "/v1/me"), ("POST", "/v1/auth/logout")]:
        answer = await http.request(method, path, headers=bearer(token))
        assert answer.status_code == 401
        assert code(answer) == "auth_required"
    # only that session ended
    assert (await http.get("/v1/me", headers=bearer(other_session))).status_code == 200


async def test_a_password_change_ends_the_old_sessions_and_the_new_token_and_password_work(
    http: httpx.AsyncClient, token: str
) -> None:
    changed = await http.post("/v1/me/password", json={"old_password": PASSWORD, "new_password": NEW_PASSWORD},
                              headers=bearer(token))
    assert changed.status_code == 200
    new_token = changed.json()["token"]
    assert new_token != token

    old = await http.get("/v1/me", headers=bearer(token))
    assert old.status_code == 401
    assert code(old) == "auth_required"
    assert (await http.get("/v1/me", headers=bearer(new_token))).json()["username"] == "alice"

    refused = await http.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert refused.status_code == 401
    assert code(refused) == "invalid_credentials"
    assert await cash(http, await log_in(http, "alice", NEW_PASSWORD)) == 0


async def test_a_password_change_with_the_wrong_current_password_changes_nothing(
    http: httpx.AsyncClient, token: str
) -> None:
    answer = await http.post("/v1/me/password", json={"old_password": "not my password", "new_password": NEW_PASSWORD},
                             headers=bearer(token))
    assert answer.status_code == 401
    assert code(answer) == "invalid_credentials"
    assert (await http.get("/v1/me", headers=bearer(token))).status_code == 200
    await log_in(http, "alice", PASSWORD)


async def test_a_disabled_users_session_ends_and_their_login_answers_403_forbidden(
    engine: LocalEngine, http: httpx.AsyncClient, token: str
) -> None:
    assert (await http.post("/v1/cash/deposit", json={"amount": "50"}, headers=bearer(token))).status_code == 201
    await engine.admin_set_disabled(engine.operator_token, "alice", True)
    before = await ledger_state(engine)

    # disabling ends the user's sessions (the engine bumps the token version: see
    # test_engine_users.py), so the token answers as an ended session; a login says why
    for method, path, body in [("GET", "/v1/me", None), ("POST", "/v1/cash/withdraw", {"amount": "50"})]:
        answer = await http.request(method, path, json=body, headers=bearer(token))
        assert answer.status_code == 401, answer.text
        assert code(answer) == "auth_required"
    login = await http.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert login.status_code == 403
    assert code(login) == "forbidden"
    assert "token" not in login.json()
    assert (await ledger_state(engine))[2:] == before[2:]  # no money moved

    await engine.admin_set_disabled(engine.operator_token, "alice", False)
    assert await cash(http, await log_in(http, "alice")) == 50


# -- roles -------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ADMIN, ids=_id)
async def test_a_customer_calling_an_admin_route_answers_403_forbidden_and_changes_nothing(
    engine: LocalEngine, http: httpx.AsyncClient, token: str, route: tuple[str, str, dict[str, Any] | None]
) -> None:
    before = await ledger_state(engine)
    answer = await call(http, route, token)
    assert answer.status_code == 403
    assert code(answer) == "forbidden"
    assert await ledger_state(engine) == before
    assert (await http.get("/v1/me", headers=bearer(token))).json()["role"] == "customer"


@pytest.mark.parametrize("route", ADMIN, ids=_id)
async def test_an_admin_gets_200_on_every_admin_route(
    engine: LocalEngine, http: httpx.AsyncClient, token: str, route: tuple[str, str, dict[str, Any] | None]
) -> None:
    await sign_up(http, "root")
    await engine.admin_set_role(engine.operator_token, "root", Role.ADMIN)
    root = await log_in(http, "root")
    answer = await call(http, route, root)
    assert answer.status_code == 200, answer.text


async def test_an_admin_route_changes_what_it_says(engine: LocalEngine, http: httpx.AsyncClient, token: str) -> None:
    await engine.register("root", PASSWORD)
    await engine.admin_set_role(engine.operator_token, "root", Role.ADMIN)
    root = await log_in(http, "root")

    promoted = await http.patch("/v1/admin/users/alice", json={"role": "admin"}, headers=bearer(root))
    assert promoted.json()["role"] == "admin"
    users = (await http.get("/v1/admin/users", headers=bearer(root))).json()
    assert {u["username"]: u["role"] for u in users} == {"alice": "admin", "root": "admin"}
    assert (await http.get("/v1/admin/users", headers=bearer(token))).status_code == 200

    missing = await http.patch("/v1/admin/users/nobody", json={"disabled": True}, headers=bearer(root))
    assert missing.status_code == 404
    assert code(missing) == "not_found"
    empty = await http.patch("/v1/admin/users/alice", json={}, headers=bearer(root))
    assert empty.status_code == 422
    assert code(empty) == "validation_error"


# -- other users' data ---------------------------------------------------------------------------


async def test_another_users_order_reads_exactly_like_a_missing_one(http: httpx.AsyncClient, token: str) -> None:
    bob = await sign_up(http, "bob")
    await http.post("/v1/cash/deposit", json={"amount": "100"}, headers=bearer(bob))

    missing = await http.get("/v1/orders/1", headers=bearer(token))  # no order 1 yet
    placed = await http.post("/v1/orders", json={"symbol": "BTC", "side": "buy", "notional": "10"},
                             headers=bearer(bob))
    assert placed.status_code == 201
    assert placed.json()["id"] == 1
    assert (await http.get("/v1/orders/1", headers=bearer(bob))).status_code == 200

    bobs = await http.get("/v1/orders/1", headers=bearer(token))
    assert missing.status_code == bobs.status_code == 404
    assert code(bobs) == "not_found"
    assert bobs.content == missing.content
    assert "BTC" not in bobs.text and "bob" not in bobs.text
    assert (await http.get("/v1/orders", headers=bearer(token))).json()["total"] == 0


# -- fields a client must not set ----------------------------------------------------------------

SMUGGLED = [("role", "admin"), ("user_id", 2), ("cash", "1000000"), ("id", 1), ("disabled", False)]


@pytest.mark.parametrize(("field", "value"), SMUGGLED)
async def test_register_refuses_extra_fields_and_creates_nobody(
    engine: LocalEngine, http: httpx.AsyncClient, field: str, value: object
) -> None:
    before = await ledger_state(engine)
    answer = await http.post("/v1/auth/register", json={"username": "mallory", "password": PASSWORD, field: value})
    assert answer.status_code == 422
    assert code(answer) == "validation_error"
    assert error(answer)["details"]["field"] == field
    assert await ledger_state(engine) == before
    login = await http.post("/v1/auth/login", json={"username": "mallory", "password": PASSWORD})
    assert login.status_code == 401


@pytest.mark.parametrize(("field", "value"), SMUGGLED)
async def test_deposit_refuses_extra_fields_and_moves_no_money(
    engine: LocalEngine, http: httpx.AsyncClient, token: str, field: str, value: object
) -> None:
    before = await ledger_state(engine)
    answer = await http.post("/v1/cash/deposit", json={"amount": "10", field: value}, headers=bearer(token))
    assert answer.status_code == 422
    assert code(answer) == "validation_error"
    assert await ledger_state(engine) == before
    assert await cash(http, token) == 0


@pytest.mark.parametrize(("field", "value"), SMUGGLED)
async def test_a_profile_update_refuses_extra_fields_and_changes_nothing(
    engine: LocalEngine, http: httpx.AsyncClient, token: str, field: str, value: object
) -> None:
    before = await ledger_state(engine)
    answer = await http.patch("/v1/me", json={"display_name": "Queen", field: value}, headers=bearer(token))
    assert answer.status_code == 422
    assert code(answer) == "validation_error"
    assert await ledger_state(engine) == before
    me = (await http.get("/v1/me", headers=bearer(token))).json()
    assert (me["role"], me["display_name"], me["id"]) == ("customer", None, 1)


@pytest.mark.parametrize(("field", "value"), SMUGGLED)
async def test_an_order_refuses_extra_fields_and_places_nothing(
    engine: LocalEngine, http: httpx.AsyncClient, token: str, field: str, value: object
) -> None:
    await engine.deposit(token, "100")
    before = await ledger_state(engine)
    answer = await http.post("/v1/orders", json={"symbol": "BTC", "side": "buy", "notional": "10", field: value},
                             headers=bearer(token))
    assert answer.status_code == 422
    assert code(answer) == "validation_error"
    assert await ledger_state(engine) == before
    assert (await http.get("/v1/orders", headers=bearer(token))).json()["total"] == 0


# -- what error answers give away -----------------------------------------------------------------

SECRET = "Zebra-Secret-42"  # distinctive: if it is anywhere in an answer, the answer echoed it


async def test_register_errors_never_echo_the_password(http: httpx.AsyncClient) -> None:
    assert (await http.post("/v1/auth/register", json={"username": "alice", "password": SECRET})).status_code == 201
    attempts: list[tuple[dict[str, Any], int, str]] = [
        ({"username": "alice", "password": SECRET}, 409, "username_taken"),
        ({"username": "a", "password": SECRET}, 422, "validation_error"),
        ({"username": "bob", "password": SECRET[:7]}, 422, "validation_error"),
        ({"username": "bob", "password": SECRET * 10}, 422, "validation_error"),
        ({"username": "bob", "password": SECRET, "role": "admin"}, 422, "validation_error"),
        ({"username": ["bob"], "password": SECRET}, 422, "validation_error"),
        ({"username": "bob", "password": [SECRET]}, 422, "validation_error"),
        ({"username": "bob", "password": {"value": SECRET}}, 422, "validation_error"),
    ]
    for body, status, expected in attempts:
        answer = await http.post("/v1/auth/register", json=body)
        assert (answer.status_code, code(answer)) == (status, expected), body
        assert SECRET[:7] not in answer.text, answer.text


async def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(
    engine: LocalEngine, http: httpx.AsyncClient, token: str
) -> None:
    await engine.register("carol", PASSWORD)
    await engine.admin_set_disabled(engine.operator_token, "carol", True)
    answers = [
        await http.post("/v1/auth/login", json={"username": "alice", "password": SECRET}),
        await http.post("/v1/auth/login", json={"username": "nobody", "password": SECRET}),
        await http.post("/v1/auth/login", json={"username": "carol", "password": SECRET}),  # disabled
        await http.post("/v1/auth/login", json={"username": "alice", "password": SECRET * 20}),  # too long
    ]
    for answer in answers:
        assert answer.status_code == 401
        assert code(answer) == "invalid_credentials"
        assert answer.content == answers[0].content
        assert SECRET[:7] not in answer.text
    malformed = await http.post("/v1/auth/login", json={"username": "alice", "password": SECRET, "otp": SECRET})
    assert malformed.status_code == 422
    assert SECRET[:7] not in malformed.text
