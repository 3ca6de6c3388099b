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
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from orderproc.engine import errors
from orderproc.engine.apikeys import key_credential

QUOTE_CURRENCY = "USD"
_ASSET_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://orderproc/assets")
_MALFORMED = 40010001  # Alpaca's code for a request it could not read


class AlpacaError(errors.OrderprocError):
    """An error only the Alpaca surface has (a field our API does not take), with its status."""

    code = "unsupported"
    status = 422


def error_response(exc: errors.OrderprocError) -> JSONResponse:
    code = _MALFORMED if exc.status == 400 else exc.status * 100000 + 10000
    headers = {"Retry-After": str(exc.details["retry_after"])} if "retry_after" in exc.details else None
    return JSONResponse({"code": code, "message": exc.message, "reason": exc.code}, status_code=exc.status,
                        headers=headers)


class Malformed(errors.ValidationError):
    status = 400


class AlpacaRoute(APIRoute):
    """A route whose errors are answered in Alpaca's shape (the rest of the API keeps ours)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except errors.OrderprocError as exc:
                return error_response(exc)
            except RequestValidationError as exc:
                problem = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(part) for part in problem.get("loc", ())[1:]) or "request"
                return error_response(errors.ValidationError(f"{where}: {problem.get('msg', 'invalid')}"))

        return answer


def _credential(request: Request) -> str:
    key_id = request.headers.get("apca-api-key-id")
    secret = request.headers.get("apca-api-secret-key")
    if key_id and secret:
        return key_credential(key_id.strip(), secret.strip())
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    raise errors.AuthRequired("request is not authorized: send APCA-API-KEY-ID and APCA-API-SECRET-KEY "
                              "(an orderproc API key: `orderproc keys create`)")


Credential = Annotated[str, Depends(_credential)]


async def read_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, its numbers read as exact decimals (alpaca-py sends floats)."""
    try:
        body = json.loads(await request.body() or b"null", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
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


def text(value: Decimal | None) -> str | None:
    """A decimal as Alpaca sends one: a string (exact), or null."""
    return None if value is None else str(value)
