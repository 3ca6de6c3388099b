"""Cash, the transaction history, the portfolio, lots and P&L, and the leaderboard."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from orderproc.engine.catalog import MAX_OFFSET, MAX_PAGE
from orderproc.engine.schemas import Balance, LeaderboardEntry, LedgerSettings, Lot, Page, PnlReport, Portfolio, Transaction, TxKind
from orderproc.server.deps import EngineDep, IdempotencyKey, Token

router = APIRouter(prefix="/v1", tags=["account"])

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


class CashRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: str = Field(description="USD as a decimal string, at most 2 decimals", examples=["250.00"])


@router.get("/cash")
async def balance(engine: EngineDep, token: Token) -> Balance:
    return await engine.balance(token)


@router.post("/cash/deposit", status_code=status.HTTP_201_CREATED)
async def deposit(body: CashRequest, engine: EngineDep, token: Token, key: IdempotencyKey = None) -> Transaction:
    return await engine.deposit(token, body.amount, key=key)


@router.post("/cash/withdraw", status_code=status.HTTP_201_CREATED)
async def withdraw(body: CashRequest, engine: EngineDep, token: Token, key: IdempotencyKey = None) -> Transaction:
    return await engine.withdraw(token, body.amount, key=key)


@router.get("/transactions")
async def history(engine: EngineDep, token: Token, kind: TxKind | None = None, offset: Offset = 0,
                  limit: Limit = 50) -> Page[Transaction]:
    return await engine.history(token, kind=kind, offset=offset, limit=limit)


@router.get("/portfolio")
async def portfolio(engine: EngineDep, token: Token) -> Portfolio:
    return await engine.portfolio(token)


@router.get("/lots")
async def lots(engine: EngineDep, token: Token, symbol: str | None = None, closed: bool = False) -> list[Lot]:
    """Your open lots (with `closed=true`, the sold ones too), by asset, oldest first."""
    return await engine.lots(token, symbol=symbol, closed=closed)


@router.get("/settings")
async def settings(engine: EngineDep, token: Token) -> LedgerSettings:
    """The ledger's cost method and friction profile (fees, spread, slippage)."""
    return await engine.ledger_settings(token)


@router.get("/pnl")
async def pnl(engine: EngineDep, token: Token) -> PnlReport:
    """Realized and unrealized P&L by asset, by the ledger's cost method; total = equity - net deposits."""
    return await engine.pnl(token)


@router.get("/leaderboard")
async def leaderboard(engine: EngineDep, token: Token, sort: Literal["equity", "return"] = "equity",
                      limit: Limit = 50) -> list[LeaderboardEntry]:
    return await engine.leaderboard(token, sort=sort, limit=limit)
