"""Who is calling: a customer (a user's session, trading one of their accounts), an admin (a
customer with the admin role), or the operator (the ledger file's owner, acting directly).

A program may call with an API key instead of a session: it acts as a customer (never as an
admin, whatever its user's role) on the one account the key was made for, and the call says
what it needs of the key (`Access`): a read, a trade (refused to a read-only key with
`read_only_key`), or a person's session (refused to any key with `session_required`). An
unknown key, a wrong secret and a revoked key get one answer (`auth_required`).

Each use case resolves the caller from its token's claims inside its own transaction, so a
revoked token, a disabled user or a demoted admin is refused by the very job it would run.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from orderproc.engine import errors
from orderproc.engine.schemas import Role
from orderproc.engine.security import Claims, KeyClaims
from orderproc.engine.store import keys, repo


@dataclass(frozen=True, slots=True)
class Customer:
    user_id: int
    username: str
    role: Role
    account_id: int  # the paper account this session trades
    key_id: str | None = None  # the API key calling (None: a session)

    @property
    def actor_id(self) -> int | None:
        """The id the audit log records."""
        return self.user_id


@dataclass(frozen=True, slots=True)
class Admin(Customer):
    """A customer whose role is admin."""


@dataclass(frozen=True, slots=True)
class Operator:
    """The owner of the ledger file acting directly on it: an admin with no user and no paper account."""

    username: str = "operator"

    @property
    def actor_id(self) -> int | None:
        return None


OPERATOR = Operator()
Caller = Customer | Operator
Credentials = Claims | KeyClaims | Operator
_NO_KEY = "0" * 64  # the digest compared with when a key id is unknown: the same work either way


def caller(conn: repo.Conn, claims: Credentials) -> Caller:
    """Whoever the claims name, if their session (or key) still holds."""
    if isinstance(claims, Operator):
        return claims
    if isinstance(claims, KeyClaims):
        return _key_holder(conn, claims)
    found = repo.session_user(conn, claims.user_id, claims.jti, claims.account)
    user = found.user
    if user is None or found.revoked or user.token_version != claims.version or found.account_id is None:
        raise errors.AuthRequired("the session has ended; log in again")
    if user.disabled:
        raise errors.Forbidden("this account is disabled")
    kind = Admin if user.role == Role.ADMIN.value else Customer
    return kind(user.id, user.username, Role(user.role), found.account_id)


def _key_holder(conn: repo.Conn, claims: KeyClaims) -> Customer:
    found = keys.key_holder(conn, claims.key_id)
    matches = hmac.compare_digest(claims.digest, found.secret_hash if found else _NO_KEY)
    if found is None or not matches or found.revoked:
        raise errors.AuthRequired("the API key is unknown, revoked, or its secret is wrong", {"reason": "invalid_key"})
    if found.user.disabled:
        raise errors.Forbidden("this account is disabled")
    if claims.access == "session":
        raise errors.SessionRequired("an API key cannot do this: log in (keys, password, profile, accounts and "
                                     "administration are managed with a session)")
    if claims.access == "trade" and found.read_only:
        raise errors.ReadOnlyKey("this API key is read-only: it cannot move money or change orders",
                                 {"key_id": claims.key_id})
    if claims.used is not None:
        claims.used(found.id)
    user = found.user
    return Customer(user.id, user.username, Role(user.role), found.account_id, claims.key_id)


def customer(conn: repo.Conn, claims: Credentials) -> Customer:
    """A user's session: everything that trades or reads one account."""
    found = caller(conn, claims)
    if isinstance(found, Operator):
        raise errors.Forbidden("the operator has no paper account; log in as a user")
    return found


def admin(conn: repo.Conn, claims: Credentials) -> Admin | Operator:
    found = caller(conn, claims)
    if not isinstance(found, Admin | Operator):
        raise errors.Forbidden("this needs the admin role")
    return found
