"""Today's change: what the account gained since 00:00 UTC, never more.

It counts what the account held at 00:00 UTC (valued at that moment's price) and the fill prices
of the day's buys and sells, fees included; deposits and withdrawals are not gains, and after a
reset the day counts from the reset. So it is the P&L the account made today: its total P&L now
less its total P&L at 00:00 UTC (the P&L report's total is equity less net deposits).
"""

from __future__ import annotations

import asyncio
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from conftest import Clock
from depth_helpers import buy, sell, trader
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderproc.engine import errors
from orderproc.engine.schemas import OrderRequest, SettingsUpdate
from orderproc.engine.service import LocalEngine

DAY = 86400
MIDNIGHT = 1_780_012_800.0  # 00:00 UTC, the day after the test clock's start
SYMBOLS = ("BTC", "ETH", "DOGE")


async def test_eth_bought_a_minute_ago_changed_the_day_by_its_unrealized_pnl_less_its_fee(
    engine: LocalEngine, clock: Clock
) -> None:
    token = await trader(engine, "alice", "10000")
    await engine.admin_update_settings(engine.operator_token, SettingsUpdate(taker_fee_bps=Decimal(10)))
    order = await engine.place_order(token, buy("ETH", "1"))
    clock.advance(60)

    portfolio = await engine.portfolio(token)
    [lot] = await engine.lots(token)
    assert order.receipt is not None and order.receipt.fee > 0
    assert portfolio.day_change == lot.unrealized_pnl - order.receipt.fee
    assert portfolio.day_change != 0


async def test_what_was_held_at_midnight_counts_from_its_price_at_midnight(engine: LocalEngine, clock: Clock) -> None:
    clock.now = MIDNIGHT - 3 * 3600
    token = await trader(engine, "alice", "10000")
    await engine.place_order(token, buy("BTC", "0.05"))
    clock.now = MIDNIGHT + 5 * 3600

    portfolio = await engine.portfolio(token)
    [position] = portfolio.positions
    at_midnight = (position.quantity * engine.market.price("BTC", MIDNIGHT)).quantize(Decimal("0.01"))
    assert portfolio.day_change == position.market_value - at_midnight
    # the 24 h change would count the hours before midnight too
    day_ago = (position.quantity * engine.market.price("BTC", clock.now - DAY)).quantize(Decimal("0.01"))
    assert portfolio.day_change != position.market_value - day_ago


async def test_deposits_and_withdrawals_today_are_not_gains(engine: LocalEngine, clock: Clock) -> None:
    clock.now = MIDNIGHT + 60
    token = await trader(engine, "alice", "10000")
    await engine.withdraw(token, "2500")
    await engine.deposit(token, "40")
    assert (await engine.portfolio(token)).day_change == 0


async def test_a_position_sold_today_counts_its_proceeds_against_its_value_at_midnight(
    engine: LocalEngine, clock: Clock
) -> None:
    clock.now = MIDNIGHT - 600
    token = await trader(engine, "alice", "10000")
    await engine.place_order(token, buy("ETH", "1.5"))
    clock.now = MIDNIGHT + 7200
    sale = await engine.place_order(token, sell("ETH", "1.5"))
    clock.advance(3600)

    assert sale.notional is not None
    at_midnight = (Decimal("1.5") * engine.market.price("ETH", MIDNIGHT)).quantize(Decimal("0.01"))
    assert (await engine.portfolio(token)).day_change == sale.notional - at_midnight


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# what the account does during the day, at a second of the day each: trade, move cash, change
# the fees, leave a limit order to fill later, reset
today = st.lists(st.tuples(st.integers(1, DAY - 1), st.one_of(
    st.tuples(st.just("buy"), st.sampled_from(SYMBOLS), st.integers(1, 3_000)),
    st.tuples(st.just("sell"), st.sampled_from(SYMBOLS), st.integers(1, 100)),
    st.tuples(st.just("deposit"), st.integers(1, 5_000)),
    st.tuples(st.just("withdraw"), st.integers(1, 5_000)),
    st.tuples(st.just("fees"), st.integers(0, 50), st.integers(0, 50), st.integers(0, 40)),
    st.tuples(st.just("limit"), st.sampled_from(SYMBOLS), st.sampled_from(["buy", "sell"]), st.integers(1, 50)),
    st.tuples(st.just("reset"), st.integers(100, 20_000)),
)), max_size=8)


async def _do(engine: LocalEngine, clock: _Clock, token: str, step: tuple[Any, ...]) -> None:
    kind = step[0]
    if kind == "buy":
        _, symbol, dollars = step
        await engine.place_order(token, OrderRequest(symbol=symbol, side="buy", notional=str(dollars)))
    elif kind == "sell":
        _, symbol, percent = step
        held = [p for p in (await engine.portfolio(token)).positions if p.symbol == symbol]
        if held:
            quantity = ((held[0].quantity - held[0].reserved) * percent / 100).quantize(held[0].quantity)
            await engine.place_order(token, OrderRequest(symbol=symbol, side="sell", quantity=str(quantity)))
    elif kind == "deposit":
        await engine.deposit(token, str(step[1]))
    elif kind == "withdraw":
        await engine.withdraw(token, str(step[1]))
    elif kind == "fees":
        _, maker, taker, spread = step
        await engine.admin_update_settings(engine.operator_token, SettingsUpdate(
            maker_fee_bps=Decimal(maker), taker_fee_bps=Decimal(taker), spread_bps=Decimal(spread)))
    elif kind == "limit":
        _, symbol, side, away = step
        price = engine.market.price(symbol, clock())
        limit = price * (1 - Decimal(away) / 100_000 if side == "buy" else 1 + Decimal(away) / 100_000)
        quantity = "0.001" if symbol == "BTC" else "0.1" if symbol == "ETH" else "100"
        await engine.place_order(token, OrderRequest(symbol=symbol, side=side, type="limit", quantity=quantity,
                                                     limit_price=str(limit.quantize(Decimal("1e-6")))))
    elif kind == "reset":
        await engine.reset_account(token, str(step[1]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(held_overnight=st.lists(st.tuples(st.sampled_from(SYMBOLS), st.integers(100, 4_000)), max_size=3),
       steps=today, looked_at=st.integers(1, DAY - 1))
def test_todays_change_is_the_pnl_made_today_and_never_more_than_the_days_gains(
    held_overnight: list[tuple[str, int]], steps: list[tuple[int, tuple[Any, ...]]], looked_at: int
) -> None:
    async def run() -> None:
        clock = _Clock(MIDNIGHT - 5 * 3600)
        with tempfile.TemporaryDirectory() as folder:
            engine = LocalEngine(Path(folder) / "ledger.db", clock=clock, hash_profile="fast", market_seed=5)
            try:
                token = await trader(engine, "trader", "20000")
                for symbol, dollars in held_overnight:  # bought yesterday, held at 00:00 UTC
                    clock.now += 600
                    await _do(engine, clock, token, ("buy", symbol, dollars))
                clock.now = MIDNIGHT
                at_midnight = await engine.pnl(token)
                reset_today = False
                for second, step in sorted(steps):
                    clock.now = max(clock.now, MIDNIGHT + second)
                    try:
                        await _do(engine, clock, token, step)
                        reset_today = reset_today or step[0] == "reset"
                    except (errors.InsufficientFunds, errors.InvalidAmount):
                        pass  # refused, nothing moved
                clock.now = max(clock.now, MIDNIGHT + looked_at)

                now = await engine.pnl(token)
                day_change = (await engine.portfolio(token)).day_change
                if reset_today:  # the P&L counts from the reset, and so does the day
                    assert day_change == now.total_pnl
                else:
                    assert day_change == now.total_pnl - at_midnight.total_pnl
                    realized = now.realized_pnl - at_midnight.realized_pnl
                    unrealized = now.unrealized_pnl - at_midnight.unrealized_pnl
                    assert day_change <= realized + unrealized
            finally:
                await engine.close()

    asyncio.run(run())
