"""RemoteEngine speaks the HTTP API of `orderproc.server` and raises what the local engine raises.

Every test but the closed-port ones runs on `httpx.MockTransport`: no server, no network.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest

from orderproc.engine import errors, remote
from orderproc.engine.protocol import Engine
from orderproc.engine.remote import RemoteEngine
from orderproc.engine.schemas import (
    Asset,
    Balance,
    LeaderboardEntry,
    Order,
    OrderRequest,
    Page,
    Portfolio,
    PricePoint,
    ProfileUpdate,
    Quote,
    Role,
    Session,
    Side,
    Transaction,
    TxKind,
    User,
    VerifyReport,
)

URL = "http://orderproc.test:8000"
NOW = "2026-05-01T12:00:00Z"
USER = {"id": 1, "username": "alice", "role": "customer", "created_at": NOW}
SESSION = {"token": "tok-alice", "user": USER, "expires_at": NOW}
TX = {"id": 7, "kind": "deposit", "created_at": NOW, "cash": "12.50", "client_key": None}
QUOTE = {"symbol": "BTC", "price": "65000.123456789012", "change_24h": "-1.25", "at": NOW}
ASSET = {
    "symbol": "BTC", "name": "Bitcoin", "category": "layer1", "rank": 1, "price": "65000", "change_24h": "0.5",
    "reference_price": "64000", "reference_date": "2026-01-01", "source": "test", "volatility": "0.6",
    "precision": 8,
}
ORDER = {
    "id": 3, "symbol": "BTC", "side": "buy", "status": "filled", "quantity": "0.00000001", "price": "65000",
    "notional": "0.01", "client_order_id": None, "created_at": NOW,
}
PORTFOLIO = {
    "cash": "10", "equity": "10", "market_value": "0", "unrealized_pnl": "0", "positions": [], "as_of": NOW,
}
LEADER = {
    "rank": 1, "username": "alice", "equity": "10", "net_deposits": "10", "pnl": "0", "return_pct": "0",
    "first_deposit_at": NOW,
}
AUDIT = {"id": 1, "at": NOW, "actor": "root", "action": "set_role", "target": "bob"}
VERIFY = {"ok": True, "problems": [], "entries": 1, "postings": 2, "orders": 0, "accounts": 2, "sums": {"USD": "0"}}
POINT = {"at": NOW, "open": "1", "high": "2", "low": "0.5", "close": "1.5"}

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "BACKOFF", 0.001)
    monkeypatch.setattr(remote, "RECONNECT_BACKOFF", 0.001)


def mock(handler: Handler, **options: Any) -> RemoteEngine:
    return RemoteEngine(URL, transport=httpx.MockTransport(handler), **options)


def answer(payload: Any, status: int = 200) -> Handler:
    return lambda request: httpx.Response(status, json=payload)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


class Recorder:
    """A handler that records every request and answers from a script (a response or an exception)."""

    def __init__(self, *script: httpx.Response | Exception | Handler) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script[min(len(self.requests), len(self.script)) - 1]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    yield port


# -- the engine itself ---------------------------------------------------------------------------


async def test_a_remote_engine_is_an_engine_named_by_its_normalised_url() -> None:
    async with RemoteEngine("https://example.test/orderproc/ ", transport=httpx.MockTransport(answer({}))) as eng:
        assert isinstance(eng, Engine)
        assert eng.location == "https://example.test/orderproc"
        assert eng.session_key == "server:https://example.test/orderproc"


@pytest.mark.parametrize("url", ["ftp://example.test", "example.test:8000", "http://", "", "http://h/?x=1"])
def test_a_url_that_is_not_http_or_https_is_refused(url: str) -> None:
    with pytest.raises(errors.ValidationError):
        RemoteEngine(url)


async def test_every_request_names_orderproc_in_its_user_agent_and_keeps_the_url_prefix() -> None:
    rec = Recorder(httpx.Response(200, json=USER))
    async with RemoteEngine(URL + "/prefix/", transport=httpx.MockTransport(rec)) as eng:
        await eng.whoami("tok")
    assert rec.last.headers["User-Agent"].startswith("orderproc/")
    assert rec.last.url == httpx.URL(URL + "/prefix/v1/me")


# -- every call to its route -----------------------------------------------------------------------

ROUTES: list[tuple[str, Callable[[RemoteEngine], Awaitable[Any]], str, str, Any, Any, type[Any]]] = [
    # name, call, method, path, answer, body sent (None: no body), what comes back (of each item, for a list)
    ("register", lambda e: e.register("alice", "pw-pw-pw-pw", source="1.2.3.4"), "POST", "/v1/auth/register",
     USER, {"username": "alice", "password": "pw-pw-pw-pw"}, User),
    ("login", lambda e: e.login("alice", "pw-pw-pw-pw"), "POST", "/v1/auth/login",
     SESSION, {"username": "alice", "password": "pw-pw-pw-pw"}, Session),
    ("whoami", lambda e: e.whoami("t"), "GET", "/v1/me", USER, None, User),
    ("update_profile", lambda e: e.update_profile("t", ProfileUpdate(email="a@b.c")), "PATCH", "/v1/me",
     USER, {"email": "a@b.c"}, User),
    ("change_password", lambda e: e.change_password("t", "old-old-old", "new-new-new"), "POST", "/v1/me/password",
     SESSION, {"old_password": "old-old-old", "new_password": "new-new-new"}, Session),
    ("deposit", lambda e: e.deposit("t", Decimal("12.50"), key="k0"), "POST", "/v1/cash/deposit", TX,
     {"amount": "12.50"}, Transaction),
    ("withdraw", lambda e: e.withdraw("t", "3", key="k1"), "POST", "/v1/cash/withdraw", TX, {"amount": "3"},
     Transaction),
    ("balance", lambda e: e.balance("t"), "GET", "/v1/cash",
     {"cash": "1.00", "available": "0.50", "reserved": "0.50", "currency": "USD"}, None, Balance),
    ("history", lambda e: e.history("t"), "GET", "/v1/transactions",
     {"items": [TX], "total": 1, "offset": 0, "limit": 50}, None, Page),
    ("list_assets", lambda e: e.list_assets(), "GET", "/v1/assets", [ASSET], None, Asset),
    ("get_asset", lambda e: e.get_asset("BTC"), "GET", "/v1/assets/BTC", ASSET, None, Asset),
    ("price_history", lambda e: e.price_history("BTC"), "GET", "/v1/assets/BTC/history", [POINT], None, PricePoint),
    ("bars", lambda e: e.bars("BTC", interval=60), "GET", "/v1/assets/BTC/bars", [POINT], None, PricePoint),
    ("quote", lambda e: e.quote("BTC"), "GET", "/v1/quotes/BTC", QUOTE, None, Quote),
    ("quotes", lambda e: e.quotes(), "GET", "/v1/quotes", [QUOTE], None, Quote),
    ("place_order", lambda e: e.place_order("t", OrderRequest(symbol="BTC", side=Side.BUY, quantity=Decimal("1"))), "POST",
     "/v1/orders", ORDER, {"symbol": "BTC", "side": "buy", "quantity": "1"}, Order),
    ("orders", lambda e: e.orders("t"), "GET", "/v1/orders", {"items": [ORDER], "total": 1, "offset": 0, "limit": 50},
     None, Page),
    ("get_order", lambda e: e.get_order("t", 3), "GET", "/v1/orders/3", ORDER, None, Order),
    ("cancel_order", lambda e: e.cancel_order("t", 3), "DELETE", "/v1/orders/3", ORDER, None, Order),
    ("cancel_orders", lambda e: e.cancel_orders("t"), "DELETE", "/v1/orders", [ORDER], None, Order),
    ("portfolio", lambda e: e.portfolio("t"), "GET", "/v1/portfolio", PORTFOLIO, None, Portfolio),
    ("leaderboard", lambda e: e.leaderboard("t"), "GET", "/v1/leaderboard", [LEADER], None, LeaderboardEntry),
    ("admin_users", lambda e: e.admin_users("t"), "GET", "/v1/admin/users", [USER], None, User),
    ("admin_set_role", lambda e: e.admin_set_role("t", "bob", Role.ADMIN), "PATCH", "/v1/admin/users/bob", USER,
     {"role": "admin"}, User),
    ("admin_set_disabled", lambda e: e.admin_set_disabled("t", "bob", True), "PATCH", "/v1/admin/users/bob", USER,
     {"disabled": True}, User),
    ("admin_audit", lambda e: e.admin_audit("t"), "GET", "/v1/admin/audit",
     {"items": [AUDIT], "total": 1, "offset": 0, "limit": 50}, None, Page),
    ("admin_verify", lambda e: e.admin_verify("t"), "GET", "/v1/admin/verify", VERIFY, None, VerifyReport),
]


@pytest.mark.parametrize(
    ("call", "method", "path", "payload", "body", "dto"), [r[1:] for r in ROUTES], ids=[r[0] for r in ROUTES]
)
async def test_each_call_goes_to_its_route_and_comes_back_as_its_dto(
    call: Callable[[RemoteEngine], Awaitable[Any]], method: str, path: str, payload: Any, body: Any, dto: type[Any]
) -> None:
    rec = Recorder(httpx.Response(201 if method == "POST" else 200, json=payload))
    async with mock(rec) as eng:
        result = await call(eng)
    assert (rec.last.method, rec.last.url.path) == (method, path)
    assert (body_of(rec.last) if rec.last.content else None) == body
    items = result if isinstance(payload, list) else [result]
    assert items and all(isinstance(item, dto) for item in items)


async def test_logout_posts_the_token_and_takes_a_204() -> None:
    rec = Recorder(httpx.Response(204))
    async with mock(rec) as eng:
        await eng.logout("tok-1")
    assert (rec.last.method, rec.last.url.path, rec.last.headers["Authorization"]) == (
        "POST", "/v1/auth/logout", "Bearer tok-1"
    )


async def test_private_calls_send_the_bearer_token_and_public_ones_do_not() -> None:
    rec = Recorder(lambda r: httpx.Response(200, json=QUOTE if "quotes" in r.url.path else USER))
    async with mock(rec) as eng:
        await eng.whoami("tok-1")
        assert rec.last.headers["Authorization"] == "Bearer tok-1"
        await eng.quote("BTC")
        assert "Authorization" not in rec.last.headers
    rec = Recorder(httpx.Response(200, json=SESSION))
    async with mock(rec) as eng:
        await eng.login("alice", "pw-pw-pw-pw")
    assert "Authorization" not in rec.last.headers


async def test_query_parameters_leave_out_none_and_send_booleans_and_symbol_lists_as_text() -> None:
    page = {"items": [], "total": 0, "offset": 0, "limit": 5}
    rec = Recorder(lambda r: httpx.Response(200, json=page if r.url.path in ("/v1/transactions", "/v1/orders") else []))
    async with mock(rec) as eng:
        await eng.history("t", offset=10, limit=5)
        assert dict(rec.last.url.params) == {"offset": "10", "limit": "5"}
        await eng.history("t", kind=TxKind.BUY)
        assert rec.last.url.params["kind"] == "buy"
        await eng.list_assets(descending=True)
        assert dict(rec.last.url.params) == {"sort": "rank", "descending": "true"}
        await eng.list_assets(search="bit", category="layer1", sort="price")
        assert dict(rec.last.url.params) == {"search": "bit", "category": "layer1", "sort": "price", "descending": "false"}
        await eng.quotes(["BTC", "ETH"])
        assert rec.last.url.params["symbols"] == "BTC,ETH"
        await eng.quotes()
        assert "symbols" not in rec.last.url.params
        await eng.orders("t", symbol=None)
        assert "symbol" not in rec.last.url.params
        await eng.orders("t", symbol="ETH")
        assert rec.last.url.params["symbol"] == "ETH"
        await eng.price_history("ETH", hours=6, points=24)
        assert dict(rec.last.url.params) == {"hours": "6", "points": "24"}
        await eng.bars("ETH", interval=3600)
        assert dict(rec.last.url.params) == {"interval": "3600", "limit": "120"}
        await eng.bars("ETH", interval=60, end=datetime(2026, 5, 1, 12, 30, tzinfo=UTC), limit=7)
        assert dict(rec.last.url.params) == {"interval": "60", "end": "2026-05-01T12:30:00+00:00", "limit": "7"}
        await eng.leaderboard("t", sort="return", limit=3)
        assert dict(rec.last.url.params) == {"sort": "return", "limit": "3"}


async def test_admin_set_role_and_set_disabled_patch_the_user_with_one_field() -> None:
    rec = Recorder(httpx.Response(200, json=USER))
    async with mock(rec) as eng:
        await eng.admin_set_role("t", "bob", Role.ADMIN)
        assert (rec.last.method, rec.last.url.path, body_of(rec.last)) == ("PATCH", "/v1/admin/users/bob", {"role": "admin"})
        await eng.admin_set_disabled("t", "bob", True)
        assert (rec.last.method, rec.last.url.path, body_of(rec.last)) == (
            "PATCH", "/v1/admin/users/bob", {"disabled": True}
        )
        assert rec.last.headers["Authorization"] == "Bearer t"


async def test_a_username_or_symbol_with_a_slash_a_space_or_dots_stays_one_path_segment() -> None:
    rec = Recorder(lambda r: httpx.Response(200, json=ASSET if "assets" in r.url.path else USER))
    async with mock(rec) as eng:
        await eng.admin_set_role("t", "a/b c", Role.CUSTOMER)
        assert rec.last.url.raw_path == b"/v1/admin/users/a%2Fb%20c"
        await eng.admin_set_disabled("t", "..", False)
        assert rec.last.url.raw_path == b"/v1/admin/users/%2E%2E"
        await eng.get_asset("B?T#C")
        assert rec.last.url.raw_path == b"/v1/assets/B%3FT%23C"


# -- amounts and decimals -------------------------------------------------------------------------------


async def test_decimals_come_back_exactly() -> None:
    cash = {"cash": "0.00000001", "available": "0.00000001"}
    rec = Recorder(lambda r: httpx.Response(200, json=cash if r.url.path == "/v1/cash" else [QUOTE]))
    async with mock(rec) as eng:
        balance = await eng.balance("t")
        assert isinstance(balance, Balance)
        assert balance.cash == Decimal("0.00000001") and isinstance(balance.cash, Decimal)
        [quote] = await eng.quotes()
        assert quote.price == Decimal("65000.123456789012") and quote.change_24h == Decimal("-1.25")


@pytest.mark.parametrize(
    ("amount", "sent"),
    [(Decimal("1E+2"), "100"), (Decimal("0.00000001"), "0.00000001"), ("12.50", "12.50"), (5, "5"), (1.5, 1.5)],
)
async def test_a_cash_amount_travels_as_a_decimal_string(amount: Any, sent: Any) -> None:
    rec = Recorder(httpx.Response(201, json=TX))
    async with mock(rec) as eng:
        tx = await eng.deposit("t", amount)
    assert isinstance(tx, Transaction) and tx.cash == Decimal("12.50")
    assert body_of(rec.last) == {"amount": sent}


# -- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (422, "insufficient_funds", errors.InsufficientFunds),
        (404, "unknown_asset", errors.UnknownAsset),
        (409, "username_taken", errors.UsernameTaken),
        (401, "auth_required", errors.AuthRequired),
        (418, "some_future_code", errors.OrderprocError),
    ],
)
async def test_a_domain_error_body_is_raised_as_the_class_the_local_engine_raises(
    status: int, code: str, cls: type[errors.OrderprocError]
) -> None:
    details = {"field": "amount", "needed": "10.00"}
    async with mock(answer(error_body(code, "no can do", details), status)) as eng:
        with pytest.raises(cls) as caught:
            await eng.withdraw("t", Decimal("10"))
    assert type(caught.value) is cls
    assert (caught.value.message, caught.value.details) == ("no can do", details)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(502, html="<html>Bad Gateway</html>"),
        httpx.Response(400, json={"detail": "not our shape"}),
        httpx.Response(400, json={"error": {"code": 3, "message": "x"}}),
        httpx.Response(404, content=b"\xff\xfe"),
    ],
    ids=["500-text", "502-html", "400-other-json", "400-bad-error", "404-not-utf8"],
)
async def test_an_answer_without_the_error_shape_is_engine_unavailable_naming_url_and_status(
    response: httpx.Response,
) -> None:
    async with mock(lambda r: response, retries=0) as eng:
        with pytest.raises(errors.EngineUnavailable) as caught:
            await eng.whoami("t")
    assert URL in str(caught.value) and str(response.status_code) in str(caught.value)


async def test_a_success_that_is_not_the_expected_dto_is_engine_unavailable() -> None:
    for response in (httpx.Response(200, json={"id": "x"}), httpx.Response(200, text="<html>hi</html>")):
        async with mock(lambda r: response) as eng:
            with pytest.raises(errors.EngineUnavailable, match="not the API"):
                await eng.whoami("t")


# -- idempotency and retries -------------------------------------------------------------------------------


async def test_a_deposit_without_a_key_sends_one_generated_key_on_every_retry_and_succeeds() -> None:
    rec = Recorder(
        httpx.Response(503, json=error_body("ledger_busy", "busy")),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("refused"),
        httpx.Response(201, json=TX),
    )
    async with mock(rec, retries=3) as eng:
        tx = await eng.deposit("t", Decimal("12.50"))
        keys = {r.headers["Idempotency-Key"] for r in rec.requests}
        assert len(rec.requests) == 4 and len(keys) == 1
        assert len(keys.pop()) == 32
        assert tx.id == 7
        await eng.deposit("t", Decimal("12.50"))  # a new call is a new request: a new key
        assert len({r.headers["Idempotency-Key"] for r in rec.requests}) == 2


async def test_the_callers_key_is_the_idempotency_key_of_a_cash_move() -> None:
    rec = Recorder(httpx.Response(503, text="down"), httpx.Response(201, json=TX))
    async with mock(rec) as eng:
        await eng.withdraw("t", "1", key="mine-1")
    assert [r.headers["Idempotency-Key"] for r in rec.requests] == ["mine-1", "mine-1"]


async def test_an_order_is_keyed_by_its_client_order_id_or_a_generated_key_without_touching_the_body() -> None:
    rec = Recorder(httpx.ReadError("reset"), httpx.Response(201, json=ORDER))
    async with mock(rec) as eng:
        order = await eng.place_order("t", OrderRequest(symbol="BTC", side=Side.BUY, notional=Decimal("0.01")))
        assert isinstance(order, Order) and order.quantity == Decimal("0.00000001")
        assert [body_of(r) for r in rec.requests] == [{"symbol": "BTC", "side": "buy", "notional": "0.01"}] * 2
        assert len({r.headers["Idempotency-Key"] for r in rec.requests}) == 1
        rec.requests.clear()
        await eng.place_order("t", OrderRequest(symbol="ETH", side=Side.SELL, quantity=Decimal("2"), client_order_id="c-9"))
        assert rec.last.headers["Idempotency-Key"] == "c-9"
        assert body_of(rec.last) == {"symbol": "ETH", "side": "sell", "quantity": "2", "client_order_id": "c-9"}


async def test_a_safe_request_gives_up_after_its_retries_with_what_the_last_attempt_gave() -> None:
    rec = Recorder(httpx.Response(503, json=error_body("ledger_busy", "the ledger is busy")))
    async with mock(rec, retries=2) as eng:
        with pytest.raises(errors.LedgerBusy):
            await eng.deposit("t", "1")
    assert len(rec.requests) == 3
    rec = Recorder(httpx.ReadTimeout("slow"))
    async with mock(rec, retries=2) as eng:
        with pytest.raises(errors.EngineUnavailable, match=f"cannot reach the orderproc server at {URL}"):
            await eng.balance("t")
    assert len(rec.requests) == 3


async def test_a_login_is_not_retried_after_a_read_timeout() -> None:
    rec = Recorder(httpx.ReadTimeout("timed out"), httpx.Response(200, json=SESSION))
    async with mock(rec) as eng:
        with pytest.raises(errors.EngineUnavailable, match=URL):
            await eng.login("alice", "pw-pw-pw-pw")
    assert len(rec.requests) == 1


async def test_a_login_is_retried_after_a_connect_error() -> None:
    rec = Recorder(httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.Response(200, json=SESSION))
    async with mock(rec) as eng:
        session = await eng.login("alice", "pw-pw-pw-pw")
    assert isinstance(session, Session) and session.user.username == "alice"
    assert len(rec.requests) == 3


async def test_requests_not_safe_to_repeat_are_not_retried_on_a_503_or_a_429() -> None:
    for response in (
        httpx.Response(503, json=error_body("ledger_busy", "busy")),
        httpx.Response(429, headers={"Retry-After": "0"}, json=error_body("rate_limited", "slow down")),
    ):
        rec = Recorder(response, httpx.Response(200, json=USER))
        async with mock(rec) as eng:
            with pytest.raises((errors.LedgerBusy, errors.RateLimited)):
                await eng.admin_set_disabled("t", "bob", True)
        assert len(rec.requests) == 1


async def test_a_get_answered_429_with_a_short_retry_after_is_retried() -> None:
    rec = Recorder(
        httpx.Response(429, headers={"Retry-After": "0"}, json=error_body("rate_limited", "slow down")),
        httpx.Response(200, json=[QUOTE]),
    )
    async with mock(rec) as eng:
        assert [q.symbol for q in await eng.quotes()] == ["BTC"]
    assert len(rec.requests) == 2


@pytest.mark.parametrize("retry_after", [None, "30", "Wed, 21 Oct 2015 07:28:00 GMT"])
async def test_a_429_without_a_short_retry_after_is_raised_at_once(retry_after: str | None) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    rec = Recorder(httpx.Response(429, headers=headers, json=error_body("rate_limited", "slow down")))
    async with mock(rec) as eng:
        with pytest.raises(errors.RateLimited, match="slow down"):
            await eng.quotes()
    assert len(rec.requests) == 1


async def test_a_client_error_is_never_retried() -> None:
    rec = Recorder(httpx.Response(404, json=error_body("unknown_asset", "no such asset: XYZ")))
    async with mock(rec) as eng:
        with pytest.raises(errors.UnknownAsset):
            await eng.quote("XYZ")
    assert len(rec.requests) == 1


# -- the quote stream -------------------------------------------------------------------------------------

QUOTE_ETH = {**QUOTE, "symbol": "ETH", "price": "3000.5"}
SSE = (
    ": hello, a comment\n"
    "retry: 1000\n"
    "event: quotes\n"
    f"data: {json.dumps([QUOTE])}\n"
    "\n"
    "event: ping\n"
    "data: {}\n"
    "\n"
    "event: quotes\n"
    "data: [\n"
    f"data: {json.dumps(QUOTE)},\n"
    f"data: {json.dumps(QUOTE_ETH)}\n"
    "data: ]\n"
    "\n"
    f"data: {json.dumps([QUOTE_ETH])}\r\n"
    "\r\n"
)


async def test_the_quote_stream_parses_server_sent_events_into_lists_of_quotes() -> None:
    rec = Recorder(httpx.Response(200, content=SSE.encode(), headers={"Content-Type": "text/event-stream"}))
    async with mock(rec) as eng:
        stream = cast(AsyncGenerator[list[Quote], None], eng.stream_quotes(interval=0.5))
        got = [await anext(stream) for _ in range(3)]
        await stream.aclose()
    assert [[q.symbol for q in quotes] for quotes in got] == [["BTC"], ["BTC", "ETH"], ["ETH"]]
    assert all(isinstance(q, Quote) for quotes in got for q in quotes)
    assert got[1][1].price == Decimal("3000.5")
    request = rec.requests[0]
    assert (request.method, request.url.path, request.url.params["interval"]) == ("GET", "/v1/stream/quotes", "0.5")
    assert request.extensions["timeout"]["read"] is None


async def test_the_quote_stream_reconnects_after_a_drop() -> None:
    one = f"event: quotes\ndata: {json.dumps([QUOTE])}\n\n".encode()
    rec = Recorder(
        httpx.Response(200, content=one),
        httpx.ConnectError("refused"),
        httpx.Response(503, text="restarting"),
        httpx.Response(200, content=one),
    )
    async with mock(rec, retries=3) as eng:  # the end of the first body is a drop too
        stream = cast(AsyncGenerator[list[Quote], None], eng.stream_quotes())
        assert [q.symbol for q in await anext(stream)] == ["BTC"]
        assert [q.symbol for q in await anext(stream)] == ["BTC"]  # after three reconnections
        await stream.aclose()
    assert len(rec.requests) == 4


async def test_the_quote_stream_gives_up_after_its_retries_in_a_row() -> None:
    rec = Recorder(httpx.ReadError("connection reset"))
    async with mock(rec, retries=2) as eng:
        with pytest.raises(errors.EngineUnavailable, match=URL):
            await anext(eng.stream_quotes())
    assert len(rec.requests) == 3


async def test_the_quote_stream_raises_a_domain_error_at_once() -> None:
    rec = Recorder(httpx.Response(422, json=error_body("validation_error", "interval must be positive")))
    async with mock(rec) as eng:
        with pytest.raises(errors.ValidationError, match="interval"):
            await anext(eng.stream_quotes(interval=-1))
    assert len(rec.requests) == 1


# -- no server at all ----------------------------------------------------------------------------------


async def test_a_closed_port_is_engine_unavailable_not_an_httpx_error(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    async with RemoteEngine(url, timeout=2.0, retries=1) as eng:
        with pytest.raises(errors.EngineUnavailable, match=f"cannot reach the orderproc server at {url}"):
            await eng.whoami("t")
        with pytest.raises(errors.EngineUnavailable):
            await eng.quotes()
        with pytest.raises(errors.EngineUnavailable):
            await eng.register("alice", "pw-pw-pw-pw")


def _typed(engine: RemoteEngine) -> Engine:
    """mypy proves here that RemoteEngine has the protocol's exact signatures."""
    return engine


@pytest.mark.parametrize("token", ["", "  ", "tok\nen", "t\u00f6ken"])
async def test_a_token_no_header_can_carry_is_refused_as_auth_required_without_a_request(token: str) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    async with mock(handler) as eng:
        with pytest.raises(errors.AuthRequired):
            await eng.balance(token)
    assert sent == []
