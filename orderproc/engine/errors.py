"""Typed domain errors with stable codes, shared by every surface.

    OrderprocError                 (code, status)
    ├── ValidationError            validation_error   422
    │   └── InvalidAmount          invalid_amount     422
    ├── AuthRequired               auth_required      401
    ├── InvalidCredentials         invalid_credentials 401
    ├── Forbidden                  forbidden          403
    │   ├── CannotChangeSelf       cannot_change_self 403
    │   ├── ReadOnlyKey            read_only_key      403
    │   └── SessionRequired        session_required   403
    ├── NotFound                   not_found          404
    │   └── UnknownAsset           unknown_asset      404
    ├── Conflict                   conflict           409
    │   ├── UsernameTaken          username_taken     409
    │   └── OrderNotOpen           order_not_open     409
    ├── InsufficientFunds          insufficient_funds 422
    ├── PriceMoved                 price_moved        409
    ├── RateLimited                rate_limited       429
    ├── PayloadTooLarge            payload_too_large  413
    ├── UnsupportedMediaType       unsupported_media_type 415
    ├── SchemaMismatch             schema_mismatch    500
    ├── LedgerBusy                 ledger_busy        503
    ├── LedgerUnavailable          ledger_unavailable 503
    └── EngineUnavailable          engine_unavailable 503

The server maps `status` to HTTP, the CLI prints `error[code]: message` and exits 1,
and `error_for_code` lets a remote client raise exactly what the local engine raised.
"""

from __future__ import annotations

from typing import Any, ClassVar


class OrderprocError(Exception):
    code: ClassVar[str] = "error"
    status: ClassVar[int] = 500

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    def __str__(self) -> str:
        return self.message


class ValidationError(OrderprocError):
    code = "validation_error"
    status = 422


class InvalidAmount(ValidationError):
    code = "invalid_amount"


class AuthRequired(OrderprocError):
    code = "auth_required"
    status = 401


class InvalidCredentials(OrderprocError):
    code = "invalid_credentials"
    status = 401


class Forbidden(OrderprocError):
    code = "forbidden"
    status = 403


class CannotChangeSelf(Forbidden):
    """An admin may not disable or demote themself (another admin, or the operator, may): so no
    admin can leave the ledger without an enabled admin."""

    code = "cannot_change_self"


class ReadOnlyKey(Forbidden):
    """A read-only API key asked to move money or change something."""

    code = "read_only_key"


class SessionRequired(Forbidden):
    """An API key asked for what only a logged-in person may do (keys, password, accounts, admin)."""

    code = "session_required"


class NotFound(OrderprocError):
    code = "not_found"
    status = 404


class UnknownAsset(NotFound):
    code = "unknown_asset"


class Conflict(OrderprocError):
    code = "conflict"
    status = 409


class WatchlistFull(Conflict):
    code = "watchlist_full"


class UsernameTaken(Conflict):
    code = "username_taken"


class OrderNotOpen(Conflict):
    code = "order_not_open"


class InsufficientFunds(OrderprocError):
    code = "insufficient_funds"
    status = 422


class PriceMoved(OrderprocError):
    code = "price_moved"
    status = 409


class RateLimited(OrderprocError):
    code = "rate_limited"
    status = 429


class PayloadTooLarge(OrderprocError):
    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(OrderprocError):
    """A request body that does not say it is JSON (`Content-Type: application/json`)."""

    code = "unsupported_media_type"
    status = 415


class SchemaMismatch(OrderprocError):
    code = "schema_mismatch"
    status = 500


class LedgerBusy(OrderprocError):
    code = "ledger_busy"
    status = 503


class LedgerUnavailable(OrderprocError):
    """The ledger file or its key cannot be used as it is (a path problem, unsafe permissions)."""

    code = "ledger_unavailable"
    status = 503


class EngineUnavailable(OrderprocError):
    code = "engine_unavailable"
    status = 503


def _registry() -> dict[str, type[OrderprocError]]:
    found: dict[str, type[OrderprocError]] = {}
    pending: list[type[OrderprocError]] = [OrderprocError]
    while pending:
        cls = pending.pop()
        found[cls.code] = cls
        pending.extend(cls.__subclasses__())
    return found


ERRORS_BY_CODE: dict[str, type[OrderprocError]] = _registry()


def error_for_code(code: str, message: str, details: dict[str, Any] | None = None) -> OrderprocError:
    """Rebuild the error a remote engine reported, as the same class the local engine raises."""
    return ERRORS_BY_CODE.get(code, OrderprocError)(message, details)
