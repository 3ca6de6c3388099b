"""Price alerts: set one above or below a price, list them (waiting or fired), remove one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from orderproc.engine import wire
from orderproc.engine.watching import Alert, AlertDirection
from orderproc.server.deps import EngineDep, Token
from orderproc.server.openapi import answers

router = APIRouter(prefix="/v1", tags=["alerts"])


class AlertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: str = Field(min_length=1, max_length=16, examples=["ETH"])
    direction: AlertDirection = Field(description="above: fires when the price is at or above `price`; below: at "
                                                  "or below")
    price: Annotated[str, wire.ORDER_PRICE.schema("The price that fires it"), wire.ORDER_PRICE.validator()]


@router.post("/alerts", status_code=status.HTTP_201_CREATED, responses=answers(404, 409))
async def set_alert(body: AlertRequest, engine: EngineDep, token: Token) -> Alert:
    """Set a price alert. The price loop fires it once, at the first tick after now at which the
    price is at or beyond it; the account stream announces it (`alerts`). A price reached
    already is refused (422): it would fire at once."""
    return await engine.set_alert(token, body.symbol, body.direction, body.price)


@router.get("/alerts")
async def alerts(engine: EngineDep, token: Token, fired: bool | None = None) -> list[Alert]:
    """Your alerts, oldest first; `fired=true`: those that fired (when, at what price), `false`: those waiting."""
    return await engine.alerts(token, fired=fired)


@router.delete("/alerts/{alert_id}", responses=answers(404))
async def remove_alert(alert_id: Annotated[int, Path(ge=1, le=wire.MAX_ID)], engine: EngineDep,
                       token: Token) -> Alert:
    """Remove one of your alerts (waiting or fired): what it was."""
    return await engine.remove_alert(token, alert_id)
