"""The journal for exports (`orderproc export`): a customer's own accounts, an admin's whole ledger."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from orderproc.engine.schemas import Journal
from orderproc.server.deps import EngineDep, Token
from orderproc.server.openapi import answers

router = APIRouter(prefix="/v1", tags=["account"])


def _day(value: Any) -> Any:
    """A day as the schema says it (`format: date`, YYYY-MM-DD), not any text pydantic makes a date of ("0")."""
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("a day is YYYY-MM-DD")
    return value


@router.get("/journal", responses=answers(404))
async def journal(
    engine: EngineDep,
    token: Token,
    account: Annotated[str | None, Query(pattern=r"^(?:[A-Za-z0-9_.\-]{3,32}/)?[A-Za-z0-9_.\-]{1,32}$",
                                         description="NAME (one of yours), or USER/NAME (an admin's choice)")] = None,
    since: Annotated[date | None, BeforeValidator(_day),
                     Query(description="Entries from this day (00:00 UTC) on, after an opening balance")] = None,
) -> Journal:
    """Your accounts' journal, exact (an admin's: every customer account's), with each entry's
    lots and every account's balances now."""
    return await engine.journal(token, account=account, since=since)
