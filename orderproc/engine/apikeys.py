"""The shape of an API key's credential: public, so that a surface (an Alpaca-compatible API
reading `APCA-API-KEY-ID` and `APCA-API-SECRET-KEY`, say) builds the token an Engine takes.

A key is a public id and a secret. The id has the shape of an Alpaca key id (`PK` and 18
upper-case letters and digits), so programs written for Alpaca take it as it is; the secret is
32 random bytes (256 bits) in base64url, 43 characters. Wherever an Engine takes a session
token it takes `key_credential(key_id, secret)`, `<key id>.<secret>` (a session token, a JWT,
never starts with `PK`; base64url has no `.`).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import TypeGuard

from pydantic import Field

from orderproc.engine.schemas import Model

KEY_ID_PREFIX = "PK"
KEY_ID_PATTERN = r"PK[A-Z0-9]{18}"
SECRET_MAX = 256  # characters: a longer "secret" is no key's
_KEY_ID = re.compile(KEY_ID_PATTERN)
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def new_key_id() -> str:
    return KEY_ID_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(18))


def new_key_secret() -> str:
    return secrets.token_urlsafe(32)


def is_key_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _KEY_ID.fullmatch(value) is not None


def key_credential(key_id: str, secret: str) -> str:
    """The token a program sends (`Authorization: Bearer <it>`, or to any Engine method that takes
    a session token) for the key `key_id` with its secret."""
    return f"{key_id}.{secret}"


def split_credential(token: object) -> tuple[str, str] | None:
    """The key id and secret of a key credential (None: the token is not one)."""
    if not isinstance(token, str) or not token.startswith(KEY_ID_PREFIX):
        return None
    key_id, dot, secret = token.partition(".")
    if not dot or not is_key_id(key_id) or not secret or len(secret) > SECRET_MAX:
        return None
    return key_id, secret


class ApiKey(Model):
    """An API key as its owner sees it: never its secret."""

    key_id: str = Field(description="Public: the first half of the credential", examples=["PK4J7Q2M9XW3B8N1C5ZT"])
    name: str
    account: str  # the paper account the key reads and trades
    read_only: bool
    created_at: datetime
    last_used_at: datetime | None = None  # to the minute or so
    revoked_at: datetime | None = None


class NewApiKey(ApiKey):
    """A key just made, with its secret: shown this once (the ledger keeps only a hash of it)."""

    secret: str
    token: str = Field(description="`<key_id>.<secret>`: send it as `Authorization: Bearer <token>`")
