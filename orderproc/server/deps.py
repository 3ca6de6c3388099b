"""What routes depend on: the engine, the caller's token, the client address, the limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orderproc.engine import errors
from orderproc.engine.protocol import Engine
from orderproc.server.gateway import RateLimiter, client_address

_bearer = HTTPBearer(auto_error=False, description="The token `POST /v1/auth/login` returned")


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


async def _client(request: Request) -> str:
    return client_address(request.scope)


async def _login_limits(request: Request) -> LoginLimits:
    limits: LoginLimits = request.app.state.login_limits
    return limits


class LoginLimits:
    """The stricter limit on logins and registrations: per account name, whatever the address
    (a spread-out brute force is still throttled), and per address (six times looser)."""

    def __init__(self, per_minute: float) -> None:
        burst = max(per_minute, 1.0)
        self.by_account = RateLimiter(per_minute / 60, burst)
        self.by_address = RateLimiter(per_minute / 10, burst * 6)

    def check(self, client: str, username: str | None) -> None:
        wait = self.by_address.take(client)
        if not wait and username is not None:
            wait = self.by_account.take(username.strip().lower()[:64])
        if wait:
            seconds = int(wait) + 1
            raise errors.RateLimited(f"too many attempts: try again in {seconds} s", {"retry_after": seconds})


EngineDep = Annotated[Engine, Depends(_engine)]
Token = Annotated[str, Depends(_token)]
Client = Annotated[str, Depends(_client)]
LoginLimitsDep = Annotated[LoginLimits, Depends(_login_limits)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Repeating a request with the same key has one effect"),
]
