"""Password hashing (argon2id through argon2-cffi), session tokens (JWT through PyJWT) and API
key credentials.

Why argon2-cffi directly and not passlib's CryptContext over it (as the spec first said): passlib
earns its layer when a ledger holds several schemes (bcrypt hashes to migrate, deprecated ones
to upgrade on login). orderproc's never did: every hash it ever wrote is argon2id in the PHC
format passlib writes and argon2-cffi reads as is (a test verifies hashes passlib made), and
passlib's needs_update was never used. Without the layer: one dependency fewer (libpass), about
85 ms less import before the first hash (passlib.context and its handler load
importlib.metadata), and argon2-cffi's own `check_needs_rehash` if a profile is ever raised.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeGuard

import jwt

from orderproc.engine.apikeys import split_credential
from orderproc.engine.catalog import PASSWORD_MAX, PASSWORD_MIN
from orderproc.engine.errors import AuthRequired, LedgerUnavailable, ValidationError

USERNAME_RE = re.compile(r"[A-Za-z0-9_.\-]{3,32}")
JWT_ALGORITHM = "HS256"
JWT_ISSUER = "orderproc"

# argon2id parameters. "strong" follows OWASP's first recommended profile; "fast" is for
# tests and throwaway ledgers only (hashes carry their parameters, so either verifies both).
HASH_PROFILES: dict[str, dict[str, int]] = {
    "strong": {"memory_cost": 19456, "time_cost": 2, "parallelism": 1},
    "fast": {"memory_cost": 1024, "time_cost": 1, "parallelism": 1},
}


def is_username(value: object) -> TypeGuard[str]:
    """Whether an account could have this name (ASCII only: no look-alike reaches an account)."""
    return isinstance(value, str) and USERNAME_RE.fullmatch(value) is not None


def is_text(value: object) -> TypeGuard[str]:
    """A str that can be stored and hashed (no lone surrogate)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_username(username: object) -> str:
    if not is_username(username):
        raise ValidationError(
            "username must be 3-32 characters of letters, digits, '_', '.' or '-'", {"field": "username"}
        )
    return username


def check_password(password: object, field: str = "password") -> str:
    if not is_text(password) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise ValidationError(
            f"{field} must be {PASSWORD_MIN}-{PASSWORD_MAX} characters", {"field": field}
        )
    return password


class PasswordHasher:
    """argon2id hashing; slow on purpose, so callers run it off the event loop."""

    def __init__(self, profile: str = "strong") -> None:
        import argon2

        if profile not in HASH_PROFILES:
            raise ValueError(f"unknown hash profile {profile!r}")
        self._argon2 = argon2.PasswordHasher(**HASH_PROFILES[profile], type=argon2.Type.ID)
        self._failed = (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError)
        self._dummy: str | None = None  # made on first need: a strong hash costs ~150 ms

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, password: str, hashed: str | None) -> bool:
        """Check a password; with no hash (unknown user) spend the same time and fail."""
        if hashed is None:
            if self._dummy is None:
                self._dummy = self._argon2.hash(secrets.token_urlsafe(16))
            self._check(password, self._dummy)
            return False
        return self._check(password, hashed)

    def _check(self, password: str, hashed: str) -> bool:
        try:
            return self._argon2.verify(hashed, password)
        except self._failed:  # a wrong password, or a hash that is not one
            return False


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: int
    version: int
    jti: str
    expires_at: float
    account: int | None = None  # the paper account the session trades (None: the user's first)


def load_or_create_secret(path: Path) -> bytes:
    """The ledger's signing key: 64 random bytes in a file only its owner can read."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise LedgerUnavailable(
                f"refusing to use {path}: its permissions are {oct(mode)}; run chmod 600 on it"
            ) from None
        secret = path.read_bytes()
        if len(secret) < 32:
            raise LedgerUnavailable(f"refusing to use {path}: the key is shorter than 32 bytes") from None
        return secret
    secret = secrets.token_bytes(64)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
    return secret


class TokenSigner:
    # Verifying a signature is the dearest step of a private call (PyJWT compares in Python);
    # a token's claims never change, so each token string is verified once. Expiry is still
    # checked on every call, and revocation and version by the caller against the ledger.
    CACHE_SIZE = 4096

    def __init__(self, secret: bytes, audience: str, ttl_seconds: float) -> None:
        self._secret = secret
        self._audience = audience
        self._ttl = ttl_seconds
        self._verified: dict[str, Claims] = {}

    def issue(self, user_id: int, version: int, now: float, account: int | None = None) -> tuple[str, float]:
        expires = now + self._ttl
        payload: dict[str, Any] = {
            "sub": str(user_id),
            "ver": version,
            "jti": uuid.uuid4().hex,
            "iat": int(now),
            "exp": int(expires),
            "iss": JWT_ISSUER,
            "aud": self._audience,
        }
        if account is not None:
            payload["acct"] = account
        return jwt.encode(payload, self._secret, algorithm=JWT_ALGORITHM), float(int(expires))

    def decode(self, token: object, now: float) -> Claims:
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise AuthRequired("log in first")
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self._verified) >= self.CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = claims
        if claims.expires_at <= now:
            raise AuthRequired("the session has expired; log in again", {"reason": "expired"})
        return claims

    def _verify(self, token: str) -> Claims:
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                audience=self._audience,
                issuer=JWT_ISSUER,
                # expiry is checked against the engine's clock (injectable), not PyJWT's wall clock
                options={"require": ["exp", "iat", "sub", "jti", "aud", "iss"], "verify_exp": False, "verify_iat": False},
            )
            exp = float(payload["exp"])
            user_id = int(payload["sub"])
            version = int(payload.get("ver", -1))
            jti = str(payload["jti"])
            account = payload.get("acct")
            if account is not None and (not isinstance(account, int) or isinstance(account, bool)):
                raise ValueError("acct")
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            raise AuthRequired("the session token is invalid; log in again") from None
        return Claims(user_id, version, jti, exp, account)


# -- API keys ----------------------------------------------------------------------------------
#
# The credential's shape is `apikeys`' (public: a surface builds credentials with it). The
# ledger keeps only the secret's SHA-256: a random 256-bit secret cannot be found from it, so a
# slow password hash would only make every request of a bot pay ~150 ms for nothing.

# what a call needs of a key: to read the key's account, to trade it, or a person's session
Access = Literal["read", "trade", "session"]


def secret_digest(secret: str) -> str:
    """What the ledger keeps of a key's secret: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyClaims:
    """An API key credential as presented (checked against the ledger by the call that uses it)
    and what the call needs of it."""

    key_id: str
    digest: str  # of the secret presented
    access: Access
    used: Callable[[int], None] | None = field(default=None, compare=False)  # told the key's row id once it holds


def key_claims(token: object, access: Access, used: Callable[[int], None] | None = None) -> KeyClaims | None:
    """The key a token presents (None: the token is not a key credential)."""
    parts = split_credential(token)
    if parts is None:
        return None
    key_id, secret = parts
    return KeyClaims(key_id, secret_digest(secret), access, used)
