"""What the Alpaca-compatible surfaces share: their errors, credentials, symbols and ids.

- Errors are Alpaca's shape, `{"code": 42210000, "message": "..."}` (the status times 100000
  plus 10000; a request that is no JSON 40010001), with our own stable code as `reason`.
- Credentials: `APCA-API-KEY-ID` and `APCA-API-SECRET-KEY` (an orderproc API key, `orderproc
  keys create`), or `Authorization: Bearer` with a session token or a key credential.
- Symbols as Alpaca writes crypto pairs, `BTC/USD`; `BTCUSD` and our own `BTC` are read too.
- Ids are UUIDs: an order's holds its number (`UUID(int=id)`, so it reads back), an asset's is
  derived from its symbol (uuid5) and an account's holds its number too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from orderproc.engine import errors
from orderproc.engine.apikeys import key_credential
from orderproc.engine.protocol import Engine

QUOTE_CURRENCY = "USD"
PREFIXES = ("/v2/", "/v1beta3/")  # trading.py's and market_data.py's
_ASSET_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://orderproc/assets")
_MALFORMED = 40010001  # Alpaca's code for a request it could not read


def alpaca_status(exc: errors.OrderprocError) -> int:
    """The status Alpaca answers such an error with: 403 for what the account cannot pay (or
    sell), 422 for an order that cannot be canceled or a reused client_order_id; else ours."""
    if isinstance(exc, errors.InsufficientFunds):
        return 403
    if isinstance(exc, errors.Conflict):
        return 422
    return exc.status


def alpaca_body(status: int, message: str, reason: str) -> dict[str, Any]:
    return {"code": _MALFORMED if status == 400 else status * 100000 + 10000, "message": message, "reason": reason}


def alpaca_error(exc: errors.OrderprocError) -> dict[str, Any]:
    return alpaca_body(alpaca_status(exc), exc.message, exc.code)


def is_alpaca(path: str) -> bool:
    """Whether a request is to the Alpaca-compatible API (its errors answered in Alpaca's shape,
    whoever answers them: a route, the gateway's limits, the app's 404)."""
    return path.startswith(PREFIXES)


def error_response(exc: errors.OrderprocError) -> JSONResponse:
    headers = {"Retry-After": str(exc.details["retry_after"])} if "retry_after" in exc.details else None
    return JSONResponse(alpaca_error(exc), status_code=alpaca_status(exc), headers=headers)


class Malformed(Exception):
    """A request body that is no JSON object: 400 (Alpaca's 40010001), not an engine error."""


class AlpacaRoute(APIRoute):
    """A route whose errors are answered in Alpaca's shape (the rest of the API keeps ours)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except errors.OrderprocError as exc:
                if isinstance(exc, errors.AuthRequired) and "apca-api-key-id" in request.headers:
                    # not the engine's words, which are for a session token
                    return error_response(errors.AuthRequired("request is not authorized: the API key is unknown "
                                                              "or revoked, or its secret is wrong"))
                return error_response(exc)
            except Malformed as exc:
                return JSONResponse(alpaca_body(400, str(exc), "validation_error"), status_code=400)
            except RequestValidationError as exc:
                problem = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(part) for part in problem.get("loc", ())[1:]) or "request"
                return error_response(errors.ValidationError(f"{where}: {problem.get('msg', 'invalid')}"))

        return answer


async def _credential(request: Request) -> str:
    """The caller's credential, checked first (as Alpaca does: before the request's own faults,
    and on routes whose engine call takes none, such as the assets)."""
    key_id = request.headers.get("apca-api-key-id")
    secret = request.headers.get("apca-api-secret-key")
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    if key_id and secret:
        token = key_credential(key_id.strip(), secret.strip())
    elif scheme.lower() == "bearer" and bearer.strip():
        token = bearer.strip()
    else:
        raise errors.AuthRequired("request is not authorized: send APCA-API-KEY-ID and APCA-API-SECRET-KEY "
                                  "(an orderproc API key: `orderproc keys create`)")
    engine: Engine = request.app.state.engine  # (not deps.EngineDep: the gateway imports this module)
    await engine.whoami(token)
    return token


Credential = Annotated[str, Depends(_credential)]


async def read_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, its numbers read as exact decimals (alpaca-py sends floats)."""
    try:
        body = json.loads(await request.body() or b"null", parse_float=Decimal)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past what Python parses
        raise Malformed("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Malformed("the request body is a JSON object")
    return body


def pair(symbol: str) -> str:
    """Our symbol as Alpaca writes the pair: BTC -> BTC/USD."""
    return f"{symbol}/{QUOTE_CURRENCY}"


def base_symbol(text: object, field: str = "symbol") -> str:
    """Our symbol of an Alpaca pair (`BTC/USD`, `BTCUSD`, `btc/usd`; our own `BTC` too)."""
    if not isinstance(text, str) or not text.strip():
        raise errors.ValidationError(f"{field} is a pair such as BTC/USD", {"field": field})
    symbol = text.strip().upper()
    base, slash, quote = symbol.partition("/")
    if slash:
        if quote != QUOTE_CURRENCY or not base:
            raise errors.UnknownAsset(f"{text}: only pairs against {QUOTE_CURRENCY} trade here", {"field": field})
        return base
    if symbol.endswith(QUOTE_CURRENCY) and len(symbol) > len(QUOTE_CURRENCY):
        return symbol[: -len(QUOTE_CURRENCY)]
    return symbol


def asset_id(symbol: str) -> uuid.UUID:
    return uuid.uuid5(_ASSET_NAMESPACE, symbol)


def number_id(number: int) -> uuid.UUID:
    """The UUID of an order's or account's number."""
    return uuid.UUID(int=number)


def order_number(text: str) -> int:
    """The order number in an order's UUID (not_found: no order's)."""
    try:
        number = uuid.UUID(text).int
    except ValueError:
        raise errors.ValidationError("order_id is the UUID of an order", {"field": "order_id"}) from None
    if not 0 < number < 2**63:
        raise errors.NotFound("order not found", {"order_id": text})
    return number


def when(at: datetime | None) -> str | None:
    """A time as Alpaca writes one: RFC 3339 in UTC with a Z (or null)."""
    return None if at is None else at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def text(value: Decimal | None) -> str | None:
    """A decimal as Alpaca sends one: a string, exact and never in exponent form (or null)."""
    return None if value is None else format(value, "f")
