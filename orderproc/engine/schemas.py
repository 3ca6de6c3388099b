"""Requests and results of the Engine protocol: frozen pydantic models shared by every surface.

Every money or quantity field is a Decimal (serialised as a string in JSON). ORM rows never
cross the protocol: the store builds these.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, ValidationInfo, WithJsonSchema, model_validator

from orderproc.engine import errors, wire
from orderproc.engine.domain.money import parse_decimal

T = TypeVar("T")

# A Decimal that JSON carries as a plain decimal string ("0.00000001", never "1E-8"): answers write
# them so; a request's decimal fields say their own rule (orderproc.engine.wire).
Dec = Annotated[Decimal, PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
                WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+(?:\.[0-9]+)?$",
                                "description": "A decimal string in plain notation", "examples": ["1234.56"]})]


def _wire(rule: wire.DecimalText) -> WithJsonSchema:
    """An optional request field's schema: `rule`'s decimal string, or null."""
    return WithJsonSchema(rule.json_schema(nullable=True))



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


class OrderType(StrEnum):
    MARKET = "market"  # fills now at the ledger price, or is refused (no order is kept)
    LIMIT = "limit"  # a buy at or below limit_price, a sell at or above it
    STOP = "stop"  # becomes a market order when the price reaches stop_price
    STOP_LIMIT = "stop_limit"  # becomes a limit order when the price reaches stop_price


class TimeInForce(StrEnum):
    GTC = "gtc"  # rests until it fills or is canceled
    IOC = "ioc"  # fills now or expires (a market order always is)


class OrderStatus(StrEnum):
    NEW = "new"  # resting: waiting for the price, its reservation held
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"  # triggered, but could not be paid for
    EXPIRED = "expired"  # an IOC order the price did not reach


class TxKind(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    BUY = "buy"
    SELL = "sell"
    RESET = "reset"  # the account gave back all it held, to start again (a deposit follows)


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
    account: str = "main"  # the paper account this session trades


class AccountInfo(Model):
    """One of a user's paper accounts."""

    id: int
    name: str
    current: bool  # the one this session trades
    cash: Dec
    reserved_cash: Dec


class ProfileUpdate(Model):
    """Your display name and email (one at least; an empty one clears it)."""

    model_config = ConfigDict(json_schema_extra=wire.one_at_least("display_name", "email"))

    # `format: printable`: what Python's str.isprintable() takes (no control, format, private-use
    # or unassigned character): more than a pattern can say
    display_name: Annotated[str | None, WithJsonSchema({
        "anyOf": [{"type": "string", "maxLength": 64, "format": "printable"}, wire.NULL],
        "description": "At most 64 printable characters; empty: none"})] = None
    email: Annotated[str | None, WithJsonSchema({
        "anyOf": [{"const": ""}, {"type": "string", "maxLength": 254, "format": "printable",
                                  "pattern": r"^[^@\s]*@[^@\s]*\.[^@\s]*$"}, wire.NULL],
        "description": "An email address (one @, a dot after it, no space), at most 254 characters; empty: none"})] = None

    @model_validator(mode="before")
    @classmethod
    def _domain_checks(cls, data: Any) -> Any:
        """Bad input raises the domain's own errors (stable codes), never pydantic's."""
        if not isinstance(data, dict):
            raise errors.ValidationError("a profile update is an object with display_name and email")
        for field, longest in (("display_name", 64), ("email", 254)):
            if data.get(field) is not None and not isinstance(data[field], str):
                raise errors.ValidationError(f"{field} must be a string", {"field": field})
            if data.get(field) is not None and len(data[field]) > longest:  # as sent: spaces around count
                raise errors.ValidationError(f"{field} is at most {longest} characters", {"field": field})
        return data


class Balance(Model):
    """`cash` is all the account's cash; `reserved` of it is held by open buy orders, the
    rest is `available` to spend or withdraw."""

    cash: Dec
    available: Dec
    reserved: Dec = Decimal("0.00")
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


class Candles(Model):
    """An asset's OHLC candles over a chart range, oldest first: each `interval` seconds long,
    starting on a multiple of it (weeks on Mondays, 00:00 UTC), the last one still forming and
    closing at the current price."""

    symbol: str
    range: Annotated[str, WithJsonSchema({"enum": ["1h", "1d", "1w", "1m", "1y"]})]
    interval: int  # seconds
    candles: list[PricePoint]


_ORDER_DECIMALS = {"quantity": wire.QUANTITY, "notional": wire.USD, "price_limit": wire.PRICE_GUARD,
                   "limit_price": wire.ORDER_PRICE, "stop_price": wire.ORDER_PRICE}


class OrderRequest(Model):
    """An order. A market order gives a quantity or a USD amount (`notional`) and may guard its
    fill with `price_limit` (the highest price a buy accepts, the lowest a sell accepts).

    Limit, stop and stop-limit orders give a quantity, and `limit_price` and/or `stop_price`;
    they rest (`time_in_force` gtc, the default) until the ledger price reaches them, or fill
    now or expire (`ioc`, limit orders only). A resting order reserves what it could spend.
    """

    model_config = ConfigDict(json_schema_extra=wire.order_shapes)

    symbol: str = Field(description="An asset's symbol (any case)", examples=["BTC"])
    side: Side
    type: OrderType = OrderType.MARKET
    quantity: Annotated[Dec | None, _wire(wire.QUANTITY)] = None
    notional: Annotated[Dec | None, _wire(wire.USD)] = None
    price_limit: Annotated[Dec | None, _wire(wire.PRICE_GUARD)] = None
    limit_price: Annotated[Dec | None, _wire(wire.ORDER_PRICE)] = None
    stop_price: Annotated[Dec | None, _wire(wire.ORDER_PRICE)] = None
    time_in_force: TimeInForce | None = None
    # a sell: close this lot first (specific identification)
    lot_id: Annotated[int | None, WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1, "maximum": wire.MAX_ID},
                                                            {"type": "null"}]})] = None
    client_order_id: Annotated[str | None, WithJsonSchema({"anyOf": [{"type": "string", "pattern": wire.KEY_PATTERN},
                                                                     {"type": "null"}]})] = None

    @model_validator(mode="before")
    @classmethod
    def _domain_checks(cls, data: Any, info: ValidationInfo) -> Any:
        """Bad input raises the domain's own errors (stable codes), never pydantic's. From JSON
        (`model_validate_json`) the wire's rules apply too: decimals as strings, keys in Latin-1."""
        if not isinstance(data, dict):
            raise errors.ValidationError("an order is an object with symbol, side and an amount")
        on_wire = info.mode == "json"
        data = dict(data)
        if not isinstance(data.get("symbol"), str):
            raise errors.UnknownAsset("symbol must be a string", {"field": "symbol"})
        try:
            data["side"] = Side(data.get("side"))
        except ValueError:
            raise errors.ValidationError("side must be buy or sell", {"field": "side"}) from None
        for field, kind in (("type", OrderType), ("time_in_force", TimeInForce)):
            # a time in force may be null (the type's default); a type given as null is no type
            if data.get(field) is not None or (field == "type" and field in data):
                try:
                    data[field] = kind(data[field])
                except ValueError:
                    allowed = ", ".join(k.value for k in kind)
                    raise errors.ValidationError(f"{field} is one of: {allowed}", {"field": field}) from None
        for field, rule in _ORDER_DECIMALS.items():
            if data.get(field) is not None:
                if on_wire:
                    rule.check(data[field], field)
                data[field] = parse_decimal(data[field], field)
        lot = data.get("lot_id")
        if isinstance(lot, float) and lot.is_integer():  # JSON's 7.0 is the integer 7 too
            lot = data["lot_id"] = int(lot)
        if lot is not None and (not isinstance(lot, int) or isinstance(lot, bool) or not 0 < lot < 2**63
                                or (on_wire and lot > wire.MAX_ID)):
            raise errors.ValidationError("lot_id is the number of one of your lots", {"field": "lot_id"})
        key = data.get("client_order_id")
        if key is not None and not isinstance(key, str):
            raise errors.ValidationError("client_order_id must be a string", {"field": "client_order_id"})
        if key is not None and on_wire:
            wire.check_key(key, "client_order_id")
        return data


class Receipt(Model):
    """How a fill was priced: the ledger price, then per unit the half spread and the slippage
    paid (a taker's; a maker pays neither), the final price, and the fee on the notional.

    A buy costs `notional + fee`; a sell brings `notional - fee` (`total`).
    """

    liquidity: str  # maker | taker
    reference_price: Dec
    spread: Dec
    slippage: Dec
    price: Dec
    quantity: Dec
    notional: Dec
    fee_bps: Dec
    fee: Dec
    total: Dec


class Order(Model):
    """An order and what became of it. `price` and `notional` are the fill's (None until it
    fills); `reserved` is the cash (buys) or quantity (sells) an open order holds back."""

    id: int
    symbol: str
    side: Side
    type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.IOC
    status: OrderStatus
    quantity: Dec
    limit_price: Dec | None = None
    stop_price: Dec | None = None
    price: Dec | None = None
    notional: Dec | None = None
    reserved: Dec = Decimal(0)
    reason: str | None = None
    client_order_id: str | None = None
    created_at: datetime
    triggered_at: datetime | None = None
    closed_at: datetime | None = None
    lot_id: int | None = None
    realized_pnl: Dec | None = None  # a filled sell's: proceeds minus the cost basis of the lots it closed
    receipt: Receipt | None = None  # a filled order's

    @property
    def is_open(self) -> bool:
        return self.status is OrderStatus.NEW


class Position(Model):
    symbol: str
    name: str
    quantity: Dec
    reserved: Dec = Decimal(0)  # held by open sell orders
    average_cost: Dec
    cost_basis: Dec
    price: Dec
    market_value: Dec
    unrealized_pnl: Dec
    allocation: Dec


class Portfolio(Model):
    cash: Dec
    reserved_cash: Dec = Decimal("0.00")  # of `cash`, held by open buy orders
    equity: Dec
    market_value: Dec
    unrealized_pnl: Dec
    positions: list[Position]
    # what the account gained today (since 00:00 UTC), fees included, deposits and withdrawals
    # not: the value now of what it held at 00:00 less its value then, less today's buys' cost,
    # plus today's sells' proceeds
    day_change: Dec = Decimal("0.00")
    as_of: datetime


class Lot(Model):
    """What one buy added to a position: its cost, what of it is still held, and that part's worth now."""

    id: int
    symbol: str
    order_id: int
    opened_at: datetime
    quantity: Dec  # bought
    cost: Dec  # paid
    remaining: Dec
    remaining_cost: Dec  # the cost basis of what remains
    unit_cost: Dec  # remaining_cost per unit remaining (sold out: cost per unit bought); domain/lots.py
    price: Dec
    market_value: Dec  # of what remains
    unrealized_pnl: Dec


class PnlLine(Model):
    """One asset's P&L: realized by the sales so far, unrealized on what is held, fees paid
    trading it; total = realized + unrealized - fees."""

    symbol: str
    quantity: Dec
    cost_basis: Dec
    market_value: Dec
    unrealized_pnl: Dec
    realized_pnl: Dec
    fees: Dec
    total_pnl: Dec


class PnlReport(Model):
    """Realized + unrealized P&L by asset and in total, by the ledger's cost method, and the
    fees paid (cost basis and proceeds are before fees).

    It reconciles with the cash journal exactly: total_pnl = realized + unrealized - fees =
    equity - net_deposits.
    """

    cost_method: str
    lines: list[PnlLine]
    realized_pnl: Dec
    unrealized_pnl: Dec
    fees: Dec
    total_pnl: Dec
    equity: Dec
    net_deposits: Dec
    as_of: datetime


class LedgerSettings(Model):
    """What the ledger's owner chooses: the cost method of every sale and the friction profile
    of every fill (see `orderproc.engine.domain.friction`); none by default."""

    cost_method: str = "fifo"
    maker_fee_bps: Dec = Decimal(0)
    taker_fee_bps: Dec = Decimal(0)
    spread_bps: Dec = Decimal(0)
    slippage_bps_per_1000_usd: Dec = Decimal(0)


class SettingsUpdate(Model):
    """Any of the settings (one at least); the ones left out stay as they are."""

    model_config = ConfigDict(json_schema_extra=wire.one_at_least(
        "cost_method", "maker_fee_bps", "taker_fee_bps", "spread_bps", "slippage_bps_per_1000_usd"))

    cost_method: Annotated[str | None, WithJsonSchema({"enum": ["fifo", "average", None]})] = None
    maker_fee_bps: Annotated[Dec | None, _wire(wire.BPS)] = None
    taker_fee_bps: Annotated[Dec | None, _wire(wire.BPS)] = None
    spread_bps: Annotated[Dec | None, _wire(wire.BPS)] = None
    slippage_bps_per_1000_usd: Annotated[Dec | None, _wire(wire.BPS)] = None

    @model_validator(mode="before")
    @classmethod
    def _domain_checks(cls, data: Any, info: ValidationInfo) -> Any:
        """Bad input raises the domain's own errors (stable codes), never pydantic's; from JSON,
        the basis points as decimal strings."""
        if not isinstance(data, dict):
            raise errors.ValidationError("a settings update is an object of settings")
        data = dict(data)
        unknown = sorted(set(data) - set(cls.model_fields))
        if unknown:
            raise errors.ValidationError(f"no such setting: {unknown[0]}", {"field": unknown[0]})
        if data.get("cost_method") is not None and data["cost_method"] not in ("fifo", "average"):
            raise errors.ValidationError("cost_method is fifo or average", {"field": "cost_method"})
        for field in ("maker_fee_bps", "taker_fee_bps", "spread_bps", "slippage_bps_per_1000_usd"):
            if data.get(field) is not None:
                if info.mode == "json":
                    wire.BPS.check(data[field], field)
                data[field] = parse_decimal(data[field], field)
        return data


class OrderPreview(Model):
    """What an order would do now, before it is placed: filled at once (`receipt`, a taker's)
    or resting (`reserved`: the cash or quantity it would hold back)."""

    symbol: str
    side: Side
    type: OrderType
    rests: bool
    reference_price: Dec
    receipt: Receipt | None = None
    reserved: Dec | None = None


class LeaderboardEntry(Model):
    """One trader's paper account on a shared ledger: equity now, and the return on what was
    paid in since the account's first deposit (or its last reset).

    `net_deposits` = deposits - withdrawals; `pnl` = equity - net_deposits; `return_pct` =
    pnl / deposits, as a percentage.
    """

    rank: int
    username: str
    display_name: str | None = None
    account: str = "main"
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
    fees_collected: Dec = Decimal("0.00")  # the fee account's cash: part of the zero sums


class JournalAsset(Model):
    """An asset the journal names: its symbol, name and quantity decimals."""

    symbol: str
    name: str
    precision: int


class JournalLot(Model):
    """A lot as an entry left it: what of it is still held and that part's cost basis
    (`remaining` 0: the entry closed it)."""

    id: int
    symbol: str
    opened_at: datetime
    remaining: Dec
    remaining_cost: Dec


class JournalMove(Model):
    """What an entry moved in or out of its account: one asset (USD: cash), signed, and for a
    position the change of its cost basis (a buy adds its notional, a sale or a reset removes
    the cost of what went)."""

    asset: str
    amount: Dec
    cost: Dec = Decimal("0.00")


class JournalEntry(Model):
    """One journal entry of a paper account: what it moved, a trade's fill (price, notional,
    fee; a sale's realized P&L = notional - cost removed), and the lots it opened or changed,
    as it left them."""

    id: int
    account_id: int
    kind: TxKind
    created_at: datetime
    moves: list[JournalMove]
    order_id: int | None = None
    client_key: str | None = None
    price: Dec | None = None
    notional: Dec | None = None
    fee: Dec = Decimal("0.00")
    realized_pnl: Dec | None = None
    lots: list[JournalLot] = Field(default_factory=list)


class JournalHolding(Model):
    """An asset an account holds (USD: its cash) and, for a position, its cost basis."""

    asset: str
    amount: Dec
    cost: Dec = Decimal("0.00")


class JournalAccount(Model):
    """A paper account in the journal: whose it is and its name; what it held when the journal
    starts (`since`; nothing without it) with its open lots then; what it holds now (the
    ledger's balances, read apart from the entries: an export asserts them); its orders
    (placed or closed from `since`) and its lots (open at `since` or opened after)."""

    id: int
    username: str
    name: str
    # its last reset's entry (0: never reset; an account that held nothing then has no reset
    # entry: the ledger's last entry before it): its P&L counts from the entries after it
    reset_entry: int = 0
    opening: list[JournalHolding] = Field(default_factory=list)
    opening_lots: list[JournalLot] = Field(default_factory=list)
    closing: list[JournalHolding]
    orders: list[Order] = Field(default_factory=list)
    lots: list[Lot] = Field(default_factory=list)


class Journal(Model):
    """A ledger's journal, exact, for exports: a customer's own paper accounts, or for an admin
    every customer's (`whole_ledger`); the entries from `since` (00:00 UTC; all without it) in
    the order they were posted; the price of every asset held now."""

    as_of: datetime
    since: date | None = None
    whole_ledger: bool
    cost_method: str
    accounts: list[JournalAccount]
    entries: list[JournalEntry]
    assets: list[JournalAsset]
    prices: dict[str, Dec] = Field(default_factory=dict)
