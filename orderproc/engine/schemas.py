"""Requests and results of the Engine protocol: frozen pydantic models shared by every surface.

Every money or quantity field is a Decimal (serialised as a string in JSON). ORM rows never
cross the protocol: the store builds these.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from orderproc.engine import errors
from orderproc.engine.domain.money import parse_decimal

T = TypeVar("T")

# A Decimal that JSON carries as a plain decimal string ("0.00000001", never "1E-8").
Dec = Annotated[Decimal, PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json")]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json_dict(self) -> dict[str, Any]:
        """A plain JSON-ready dict with every Decimal as a string."""
        return self.model_dump(mode="json")


class Role(StrEnum):
    CUSTOMER = "customer"
    ADMIN = "admin"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderStatus(StrEnum):
    FILLED = "filled"  # a market order fills or is refused (no order row); more come with resting orders


class TxKind(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    BUY = "buy"
    SELL = "sell"


class User(Model):
    id: int
    username: str
    role: Role
    display_name: str | None = None
    email: str | None = None
    disabled: bool = False
    created_at: datetime


class Session(Model):
    token: str
    user: User
    expires_at: datetime


class ProfileUpdate(Model):
    display_name: str | None = None
    email: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _domain_checks(cls, data: Any) -> Any:
        """Bad input raises the domain's own errors (stable codes), never pydantic's."""
        if not isinstance(data, dict):
            raise errors.ValidationError("a profile update is an object with display_name and email")
        for field in ("display_name", "email"):
            if data.get(field) is not None and not isinstance(data[field], str):
                raise errors.ValidationError(f"{field} must be a string", {"field": field})
        return data


class Balance(Model):
    cash: Dec
    currency: str = "USD"


class Transaction(Model):
    """One journal entry as the user sees it: the cash and asset it moved for them."""

    id: int
    kind: TxKind
    created_at: datetime
    cash: Dec
    symbol: str | None = None
    quantity: Dec | None = None
    order_id: int | None = None
    client_key: str | None = None


class Page(Model, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


class Asset(Model):
    symbol: str
    name: str
    category: str
    rank: int | None
    price: Dec
    change_24h: Dec
    reference_price: Dec
    reference_date: str
    source: str
    volatility: Dec
    precision: int
    peg: str | None = None
    enabled: bool = True


class Quote(Model):
    symbol: str
    price: Dec
    change_24h: Dec
    at: datetime


class PricePoint(Model):
    at: datetime
    open: Dec
    high: Dec
    low: Dec
    close: Dec


class OrderRequest(Model):
    """A market order by quantity or by USD amount (`notional`), with an optional price guard.

    `price_limit` is the highest price a buy accepts or the lowest a sell accepts.
    """

    symbol: str
    side: Side
    quantity: Dec | None = None
    notional: Dec | None = None
    price_limit: Dec | None = None
    client_order_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _domain_checks(cls, data: Any) -> Any:
        """Bad input raises the domain's own errors (stable codes), never pydantic's."""
        if not isinstance(data, dict):
            raise errors.ValidationError("an order is an object with symbol, side and an amount")
        data = dict(data)
        if not isinstance(data.get("symbol"), str):
            raise errors.UnknownAsset("symbol must be a string", {"field": "symbol"})
        try:
            data["side"] = Side(data.get("side"))
        except ValueError:
            raise errors.ValidationError("side must be buy or sell", {"field": "side"}) from None
        for field in ("quantity", "notional", "price_limit"):
            if data.get(field) is not None:
                data[field] = parse_decimal(data[field], field)
        key = data.get("client_order_id")
        if key is not None and not isinstance(key, str):
            raise errors.ValidationError("client_order_id must be a string", {"field": "client_order_id"})
        return data


class Order(Model):
    id: int
    symbol: str
    side: Side
    status: OrderStatus
    quantity: Dec
    price: Dec
    notional: Dec
    client_order_id: str | None = None
    created_at: datetime


class Position(Model):
    symbol: str
    name: str
    quantity: Dec
    average_cost: Dec
    cost_basis: Dec
    price: Dec
    market_value: Dec
    unrealized_pnl: Dec
    allocation: Dec


class Portfolio(Model):
    cash: Dec
    equity: Dec
    market_value: Dec
    unrealized_pnl: Dec
    positions: list[Position]
    as_of: datetime


class LeaderboardEntry(Model):
    """One trader on a shared ledger: equity now, and the return on what they paid in.

    `net_deposits` = deposits - withdrawals; `pnl` = equity - net_deposits; `return_pct` =
    pnl / deposits, as a percentage (the money put in since the first deposit).
    """

    rank: int
    username: str
    display_name: str | None = None
    equity: Dec
    net_deposits: Dec
    pnl: Dec
    return_pct: Dec
    first_deposit_at: datetime


class AuditEvent(Model):
    id: int
    at: datetime
    actor: str | None
    action: str
    target: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    source: str | None = None


class VerifyReport(Model):
    ok: bool
    problems: list[str]
    entries: int
    postings: int
    orders: int
    accounts: int
    sums: dict[str, Dec]
