"""P&L reconciles with the cash journal after any sequence of trading, exactly.

Random sequences of deposits, withdrawals, market buys and sells (by quantity and by amount,
whole and partial, naming a lot or not), resting limit orders that fill or are canceled as the
clock moves, changes of the friction profile and of the cost method, and resets: after every
step the P&L report must satisfy, to the cent,

    realized + unrealized - fees = total = equity - net deposits

with its equity equal to the portfolio's, its fees equal to the receipts' fees, its realized
P&L equal to the sells' realized P&L since the last reset, and the ledger checker passing.
"""

from __future__ import annotations

import asyncio
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderproc.engine import errors
from orderproc.engine.schemas import OrderRequest, SettingsUpdate
from orderproc.engine.service import LocalEngine

PASSWORD = "correct horse battery"
SYMBOLS = ("BTC", "ETH", "DOGE")


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.25

    def __call__(self) -> float:
        return self.now


steps = st.lists(st.one_of(
    st.tuples(st.just("deposit"), st.integers(1, 50_000)),
    st.tuples(st.just("withdraw"), st.integers(1, 5_000)),
    st.tuples(st.just("buy"), st.sampled_from(SYMBOLS), st.integers(1, 3_000), st.booleans()),
    st.tuples(st.just("sell"), st.sampled_from(SYMBOLS), st.integers(1, 100), st.booleans()),
    st.tuples(st.just("limit"), st.sampled_from(SYMBOLS), st.sampled_from(["buy", "sell"]), st.integers(1, 50)),
    st.tuples(st.just("cancel")),
    st.tuples(st.just("wait"), st.integers(1, 1_200)),
    st.tuples(st.just("fees"), st.integers(0, 50), st.integers(0, 50), st.integers(0, 40), st.integers(0, 20)),
    st.tuples(st.just("method"), st.sampled_from(["fifo", "average"])),
    st.tuples(st.just("reset"), st.integers(100, 20_000)),
), min_size=4, max_size=30)


async def _step(engine: LocalEngine, clock: Clock, token: str, step: tuple[Any, ...]) -> None:
    kind = step[0]
    if kind == "deposit":
        await engine.deposit(token, str(step[1]))
    elif kind == "withdraw":
        await engine.withdraw(token, str(step[1]))
    elif kind == "buy":
        _, symbol, dollars, by_amount = step
        price = engine.market.price(symbol, clock())
        request = (OrderRequest(symbol=symbol, side="buy", notional=str(dollars)) if by_amount else
                   OrderRequest(symbol=symbol, side="buy", quantity=str(round(Decimal(dollars) / price, 4))))
        await engine.place_order(token, request)
    elif kind == "sell":
        _, symbol, percent, name_a_lot = step
        lots = await engine.lots(token, symbol=symbol)
        held = sum((lot.remaining for lot in lots), Decimal(0)) - sum(
            (p.reserved for p in (await engine.portfolio(token)).positions if p.symbol == symbol), Decimal(0))
        quantity = (held * percent / 100).quantize(lots[0].remaining) if lots else Decimal(0)
        lot = lots[-1].id if name_a_lot and lots else None
        await engine.place_order(token, OrderRequest(symbol=symbol, side="sell", quantity=str(quantity), lot_id=lot))
    elif kind == "limit":
        _, symbol, side, away = step
        price = engine.market.price(symbol, clock())
        # a hair away from the market: some fill within the next waits, some are still open
        limit = price * (Decimal(1) - Decimal(away) / 100_000 if side == "buy" else Decimal(1) + Decimal(away) / 100_000)
        quantity = "0.001" if symbol == "BTC" else "0.1" if symbol == "ETH" else "100"
        await engine.place_order(token, OrderRequest(symbol=symbol, side=side, type="limit", quantity=quantity,
                                                     limit_price=str(limit.quantize(Decimal("1e-6")))))
    elif kind == "cancel":
        await engine.cancel_orders(token)
    elif kind == "wait":
        clock.now += step[1]
    elif kind == "fees":
        _, maker, taker, spread, slippage = step
        await engine.admin_update_settings(engine.operator_token, SettingsUpdate(
            maker_fee_bps=Decimal(maker), taker_fee_bps=Decimal(taker), spread_bps=Decimal(spread),
            slippage_bps_per_1000_usd=Decimal(slippage)))
    elif kind == "method":
        await engine.admin_update_settings(engine.operator_token, SettingsUpdate(cost_method=step[1]))
    elif kind == "reset":
        await engine.reset_account(token, str(step[1]))


async def _check(engine: LocalEngine, token: str) -> None:
    report = await engine.pnl(token)
    assert report.total_pnl == report.realized_pnl + report.unrealized_pnl - report.fees
    assert report.total_pnl == report.equity - report.net_deposits
    assert report.equity == (await engine.portfolio(token)).equity
    assert report.realized_pnl == sum((line.realized_pnl for line in report.lines), Decimal(0))
    assert report.fees == sum((line.fees for line in report.lines), Decimal(0))
    for line in report.lines:
        assert line.total_pnl == line.realized_pnl + line.unrealized_pnl - line.fees
    # before any reset, the report counts exactly what the orders' receipts say
    history = (await engine.history(token, limit=500)).items
    if not any(t.kind.value == "reset" for t in history):
        filled = [o for o in (await engine.orders(token, limit=500)).items if o.receipt is not None]
        assert report.fees == sum((o.receipt.fee for o in filled if o.receipt), Decimal(0))
        assert report.realized_pnl == sum((o.realized_pnl for o in filled if o.realized_pnl is not None), Decimal(0))
    verify = await engine.admin_verify(engine.operator_token)
    assert verify.ok, verify.problems


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_realized_plus_unrealized_minus_fees_is_equity_minus_net_deposits_after_any_sequence(
    sequence: list[tuple[Any, ...]],
) -> None:
    async def run() -> None:
        clock = Clock()
        with tempfile.TemporaryDirectory() as folder:
            engine = LocalEngine(Path(folder) / "ledger.db", clock=clock, hash_profile="fast", market_seed=5)
            try:
                await engine.register("trader", PASSWORD)
                token = (await engine.login("trader", PASSWORD)).token
                await engine.deposit(token, "100000")
                for symbol in SYMBOLS:  # something to sell from the first step on, in two lots
                    await _step(engine, clock, token, ("buy", symbol, 5_000, True))
                    await _step(engine, clock, token, ("wait", 3_600))
                    await _step(engine, clock, token, ("buy", symbol, 3_000, False))
                for step in sequence:
                    try:
                        await _step(engine, clock, token, step)
                    except (errors.InsufficientFunds, errors.InvalidAmount) as exc:
                        # an order or withdrawal the account cannot make is refused and changes nothing
                        assert exc.code in {"insufficient_funds", "invalid_amount"}
                    await _check(engine, token)
            finally:
                await engine.close()

    asyncio.run(run())
