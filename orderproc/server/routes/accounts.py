"""Named paper accounts: list, open, switch the session to one, reset one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from orderproc.engine import wire
from orderproc.engine.schemas import AccountInfo, Session, Transaction
from orderproc.server.deps import EngineDep, Token
from orderproc.server.openapi import answers

router = APIRouter(prefix="/v1", tags=["accounts"])


class AccountName(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$", description="1-32 letters, digits, '_', '.' or '-'",
                      examples=["scalping"])


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cash: Annotated[str, wire.USD.schema("The starting cash"), wire.USD.validator()]


@router.get("/accounts")
async def accounts(engine: EngineDep, token: Token) -> list[AccountInfo]:
    """Your paper accounts; `current` is the one this token trades."""
    return await engine.accounts(token)


@router.post("/accounts", status_code=status.HTTP_201_CREATED, responses=answers(409))
async def create_account(body: AccountName, engine: EngineDep, token: Token) -> AccountInfo:
    return await engine.create_account(token, body.name)


@router.post("/accounts/switch", responses=answers(404))
async def switch_account(body: AccountName, engine: EngineDep, token: Token) -> Session:
    """A new token that trades the named account (the old token keeps trading its own)."""
    return await engine.switch_account(token, body.name)


@router.post("/accounts/reset")
async def reset_account(body: ResetRequest, engine: EngineDep, token: Token) -> Transaction:
    """Start this token's account again with `cash` (its history stays); the starting deposit."""
    return await engine.reset_account(token, body.cash)
