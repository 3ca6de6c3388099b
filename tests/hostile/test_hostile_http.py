"""Hostile requests over HTTP: oversized and deeply nested bodies, bytes that are not UTF-8, lone
surrogates, numbers too large for anything, look-alike user names, NUL bytes and header injection.

Each is answered below 500, in the error format, quickly where size is the attack, and changes
nothing in the ledger (`ledger_snapshot`: every table, and the audit log less the rows a
rejection writes on purpose).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hostile_helpers import (
    CYRILLIC_A,
    PASSWORD,
    QUIET,
    bearer,
    changed_tables,
    client,
    error_of,
    ledger_snapshot,
    quiet,
)
from orderproc.engine import security
from orderproc.engine.schemas import OrderRequest, Role
from orderproc.engine.service import LocalEngine
from orderproc.server.app import create_app

MIB = 1 << 20

# every route that reads a JSON body, with a body it would accept
BODY_ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/v1/auth/register", {"username": "newbie", "password": PASSWORD}),
    ("POST", "/v1/auth/login", {"username": "alice", "password": PASSWORD}),
    ("PATCH", "/v1/me", {"display_name": "Alice"}),
    ("POST", "/v1/me/password", {"old_password": PASSWORD, "new_password": "a brand new battery"}),
    ("POST", "/v1/cash/deposit", {"amount": "10"}),
    ("POST", "/v1/cash/withdraw", {"amount": "10"}),
    ("POST", "/v1/orders", {"symbol": "ETH", "side": "buy", "notional": "10"}),
    ("PATCH", "/v1/admin/users/alice", {"disabled": True}),
]


def _id(route: tuple[str, str, Any]) -> str:
    return f"{route[0]} {route[1]}"


@pytest.fixture
async def funded(engine: LocalEngine, token: str) -> str:
    """alice (the `token` fixture) with cash and some ETH: something a bad request could move."""
    await engine.deposit(token, "1000")
    await engine.place_order(token, OrderRequest(symbol="ETH", side="buy", quantity="0.1"))
    return token


@pytest.fixture
async def http(engine: LocalEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with client(create_app(engine, QUIET)) as c:
        yield c


async def send(http: httpx.AsyncClient, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
    headers = {**bearer(token), **kwargs.pop("headers", {})}
    return await http.request(method, path, headers=headers, **kwargs)


def unchanged(engine: LocalEngine, before: dict[str, Any]) -> None:
    assert changed_tables(before, ledger_snapshot(engine.path)) == []


async def verified(engine: LocalEngine) -> None:
    report = await engine.admin_verify(engine.operator_token)
    assert report.ok, report.problems
    assert all(total == 0 for total in report.sums.values())


# -- size ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", BODY_ROUTES, ids=_id)
@pytest.mark.parametrize("declared", [True, False], ids=["with-length", "chunked"])
async def test_a_1_mib_json_body_is_refused_fast_with_413_and_changes_nothing(
    engine: LocalEngine, funded: str, route: tuple[str, str, dict[str, Any]], declared: bool
) -> None:
    method, path, body = route
    padded = {**body, "password" if "password" in body else "pad": "p" * MIB}
    content = httpx.Request("POST", "/", json=padded).content
    assert len(content) > MIB
    before = ledger_snapshot(engine.path)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(content), 64 * 1024):
            yield content[start:start + 64 * 1024]

    async with client(create_app(engine, QUIET)) as http:  # the default 64 KiB body limit
        started = time.perf_counter()
        answer = await send(http, method, path, funded, content=content if declared else chunks(),
                            headers={"Content-Type": "application/json"})
        elapsed = time.perf_counter() - started
    assert answer.status_code == 413, answer.text[:300]
    assert error_of(answer)["code"] == "payload_too_large"
    assert elapsed < 1.0
    unchanged(engine, before)


async def test_a_1_mib_password_within_the_body_limit_is_refused_without_hashing_it(
    engine: LocalEngine, funded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[int] = []
    for name in ("hash", "verify"):
        real = getattr(security.PasswordHasher, name)

        def counted(self: Any, password: str, *args: Any, real: Any = real) -> Any:
            hashed.append(len(password))
            return real(self, password, *args)

        monkeypatch.setattr(security.PasswordHasher, name, counted)
    huge = "p" * MIB
    before = ledger_snapshot(engine.path)

    async with client(create_app(engine, quiet(max_body_bytes=4 * MIB))) as http:
        started = time.perf_counter()
        register = await http.post("/v1/auth/register", json={"username": "newbie", "password": huge})
        login = await http.post("/v1/auth/login", json={"username": "alice", "password": huge})
        change = await send(http, "POST", "/v1/me/password", funded,
                            json={"old_password": huge, "new_password": "a brand new battery"})
        elapsed = time.perf_counter() - started

    assert (register.status_code, error_of(register)["code"]) == (422, "validation_error")
    assert (login.status_code, error_of(login)["code"]) == (401, "invalid_credentials")
    assert (change.status_code, error_of(change)["code"]) == (401, "invalid_credentials")
    assert hashed == []  # no argon2 work on a password no account can have
    assert elapsed < 2.0
    unchanged(engine, before)  # the failed login is audited: `login_failed` is allowed
    for answer in (register, login, change):
        assert "ppppp" not in answer.text


# -- bodies that are not JSON the app can read -------------------------------------------------------

UNREADABLE = {
    "10000-nested-lists": b"[" * 10_000 + b"]" * 10_000,
    "10000-nested-objects": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "invalid-utf-8-in-a-string": b'{"username": "al\xffice", "password": "\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe", '
                                 b'"amount": "1\xff", "symbol": "\xc3", "display_name": "\xed\xa0\x80"}',
    "utf-16-bom": b"\xff\xfe{\x00}\x00",
}


@pytest.mark.parametrize("body", UNREADABLE.values(), ids=UNREADABLE.keys())
@pytest.mark.parametrize("route", BODY_ROUTES, ids=_id)
async def test_a_body_that_is_not_readable_json_gets_a_4xx_in_the_error_format_and_changes_nothing(
    engine: LocalEngine, http: httpx.AsyncClient, funded: str, route: tuple[str, str, Any], body: bytes
) -> None:
    method, path, _ = route
    before = ledger_snapshot(engine.path)
    answer = await send(http, method, path, funded, content=body, headers={"Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500, answer.text[:300]
    error_of(answer)
    unchanged(engine, before)


@pytest.mark.parametrize("body", [UNREADABLE["10000-nested-lists"], UNREADABLE["invalid-utf-8-in-a-string"]],
                         ids=["10000-nested-lists", "invalid-utf-8"])
@pytest.mark.parametrize("route", BODY_ROUTES, ids=_id)
async def test_a_body_that_is_not_readable_json_is_the_documented_422_validation_error(
    engine: LocalEngine, http: httpx.AsyncClient, funded: str, route: tuple[str, str, Any], body: bytes
) -> None:
    # orderproc/server/__init__.py: "a malformed request is `validation_error` (422)"
    method, path, _ = route
    answer = await send(http, method, path, funded, content=body, headers={"Content-Type": "application/json"})
    assert (answer.status_code, error_of(answer)["code"]) == (422, "validation_error")


LONE_SURROGATE = "\\ud800"  # the JSON escape: valid JSON text, but no UTF-8 string

SURROGATE_BODIES: list[tuple[str, str, str]] = [
    ("POST", "/v1/auth/register", '{"username": "newbie", "password": "%s%s"}' % (LONE_SURROGATE, "x" * 8)),
    ("POST", "/v1/auth/register", '{"username": "new%sbie", "password": "%s"}' % (LONE_SURROGATE, PASSWORD)),
    ("POST", "/v1/auth/login", '{"username": "nobody", "password": "%s%s"}' % (LONE_SURROGATE, "x" * 8)),
    ("POST", "/v1/auth/login", '{"username": "alice", "password": "%s%s"}' % (LONE_SURROGATE, "x" * 8)),
    ("POST", "/v1/auth/login", '{"username": "al%sice", "password": "%s"}' % (LONE_SURROGATE, PASSWORD)),
    ("POST", "/v1/me/password", '{"old_password": "%s", "new_password": "%s%s"}' % (PASSWORD, LONE_SURROGATE, "x" * 8)),
    ("POST", "/v1/me/password", '{"old_password": "%s%s", "new_password": "%s"}' % (LONE_SURROGATE, "x" * 8, "x" * 9)),
    ("PATCH", "/v1/me", '{"display_name": "A%s", "email": "a%s@b.co"}' % (LONE_SURROGATE, LONE_SURROGATE)),
    ("POST", "/v1/cash/deposit", '{"amount": "1%s"}' % LONE_SURROGATE),
    ("POST", "/v1/orders", '{"symbol": "ETH%s", "side": "buy", "notional": "10"}' % LONE_SURROGATE),
    ("PATCH", "/v1/admin/users/alice", '{"role": "ad%smin"}' % LONE_SURROGATE),
]


@pytest.mark.parametrize(("method", "path", "body"), SURROGATE_BODIES,
                         ids=[f"{m} {p} {b[:24]}" for m, p, b in SURROGATE_BODIES])
async def test_a_lone_surrogate_escape_in_a_json_body_gets_a_4xx_and_changes_nothing(
    engine: LocalEngine, http: httpx.AsyncClient, funded: str, method: str, path: str, body: str
) -> None:
    before = ledger_snapshot(engine.path)
    answer = await send(http, method, path, funded, content=body.encode(), headers={"Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500, answer.text[:300]
    error_of(answer)
    unchanged(engine, before)
    await verified(engine)


# -- bytes that are not UTF-8 in the path and the query ------------------------------------------------

NOT_UTF8_URLS = [
    ("GET", "/v1/assets/%FF"), ("GET", "/v1/quotes/%FF"), ("GET", "/v1/assets/%FF/history"),
    ("GET", "/v1/orders/%FF"), ("PATCH", "/v1/admin/users/%FF"), ("GET", "/v1/assets/%ED%A0%80"),
    ("GET", "/v1/assets?search=%FF"), ("GET", "/v1/assets?category=%C3&sort=%FF"), ("GET", "/v1/quotes?symbols=%FF,BTC"),
    ("GET", "/v1/orders?symbol=%FF"), ("GET", "/v1/transactions?kind=%FF"), ("GET", "/v1/leaderboard?sort=%FF"),
    ("GET", "/v1/orders?offset=%FF"), ("GET", "/v1/stream/quotes?count=%FF"), ("GET", "/v1/assets/BTC%00"),
    ("GET", "/v1/quotes?symbols=%00"), ("GET", "/v1/assets?search=%00"),
]


@pytest.mark.parametrize(("method", "url"), NOT_UTF8_URLS, ids=[f"{m} {u}" for m, u in NOT_UTF8_URLS])
async def test_bytes_that_are_not_utf8_in_a_path_or_query_get_an_answer_below_500_and_change_nothing(
    engine: LocalEngine, http: httpx.AsyncClient, funded: str, method: str, url: str
) -> None:
    before = ledger_snapshot(engine.path)
    answer = await send(http, method, url, funded, json={"role": "admin"} if method == "PATCH" else None)
    assert answer.status_code < 500, answer.text[:300]
    if answer.status_code >= 400:
        error_of(answer)
    else:
        assert isinstance(answer.json(), list)
    unchanged(engine, before)


# -- numbers too large for anything ---------------------------------------------------------------------

HUGE_TEXT = ["1e308", "1" + "0" * 400, "1e999999", "-1e999999", "1e-999999", "9" * 64 + ".5"]


@pytest.mark.parametrize("amount", HUGE_TEXT)
@pytest.mark.parametrize(("path", "field"), [("/v1/cash/deposit", "amount"), ("/v1/cash/withdraw", "amount"),
                                             ("/v1/orders", "quantity"), ("/v1/orders", "notional")])
async def test_a_huge_amount_or_quantity_as_a_string_is_an_invalid_amount_and_changes_nothing(
    engine: LocalEngine, http: httpx.AsyncClient, funded: str, path: str, field: str, amount: str
) -> None:
    body = {field: amount} if path.startswith("/v1/cash") else {"symbol": "ETH", "side": "buy", field: amount}
    before = ledger_snapshot(engine.path)
    answer = await send(http, "POST", path, funded, json=body)
    assert (answer.status_code, error_of(answer)["code"]) == (422, "invalid_amount")
    unchanged(engine, before)


@pytest.mark.parametrize("number", [b"1e308", b"1" + b"0" * 400, b"1e999999", b"-1e999999", b"-0", b"1e-400"])
@pytest.mark.parametrize("field", ["quantity", "notional", "price_limit"])
async def test_a_huge_number_as_a_json_number_in_an_order_is_an_invalid_amount(
    engine: LocalEngine, http: httpx.AsyncClient, funded: str, field: str, number: bytes
) -> None:
    amount = b'"quantity": "0.01", ' if field == "price_limit" else b""
    body = b'{"symbol": "ETH", "side": "buy", ' + amount + b'"' + field.encode() + b'": ' + number + b"}"
    before = ledger_snapshot(engine.path)
    answer = await send(http, "POST", "/v1/orders", funded, content=body, headers={"Content-Type": "application/json"})
    assert (answer.status_code, error_of(answer)["code"]) == (422, "invalid_amount")
    unchanged(engine, before)


@pytest.mark.parametrize("number", [b"1e308", b"1" + b"0" * 400, b"1e999999", b"100"])
async def test_a_number_where_the_cash_amount_is_a_decimal_string_is_refused(
    engine: LocalEngine, http: httpx.AsyncClient, funded: str, number: bytes
) -> None:
    # the cash routes take the amount as a string only (a JSON number may have gone through a
    # float): refused as a type error, a validation_error rather than invalid_amount
    before = ledger_snapshot(engine.path)
    answer = await send(http, "POST", "/v1/cash/deposit", funded, content=b'{"amount": ' + number + b"}",
                        headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    assert error_of(answer)["code"] in ("validation_error", "invalid_amount")
    unchanged(engine, before)


HUGE_QUERIES = [
    ("/v1/orders", {"offset": str(2**63)}), ("/v1/orders", {"offset": "1" + "0" * 30}),
    ("/v1/transactions", {"offset": str(2**63)}), ("/v1/transactions", {"offset": "1" + "0" * 400}),
    ("/v1/admin/audit", {"offset": str(2**63)}), ("/v1/orders", {"limit": "1" + "0" * 400}),
    ("/v1/leaderboard", {"limit": str(2**64)}), ("/v1/assets/BTC/history", {"hours": "1" + "0" * 30}),
    ("/v1/assets/BTC/history", {"points": "1e999999"}), ("/v1/stream/quotes", {"count": str(2**63)}),
    ("/v1/stream/quotes", {"interval": "1e308"}), (f"/v1/orders/{2**63}", {}), (f"/v1/orders/{10**400}", {}),
]


@pytest.mark.parametrize(("path", "query"), HUGE_QUERIES, ids=[f"{p}-{'-'.join(q)}"[:60] for p, q in HUGE_QUERIES])
async def test_a_huge_number_in_a_query_or_path_is_a_4xx_not_a_500(
    engine: LocalEngine, http: httpx.AsyncClient, funded: str, path: str, query: dict[str, str]
) -> None:
    await engine.register("root", PASSWORD)
    await engine.admin_set_role(engine.operator_token, "root", Role.ADMIN)
    token = (await engine.login("root", PASSWORD)).token if path.startswith("/v1/admin/") else funded
    before = ledger_snapshot(engine.path)
    answer = await send(http, "GET", path, token, params=query)
    assert 400 <= answer.status_code < 500, answer.text[:300]
    assert error_of(answer)["code"] in ("validation_error", "not_found")
    unchanged(engine, before)


# -- look-alike names and NUL bytes -------------------------------------------------------------------------

LOOK_ALIKES = {
    "cyrillic-a": f"{CYRILLIC_A}lice", "fullwidth": "\uff41\uff4c\uff49\uff43\uff45", "zero-width-space": "al\u200bice",
    "zero-width-joiner": "alice\u200d", "rtl-override": "\u202ealice", "rtl-mark": "\u200falice", "bom": "\ufeffalice",
    "nul-suffix": "alice\x00", "nul-inside": "al\x00ice", "leading-space": " alice", "dotted-capital-i": "AL\u0130CE",
}


@pytest.mark.parametrize("name", LOOK_ALIKES.values(), ids=LOOK_ALIKES.keys())
async def test_a_look_alike_of_a_users_name_can_neither_register_nor_log_in_as_them(
    engine: LocalEngine, http: httpx.AsyncClient, funded: str, name: str
) -> None:
    # what the engine does: a user name is 3-32 ASCII letters, digits, "_", "." or "-" (so every
    # look-alike is refused at registration), and a login compares it case-insensitively
    before = ledger_snapshot(engine.path)
    registered = await http.post("/v1/auth/register", json={"username": name, "password": "another password"})
    assert (registered.status_code, error_of(registered)["code"]) == (422, "validation_error")
    login = await http.post("/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert (login.status_code, error_of(login)["code"]) == (401, "invalid_credentials")
    assert "token" not in login.text
    unchanged(engine, before)
    assert [u.username for u in await engine.admin_users(engine.operator_token)] == ["alice"]


async def test_a_name_that_only_lowercases_to_a_users_name_is_not_that_user(
    engine: LocalEngine, http: httpx.AsyncClient
) -> None:
    # U+212A KELVIN SIGN is not a letter a user name may have, but str.lower() makes it a Latin "k"
    await engine.register("kate", PASSWORD)
    kelvin = "\u212aate"
    registered = await http.post("/v1/auth/register", json={"username": kelvin, "password": PASSWORD})
    assert (registered.status_code, error_of(registered)["code"]) == (422, "validation_error")
    login = await http.post("/v1/auth/login", json={"username": kelvin, "password": PASSWORD})
    assert login.status_code == 401, f"{kelvin!r} logged in as {login.json().get('user', {}).get('username')!r}"


async def test_a_case_variant_of_a_name_is_the_same_account_by_design_and_cannot_be_registered_again(
    engine: LocalEngine, http: httpx.AsyncClient, funded: str
) -> None:
    taken = await http.post("/v1/auth/register", json={"username": "ALICE", "password": "another password"})
    assert (taken.status_code, error_of(taken)["code"]) == (409, "username_taken")
    login = await http.post("/v1/auth/login", json={"username": "ALICE", "password": PASSWORD})
    assert login.status_code == 200
    assert login.json()["user"]["username"] == "alice"


async def test_a_password_is_compared_whole_past_a_nul_byte(engine: LocalEngine, http: httpx.AsyncClient) -> None:
    password = "abcd\x00efgh-ijkl"
    assert (await http.post("/v1/auth/register", json={"username": "nully", "password": password})).status_code == 201
    for prefix in ("abcd", "abcd\x00", "abcd\x00efgh"):
        answer = await http.post("/v1/auth/login", json={"username": "nully", "password": prefix})
        assert (answer.status_code, error_of(answer)["code"]) == (401, "invalid_credentials"), repr(prefix)
    assert (await http.post("/v1/auth/login", json={"username": "nully", "password": password})).status_code == 200


async def test_a_nul_byte_in_a_profile_field_is_refused_and_changes_nothing(
    engine: LocalEngine, http: httpx.AsyncClient, funded: str
) -> None:
    before = ledger_snapshot(engine.path)
    for body in ({"display_name": "Al\x00ice"}, {"email": "a\x00@b.co"}, {"display_name": "\x00"}):
        answer = await send(http, "PATCH", "/v1/me", funded, json=body)
        assert (answer.status_code, error_of(answer)["code"]) == (422, "validation_error"), body
    unchanged(engine, before)


# -- header injection ---------------------------------------------------------------------------------------

INJECTED = ["a\r\nX-Evil: 1", "a\nSet-Cookie: pwned=1", "a\rb", "a\x00b", "\r\n\r\n<html>"]


@pytest.mark.parametrize("key", INJECTED)
@pytest.mark.parametrize(("path", "body"), [("/v1/cash/deposit", {"amount": "10"}),
                                            ("/v1/cash/withdraw", {"amount": "10"}),
                                            ("/v1/orders", {"symbol": "ETH", "side": "buy", "notional": "10"})])
async def test_an_idempotency_key_carrying_a_header_injection_is_refused_and_changes_nothing(
    engine: LocalEngine, http: httpx.AsyncClient, funded: str, path: str, body: dict[str, str], key: str
) -> None:
    before = ledger_snapshot(engine.path)
    answer = await send(http, "POST", path, funded, json=body, headers={"Idempotency-Key": key})
    assert (answer.status_code, error_of(answer)["code"]) == (422, "validation_error")
    assert "x-evil" not in answer.headers and "set-cookie" not in answer.headers
    assert key not in answer.text
    unchanged(engine, before)


@pytest.mark.parametrize("request_id", INJECTED + ["ok\xff", "id\u2028x"])
async def test_a_request_id_carrying_a_header_injection_is_replaced_and_never_echoed(
    http: httpx.AsyncClient, funded: str, request_id: str
) -> None:
    answer = await send(http, "GET", "/v1/cash", funded, headers={"X-Request-ID": request_id.encode("utf-8")})
    assert answer.status_code == 200
    echoed = answer.headers["X-Request-ID"]
    assert echoed != request_id and echoed.isalnum(), echoed
    assert "x-evil" not in answer.headers and "set-cookie" not in answer.headers


@pytest.mark.parametrize("header", ["Bearer abc\r\nX-Evil: 1", "Bearer \x00", "Bearer \xff\xfe", "Bearer " + "a" * 10_000])
async def test_an_authorization_header_carrying_an_injection_answers_401_and_changes_nothing(
    engine: LocalEngine, http: httpx.AsyncClient, funded: str, header: str
) -> None:
    before = ledger_snapshot(engine.path)
    answer = await http.post("/v1/cash/deposit", json={"amount": "10"},
                             headers={b"Authorization": header.encode("latin-1")})
    assert (answer.status_code, error_of(answer)["code"]) == (401, "auth_required")
    assert "x-evil" not in answer.headers
    unchanged(engine, before)


async def test_a_latin1_idempotency_key_works_like_any_printable_key(
    engine: LocalEngine, http: httpx.AsyncClient, funded: str
) -> None:
    key = "clé-\xe9\xff".encode("latin-1")
    deposits = (await engine.history(funded, kind="deposit")).total
    first = await send(http, "POST", "/v1/cash/deposit", funded, json={"amount": "10"}, headers={"Idempotency-Key": key})
    again = await send(http, "POST", "/v1/cash/deposit", funded, json={"amount": "10"}, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert (await engine.history(funded, kind="deposit")).total == deposits + 1
    await verified(engine)

