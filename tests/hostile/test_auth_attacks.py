"""Attacks on accounts over HTTP that tests/server does not already cover: the audit trail of a
brute force, user enumeration by timing, role escalation by smuggled fields, queries and claims,
the key file's permissions seen from the command line, and a full session grepped for secrets.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sqlite3
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from argon2 import PasswordHasher as Argon2
from typer.testing import CliRunner

from hostile_helpers import PASSWORD, QUIET, bearer, changed_tables, client, error_of, ledger_snapshot, quiet
from orderproc.cli.main import app as cli_app
from orderproc.engine.errors import LedgerUnavailable
from orderproc.engine.schemas import Role
from orderproc.engine.service import LocalEngine
from orderproc.server.app import create_app

NEW_PASSWORD = "a brand new battery"
WRONG_PASSWORD = "my wrong guess 123"


@pytest.fixture
async def http(engine: LocalEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with client(create_app(engine, QUIET)) as c:
        yield c


def retry_after(answer: httpx.Response) -> int:
    assert answer.status_code == 429, answer.text
    assert error_of(answer)["code"] == "rate_limited"
    seconds = answer.headers["retry-after"]
    assert seconds.isdigit() and int(seconds) >= 1, seconds
    return int(seconds)


async def failed_logins(engine: LocalEngine, name: str) -> list[Any]:
    page = await engine.admin_audit(engine.operator_token, limit=500)
    return [e for e in page.items if e.action == "login_failed" and e.target == name]


# -- brute force -------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["alice", "nobody"], ids=["existing-account", "unknown-account"])
async def test_a_brute_force_is_throttled_per_account_and_every_attempt_that_reached_the_engine_is_audited(
    engine: LocalEngine, token: str, target: str
) -> None:
    app = create_app(engine, quiet(login_limit=5))  # a burst of 5, then 5 a minute
    answers: list[tuple[str, httpx.Response]] = []
    for n in range(12):
        address = f"10.1.0.{n}"  # a new address each time: the per-address limit never applies
        async with client(app, (address, 4000)) as http:
            guess = PASSWORD if n == 11 else f"guess number {n}"  # the last one is right
            answers.append((address, await http.post("/v1/auth/login", json={"username": target, "password": guess})))

    reached = [(address, a) for address, a in answers if a.status_code != 429]
    assert [a.status_code for _, a in reached] == [401] * 5
    for _, throttled in answers[5:]:
        retry_after(throttled)
        assert "token" not in throttled.text  # even the right password gets no session now
    audited = await failed_logins(engine, target)
    assert len(audited) == len(reached)
    assert sorted(e.source for e in audited) == sorted(address for address, _ in reached)
    assert {e.detail.get("reason") for e in audited} == {"invalid_credentials"}
    assert all(e.actor == target for e in audited)


async def test_a_login_refused_for_a_disabled_account_is_audited_with_its_reason(
    engine: LocalEngine, http: httpx.AsyncClient, token: str
) -> None:
    await engine.admin_set_disabled(engine.operator_token, "alice", True)
    answer = await http.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert (answer.status_code, error_of(answer)["code"]) == (403, "forbidden")
    [event] = await failed_logins(engine, "alice")
    assert event.detail == {"reason": "forbidden"}


# -- user enumeration ---------------------------------------------------------------------------------


@contextmanager
def argon2_verifications() -> Iterator[list[int]]:
    """Counts argon2-cffi's password verifications (each is one argon2 computation)."""
    calls: list[int] = []
    real = Argon2.verify

    def counted(self: Argon2, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(self, *args, **kwargs)

    Argon2.verify = counted  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        Argon2.verify = real  # type: ignore[method-assign]


async def test_an_unknown_user_and_a_wrong_password_cost_the_same_argon2_work(
    http: httpx.AsyncClient, token: str
) -> None:
    # With the real ("strong") profile one verification is ~150 ms: an unknown user answered
    # without one would be told apart by its speed alone. The engine verifies against a dummy
    # hash when the user is unknown (PasswordHasher.verify(password, None)): one argon2 each.
    for body in ({"username": "nobody", "password": WRONG_PASSWORD}, {"username": "alice", "password": WRONG_PASSWORD}):
        with argon2_verifications() as calls:
            answer = await http.post("/v1/auth/login", json=body)
        assert answer.status_code == 401
        assert len(calls) == 1, body
    for body in ({"username": "nobody", "password": "p" * 200}, {"username": "alice", "password": "p" * 200}):
        with argon2_verifications() as calls:  # too long for any account: neither is hashed
            assert (await http.post("/v1/auth/login", json=body)).status_code == 401
        assert calls == [], body


async def test_an_unknown_user_and_a_wrong_password_take_similar_time_and_answer_the_same(
    http: httpx.AsyncClient, token: str
) -> None:
    attempts = {"unknown user": {"username": "nobody", "password": WRONG_PASSWORD},
                "wrong password": {"username": "alice", "password": WRONG_PASSWORD}}
    for body in attempts.values():  # warm up (the dummy hash is made on first need)
        await http.post("/v1/auth/login", json=body)
    times: dict[str, list[float]] = {name: [] for name in attempts}
    bodies: set[bytes] = set()
    for _ in range(15):
        for name, body in attempts.items():  # interleaved: a slow moment hits both alike
            started = time.perf_counter()
            answer = await http.post("/v1/auth/login", json=body)
            times[name].append(time.perf_counter() - started)
            assert answer.status_code == 401
            bodies.add(answer.content)
    assert len(bodies) == 1
    unknown, wrong = (statistics.median(times[name]) for name in attempts)
    # generous: the fast hash profile costs about a millisecond, and CI's cores are busy
    assert max(unknown, wrong) < 3 * min(unknown, wrong), times


# -- role escalation ----------------------------------------------------------------------------------


SMUGGLED = [("role", "admin"), ("user_id", 2), ("cash", "1000000"), ("is_admin", True)]
BODIES = [("/v1/auth/login", {"username": "alice", "password": PASSWORD}),
          ("/v1/me/password", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}),
          ("/v1/cash/withdraw", {"amount": "1"})]


@pytest.mark.parametrize(("field", "value"), SMUGGLED)
@pytest.mark.parametrize(("path", "body"), BODIES, ids=[p for p, _ in BODIES])
async def test_a_role_user_or_cash_field_smuggled_into_a_body_is_refused_and_changes_nothing(
    engine: LocalEngine, http: httpx.AsyncClient, token: str, path: str, body: dict[str, str], field: str, value: Any
) -> None:
    await engine.deposit(token, "10")
    before = ledger_snapshot(engine.path)
    answer = await http.post(path, json={**body, field: value}, headers=bearer(token))
    assert (answer.status_code, error_of(answer)["code"]) == (422, "validation_error")
    assert "token" not in answer.text
    assert changed_tables(before, ledger_snapshot(engine.path)) == []
    assert (await engine.whoami(token)).role is Role.CUSTOMER


async def test_a_user_or_role_in_the_query_string_is_ignored(engine: LocalEngine, http: httpx.AsyncClient,
                                                             token: str) -> None:
    await engine.register("bob", PASSWORD)
    bob = (await engine.login("bob", PASSWORD)).token
    await engine.deposit(bob, "500")
    smuggled = {"user_id": "2", "username": "bob", "role": "admin", "as": "bob", "sub": "2"}
    me = await http.get("/v1/me", params=smuggled, headers=bearer(token))
    cash = await http.get("/v1/cash", params=smuggled, headers=bearer(token))
    users = await http.get("/v1/admin/users", params=smuggled, headers=bearer(token))
    assert (me.json()["username"], me.json()["role"]) == ("alice", "customer")
    assert cash.json()["cash"] == "0.00"
    assert (users.status_code, error_of(users)["code"]) == (403, "forbidden")


@pytest.mark.parametrize("name", ["alice", "ALICE", "alice%20", "%20alice", "alice%00", "al%C3%AFce"])
async def test_a_customer_cannot_make_themselves_admin_under_any_spelling_of_their_name(
    engine: LocalEngine, http: httpx.AsyncClient, token: str, name: str
) -> None:
    before = ledger_snapshot(engine.path)
    answer = await http.patch(f"/v1/admin/users/{name}", json={"role": "admin", "disabled": False},
                              headers=bearer(token))
    assert (answer.status_code, error_of(answer)["code"]) == (403, "forbidden")
    assert changed_tables(before, ledger_snapshot(engine.path)) == []
    assert (await engine.whoami(token)).role is Role.CUSTOMER


async def test_a_role_claim_in_a_validly_signed_token_gives_no_role(
    engine: LocalEngine, http: httpx.AsyncClient, token: str
) -> None:
    # even with the ledger's key (a leak), the role is read from the ledger, never from the token
    key = engine.path.with_name(engine.path.name + ".secret").read_bytes()
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "role": "admin", "admin": True, "scope": "admin"}, key, algorithm="HS256")
    assert (await http.get("/v1/me", headers=bearer(forged))).json()["role"] == "customer"
    answer = await http.get("/v1/admin/users", headers=bearer(forged))
    assert (answer.status_code, error_of(answer)["code"]) == (403, "forbidden")


# -- the key file ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o604, 0o660, 0o620, 0o602, 0o644, 0o666], ids=oct)
def test_a_key_file_others_can_read_or_write_is_refused_by_the_engine_and_the_cli(
    clock: Any, cli_env: dict[str, str], mode: int
) -> None:
    ledger = Path(cli_env["ORDERPROC_DB"])
    secret = ledger.with_name(ledger.name + ".secret")
    asyncio.run(LocalEngine(ledger, clock=clock, hash_profile="fast").close())
    assert secret.stat().st_mode & 0o777 == 0o600
    key = secret.read_bytes()
    secret.chmod(mode)

    with pytest.raises(LedgerUnavailable, match="chmod 600"):
        LocalEngine(ledger, clock=clock, hash_profile="fast")
    result = CliRunner().invoke(cli_app, ["admin", "verify"])
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert result.stderr.startswith("error[ledger_unavailable]: ") and result.stderr.count("\n") == 1
    assert secret.read_bytes() == key and secret.stat().st_mode & 0o777 == mode  # left as it was


# -- secrets never leak -------------------------------------------------------------------------------------


@contextmanager
def every_log_record() -> Iterator[list[logging.LogRecord]]:
    """Every record of every logger (the server's propagates nowhere when configured: it gets its own)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.DEBUG)
    loggers = [logging.getLogger(), logging.getLogger("orderproc.server")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def password_hash(ledger: Path, username: str) -> str:
    conn = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    try:
        (found,) = conn.execute("SELECT password_hash FROM users WHERE username = ?", (username,)).fetchone()
        return str(found)
    finally:
        conn.close()


async def test_after_a_full_session_no_password_hash_key_or_token_is_in_the_audit_log_an_answer_or_a_log(
    engine: LocalEngine,
) -> None:
    answers: list[tuple[httpx.Response, str | None]] = []  # each answer with the token it issued
    hashes: list[str] = []

    with every_log_record() as records:
        async with client(create_app(engine, quiet(log_requests=True))) as http:
            async def call(method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
                headers = {**(bearer(token) if token else {}), **kwargs.pop("headers", {})}
                answer = await http.request(method, path, headers=headers, **kwargs)
                issued = answer.json().get("token") if answer.headers.get("content-type") == "application/json" \
                    and isinstance(answer.json(), dict) else None
                answers.append((answer, issued))
                return answer

            await call("POST", "/v1/auth/register", json={"username": "alice", "password": PASSWORD})
            hashes.append(password_hash(engine.path, "alice"))
            await call("POST", "/v1/auth/login", json={"username": "alice", "password": WRONG_PASSWORD})
            await call("POST", "/v1/auth/login", json={"username": "nobody", "password": PASSWORD})
            first = (await call("POST", "/v1/auth/login", json={"username": "alice", "password": PASSWORD})).json()["token"]
            await call("POST", "/v1/me/password", first, json={"old_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD})
            second = (await call("POST", "/v1/me/password", first,
                                 json={"old_password": PASSWORD, "new_password": NEW_PASSWORD})).json()["token"]
            hashes.append(password_hash(engine.path, "alice"))
            await call("GET", "/v1/me", first)  # the ended session
            await call("POST", "/v1/cash/deposit", second, json={"amount": "100"}, headers={"Idempotency-Key": "d-1"})
            await call("POST", "/v1/orders", second, json={"symbol": "ETH", "side": "buy", "notional": "25"})
            await call("POST", "/v1/orders", second, json={"symbol": "BTC", "side": "sell", "quantity": "1"})
            await call("GET", "/v1/transactions", second)
            await call("POST", "/v1/auth/logout", second)
            third = (await call("POST", "/v1/auth/login", json={"username": "alice", "password": NEW_PASSWORD})).json()["token"]
            await call("GET", "/v1/portfolio", third)
            await call("POST", "/v1/auth/logout", third)

    assert [a.status_code for a, _ in answers] == [201, 401, 401, 200, 401, 200, 401, 201, 201, 422, 200, 204, 200,
                                                   200, 204]
    key = engine.path.with_name(engine.path.name + ".secret").read_bytes()
    tokens = {first, second, third}
    secrets = {PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, *hashes, *(h.rsplit("$", 2)[-1] for h in hashes),
               *(h.rsplit("$", 2)[-2] for h in hashes), key.hex(), base64.urlsafe_b64encode(key).decode().rstrip("="),
               base64.b64encode(key).decode()}
    signatures = {t.rsplit(".", 1)[-1] for t in tokens}

    audit = await engine.admin_audit(engine.operator_token, limit=500)
    conn = sqlite3.connect(f"file:{engine.path}?mode=ro", uri=True)
    try:
        raw_audit = json.dumps(conn.execute("SELECT * FROM audit").fetchall())
    finally:
        conn.close()
    places = {"the audit log": json.dumps([e.to_json_dict() for e in audit.items]) + raw_audit}
    for n, (answer, issued) in enumerate(answers):
        shown = answer.text + json.dumps(dict(answer.headers))
        if issued:  # an answer may carry the one token it issued, and nothing else
            shown = shown.replace(issued, "<its own token>")
        places[f"answer {n} ({answer.request.method} {answer.request.url.path})"] = shown
    formatter = logging.Formatter("%(name)s %(message)s %(args)s")
    places["the logs"] = "\n".join(formatter.format(r) for r in records if not r.name.startswith(("httpx", "httpcore")))
    assert "request" in places["the logs"]  # the request log was on

    for where, text in places.items():
        for secret in secrets | tokens | signatures:
            assert secret not in text, f"{where} shows {secret[:12]}...: {text[:300]}"
