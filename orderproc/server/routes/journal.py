"""The journal for exports (`orderproc export`): a customer's own accounts, an admin's whole ledger."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from orderproc.engine.schemas import Journal
from orderproc.server.deps import EngineDep, Token

router = APIRouter(prefix="/v1", tags=["account"])


@router.get("/journal")
async def journal(
    engine: EngineDep,
    token: Token,
    account: Annotated[str | None, Query(description="NAME (one of yours), or USER/NAME (an admin's choice)")] = None,
    since: Annotated[date | None, Query(description="Entries from this day (00:00 UTC) on, after an opening balance")] = None,
) -> Journal:
    """Your accounts' journal, exact (an admin's: every customer account's), with each entry's
    lots and every account's balances now."""
    return await engine.journal(token, account=account, since=since)
