"""Administration: users, their roles and access, the audit log, the ledger check (admin role)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, StrictBool

from orderproc.engine import errors, wire
from orderproc.engine.schemas import AuditEvent, LedgerSettings, Page, Role, User, VerifyReport
from orderproc.server.deps import EngineDep, SettingsBody, Token
from orderproc.server.openapi import answers
from orderproc.server.routes.account import Limit, Offset

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class UserChange(BaseModel):
    """A role, a disabled flag, or both (one at least)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=wire.one_at_least("role", "disabled"))
    role: Role | None = None
    disabled: StrictBool | None = None


@router.get("/users")
async def users(engine: EngineDep, token: Token) -> list[User]:
    return await engine.admin_users(token)


@router.patch("/users/{username}", responses=answers(404))
async def change_user(username: str, body: UserChange, engine: EngineDep, token: Token) -> User:
    if body.role is None and body.disabled is None:
        raise errors.ValidationError("give role or disabled", {"field": "role"})
    user = None
    if body.role is not None:
        user = await engine.admin_set_role(token, username, body.role)
    if body.disabled is not None:
        user = await engine.admin_set_disabled(token, username, body.disabled)
    assert user is not None
    return user


@router.get("/audit")
async def audit(engine: EngineDep, token: Token, offset: Offset = 0, limit: Limit = 50) -> Page[AuditEvent]:
    return await engine.admin_audit(token, offset=offset, limit=limit)


@router.patch("/settings")
async def update_settings(body: SettingsBody, engine: EngineDep, token: Token) -> LedgerSettings:
    """Change the cost method or the friction profile (for what trades from now on)."""
    return await engine.admin_update_settings(token, body)


@router.get("/verify")
async def verify(engine: EngineDep, token: Token) -> VerifyReport:
    return await engine.admin_verify(token)
