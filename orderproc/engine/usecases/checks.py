"""Input checks the use cases share, made before any I/O: a bad argument is a clear error
with a stable code, and changes nothing."""

from __future__ import annotations

import hashlib
import re

from orderproc.engine import errors
from orderproc.engine.catalog import MAX_OFFSET, MAX_PAGE
from orderproc.engine.store import repo

KEY_MAX = 128
ACCOUNT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}", re.ASCII)


def shown(value: object) -> str:
    """A bad argument as an error may quote it: a short printable string, or its type's name."""
    if isinstance(value, str):
        return value[:64].encode("utf-8", "backslashreplace").decode()
    return type(value).__name__


def check_type(value: object, kind: type | tuple[type, ...], field: str) -> None:
    """Calls from Python get a validation error for a wrong type, as the HTTP API does."""
    if not isinstance(value, kind):
        raise errors.ValidationError(f"{field} has the wrong type ({type(value).__name__})", {"field": field})


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > KEY_MAX or not key.isprintable():
        raise errors.ValidationError(f"an idempotency key is 1-{KEY_MAX} printable characters", {"field": "key"})
    return key


def check_account_name(name: object) -> None:
    if not isinstance(name, str) or not ACCOUNT_NAME.fullmatch(name):
        raise errors.ValidationError("an account name is 1-32 letters, digits, '_', '.' or '-'", {"field": "name"})


def check_order_id(order_id: object) -> None:
    if not isinstance(order_id, int) or isinstance(order_id, bool) or not 0 < order_id < 2**63:
        raise errors.NotFound("no such order", {"order_id": shown(order_id)})


def check_page(offset: int, limit: int) -> None:
    if not (isinstance(offset, int) and isinstance(limit, int)) or not 0 <= offset <= MAX_OFFSET \
            or not 1 <= limit <= MAX_PAGE:
        raise errors.ValidationError(f"offset must be 0-{MAX_OFFSET} and limit 1-{MAX_PAGE}", {"field": "limit"})


def request_hash(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def replayed(conn: repo.Conn, user_id: int, key: str | None, kind: str, request: str) -> int | None:
    """The id of what this user's earlier request with `key` produced (None for a new key);
    the same key with a different request (its hash) is a conflict."""
    if key is None:
        return None
    found = repo.idempotent_ref(conn, user_id, key)
    if found is None:
        return None
    if found.kind != kind or found.request_hash != request:
        raise errors.Conflict("this idempotency key was used for a different request", {"field": "key"})
    return found.ref_id
