"""Who is calling: a customer (a user's session, trading one of their accounts), an admin (a
customer with the admin role), or the operator (the ledger file's owner, acting directly).

Each use case resolves the caller from its token's claims inside its own transaction, so a
revoked token, a disabled user or a demoted admin is refused by the very job it would run.
"""

from __future__ import annotations

from dataclasses import dataclass

from orderproc.engine import errors
from orderproc.engine.schemas import Role
from orderproc.engine.security import Claims
from orderproc.engine.store import repo


@dataclass(frozen=True, slots=True)
class Customer:
    user_id: int
    username: str
    role: Role
    account_id: int  # the paper account this session trades

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


def caller(conn: repo.Conn, claims: Claims | Operator) -> Caller:
    """Whoever the claims name, if their session still holds."""
    if isinstance(claims, Operator):
        return claims
    found = repo.session_user(conn, claims.user_id, claims.jti, claims.account)
    user = found.user
    if user is None or found.revoked or user.token_version != claims.version or found.account_id is None:
        raise errors.AuthRequired("the session has ended; log in again")
    if user.disabled:
        raise errors.Forbidden("this account is disabled")
    kind = Admin if user.role == Role.ADMIN.value else Customer
    return kind(user.id, user.username, Role(user.role), found.account_id)


def customer(conn: repo.Conn, claims: Claims | Operator) -> Customer:
    """A user's session: everything that trades or reads one account."""
    found = caller(conn, claims)
    if isinstance(found, Operator):
        raise errors.Forbidden("the operator has no paper account; log in as a user")
    return found


def admin(conn: repo.Conn, claims: Claims | Operator) -> Admin | Operator:
    found = caller(conn, claims)
    if not isinstance(found, Admin | Operator):
        raise errors.Forbidden("this needs the admin role")
    return found
