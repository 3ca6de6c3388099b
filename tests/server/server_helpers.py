"""Helpers for the HTTP API tests: the app on the test ledger, clients at any address, tokens.

The app runs in-process through httpx's ASGI transport (no lifespan: the `engine` fixture of
tests/conftest.py opens and closes the ledger). Every client is closed by `async with`.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from serve_support import free_port, serving

from orderproc.config import Settings
from orderproc.engine.service import LocalEngine

PASSWORD = "correct horse battery"  # the `token` fixture's password (tests/conftest.py)
HOME = ("127.0.0.1", 123)  # the ASGI transport's default client address

# no limits and no request log: what a test does not set cannot get in its way
QUIET = Settings(rate_limit=0, login_limit=0, log_requests=False)


def quiet(**fields: Any) -> Settings:
    """QUIET with some fields changed."""
    return QUIET.model_copy(update=fields)


def client(app: FastAPI, address: tuple[str, int] = HOME, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    """An HTTP client on `app`, calling from `address`; use it in `async with`. With
    `raise_app_exceptions=False` an error the app lets out is answered (500), not raised here."""
    transport = httpx.ASGITransport(app=app, client=address, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error(response: httpx.Response) -> dict[str, Any]:
    """The `error` object of an error answer, after checking the error format."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "details"} <= set(body["error"]), body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    found: dict[str, Any] = body["error"]
    return found


def code(response: httpx.Response) -> str:
    return str(error(response)["code"])


async def sign_up(http: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    """Register `username` over HTTP and log in; the session token."""
    registered = await http.post("/v1/auth/register", json={"username": username, "password": password})
    assert registered.status_code == 201, registered.text
    return await log_in(http, username, password)


async def log_in(http: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    answer = await http.post("/v1/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


async def cash(http: httpx.AsyncClient, token: str) -> Decimal:
    answer = await http.get("/v1/cash", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return Decimal(answer.json()["cash"])


async def ledger_state(engine: LocalEngine) -> tuple[Any, ...]:
    """Everything a request could change: users (roles, flags, profiles), the audit log, the
    journal (entries, postings, orders, sums by asset)."""
    users = await engine.admin_users(engine.operator_token)
    audit = await engine.admin_audit(engine.operator_token, limit=1)
    report = await engine.admin_verify(engine.operator_token)
    assert report.ok, report.problems
    return (
        [u.model_dump() for u in users], audit.total, report.entries, report.postings, report.orders,
        report.accounts, dict(report.sums),
    )


# -- tokens ----------------------------------------------------------------------------------


def ledger_secret(engine: LocalEngine) -> bytes:
    """The ledger's real signing key (the file next to it)."""
    return engine.path.with_name(engine.path.name + ".secret").read_bytes()


def claims_of(token: str) -> dict[str, Any]:
    """A token's payload, read without checking it."""
    payload: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return payload


def sign(claims: dict[str, Any], key: bytes) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def with_payload(token: str, claims: dict[str, Any]) -> str:
    """`token` with its payload replaced and its header and signature kept."""
    header, _payload, signature = token.split(".")
    return ".".join([header, _b64(json.dumps(claims).encode()), signature])


def unsigned(claims: dict[str, Any]) -> str:
    """An `alg: none` token: no signature at all."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


# -- logs ------------------------------------------------------------------------------------


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@contextmanager
def captured_log(name: str = "orderproc.server") -> Iterator[Records]:
    """Every record of logger `name` (and its children) at INFO and above, whatever the root
    logger's level or whether the logger propagates."""
    logger = logging.getLogger(name)
    handler = Records()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


# -- the real server ---------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A running `orderproc serve --db shared.db`; its URL and ledger file. Its log is checked
    at the end: JSON lines, no password, no token, no API key credential."""
    ledger = tmp_path / "shared.db"
    log_path = tmp_path / "server.log"
    with serving(ledger, free_port(), tmp_path / "server", log_path) as url:
        yield url, ledger
    for line in log_path.read_text().splitlines():
        assert PASSWORD not in line
        if line.startswith("{"):
            assert "Bearer" not in line and "eyJ" not in line
            assert not re.search(r"PK[A-Z0-9]{18}\.", line), line  # an API key's credential
