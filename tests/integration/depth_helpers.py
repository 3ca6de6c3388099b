"""Shared by the lots, fees and named-account tests: traders, orders, and the exact arithmetic
the engine documents (a buyer pays quantity x price rounded up to the cent, a seller gets it
rounded down, a fee is rounded up to the cent), worked out here independently of the engine."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

from conftest import PASSWORD

from orderproc.engine.prices import Market
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import OrderRequest, PnlReport, Portfolio

CENT = Decimal("0.01")


async def trader(engine: Engine, name: str, cash: str | None = None) -> str:
    """A registered, logged-in customer's token, with `cash` deposited."""
    await engine.register(name, PASSWORD)
    token = (await engine.login(name, PASSWORD)).token
    if cash is not None:
        await engine.deposit(token, cash)
    return token


def buy(symbol: str, quantity: str | None = None, **fields: Any) -> OrderRequest:
    return OrderRequest.model_validate({"symbol": symbol, "side": "buy", "quantity": quantity, **fields})


def sell(symbol: str, quantity: str | None = None, **fields: Any) -> OrderRequest:
    return OrderRequest.model_validate({"symbol": symbol, "side": "sell", "quantity": quantity, **fields})


def cost(quantity: Decimal | str, price: Decimal) -> Decimal:
    """What a buyer pays: quantity x price rounded up to the cent."""
    return (Decimal(quantity) * price).quantize(CENT, rounding=ROUND_CEILING)


def proceeds(quantity: Decimal | str, price: Decimal) -> Decimal:
    """What a seller receives: quantity x price rounded down to the cent."""
    return (Decimal(quantity) * price).quantize(CENT, rounding=ROUND_FLOOR)


def fee(notional: Decimal, bps: Decimal | int) -> Decimal:
    """A fee on `notional`: `bps` basis points, rounded up to the cent."""
    return (notional * Decimal(bps) / 10_000).quantize(CENT, rounding=ROUND_CEILING)


def share(amount: Decimal, part: Decimal | str, whole: Decimal | str) -> Decimal:
    """The cost that goes with `part` of a lot of `whole` units costing `amount`, rounded down."""
    return (amount * Decimal(part) / Decimal(whole)).quantize(CENT, rounding=ROUND_FLOOR)


def first_low(market: Market, symbol: str, start: float, within: int = 3600) -> tuple[int, Decimal]:
    """The first tick after `start` whose price is below every price from `start`'s tick on: a
    limit buy at that price rests at `start` and fills at that tick, at that price."""
    first = math.floor(start)
    lowest = market.price(symbol, first)
    for tick in range(first + 1, first + within + 1):
        price = market.price(symbol, tick)
        if price < lowest:
            return tick, price
        lowest = min(lowest, price)
    raise AssertionError(f"{symbol} makes no new low within {within} s of {start}")


def assert_reconciles(report: PnlReport, portfolio: Portfolio) -> None:
    """The P&L report's promise: realized + unrealized - fees = total = equity - net deposits,
    to the cent, line by line and in total, with the portfolio's equity."""
    zero = Decimal("0.00")
    assert report.total_pnl == report.realized_pnl + report.unrealized_pnl - report.fees
    assert report.total_pnl == report.equity - report.net_deposits
    assert report.equity == portfolio.equity
    assert report.realized_pnl == sum((line.realized_pnl for line in report.lines), zero)
    assert report.unrealized_pnl == sum((line.unrealized_pnl for line in report.lines), zero)
    assert report.fees == sum((line.fees for line in report.lines), zero)
    for line in report.lines:
        assert line.unrealized_pnl == line.market_value - line.cost_basis
        assert line.total_pnl == line.realized_pnl + line.unrealized_pnl - line.fees


def execute(path: Path, sql: str, params: Sequence[Any] = ()) -> None:
    """Change the ledger file behind the engine's back (one committed statement)."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()
