"""Named paper accounts: list, open, switch the session to one, reset one."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from orderproc.engine.schemas import AccountInfo, Session, Transaction
from orderproc.server.deps import EngineDep, Token

router = APIRouter(prefix="/v1", tags=["accounts"])


class AccountName(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="1-32 letters, digits, '_', '.' or '-'", examples=["scalping"])


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cash: str = Field(description="The starting cash, USD as a decimal string", examples=["10000.00"])


@router.get("/accounts")
async def accounts(engine: EngineDep, token: Token) -> list[AccountInfo]:
    """Your paper accounts; `current` is the one this token trades."""
    return await engine.accounts(token)


@router.post("/accounts", status_code=status.HTTP_201_CREATED)
async def create_account(body: AccountName, engine: EngineDep, token: Token) -> AccountInfo:
    return await engine.create_account(token, body.name)


@router.post("/accounts/switch")
async def switch_account(body: AccountName, engine: EngineDep, token: Token) -> Session:
    """A new token that trades the named account (the old token keeps trading its own)."""
    return await engine.switch_account(token, body.name)


@router.post("/accounts/reset")
async def reset_account(body: ResetRequest, engine: EngineDep, token: Token) -> Transaction:
    """Start this token's account again with `cash` (its history stays); the starting deposit."""
    return await engine.reset_account(token, body.cash)
