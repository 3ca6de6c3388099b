"""Rows into the DTOs people see, in one place: minor units become Decimals, stored text
becomes prices and times."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from orderproc.engine import rules
from orderproc.engine.domain import lots
from orderproc.engine.domain.friction import SETTINGS, Execution, Friction
from orderproc.engine.domain.money import USD, cents_to_cash, from_units
from orderproc.engine.prices import AssetInfo, Market
from orderproc.engine.schemas import (
    Asset,
    AuditEvent,
    LedgerSettings,
    Lot,
    Order,
    OrderStatus,
    OrderType,
    PnlLine,
    Quote,
    Receipt,
    Role,
    Side,
    TimeInForce,
    Transaction,
    TxKind,
    User,
)
from orderproc.engine.store.rows import AssetRow, AuditRow, EntryRow, LotRow, OrderRow, UserRow


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def user(row: UserRow) -> User:
    return User(id=row.id, username=row.username, role=Role(row.role), display_name=row.display_name,
                email=row.email, disabled=row.disabled, created_at=dt(row.created_at))


Precision = Callable[[str], int]  # an asset's decimals (`Context.precision`)


def transaction(row: EntryRow, precision: Precision) -> Transaction:
    """An entry as its account sees it: the cash it moved, and the asset a trade moved."""
    cash = Decimal(0)
    symbol = quantity = None
    for line in row.lines:
        if line.asset == USD:
            cash = cents_to_cash(line.amount)
        elif row.kind in (TxKind.BUY.value, TxKind.SELL.value):  # a reset may give back several assets
            symbol = line.asset
            quantity = from_units(line.amount, precision(line.asset))
    return Transaction(id=row.id, kind=TxKind(row.kind), created_at=dt(row.created_at), cash=cash, symbol=symbol,
                       quantity=quantity, order_id=row.order_id, client_key=row.client_key)


def receipt_fields(ex: Execution, fee: int) -> dict[str, Any]:
    """A fill's receipt as the orders table keeps it."""
    return {"liquidity": "taker" if ex.taker else "maker", "reference_price": str(ex.reference),
            "spread": str(ex.spread), "slippage": str(ex.slippage), "fee_bps": str(ex.fee_bps), "fee": fee}


def receipt(side: Side, quantity: Decimal, cents: int, price: Decimal, fields: Mapping[str, Any]) -> Receipt:
    notional, fee = cents_to_cash(cents), cents_to_cash(fields["fee"])
    return Receipt(
        liquidity=fields["liquidity"], reference_price=Decimal(fields["reference_price"]),
        spread=Decimal(fields["spread"]), slippage=Decimal(fields["slippage"]), price=price, quantity=quantity,
        notional=notional, fee_bps=Decimal(fields["fee_bps"]), fee=fee,
        total=notional + fee if side is Side.BUY else notional - fee,
    )


def order(row: OrderRow, precision_of: Precision) -> Order:
    precision = precision_of(row.symbol)
    side = Side(row.side)
    quantity = from_units(row.quantity, precision)
    filled = None
    if row.liquidity is not None and row.price is not None and row.notional is not None:
        filled = receipt(side, quantity, row.notional, Decimal(row.price), row._asdict())
    return Order(
        id=row.id, symbol=row.symbol, side=side, type=OrderType(row.type),
        time_in_force=TimeInForce(row.time_in_force), status=OrderStatus(row.status), quantity=quantity,
        limit_price=_decimal(row.limit_price), stop_price=_decimal(row.stop_price), price=_decimal(row.price),
        notional=cents_to_cash(row.notional) if row.notional is not None else None,
        reserved=rules.held(side, row.reserved, precision), reason=row.reason, client_order_id=row.client_order_id,
        created_at=dt(row.created_at), triggered_at=dt(row.triggered_at) if row.triggered_at else None,
        closed_at=dt(row.closed_at) if row.closed_at else None, lot_id=row.lot_id,
        realized_pnl=cents_to_cash(row.realized) if row.realized is not None else None,
        receipt=filled,
    )


def lot(row: LotRow, precision: int, price: Decimal) -> Lot:
    """A lot valued at `price`: its unit cost is of what is left (a lone lot's is the position's
    average cost), or, sold out, of what it bought."""
    left, left_cost = from_units(row.remaining, precision), cents_to_cash(row.remaining_cost)
    value = rules.value(left, price)
    unit_cost = (lots.unit_cost(row.remaining_cost, row.remaining, precision) if row.remaining
                 else lots.unit_cost(row.cost, row.quantity, precision))
    return Lot(id=row.id, symbol=row.symbol, order_id=row.order_id, opened_at=dt(row.opened_at),
               quantity=from_units(row.quantity, precision), cost=cents_to_cash(row.cost), remaining=left,
               remaining_cost=left_cost, unit_cost=unit_cost, price=price, market_value=value,
               unrealized_pnl=value - left_cost)


def _decimal(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def audit_event(row: AuditRow) -> AuditEvent:
    return AuditEvent(id=row.id, at=dt(row.at), actor=row.actor, action=row.action, target=row.target,
                      detail=json.loads(row.detail), source=row.source)


def settings(meta: Mapping[str, str]) -> LedgerSettings:
    friction = Friction.from_meta(dict(meta))
    return LedgerSettings(cost_method=meta.get("cost_method", lots.FIFO),
                          **{name: getattr(friction, name) for name in SETTINGS})


def pnl_line(symbol: str, qty: Decimal, basis: Decimal, value: Decimal, realized: Decimal, fees: Decimal) -> PnlLine:
    return PnlLine(symbol=symbol, quantity=qty, cost_basis=basis, market_value=value, unrealized_pnl=value - basis,
                   realized_pnl=realized, fees=fees, total_pnl=value - basis + realized - fees)


def quote(market: Market, info: AssetInfo, now: float) -> Quote:
    return Quote(symbol=info.symbol, price=market.price(info.symbol, now),
                 change_24h=market.change_24h(info.symbol, now), at=datetime.fromtimestamp(now, UTC))


def asset(market: Market, info: AssetInfo, now: float) -> Asset:
    """A listed asset (only the enabled ones are listed or found) at `now`'s price."""
    return Asset(
        symbol=info.symbol, name=info.name, category=info.category, rank=info.rank,
        price=market.price(info.symbol, now), change_24h=market.change_24h(info.symbol, now),
        reference_price=info.reference_price, reference_date=info.reference_date, source=info.source,
        volatility=info.volatility, precision=info.precision, peg=info.peg, enabled=True,
    )


def asset_info(row: AssetRow) -> AssetInfo:
    """An `assets` row as the market's AssetInfo."""
    return AssetInfo(
        symbol=row.symbol, name=row.name, category=row.category, rank=row.rank, peg=row.peg,
        reference_price=Decimal(row.reference_price), reference_date=row.reference_date, source=row.source,
        volatility=Decimal(row.volatility), precision=row.precision, history=row.history,
    )


def asset_row(info: AssetInfo) -> dict[str, Any]:
    """An AssetInfo as the `assets` table's columns."""
    return {
        "symbol": info.symbol, "name": info.name, "category": info.category, "rank": info.rank, "peg": info.peg,
        "reference_price": str(info.reference_price), "reference_date": info.reference_date, "source": info.source,
        "volatility": str(info.volatility), "precision": info.precision, "history": info.history,
    }
