"""RemoteEngine: the Engine protocol over the orderproc HTTP API (see `orderproc.server`).

It raises what the local engine raises: a domain error body comes back as the same class
(`errors.error_for_code`); anything else that goes wrong on the way (no server, a timeout, an
answer that is not the API's) is `errors.EngineUnavailable`, never an httpx exception.

Retries, at most `retries` extra attempts, sleeping a random time up to BACKOFF, 2x, 4x ... in
between (full jitter, capped at BACKOFF_CAP: clients that failed at the same moment, as every
terminal does when its server restarts, come back spread over the window, not in step):

    request                                   retried on
    ---------------------------------------   -------------------------------------------------
    every GET, and the POSTs that carry an    any transport error (connect, timeout, protocol),
    Idempotency-Key (deposit, withdraw,       a 503 answer, a 429 whose Retry-After is at most
    place_order): safe to repeat              MAX_RETRY_AFTER s (after sleeping that long)
    everything else (register, login,         only a connect error or connect timeout: the
    logout, password, profile, admin PATCH)   request never reached the server

    after the last attempt: the domain error of the last answer, or EngineUnavailable

A money-moving POST always has a key: the caller's, or one made per call, so that every retry
of that call is the same request and the server applies it once.

`stream_quotes` and `stream_account` read the server-sent events of `/v1/stream/quotes` and
`/v1/stream/account`; a connection that fails or drops is reopened after a jittered backoff
from RECONNECT_BACKOFF (the first reconnection within a second), up to `retries` times in a row
(an event resets the count), then EngineUnavailable. A reconnection sends the last event's id as
`Last-Event-ID`; the account stream says, after one, what moved while it was down (its events
carry the account's marks).

`watch_link(watcher)` tells a terminal whether the server answers: `watcher(True, "")` on every
answer but a 503, `watcher(False, why)` when a request or the stream cannot reach it (or gets a
503), so its status says live or offline from the last request as well as the stream.
"""

from __future__ import annotations

import asyncio
import random
import sys
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import pydantic


def _import_httpx_without_its_cli() -> None:
    """Load httpx but not its command-line client, which its `__init__` imports whenever click,
    rich and pygments are installed (encode/httpx#3547): the engine stays headless (and ~80 ms
    quicker). httpx then takes its own fallback for `httpx.main`; `httpx._main` stays importable.
    """
    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    sys.modules["httpx._main"] = None  # type: ignore[assignment]  # None: "cannot be imported"
    try:
        import httpx  # noqa: F401
    finally:
        del sys.modules["httpx._main"]


_import_httpx_without_its_cli()

import httpx  # noqa: E402

from orderproc import package_version  # noqa: E402
from orderproc.engine import errors  # noqa: E402
from orderproc.engine.catalog import CANDLES_DEFAULT  # noqa: E402
from orderproc.engine.events import AccountEvent, changed  # noqa: E402
from orderproc.engine.schemas import (  # noqa: E402
    AccountInfo,
    Asset,
    AuditEvent,
    Balance,
    Journal,
    LeaderboardEntry,
    LedgerSettings,
    Lot,
    Order,
    OrderPreview,
    OrderRequest,
    OrderStatus,
    Page,
    PnlReport,
    Portfolio,
    Candles,
    PricePoint,
    ProfileUpdate,
    Quote,
    Role,
    Session,
    SettingsUpdate,
    Transaction,
    TxKind,
    User,
    VerifyReport,
)
from orderproc.engine.apikeys import ApiKey, NewApiKey  # noqa: E402
from orderproc.engine.remote_io import json_amount, path_segment, query, sse_events  # noqa: E402
from orderproc.engine.watching import Alert, AlertDirection, Watchlist, WatchSort

T = TypeVar("T")

BACKOFF = 0.05  # seconds: the first retry of a request waits up to this; the window doubles for each one after
RECONNECT_BACKOFF = 1.0  # seconds: the same for reopening a stream that failed or dropped
BACKOFF_CAP = 30.0  # seconds: the widest window
MAX_RETRY_AFTER = 2.0  # a 429 asking to wait longer than this is raised, not waited out

_ADAPTERS: dict[Any, pydantic.TypeAdapter[Any]] = {}


def _retry_after(response: httpx.Response) -> float | None:
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return seconds if 0 <= seconds <= MAX_RETRY_AFTER else None


_jitter = random.Random()  # the backoff's randomness (a test seeds it)


def _backoff(attempt: int, base: float | None = None) -> float:
    """The wait before retry number `attempt` (from 0): uniform in [0, base x 2^attempt], capped
    ("full jitter"), so that clients failing together do not come back together."""
    window = (BACKOFF if base is None else base) * 2.0 ** min(attempt, 32)
    return _jitter.uniform(0.0, min(BACKOFF_CAP, window))


class RemoteEngine:
    """An Engine on an orderproc server. Open it, use it from one event loop, close it."""

    def __init__(
        self,
        url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        retries: int = 3,
    ) -> None:
        normalised = url.strip().rstrip("/") if isinstance(url, str) else ""
        parts = urlsplit(normalised)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise errors.ValidationError(
                f"the server URL must be http:// or https:// and a host, not {url!r}", {"field": "url"}
            )
        self._url = normalised
        self._link_watchers: list[Callable[[bool, str], None]] = []
        self._timeout = timeout
        self._retries = max(0, retries)
        self._client = httpx.AsyncClient(
            base_url=normalised,
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": f"orderproc/{package_version()}"},
        )

    @property
    def location(self) -> str:
        return self._url

    @property
    def session_key(self) -> str:
        return f"server:{self._url}"

    async def close(self) -> None:
        await self._client.aclose()

    def watch_link(self, watcher: Callable[[bool, str], None]) -> None:
        """Call `watcher(up, why)` with each request's outcome: the server answered, or not."""
        self._link_watchers.append(watcher)

    def _link(self, up: bool, why: str = "") -> None:
        for watcher in self._link_watchers:
            watcher(up, why)

    def _answered(self, response: httpx.Response) -> None:
        if response.status_code == 503:
            self._link(False, f"the orderproc server at {self._url} is unavailable (HTTP 503)")
        else:
            self._link(True)

    async def __aenter__(self) -> RemoteEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the wire ------------------------------------------------------------------------------

    def _unreachable(self, exc: Exception) -> errors.EngineUnavailable:
        reason = str(exc).strip() or type(exc).__name__
        message = f"cannot reach the orderproc server at {self._url}: {reason}"
        self._link(False, message)
        return errors.EngineUnavailable(message, {"url": self._url})

    def _error(self, response: httpx.Response) -> errors.OrderprocError:
        """The domain error a non-2xx answer carries, or EngineUnavailable if it carries none."""
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            code, message, details = error.get("code"), error.get("message"), error.get("details")
            if isinstance(code, str) and isinstance(message, str) and isinstance(details, dict | None):
                return errors.error_for_code(code, message, details)
        return errors.EngineUnavailable(
            f"the orderproc server at {self._url} answered HTTP {response.status_code}"
            f" {response.reason_phrase}".rstrip(),
            {"url": self._url, "status": response.status_code},
        )

    @staticmethod
    def _retry_delay(response: httpx.Response, attempt: int, base: float | None = None) -> float | None:
        """How long to wait before repeating a safe request that got this answer, or None."""
        if response.status_code == 503:
            return _backoff(attempt, base)
        if response.status_code == 429:
            return _retry_after(response)
        return None

    @staticmethod
    def _headers(token: str | None) -> dict[str, str]:
        """The Authorization header of a private call (none for a public one)."""
        if token is None:
            return {}
        if not token.strip() or not token.isascii() or not token.isprintable():
            # no header can carry it, and no server would take it: what the server would say
            raise errors.AuthRequired("that is not a session token: log in first", {"reason": "malformed"})
        return {"Authorization": f"Bearer {token}"}

    async def _request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: dict[str, str] | None = None,
        key: str | None = None,
        safe: bool,
    ) -> httpx.Response:
        headers = self._headers(token)
        if key is not None:
            headers["Idempotency-Key"] = key
        attempt = 0
        while True:
            last = attempt >= self._retries
            try:
                response = await self._client.request(method, path, headers=headers, json=json, params=params)
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if last or not (safe or never_sent):
                    raise self._unreachable(exc) from None
                await asyncio.sleep(_backoff(attempt))
            except httpx.HTTPError as exc:  # e.g. a body that does not decode: not the API
                raise self._unreachable(exc) from None
            else:
                self._answered(response)
                if response.is_success:
                    return response
                delay = None if last or not safe else self._retry_delay(response, attempt)
                if delay is None:
                    raise self._error(response)
                await asyncio.sleep(delay)
            attempt += 1

    def _parse(self, content: bytes | str, tp: type[T]) -> T:
        """A JSON answer (or event) as the DTO it should be; EngineUnavailable if it is not one."""
        adapter = _ADAPTERS.get(tp)
        if adapter is None:
            adapter = _ADAPTERS[tp] = pydantic.TypeAdapter(tp)
        try:
            return cast(T, adapter.validate_json(content))
        except pydantic.ValidationError as exc:
            raise errors.EngineUnavailable(
                f"the orderproc server at {self._url} sent something that is not the API's"
                f" ({exc.error_count()} problem(s) reading it as {getattr(tp, '__name__', tp)})",
                {"url": self._url},
            ) from None

    async def _get(self, path: str, tp: type[T], *, token: str | None = None, **params: object) -> T:
        response = await self._request("GET", path, token=token, params=query(**params), safe=True)
        return self._parse(response.content, tp)

    # -- users and sessions --------------------------------------------------------------------

    async def register(self, username: str, password: str, *, source: str | None = None) -> User:
        body = {"username": username, "password": password}
        response = await self._request("POST", "/v1/auth/register", json=body, safe=False)
        return self._parse(response.content, User)

    async def login(self, username: str, password: str, *, source: str | None = None) -> Session:
        body = {"username": username, "password": password}
        response = await self._request("POST", "/v1/auth/login", json=body, safe=False)
        return self._parse(response.content, Session)

    async def logout(self, token: str) -> None:
        await self._request("POST", "/v1/auth/logout", token=token, safe=False)

    async def whoami(self, token: str) -> User:
        return await self._get("/v1/me", User, token=token)

    async def update_profile(self, token: str, update: ProfileUpdate) -> User:
        body = update.model_dump(mode="json", exclude_none=True)
        response = await self._request("PATCH", "/v1/me", token=token, json=body, safe=False)
        return self._parse(response.content, User)

    async def change_password(self, token: str, old_password: str, new_password: str) -> Session:
        body = {"old_password": old_password, "new_password": new_password}
        response = await self._request("POST", "/v1/me/password", token=token, json=body, safe=False)
        return self._parse(response.content, Session)

    # -- cash ------------------------------------------------------------------------------------

    async def deposit(self, token: str, amount: Decimal | str, *, key: str | None = None) -> Transaction:
        return await self._move_cash("/v1/cash/deposit", token, amount, key)

    async def withdraw(self, token: str, amount: Decimal | str, *, key: str | None = None) -> Transaction:
        return await self._move_cash("/v1/cash/withdraw", token, amount, key)

    async def _move_cash(self, path: str, token: str, amount: Decimal | str, key: str | None) -> Transaction:
        body = {"amount": json_amount(amount)}
        key = key if key is not None else uuid.uuid4().hex
        response = await self._request("POST", path, token=token, json=body, key=key, safe=True)
        return self._parse(response.content, Transaction)

    async def balance(self, token: str) -> Balance:
        return await self._get("/v1/cash", Balance, token=token)

    async def history(
        self, token: str, *, kind: TxKind | None = None, offset: int = 0, limit: int = 50
    ) -> Page[Transaction]:
        return await self._get("/v1/transactions", Page[Transaction], token=token, kind=kind, offset=offset, limit=limit)

    # -- assets and prices -------------------------------------------------------------------------

    async def list_assets(
        self,
        *,
        search: str | None = None,
        category: str | None = None,
        sort: str = "rank",
        descending: bool = False,
    ) -> list[Asset]:
        return await self._get(
            "/v1/assets", list[Asset], search=search, category=category, sort=sort, descending=descending
        )

    async def get_asset(self, symbol: str) -> Asset:
        return await self._get(f"/v1/assets/{path_segment(symbol)}", Asset)

    async def quote(self, symbol: str) -> Quote:
        return await self._get(f"/v1/quotes/{path_segment(symbol)}", Quote)

    async def quotes(self, symbols: list[str] | None = None) -> list[Quote]:
        # like the local engine, an empty list means every asset
        return await self._get("/v1/quotes", list[Quote], symbols=",".join(symbols) if symbols else None)

    async def price_history(self, symbol: str, *, hours: int = 24, points: int = 96) -> list[PricePoint]:
        return await self._get(f"/v1/assets/{path_segment(symbol)}/history", list[PricePoint], hours=hours, points=points)

    async def watchlist(self, token: str) -> Watchlist:
        return await self._get("/v1/watchlist", Watchlist, token=token)

    async def watch(self, token: str, symbol: str) -> Watchlist:
        response = await self._request("PUT", f"/v1/watchlist/{path_segment(symbol)}", token=token, safe=True)
        return self._parse(response.content, Watchlist)

    async def unwatch(self, token: str, symbol: str) -> Watchlist:
        response = await self._request("DELETE", f"/v1/watchlist/{path_segment(symbol)}", token=token, safe=False)
        return self._parse(response.content, Watchlist)

    async def sort_watchlist(self, token: str, sort: WatchSort | str) -> Watchlist:
        response = await self._request("PATCH", "/v1/watchlist", token=token, json={"sort": str(sort)}, safe=True)
        return self._parse(response.content, Watchlist)

    async def set_alert(self, token: str, symbol: str, direction: AlertDirection | str,
                        price: Decimal | str) -> Alert:
        body = {"symbol": symbol, "direction": str(direction), "price": json_amount(price)}
        response = await self._request("POST", "/v1/alerts", token=token, json=body, safe=False)
        return self._parse(response.content, Alert)

    async def alerts(self, token: str, *, fired: bool | None = None) -> list[Alert]:
        return await self._get("/v1/alerts", list[Alert], token=token, fired=fired)

    async def remove_alert(self, token: str, alert_id: int) -> Alert:
        response = await self._request("DELETE", f"/v1/alerts/{path_segment(alert_id)}", token=token, safe=False)
        return self._parse(response.content, Alert)

    async def candles(self, symbol: str, *, range: str = "1d", limit: int = CANDLES_DEFAULT) -> Candles:
        return await self._get(f"/v1/assets/{path_segment(symbol)}/candles", Candles, range=range, limit=limit)

    async def bars(self, symbol: str, *, interval: int, end: datetime | None = None,
                   limit: int = CANDLES_DEFAULT) -> list[PricePoint]:
        if end is not None and not isinstance(end, datetime):  # as the local engine: no text, no number
            raise errors.ValidationError("end is a time with its UTC offset", {"field": "end"})
        return await self._get(f"/v1/assets/{path_segment(symbol)}/bars", list[PricePoint], interval=interval,
                               end=None if end is None else end.isoformat(), limit=limit)

    async def stream_quotes(self, interval: float = 1.0) -> AsyncIterator[list[Quote]]:
        async with aclosing(self._events("/v1/stream/quotes", "quotes", params=query(interval=interval))) as events:
            async for data in events:
                yield self._parse(data, list[Quote])

    async def _events(self, path: str, name: str, *, params: dict[str, str] | None = None,
                      token: str | None = None) -> AsyncGenerator[str, None]:
        """The data of each `name` event (or unnamed one) of the server-sent events at `path`,
        the connection reopened when it fails or drops (see the module's docstring); an `error`
        event (a session that ended) is raised as its domain error."""
        timeout = httpx.Timeout(self._timeout, read=None)  # the stream may be quiet for a while
        headers = self._headers(token)
        failures = 0
        while True:
            failure: errors.OrderprocError = errors.EngineUnavailable(
                f"the orderproc server at {self._url} ended the {name} stream", {"url": self._url}
            )
            delay: float | None = None
            try:
                async with self._client.stream("GET", path, params=params, headers=headers,
                                               timeout=timeout) as response:
                    self._answered(response)
                    if not response.is_success:
                        await response.aread()
                        delay = (None if failures >= self._retries
                                 else self._retry_delay(response, failures, RECONNECT_BACKOFF))
                        if delay is None:
                            raise self._error(response)
                    else:
                        async with aclosing(sse_events(response.aiter_lines())) as events:
                            async for event, data, event_id in events:
                                if event == "error":
                                    raise self._error_event(data)
                                if event_id:
                                    headers["Last-Event-ID"] = event_id  # where a reconnection carries on
                                if event in ("", name):
                                    failures = 0
                                    yield data
            except httpx.TransportError as exc:
                failure = self._unreachable(exc)
            except httpx.HTTPError as exc:
                raise self._unreachable(exc) from None
            if delay is None:
                if failures >= self._retries:
                    raise failure
                delay = _backoff(failures, RECONNECT_BACKOFF)
            await asyncio.sleep(delay)
            failures += 1

    def _error_event(self, data: str) -> errors.OrderprocError:
        """The domain error an `error` event carries (its data is an error body)."""
        return self._error(httpx.Response(200, content=data.encode()))

    # -- API keys ------------------------------------------------------------------------------------

    async def create_api_key(self, token: str, *, name: str | None = None, read_only: bool = False) -> NewApiKey:
        body: dict[str, Any] = {"read_only": read_only}
        if name is not None:
            body["name"] = name
        response = await self._request("POST", "/v1/keys", token=token, json=body, safe=False)
        return self._parse(response.content, NewApiKey)

    async def api_keys(self, token: str) -> list[ApiKey]:
        return await self._get("/v1/keys", list[ApiKey], token=token)

    async def revoke_api_key(self, token: str, key_id: str) -> ApiKey:
        if isinstance(key_id, str) and not key_id.strip():  # no path names it: what the engine answers
            await self.api_keys(token)  # the token first, as the engine checks it first
            raise errors.NotFound(f"you have no key {key_id!r}", {"key_id": key_id})
        # revoking twice changes nothing: safe to retry
        response = await self._request("DELETE", f"/v1/keys/{path_segment(key_id)}", token=token, safe=True)
        return self._parse(response.content, ApiKey)

    # -- named paper accounts ------------------------------------------------------------------------

    async def accounts(self, token: str) -> list[AccountInfo]:
        return await self._get("/v1/accounts", list[AccountInfo], token=token)

    async def create_account(self, token: str, name: str) -> AccountInfo:
        response = await self._request("POST", "/v1/accounts", token=token, json={"name": name}, safe=False)
        return self._parse(response.content, AccountInfo)

    async def switch_account(self, token: str, name: str) -> Session:
        response = await self._request("POST", "/v1/accounts/switch", token=token, json={"name": name}, safe=True)
        return self._parse(response.content, Session)

    async def reset_account(self, token: str, cash: Decimal | str) -> Transaction:
        response = await self._request("POST", "/v1/accounts/reset", token=token, json={"cash": json_amount(cash)},
                                       safe=False)
        return self._parse(response.content, Transaction)

    # -- orders and portfolio ------------------------------------------------------------------------

    async def place_order(self, token: str, request: OrderRequest) -> Order:
        body = request.model_dump(mode="json", exclude_defaults=True)
        key = request.client_order_id if request.client_order_id is not None else uuid.uuid4().hex
        response = await self._request("POST", "/v1/orders", token=token, json=body, key=key, safe=True)
        return self._parse(response.content, Order)

    async def preview_order(self, token: str, request: OrderRequest) -> OrderPreview:
        body = request.model_dump(mode="json", exclude_defaults=True)
        response = await self._request("POST", "/v1/orders/preview", token=token, json=body, safe=True)
        return self._parse(response.content, OrderPreview)

    async def orders(
        self, token: str, *, offset: int = 0, limit: int = 50, symbol: str | None = None,
        status: OrderStatus | None = None, open: bool | None = None,
        client_order_id: str | None = None,
    ) -> Page[Order]:
        return await self._get("/v1/orders", Page[Order], token=token, offset=offset, limit=limit, symbol=symbol,
                               status=status, open=open, client_order_id=client_order_id)

    async def get_order(self, token: str, order_id: int) -> Order:
        return await self._get(f"/v1/orders/{path_segment(order_id)}", Order, token=token)

    async def cancel_order(self, token: str, order_id: int) -> Order:
        response = await self._request("DELETE", f"/v1/orders/{path_segment(order_id)}", token=token, safe=False)
        return self._parse(response.content, Order)

    async def cancel_orders(self, token: str, *, symbol: str | None = None) -> list[Order]:
        params = {"symbol": symbol} if symbol is not None else None
        response = await self._request("DELETE", "/v1/orders", token=token, params=params, safe=False)
        return self._parse(response.content, list[Order])

    async def run_price_loop(self, interval: float = 1.0) -> None:
        """The server runs the price loop for everyone on its ledger."""

    async def stream_account(self, token: str) -> AsyncGenerator[AccountEvent, None]:
        last: AccountEvent | None = None
        async with aclosing(self._events("/v1/stream/account", "account", token=token)) as events:
            async for data in events:
                # each connection starts with the marks as they are: what moved since the last
                # event seen is what happened while the stream was down
                event = changed(last, self._parse(data, AccountEvent))
                if event is not None:
                    last = event
                    yield event

    async def portfolio(self, token: str) -> Portfolio:
        return await self._get("/v1/portfolio", Portfolio, token=token)

    async def lots(self, token: str, *, symbol: str | None = None, closed: bool = False) -> list[Lot]:
        return await self._get("/v1/lots", list[Lot], token=token, symbol=symbol, closed=closed or None)

    async def pnl(self, token: str) -> PnlReport:
        return await self._get("/v1/pnl", PnlReport, token=token)

    async def leaderboard(self, token: str, *, sort: str = "equity", limit: int = 50) -> list[LeaderboardEntry]:
        return await self._get("/v1/leaderboard", list[LeaderboardEntry], token=token, sort=sort, limit=limit)

    async def journal(self, token: str, *, account: str | None = None, since: date | None = None) -> Journal:
        return await self._get("/v1/journal", Journal, token=token, account=account,
                               since=since.isoformat() if isinstance(since, date) else since)

    # -- the ledger's settings --------------------------------------------------------------------------

    async def ledger_settings(self, token: str) -> LedgerSettings:
        return await self._get("/v1/settings", LedgerSettings, token=token)

    async def admin_update_settings(self, token: str, update: SettingsUpdate) -> LedgerSettings:
        body = update.model_dump(mode="json", exclude_none=True)
        response = await self._request("PATCH", "/v1/admin/settings", token=token, json=body, safe=True)
        return self._parse(response.content, LedgerSettings)

    # -- administration (admin role) ----------------------------------------------------------------

    async def admin_users(self, token: str) -> list[User]:
        return await self._get("/v1/admin/users", list[User], token=token)

    async def admin_set_role(self, token: str, username: str, role: Role) -> User:
        return await self._admin_change_user(token, username, {"role": role})

    async def admin_set_disabled(self, token: str, username: str, disabled: bool) -> User:
        return await self._admin_change_user(token, username, {"disabled": disabled})

    async def _admin_change_user(self, token: str, username: str, body: dict[str, Any]) -> User:
        path = f"/v1/admin/users/{path_segment(username)}"
        response = await self._request("PATCH", path, token=token, json=body, safe=False)
        return self._parse(response.content, User)

    async def admin_audit(self, token: str, *, offset: int = 0, limit: int = 50) -> Page[AuditEvent]:
        return await self._get("/v1/admin/audit", Page[AuditEvent], token=token, offset=offset, limit=limit)

    async def admin_verify(self, token: str) -> VerifyReport:
        return await self._get("/v1/admin/verify", VerifyReport, token=token)
