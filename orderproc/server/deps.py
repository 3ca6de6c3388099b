"""What routes depend on: the engine, the caller's token, the client address, the limits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Protocol, TypeVar, runtime_checkable

import pydantic
from fastapi import Body, Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orderproc.engine import errors, wire
from orderproc.engine.limits import Bucket
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import OrderRequest, SettingsUpdate
from orderproc.server.gateway import Metrics, RateLimiter, client_address

M = TypeVar("M", bound=pydantic.BaseModel)

_bearer = HTTPBearer(auto_error=False, description="The token `POST /v1/auth/login` returned, or an API key's "
                                                    "`<key_id>.<secret>` (`POST /v1/keys`)")


async def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


_LOG_IN_FIRST = "log in first: send Authorization: Bearer <token>"


async def _token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    if credentials is None or not credentials.credentials:
        raise errors.AuthRequired(_LOG_IN_FIRST)
    return credentials.credentials


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header (for a route that reads it itself)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.AuthRequired(_LOG_IN_FIRST)
    return token.strip()


async def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def read_json(request: Request, model: type[M]) -> M:
    """The request's body as `model` read from its JSON, where the wire's own rules apply
    (orderproc.engine.wire: decimals as strings, keys in Latin-1); pydantic's own complaints
    (a field too many, a wrong type) become a validation error naming the field."""
    try:
        return model.model_validate_json(await request.body())
    except pydantic.ValidationError as exc:
        problem = exc.errors()[0]
        if problem["type"] == "json_invalid":
            raise errors.ValidationError("the request body is not valid JSON") from None
        field = ".".join(str(part) for part in problem["loc"]) or None
        raise errors.ValidationError(f"{field or 'body'}: {problem['msg']}", {"field": field}) from None


# FastAPI reads (and documents) a body as a Python object, where a JSON number and a decimal
# string look alike once parsed; these read it again as JSON, as the order route does.
async def _order_body(request: Request, body: Annotated[OrderRequest, Body()]) -> OrderRequest:
    return await read_json(request, OrderRequest)


async def _settings_body(request: Request, body: Annotated[SettingsUpdate, Body()]) -> SettingsUpdate:
    return await read_json(request, SettingsUpdate)


def check_key(key: str | None) -> str | None:
    """An `Idempotency-Key` header as the wire allows it (for a route that reads it itself)."""
    if key is not None:
        wire.check_key(key, "Idempotency-Key")
    return key


async def _client(request: Request) -> str:
    return client_address(request.scope)


async def _login_limits(request: Request) -> LoginLimits:
    limits: LoginLimits = request.app.state.login_limits
    return limits


@runtime_checkable
class Throttling(Protocol):
    """An engine that keeps the login limits' buckets in its ledger (LocalEngine)."""

    async def throttle(self, buckets: Sequence[Bucket]) -> float: ...


class LoginLimits:
    """The stricter limit on logins and registrations: per account name, whatever the address
    (a spread-out brute force is still throttled), and per address (six times looser).

    Kept in the ledger when the engine can (`LocalEngine.throttle`): every server on one ledger,
    `--workers N` or N machines behind a proxy, counts against the same buckets, so N servers do
    not give an attacker N times the attempts. Else in this process's memory."""

    def __init__(self, per_minute: float, engine: Engine) -> None:
        self.per_minute = per_minute
        self._take = engine.throttle if isinstance(engine, Throttling) else _InMemory().take

    async def check(self, client: str, username: str | None) -> None:
        if self.per_minute <= 0:
            return
        burst = max(self.per_minute, 1.0)
        buckets = [(f"address:{client}", self.per_minute / 10, burst * 6)]
        if username is not None:
            buckets.append((f"account:{username.strip().lower()[:64]}", self.per_minute / 60, burst))
        wait = await self._take(buckets)
        if wait:
            seconds = math.ceil(wait)  # as the request limit says it (gateway.py)
            raise errors.RateLimited(f"too many attempts: try again in {seconds} s", {"retry_after": seconds})


class _InMemory:
    """Login-limit buckets in this process only (an engine that keeps none)."""

    def __init__(self) -> None:
        self._limiters: dict[tuple[float, float], RateLimiter] = {}

    async def take(self, buckets: Sequence[Bucket]) -> float:
        for key, rate, burst in buckets:
            limiter = self._limiters.setdefault((rate, burst), RateLimiter(rate, burst))
            if wait := limiter.take(key):
                return wait
        return 0.0


EngineDep = Annotated[Engine, Depends(_engine)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
Token = Annotated[str, Depends(_token)]
Client = Annotated[str, Depends(_client)]
LoginLimitsDep = Annotated[LoginLimits, Depends(_login_limits)]
OrderBody = Annotated[OrderRequest, Depends(_order_body)]
SettingsBody = Annotated[SettingsUpdate, Depends(_settings_body)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", pattern=wire.KEY_PATTERN,
           description="Repeating a request with the same key has one effect: 1-128 printable Latin-1 characters, "
                       "no space at either end"),
]
