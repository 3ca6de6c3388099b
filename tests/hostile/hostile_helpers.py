"""Shared by the hostile-input tests (tests/hostile): what a rejected request may not change, the
hostile values every surface is fed, and an engine with an event loop of its own for Hypothesis.

A rejected call must leave the ledger file exactly as it was, except for the audit rows that a
rejection is meant to write (`login_failed`, `order_rejected`). `ledger_snapshot` reads every table
straight from the file (a read-only connection), so a change no engine call shows is caught too.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI
from hypothesis import strategies as st

from orderproc.config import Settings
from orderproc.engine import errors
from orderproc.engine.schemas import OrderRequest, Role, Side
from orderproc.engine.service import LocalEngine

T = TypeVar("T")

PASSWORD = "correct horse battery"
EPOCH = 1_780_000_000.0  # the fixed market epoch of tests/conftest.py: prices are reproducible

# what a rejection is meant to write to the audit log (and nothing else)
AUDITED_REJECTIONS = frozenset({"login_failed", "order_rejected"})

_TABLES = ("meta", "accounts", "users", "balances", "assets", "entries", "postings", "orders",
           "idempotency_keys", "revoked_tokens")


def ledger_snapshot(path: Path) -> dict[str, Any]:
    """Every row of the ledger a rejected call must not touch: all tables in full, and the audit
    log without the rows a rejection writes on purpose."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found = {name: conn.execute(f"SELECT * FROM {name} ORDER BY rowid").fetchall() for name in _TABLES}
        # how far the price loop has matched ticks: any call that catches up first may move it,
        # whatever becomes of the call (it records the market's progress, not the request's)
        found["meta"] = conn.execute("SELECT * FROM meta WHERE key != 'matched_through' ORDER BY rowid").fetchall()
        found["audit"] = [row for row in conn.execute("SELECT id, actor_id, actor, action, target, detail, source"
                                                      " FROM audit ORDER BY id").fetchall()
                          if row[3] not in AUDITED_REJECTIONS]
        return found
    finally:
        conn.close()


def audit_actions(path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT action FROM audit ORDER BY id")]
    finally:
        conn.close()


def changed_tables(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))


def check_domain_error(exc: BaseException) -> errors.OrderprocError:
    """`exc` is an OrderprocError with a registered stable code, a message, and details that
    travel as JSON (the server and the remote client carry them)."""
    assert isinstance(exc, errors.OrderprocError), f"{type(exc).__module__}.{type(exc).__name__}: {exc!r}"[:500]
    assert errors.ERRORS_BY_CODE.get(exc.code) is type(exc), f"unregistered code {exc.code!r} of {type(exc)}"
    assert isinstance(exc.message, str) and exc.message, repr(exc)
    json.dumps(exc.to_dict())  # raises if a detail is not JSON (bytes, Decimal, an object)
    return exc


# -- HTTP -----------------------------------------------------------------------------------------

# no rate limits and no request log: what a test does not set cannot get in its way
QUIET = Settings(rate_limit=0, login_limit=0, log_requests=False)


def quiet(**fields: Any) -> Settings:
    return QUIET.model_copy(update=fields)


def client(app: FastAPI, address: tuple[str, int] = ("127.0.0.1", 123)) -> httpx.AsyncClient:
    """An HTTP client into `app` (use it in `async with`); an error the app lets out is answered
    500 here, as a server would, rather than raised into the test."""
    transport = httpx.ASGITransport(app=app, client=address, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_of(answer: httpx.Response) -> dict[str, Any]:
    """The `error` object of an error answer, after checking the error format."""
    assert answer.status_code < 500, f"{answer.status_code} {answer.text[:300]}"
    body = answer.json()
    assert isinstance(body, dict) and set(body) == {"error"}, answer.text[:300]
    error: dict[str, Any] = body["error"]
    assert {"code", "message", "details"} <= set(error), answer.text[:300]
    assert isinstance(error["message"], str) and error["message"], answer.text[:300]
    assert isinstance(error["details"], dict), answer.text[:300]
    return error


# -- hostile values --------------------------------------------------------------------------------

CYRILLIC_A = "\u0430"  # looks like Latin "a"
CONFUSABLE_TEXT = [
    f"{CYRILLIC_A}lice",  # Cyrillic а
    "\uff41\uff4c\uff49\uff43\uff45",  # fullwidth "ａｌｉｃｅ"
    "ALICE", " alice", "alice ", "alice\n", "al\u200bice", "alice\u200d", "\u202ealice", "\u200falice",
    "\ufeffalice", "\u212aate",  # KELVIN SIGN, which str.lower() turns into a Latin "k"
    "al\u0130ce", "alice\x00", "al\x00ice", "\x00", "",
    "\u0412\u0422\u0421",  # Cyrillic "ВТС"
    "BTC\u200d", "B\u0301TC", "\uff22\uff34\uff23",  # fullwidth "ＢＴＣ"
    "\ud800", "a\udfffb", "\udcff",  # lone surrogates (the last is what argv makes of a byte 0xFF)
    "x" * 300, "\U0001f4b0" * 10, "'; DROP TABLE users;--",
]
NUMBER_TEXT = [
    "1e308", "1" + "0" * 400, "1e999999", "-1e999999", "1e-999999", "-0", "+0", "0.00", "-0.00", "NaN", "-nan",
    "sNaN", "Infinity", "-inf", "\uff11\uff10\uff10",  # fullwidth "１００"
    "\u0661\u0660", "1_000", "1,000", " 5 ", "5\x00", "0x10", "+1", ".5", "5.", "1E+4", "1e-30", "9" * 65,
    "\u2212" + "5",  # MINUS SIGN
    "1.0000000001", "0.001", "1e13", "1000000000000.01", "٣",
]
HUGE_INTS = [2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, 10**400, -(10**400), 10**5000]
ODD_NUMBERS: list[Any] = [
    -0.0, float("nan"), float("inf"), float("-inf"), 1e308, 5e-324, Decimal("-0"), Decimal("NaN"), Decimal("sNaN"),
    Decimal("Infinity"), Decimal("-Infinity"), Decimal("1e999999999"), Decimal("1e-999999999"), Decimal("9" * 120),
    Decimal("0.01"), Decimal("1E+2"), True, False,
]

any_char_text = st.text(st.characters(exclude_categories=[]), max_size=24)  # lone surrogates and NUL included
hostile_text = st.one_of(
    st.sampled_from(CONFUSABLE_TEXT),
    st.sampled_from(NUMBER_TEXT),
    any_char_text,
    st.text(st.sampled_from(["a", "B", "1", CYRILLIC_A, "\uff11", "\u200d", "\u202e", "\x00", "\ud800", " ", ".", "-"]),
            max_size=16),
)
hostile_number: st.SearchStrategy[Any] = st.one_of(
    st.integers(), st.sampled_from(HUGE_INTS), st.floats(), st.sampled_from(ODD_NUMBERS),
    st.decimals(allow_nan=True, allow_infinity=True),
)
scalars: st.SearchStrategy[Any] = st.one_of(st.none(), hostile_number, hostile_text, st.binary(max_size=12))
# any value at all: every scalar, and containers of them
anything: st.SearchStrategy[Any] = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=6), scalars, max_size=3),
    st.sampled_from([object(), Side.BUY, b"\xff\xfe", bytearray(b"BTC")]),
)
amount_text = st.one_of(
    st.sampled_from(NUMBER_TEXT),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.from_regex(r"[+-]?[0-9]{1,24}(\.[0-9]{0,12})?([eE][+-]?[0-9]{1,7})?", fullmatch=True),
)


def usually(good: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any] = anything) -> st.SearchStrategy[Any]:
    """A value that is plausible three times in four (so that the checks after the first one are
    reached too), and anything at all otherwise. (Not `one_of(good, good, good, hostile)`: it drops
    repeated branches, and gives each of the many flattened branches of `anything` a share.)"""
    return st.sampled_from((True, True, True, False)).flatmap(lambda plausible: good if plausible else hostile)


# -- an engine for Hypothesis ----------------------------------------------------------------------


class FixedClock:
    def __init__(self, now: float = EPOCH) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class EngineRig:
    """A LocalEngine on a ledger in `folder` with an event loop of its own: Hypothesis runs each
    example synchronously (`rig.run`). Users: `alice` (a customer with cash and ETH), `root` (an
    admin) and `carol` (a customer the admin calls act on)."""

    USERS = ("alice", "root", "carol")

    def __init__(self, folder: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.path = folder / "ledger.db"
        self.engine = LocalEngine(self.path, clock=FixedClock(), hash_profile="fast", market_seed=7)
        self.passwords = dict.fromkeys(self.USERS, PASSWORD)
        self.tokens: dict[str, str] = {}
        for name in self.USERS:
            self.run(self.engine.register(name, PASSWORD))
            self.tokens[name] = self.run(self.engine.login(name, PASSWORD)).token
        self.run(self.engine.admin_set_role(self.engine.operator_token, "root", Role.ADMIN))
        self.tokens["root"] = self.run(self.engine.login("root", PASSWORD)).token
        self.run(self.engine.deposit(self.tokens["alice"], "1000"))
        self.run(self.engine.place_order(self.tokens["alice"], OrderRequest(symbol="ETH", side=Side.BUY,
                                                                            quantity="0.1")))
        stale = self.run(self.engine.login("alice", PASSWORD)).token
        self.run(self.engine.logout(stale))
        self.stale = stale

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    def heal(self) -> None:
        """Undo what a successful call did to the cast (a logout, a password change, an admin
        disabling or demoting someone): each user enabled, in their role, with a live session."""
        for name in self.USERS:
            try:
                self.run(self.engine.whoami(self.tokens[name]))
            except (errors.AuthRequired, errors.Forbidden):
                self.run(self.engine.admin_set_disabled(self.engine.operator_token, name, False))
                self.run(self.engine.admin_set_role(self.engine.operator_token, name, Role.ADMIN if name == "root" else Role.CUSTOMER))
                self.tokens[name] = self.run(self.engine.login(name, self.passwords[name])).token

    def verify(self) -> None:
        report = self.run(self.engine.admin_verify(self.engine.operator_token))
        assert report.ok, report.problems
        assert all(total == 0 for total in report.sums.values()), report.sums

    def close(self) -> None:
        try:
            self.run(self.engine.close())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
        finally:
            self.loop.close()


@contextmanager
def engine_rig(folder: Path) -> Iterator[EngineRig]:
    rig = EngineRig(folder)
    try:
        yield rig
    finally:
        rig.close()

