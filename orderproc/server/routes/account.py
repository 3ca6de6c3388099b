"""Cash, the transaction history, the portfolio, lots and P&L, the leaderboard, and the account
event stream (server-sent events) that tells a terminal when to read them again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from orderproc.engine import errors, wire
from orderproc.engine.catalog import MAX_OFFSET, MAX_PAGE
from orderproc.engine.events import AccountEvent, changed
from orderproc.engine.schemas import Balance, LeaderboardEntry, LedgerSettings, Lot, Page, PnlReport, Portfolio, Transaction, TxKind
from orderproc.server import sse
from orderproc.server.deps import EngineDep, IdempotencyKey, Token
from orderproc.server.openapi import answers

router = APIRouter(prefix="/v1", tags=["account"])

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


class CashRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Annotated[str, wire.USD.schema(), wire.USD.validator()]


@router.get("/cash")
async def balance(engine: EngineDep, token: Token) -> Balance:
    return await engine.balance(token)


@router.post("/cash/deposit", status_code=status.HTTP_201_CREATED, responses=answers(409))
async def deposit(body: CashRequest, engine: EngineDep, token: Token, key: IdempotencyKey = None) -> Transaction:
    return await engine.deposit(token, body.amount, key=key)


@router.post("/cash/withdraw", status_code=status.HTTP_201_CREATED, responses=answers(409))
async def withdraw(body: CashRequest, engine: EngineDep, token: Token, key: IdempotencyKey = None) -> Transaction:
    return await engine.withdraw(token, body.amount, key=key)


@router.get("/transactions")
async def history(engine: EngineDep, token: Token, kind: TxKind | None = None, offset: Offset = 0,
                  limit: Limit = 50) -> Page[Transaction]:
    return await engine.history(token, kind=kind, offset=offset, limit=limit)


@router.get("/portfolio")
async def portfolio(engine: EngineDep, token: Token) -> Portfolio:
    return await engine.portfolio(token)


@router.get("/lots", responses=answers(404))
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


def _event_id(event: AccountEvent) -> str:
    """An account event's id: its marks, from which a reconnecting client's stream carries on."""
    return "-".join(str(mark) for mark in event.marks)


def _seen(request: Request) -> AccountEvent | None:
    """The marks of the client's `Last-Event-ID` (a stream it had before), if it sent one."""
    marks = (sse.last_event_id(request) or "").split("-")
    if len(marks) != 5 or not all(mark.isdigit() and len(mark) <= 19 for mark in marks):
        return None
    entry, order, order_change, ledger, alert = (int(mark) for mark in marks)
    return AccountEvent(entry=entry, order=order, order_change=order_change, ledger=ledger, alert=alert)


@router.get("/stream/account", response_class=StreamingResponse,
            responses={200: {"content": {sse.MEDIA_TYPE: {}},
                             "description": "`event: account` with an AccountEvent as data: the account's marks at "
                                            "once, then each time they move; `event: error` with an error body if "
                                            "the session ends"}})
async def stream_account(request: Request, engine: EngineDep, token: Token) -> StreamingResponse:
    """What changes in your account (fills, cash moves, order states) and on the leaderboard.
    Each event's `id:` is its marks: reconnecting with it as `Last-Event-ID`, the first event
    says what moved meanwhile."""
    stopping: asyncio.Event = request.app.state.stopping
    events = engine.stream_account(token)
    first = await anext(events)  # errors answer as errors, before the stream starts
    seen = _seen(request)
    first = (changed(seen, first) or first) if seen is not None else first

    async def body() -> AsyncIterator[bytes]:
        event: AccountEvent | None = first
        stop = asyncio.ensure_future(stopping.wait())
        next_event: asyncio.Future[AccountEvent] | None = None
        try:
            while True:
                if event is not None:
                    yield sse.frame("account", event.model_dump_json(), _event_id(event), first=event is first)
                    event = None
                next_event = next_event or asyncio.ensure_future(anext(events))
                done, _ = await asyncio.wait({next_event, stop}, timeout=sse.KEEPALIVE_SECONDS,
                                             return_when=asyncio.FIRST_COMPLETED)
                if stop in done:
                    return  # the server is stopping: the stream ends (a client reconnects elsewhere)
                if next_event not in done:
                    yield sse.KEEPALIVE
                    continue
                try:
                    event = next_event.result()
                except errors.OrderprocError as exc:  # the session ended, the ledger failed
                    yield sse.frame("error", json.dumps({"error": exc.to_dict()}, default=str), None)
                    return
                finally:
                    next_event = None
        finally:
            for task in (stop, next_event):
                if task is not None:
                    task.cancel()
                    with suppress(asyncio.CancelledError, errors.OrderprocError, StopAsyncIteration):
                        await task
            await events.aclose()

    return StreamingResponse(body(), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
