"""The user's watchlist: list it, add and remove symbols, choose its sort."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from orderproc.server.deps import EngineDep, Token
from orderproc.engine.watching import Watchlist, WatchSort
from orderproc.server.openapi import answers

router = APIRouter(prefix="/v1", tags=["watchlist"])


class WatchlistPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sort: WatchSort


@router.get("/watchlist")
async def watchlist(engine: EngineDep, token: Token) -> Watchlist:
    """Your watchlist with live quotes, sorted as you chose (the same on each of your accounts)."""
    return await engine.watchlist(token)


@router.patch("/watchlist")
async def sort_watchlist(body: WatchlistPatch, engine: EngineDep, token: Token) -> Watchlist:
    """Choose how your watchlist is sorted (kept in the ledger: every terminal shows it so)."""
    return await engine.sort_watchlist(token, body.sort)


@router.put("/watchlist/{symbol}", responses=answers(404, 409))
async def watch(symbol: str, engine: EngineDep, token: Token) -> Watchlist:
    """Put an asset on your watchlist (one already there stays where it is): the list after."""
    return await engine.watch(token, symbol)


@router.delete("/watchlist/{symbol}", responses=answers(404))
async def unwatch(symbol: str, engine: EngineDep, token: Token) -> Watchlist:
    """Take an asset off your watchlist: the list after."""
    return await engine.unwatch(token, symbol)
