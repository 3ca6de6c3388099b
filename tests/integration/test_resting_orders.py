"""Limit, stop and stop-limit orders on a real ledger file with a fake clock.

The market is a pure function of time: each test reads the prices of the coming ticks
(`resting_helpers.record`) and picks its limit or stop so that it knows exactly which tick
must fill the order, and at what price. Nothing runs a price loop: every read catches up on the
ticks since the last one, as a CLI command does.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import PASSWORD, Clock
from resting_helpers import between, cost, proceeds, record

from orderproc.engine import errors
from orderproc.engine.schemas import Order, OrderRequest, OrderStatus, OrderType, Side, TimeInForce, TxKind
from orderproc.engine.service import LocalEngine

@pytest.fixture(autouse=True)
async def _ledger_checks_out_after_each_test(engine: LocalEngine) -> AsyncIterator[None]:
    yield
    report = await engine.admin_verify(engine.operator_token)
    assert report.ok, report.problems
    assert all(total == 0 for total in report.sums.values()), report.sums


def order(symbol: str, side: str, quantity: str | Decimal, **fields: Any) -> OrderRequest:
    return OrderRequest.model_validate({"symbol": symbol, "side": side, "quantity": quantity, **fields})


def limit(symbol: str, side: str, quantity: str | Decimal, price: Decimal, **fields: Any) -> OrderRequest:
    return order(symbol, side, quantity, type="limit", limit_price=price, **fields)


def at(tick: float) -> datetime:
    return datetime.fromtimestamp(tick, UTC)


async def trader(engine: LocalEngine, name: str = "bob", cash: str | None = "10000") -> str:
    await engine.register(name, PASSWORD)
    token = (await engine.login(name, PASSWORD)).token
    if cash is not None:
        await engine.deposit(token, cash)
    return token


async def audit(engine: LocalEngine, *actions: str) -> list[Any]:
    """The audit rows with these actions, oldest first."""
    page = await engine.admin_audit(engine.operator_token, limit=500)
    return [e for e in reversed(page.items) if e.action in actions]


async def entries_of(engine: LocalEngine, token: str, order_id: int) -> list[Any]:
    return [t for t in (await engine.history(token, limit=500)).items if t.order_id == order_id]


# -- limit buys ---------------------------------------------------------------------------------------


async def test_a_limit_buy_rests_holding_its_cost_at_the_limit_and_fills_at_the_first_tick_that_reaches_it(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "20000")
    low = record(engine.market, "DOGE", clock(), low=True, skip=5)
    price = low.inside  # strictly between: the fill is at the tick's (lower) price
    placed = await engine.place_order(token, limit("DOGE", "buy", "100000", price))
    held = cost(Decimal(100000), price)

    assert (placed.status, placed.type, placed.time_in_force) == (OrderStatus.NEW, OrderType.LIMIT, TimeInForce.GTC)
    assert (placed.limit_price, placed.price, placed.notional, placed.closed_at) == (price, None, None, None)
    assert placed.reserved == held
    balance = await engine.balance(token)
    cash = Decimal("20000.00")
    assert (balance.cash, balance.reserved, balance.available) == (cash, held, cash - held)
    assert (await engine.portfolio(token)).reserved_cash == held
    assert await entries_of(engine, token, placed.id) == []

    clock.now = low.tick - 0.01  # the last moment before the crossing tick: still resting
    assert (await engine.get_order(token, placed.id)).status is OrderStatus.NEW
    clock.now = low.tick + 0.5
    filled = await engine.get_order(token, placed.id)
    paid = cost(Decimal(100000), low.price)
    assert paid < held
    assert (filled.status, filled.price, filled.notional, filled.reserved) == (OrderStatus.FILLED, low.price, paid, 0)
    assert filled.closed_at == at(low.tick)
    balance = await engine.balance(token)
    # the reservation is released and the difference with the fill's cost is spendable again
    assert (balance.cash, balance.reserved, balance.available) == (cash - paid, 0, cash - paid)
    [doge] = (await engine.portfolio(token)).positions
    assert (doge.symbol, doge.quantity, doge.reserved, doge.cost_basis) == ("DOGE", Decimal(100000), 0, paid)
    [entry] = await entries_of(engine, token, placed.id)
    assert (entry.kind, entry.cash, entry.quantity, entry.created_at) == (TxKind.BUY, -paid, Decimal(100000),
                                                                          at(low.tick))


async def test_cash_held_by_a_resting_buy_cannot_be_withdrawn_or_spent(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "100")
    low = record(engine.market, "DOGE", clock(), low=True, skip=5)
    placed = await engine.place_order(token, limit("DOGE", "buy", "400", low.price))
    available = Decimal("100.00") - placed.reserved
    assert placed.reserved > Decimal("60")  # most of the cash is held

    for call in (
        lambda: engine.withdraw(token, available + Decimal("0.01")),
        lambda: engine.withdraw(token, "100"),
        lambda: engine.place_order(token, OrderRequest(symbol="ETH", side=Side.BUY, notional=Decimal(100))),
        lambda: engine.place_order(token, limit("SOL", "buy", "1", Decimal(100))),
    ):
        with pytest.raises(errors.InsufficientFunds) as refused:
            await call()
        assert refused.value.details["available"] == format(available, "f")
    assert (await engine.withdraw(token, available)).cash == -available  # what is not held may go
    balance = await engine.balance(token)
    assert (balance.cash, balance.available, balance.reserved) == (placed.reserved, 0, placed.reserved)

    clock.now = low.tick + 0.5
    filled = await engine.get_order(token, placed.id)
    assert filled.status is OrderStatus.FILLED
    assert (await engine.balance(token)).cash == placed.reserved - filled.notional  # type: ignore[operator]


async def test_a_limit_buy_beyond_the_available_cash_is_refused_and_holds_nothing(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "10")
    low = record(engine.market, "SOL", clock(), low=True, skip=5)
    with pytest.raises(errors.InsufficientFunds):
        await engine.place_order(token, limit("SOL", "buy", "1", low.price))
    balance = await engine.balance(token)
    assert (balance.cash, balance.reserved, (await engine.orders(token)).total) == (Decimal("10.00"), 0, 0)


# -- limit sells -------------------------------------------------------------------------------------------


async def test_a_limit_sell_holds_its_quantity_and_fills_at_the_first_tick_at_or_above_the_limit(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "10000")
    bought = await engine.place_order(token, order("ETH", "buy", "2"))
    cash = Decimal("10000.00") - bought.notional  # type: ignore[operator]
    high = record(engine.market, "ETH", clock(), low=False, skip=5)
    placed = await engine.place_order(token, limit("ETH", "sell", "1.5", high.inside))
    assert (placed.status, placed.reserved) == (OrderStatus.NEW, Decimal("1.5"))
    [eth] = (await engine.portfolio(token)).positions
    assert (eth.quantity, eth.reserved) == (Decimal(2), Decimal("1.5"))

    with pytest.raises(errors.InsufficientFunds) as refused:
        await engine.place_order(token, order("ETH", "sell", "0.6"))
    assert refused.value.details == {"asset": "ETH", "available": "0.50000000"}
    with pytest.raises(errors.InsufficientFunds):  # a second sell order cannot hold it twice
        await engine.place_order(token, limit("ETH", "sell", "1", high.inside))
    sold = await engine.place_order(token, order("ETH", "sell", "0.5"))  # the part not held
    cash += sold.notional  # type: ignore[operator]

    clock.now = high.tick + 0.5
    filled = await engine.get_order(token, placed.id)
    assert (filled.status, filled.price, filled.reserved) == (OrderStatus.FILLED, high.price, 0)
    assert filled.price > high.inside  # type: ignore[operator]
    assert filled.notional == proceeds(Decimal("1.5"), high.price)
    assert (await engine.balance(token)).cash == cash + filled.notional  # type: ignore[operator]
    assert (await engine.portfolio(token)).positions == []


async def test_a_limit_sell_of_more_than_is_held_is_refused(engine: LocalEngine, token: str, clock: Clock) -> None:
    await engine.deposit(token, "1000")
    await engine.place_order(token, order("ETH", "buy", "0.1"))
    high = record(engine.market, "ETH", clock(), low=False, skip=5)
    with pytest.raises(errors.InsufficientFunds):
        await engine.place_order(token, limit("ETH", "sell", "0.10000001", high.price))
    assert (await engine.orders(token, open=True)).total == 0


# -- orders the price reaches at once, and IOC --------------------------------------------------------------


async def test_a_limit_order_the_price_already_reaches_fills_at_once_at_the_price(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "1000")
    price = engine.market.price("SOL", clock())
    for tif in ("gtc", "ioc"):
        filled = await engine.place_order(token, limit("SOL", "buy", "1", price * 2, time_in_force=tif))
        assert (filled.status, filled.price, filled.notional) == (OrderStatus.FILLED, price, cost(Decimal(1), price))
        assert (filled.limit_price, filled.reserved, filled.time_in_force) == (price * 2, 0, TimeInForce(tif))
    sold = await engine.place_order(token, limit("SOL", "sell", "2", price, time_in_force="ioc"))
    assert (sold.status, sold.price) == (OrderStatus.FILLED, price)
    assert (await engine.balance(token)).reserved == 0


async def test_an_ioc_limit_the_price_does_not_reach_expires_holding_nothing(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "1000")
    low = record(engine.market, "DOGE", clock(), low=True, skip=5)
    expired = await engine.place_order(token, limit("DOGE", "buy", "100", low.price, time_in_force="ioc"))
    assert (expired.status, expired.reserved, expired.price, expired.notional) == (OrderStatus.EXPIRED, 0, None, None)
    assert expired.reason and expired.closed_at == expired.created_at
    balance = await engine.balance(token)
    assert (balance.cash, balance.reserved) == (Decimal("1000.00"), 0)
    clock.now = low.tick + 5  # the price reaches it later: an expired order stays expired
    assert (await engine.get_order(token, expired.id)).status is OrderStatus.EXPIRED
    assert await entries_of(engine, token, expired.id) == []
    [row] = await audit(engine, "order_expired")
    assert (row.target, row.actor) == (str(expired.id), "alice")


# -- cancel ------------------------------------------------------------------------------------------------


async def test_canceling_a_resting_order_releases_what_it_held(engine: LocalEngine, token: str, clock: Clock) -> None:
    await engine.deposit(token, "1000")
    await engine.place_order(token, order("ETH", "buy", "0.1"))
    low = record(engine.market, "DOGE", clock(), low=True, skip=5)
    high = record(engine.market, "ETH", clock(), low=False, skip=5)
    buy = await engine.place_order(token, limit("DOGE", "buy", "1000", low.price))
    sell = await engine.place_order(token, limit("ETH", "sell", "0.1", high.price))
    cash = (await engine.balance(token)).cash

    canceled = await engine.cancel_order(token, buy.id)
    assert (canceled.id, canceled.status, canceled.reserved, canceled.price) == (buy.id, OrderStatus.CANCELED, 0, None)
    assert canceled.closed_at == at(clock())
    balance = await engine.balance(token)
    assert (balance.cash, balance.reserved, balance.available) == (cash, 0, cash)
    assert (await engine.cancel_order(token, sell.id)).status is OrderStatus.CANCELED
    [eth] = (await engine.portfolio(token)).positions
    assert (eth.quantity, eth.reserved) == (Decimal("0.1"), 0)

    clock.now = max(low.tick, high.tick) + 1  # the prices reach them: canceled orders stay so
    assert [o.status for o in (await engine.orders(token, limit=5)).items] == [OrderStatus.CANCELED] * 2 + [
        OrderStatus.FILLED]
    assert (await engine.balance(token)).cash == cash
    assert [(r.action, r.target) for r in await audit(engine, "order_canceled")] == [
        ("order_canceled", str(buy.id)), ("order_canceled", str(sell.id))]


async def test_an_order_that_is_not_open_cannot_be_canceled(engine: LocalEngine, token: str, clock: Clock) -> None:
    await engine.deposit(token, "1000")
    low = record(engine.market, "DOGE", clock(), low=True, skip=5)
    market = await engine.place_order(token, order("DOGE", "buy", "10"))
    expired = await engine.place_order(token, limit("DOGE", "buy", "10", low.price, time_in_force="ioc"))
    resting = await engine.place_order(token, limit("DOGE", "buy", "10", low.price))
    canceled = await engine.place_order(token, limit("DOGE", "buy", "10", low.price))
    await engine.cancel_order(token, canceled.id)
    clock.now = low.tick + 0.5
    assert (await engine.get_order(token, resting.id)).status is OrderStatus.FILLED
    before = (await engine.balance(token), await engine.orders(token))

    for done, status in ((market, "filled"), (expired, "expired"), (resting, "filled"), (canceled, "canceled")):
        with pytest.raises(errors.OrderNotOpen) as refused:
            await engine.cancel_order(token, done.id)
        assert refused.value.details == {"order_id": done.id, "status": status}
    assert (await engine.balance(token), await engine.orders(token)) == before


async def test_another_users_order_reads_and_cancels_as_not_found(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    bob = await trader(engine)
    low = record(engine.market, "DOGE", clock(), low=True, skip=5)
    theirs = await engine.place_order(bob, limit("DOGE", "buy", "100", low.price))
    for call in (lambda: engine.get_order(token, theirs.id), lambda: engine.cancel_order(token, theirs.id),
                 lambda: engine.cancel_order(token, theirs.id + 1000)):
        with pytest.raises(errors.NotFound) as refused:
            await call()
        assert refused.value.code == "not_found"
    assert await engine.cancel_orders(token) == []
    assert (await engine.get_order(bob, theirs.id)).status is OrderStatus.NEW
    assert (await engine.balance(bob)).reserved == theirs.reserved


async def test_cancel_all_cancels_every_open_order_of_the_user_or_of_one_symbol_oldest_first(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "10000")
    bob = await trader(engine)
    await engine.place_order(token, order("ETH", "buy", "1"))
    doge = record(engine.market, "DOGE", clock(), low=True, skip=5)
    sol = record(engine.market, "SOL", clock(), low=True, skip=5)
    eth = record(engine.market, "ETH", clock(), low=False, skip=5)
    placed = [
        await engine.place_order(token, limit("DOGE", "buy", "100", doge.price)),
        await engine.place_order(token, limit("SOL", "buy", "1", sol.price)),
        await engine.place_order(token, limit("DOGE", "buy", "200", doge.price)),
        await engine.place_order(token, limit("ETH", "sell", "1", eth.price)),
    ]
    bobs = await engine.place_order(bob, limit("DOGE", "buy", "100", doge.price))

    canceled = await engine.cancel_orders(token, symbol="doge")
    assert [(o.id, o.status) for o in canceled] == [(placed[0].id, OrderStatus.CANCELED),
                                                     (placed[2].id, OrderStatus.CANCELED)]
    assert {o.id for o in (await engine.orders(token, open=True)).items} == {placed[1].id, placed[3].id}
    rest = await engine.cancel_orders(token)
    assert [o.id for o in rest] == [placed[1].id, placed[3].id]
    assert await engine.cancel_orders(token) == []
    balance = await engine.balance(token)
    assert balance.reserved == 0
    assert [p.reserved for p in (await engine.portfolio(token)).positions] == [0]
    assert (await engine.get_order(bob, bobs.id)).status is OrderStatus.NEW
    with pytest.raises(errors.UnknownAsset):
        await engine.cancel_orders(token, symbol="NOPE")


async def test_a_cancel_after_the_price_reached_the_order_finds_it_filled(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    """With no price loop running, the fill at the crossing tick is still what happened: a cancel
    sent later must not undo it (a cancel catches up first, as every read does)."""
    await engine.deposit(token, "1000")
    low = record(engine.market, "DOGE", clock(), low=True, skip=5)
    placed = await engine.place_order(token, limit("DOGE", "buy", "100", low.price))
    clock.now = low.tick + 30  # nobody read in between
    with pytest.raises(errors.OrderNotOpen):
        await engine.cancel_order(token, placed.id)
    assert await engine.cancel_orders(token) == []
    filled = await engine.get_order(token, placed.id)
    assert (filled.status, filled.price, filled.closed_at) == (OrderStatus.FILLED, low.price, at(low.tick))


# -- stops -------------------------------------------------------------------------------------------------


async def test_a_stop_buy_fills_at_the_price_of_the_first_tick_at_or_above_its_stop(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "1000")
    high = record(engine.market, "ETH", clock(), low=False, skip=5)
    stop = high.inside
    placed = await engine.place_order(token, order("ETH", "buy", "0.1", type="stop", stop_price=stop))
    assert (placed.status, placed.type, placed.stop_price, placed.limit_price) == (
        OrderStatus.NEW, OrderType.STOP, stop, None)
    assert placed.reserved == cost(Decimal("0.1"), stop)  # held at its stop

    clock.now = high.tick + 0.5
    filled = await engine.get_order(token, placed.id)
    assert (filled.status, filled.price, filled.notional) == (OrderStatus.FILLED, high.price,
                                                              cost(Decimal("0.1"), high.price))
    assert filled.notional > placed.reserved  # type: ignore[operator]  # a stop can cost more than it held
    assert filled.triggered_at == filled.closed_at == at(high.tick)
    assert (await engine.balance(token)).cash == Decimal("1000.00") - filled.notional  # type: ignore[operator]


async def test_a_stop_sell_fills_at_the_price_of_the_first_tick_at_or_below_its_stop(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "1000")
    bought = await engine.place_order(token, order("SOL", "buy", "2"))
    low = record(engine.market, "SOL", clock(), low=True, skip=5)
    placed = await engine.place_order(token, order("SOL", "sell", "2", type="stop", stop_price=low.inside))
    assert placed.reserved == Decimal(2)
    clock.now = low.tick + 0.5
    filled = await engine.get_order(token, placed.id)
    assert (filled.status, filled.price, filled.notional) == (OrderStatus.FILLED, low.price,
                                                              proceeds(Decimal(2), low.price))
    cash = Decimal("1000.00") - bought.notional + filled.notional  # type: ignore[operator]
    assert (await engine.balance(token)).cash == cash


async def test_a_stop_buy_the_cash_no_longer_covers_at_its_trigger_is_rejected_and_releases_its_hold(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    high = record(engine.market, "BTC", clock(), low=False, skip=5)
    quantity = Decimal("0.05")
    held = cost(quantity, high.inside)
    assert cost(quantity, high.price) > held
    await engine.deposit(token, held)  # exactly what the stop holds: the fill costs more
    placed = await engine.place_order(token, order("BTC", "buy", quantity, type="stop", stop_price=high.inside))
    assert (await engine.balance(token)).available == 0

    clock.now = high.tick + 0.5
    rejected = await engine.get_order(token, placed.id)
    assert (rejected.status, rejected.reserved, rejected.price, rejected.notional) == (OrderStatus.REJECTED, 0, None,
                                                                                       None)
    assert rejected.reason and "insufficient funds" in rejected.reason
    assert rejected.closed_at == rejected.triggered_at == at(high.tick)
    balance = await engine.balance(token)
    assert (balance.cash, balance.reserved, balance.available) == (held, 0, held)
    assert await entries_of(engine, token, placed.id) == []
    [row] = await audit(engine, "order_rejected")
    assert (row.target, row.source, row.detail["reason"]) == (str(placed.id), "matcher", "insufficient_funds")


async def test_orders_reached_in_the_same_tick_act_in_the_order_they_were_placed(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    """Two stop buys of one user reached in one tick, with cash for only one at the fill price: the
    one placed first fills, the other is rejected."""
    high = record(engine.market, "BTC", clock(), low=False, skip=5)
    quantity = Decimal("0.05")
    held, fill = cost(quantity, high.inside), cost(quantity, high.price)
    await engine.deposit(token, 2 * held + (fill - held))  # covers one fill's extra cost, not two
    first = await engine.place_order(token, order("BTC", "buy", quantity, type="stop", stop_price=high.inside))
    second = await engine.place_order(token, order("BTC", "buy", quantity, type="stop", stop_price=high.inside))
    clock.now = high.tick + 0.5
    assert (await engine.get_order(token, first.id)).status is OrderStatus.FILLED
    assert (await engine.get_order(token, second.id)).status is OrderStatus.REJECTED
    assert (await engine.balance(token)).cash == 2 * held + (fill - held) - fill


async def test_a_stop_limit_that_triggers_within_its_limit_fills_in_the_trigger_tick(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "1000")
    high = record(engine.market, "ETH", clock(), low=False, skip=5)
    ceiling = high.price + 1  # the limit: the trigger tick's price is within it
    placed = await engine.place_order(
        token, order("ETH", "buy", "0.1", type="stop_limit", stop_price=high.inside, limit_price=ceiling))
    assert placed.reserved == cost(Decimal("0.1"), ceiling)  # a stop-limit holds its limit's cost
    clock.now = high.tick + 0.5
    filled = await engine.get_order(token, placed.id)
    assert (filled.status, filled.price, filled.triggered_at, filled.closed_at) == (
        OrderStatus.FILLED, high.price, at(high.tick), at(high.tick))
    assert (await engine.balance(token)).reserved == 0


async def test_a_stop_limit_triggered_past_its_limit_rests_as_a_limit_order_until_a_later_tick_reaches_it(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "1000")
    await engine.place_order(token, order("USDT", "buy", "500"))
    low = record(engine.market, "USDT", clock(), low=True, skip=5)  # the stop: the price falls to it
    rebound = record(engine.market, "USDT", low.tick, low=False)  # then a new high since the trigger
    placed = await engine.place_order(
        token, order("USDT", "sell", "500", type="stop_limit", stop_price=low.inside, limit_price=rebound.price))

    clock.now = low.tick + 0.5
    triggered = await engine.get_order(token, placed.id)
    assert (triggered.status, triggered.triggered_at, triggered.reserved) == (OrderStatus.NEW, at(low.tick),
                                                                              Decimal(500))
    assert (await engine.orders(token, open=True)).total == 1
    clock.now = rebound.tick - 0.5
    assert (await engine.get_order(token, placed.id)).status is OrderStatus.NEW
    clock.now = rebound.tick + 0.5
    filled = await engine.get_order(token, placed.id)
    assert (filled.status, filled.price, filled.closed_at) == (OrderStatus.FILLED, rebound.price, at(rebound.tick))
    assert filled.triggered_at == at(low.tick)


# -- what each order type takes ------------------------------------------------------------------------------


def _bad_requests(price: Decimal) -> list[tuple[dict[str, Any], type[errors.OrderprocError], str]]:
    above, below = price * 2, (price / 2).quantize(Decimal("0.01"))
    return [
        ({"type": "stop", "side": "buy", "stop_price": price}, errors.InvalidAmount, "stop_price"),
        ({"type": "stop", "side": "buy", "stop_price": below}, errors.InvalidAmount, "stop_price"),
        ({"type": "stop", "side": "sell", "stop_price": price}, errors.InvalidAmount, "stop_price"),
        ({"type": "stop", "side": "sell", "stop_price": above}, errors.InvalidAmount, "stop_price"),
        ({"type": "stop_limit", "side": "buy", "stop_price": below, "limit_price": above}, errors.InvalidAmount,
         "stop_price"),
        ({"type": "limit"}, errors.ValidationError, "limit_price"),
        ({"type": "limit", "limit_price": below, "stop_price": above}, errors.ValidationError, "stop_price"),
        ({"type": "stop"}, errors.ValidationError, "stop_price"),
        ({"type": "stop", "stop_price": above, "limit_price": above}, errors.ValidationError, "limit_price"),
        ({"type": "stop_limit", "stop_price": above}, errors.ValidationError, "limit_price"),
        ({"type": "stop_limit", "limit_price": above}, errors.ValidationError, "stop_price"),
        ({"limit_price": below}, errors.ValidationError, "limit_price"),  # a market order
        ({"stop_price": above}, errors.ValidationError, "stop_price"),
        ({"time_in_force": "gtc"}, errors.ValidationError, "time_in_force"),
        ({"type": "stop", "stop_price": above, "time_in_force": "ioc"}, errors.ValidationError, "time_in_force"),
        ({"type": "stop_limit", "stop_price": above, "limit_price": above, "time_in_force": "ioc"},
         errors.ValidationError, "time_in_force"),
        ({"type": "limit", "limit_price": below, "quantity": None, "notional": "10"}, errors.InvalidAmount, "quantity"),
        ({"type": "limit", "limit_price": below, "notional": "10"}, errors.InvalidAmount, "quantity"),
        ({"type": "stop", "stop_price": above, "quantity": None, "notional": "10"}, errors.InvalidAmount, "quantity"),
        ({"type": "limit", "limit_price": below, "price_limit": below}, errors.ValidationError, "price_limit"),
        ({"type": "limit", "limit_price": "0"}, errors.InvalidAmount, "limit_price"),
        ({"type": "limit", "limit_price": "-1"}, errors.InvalidAmount, "limit_price"),
        ({"type": "limit", "limit_price": "0.1234567890123"}, errors.InvalidAmount, "limit_price"),
        ({"type": "stop", "stop_price": "NaN"}, errors.InvalidAmount, "stop_price"),
        ({"type": "market_on_close"}, errors.ValidationError, "type"),
        ({"type": "limit", "limit_price": below, "time_in_force": "fok"}, errors.ValidationError, "time_in_force"),
    ]


async def test_a_request_missing_a_field_its_type_needs_or_giving_one_it_refuses_changes_nothing(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "100000")
    await engine.place_order(token, order("BTC", "buy", "0.5"))
    before = (await engine.balance(token), await engine.portfolio(token), await engine.orders(token))
    price = engine.market.price("BTC", clock())
    for fields, error, field in _bad_requests(price):
        request = {"symbol": "BTC", "side": "buy", "quantity": "0.01", **fields}
        with pytest.raises(error) as refused:
            await engine.place_order(token, OrderRequest.model_validate(request))
        assert (type(refused.value), refused.value.details.get("field")) == (error, field), request
    assert (await engine.balance(token), await engine.portfolio(token), await engine.orders(token)) == before


# -- idempotency keys --------------------------------------------------------------------------------------


async def test_a_resting_order_retried_with_its_key_is_the_same_order_and_holds_once(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "1000")
    low = record(engine.market, "DOGE", clock(), low=True, skip=5)
    request = limit("DOGE", "buy", "1000", low.price, client_order_id="rest-1")
    first = await engine.place_order(token, request)
    again = await engine.place_order(token, limit("DOGE", "buy", "1000.0000", Decimal(f"{low.price}00"),
                                                  client_order_id="rest-1", time_in_force="gtc"))
    assert again == first
    assert (await engine.balance(token)).reserved == first.reserved
    for other in (
        limit("DOGE", "buy", "1000", between(low.price, low.before), client_order_id="rest-1"),
        limit("DOGE", "buy", "1000", low.price, client_order_id="rest-1", time_in_force="ioc"),
        order("DOGE", "buy", "1000", type="stop", stop_price=low.before * 2, client_order_id="rest-1"),
        order("DOGE", "buy", "1000", client_order_id="rest-1"),
    ):
        with pytest.raises(errors.Conflict):
            await engine.place_order(token, other)
    with pytest.raises(errors.Conflict):
        await engine.deposit(token, "1", key="rest-1")
    assert (await engine.orders(token)).total == 1
    assert (await engine.balance(token)).reserved == first.reserved

    clock.now = low.tick + 0.5
    assert (await engine.get_order(token, first.id)).status is OrderStatus.FILLED
    filled = await engine.place_order(token, request)  # after the fill: the same order, as it is now
    assert (filled.id, filled.status, filled.price) == (first.id, OrderStatus.FILLED, low.price)
    assert (await engine.orders(token)).total == 1
    assert len(await entries_of(engine, token, first.id)) == 1


# -- listing -----------------------------------------------------------------------------------------------


async def test_orders_are_listed_open_closed_or_by_status(engine: LocalEngine, token: str, clock: Clock) -> None:
    await engine.deposit(token, "1000")
    low = record(engine.market, "DOGE", clock(), low=True, skip=5)
    market = await engine.place_order(token, order("DOGE", "buy", "10"))
    expired = await engine.place_order(token, limit("DOGE", "buy", "10", low.price, time_in_force="ioc"))
    resting = await engine.place_order(token, limit("DOGE", "buy", "10", low.price))
    canceled = await engine.place_order(token, limit("DOGE", "buy", "10", low.price))
    await engine.cancel_order(token, canceled.id)
    waiting = await engine.place_order(token, limit("DOGE", "buy", "10", (low.price / 2).quantize(Decimal("0.0001"))))

    async def ids(**filters: Any) -> list[int]:
        page = await engine.orders(token, **filters)
        assert page.total == len(page.items)
        return [o.id for o in page.items]

    assert await ids(open=True) == [waiting.id, resting.id]
    assert await ids(open=False) == [canceled.id, expired.id, market.id]
    assert await ids(status=OrderStatus.EXPIRED) == [expired.id]
    assert await ids(status="canceled") == [canceled.id]
    assert await ids(status="new", open=False) == []
    assert await ids(status="filled", open=True) == []
    assert await ids(status="new", open=True, symbol="DOGE") == [waiting.id, resting.id]
    assert await ids(open=True, symbol="ETH") == []

    clock.now = low.tick + 0.5  # the listing itself catches up
    assert await ids(open=True) == [waiting.id]
    assert await ids(status="filled") == [resting.id, market.id]
    with pytest.raises(errors.ValidationError):
        await engine.orders(token, status="pending")  # type: ignore[arg-type]


# -- the audit log -----------------------------------------------------------------------------------------


async def test_every_step_of_a_resting_order_is_in_the_audit_log(engine: LocalEngine, token: str, clock: Clock) -> None:
    await engine.deposit(token, "1000")
    low = record(engine.market, "DOGE", clock(), low=True, skip=5)
    filled = await engine.place_order(token, limit("DOGE", "buy", "10", low.price))
    canceled = await engine.place_order(token, limit("DOGE", "buy", "10", low.price))
    await engine.cancel_order(token, canceled.id)
    expired = await engine.place_order(token, limit("DOGE", "buy", "10", low.price, time_in_force="ioc"))
    clock.now = low.tick + 0.5
    await engine.balance(token)

    rows = await audit(engine, "order_placed", "order_filled", "order_canceled", "order_expired")
    assert [(r.action, r.target) for r in rows] == [
        ("order_placed", str(filled.id)), ("order_placed", str(canceled.id)), ("order_canceled", str(canceled.id)),
        ("order_expired", str(expired.id)), ("order_filled", str(filled.id)),
    ]
    assert rows[0].detail == {"symbol": "DOGE", "side": "buy", "type": "limit", "limit_price": str(low.price),
                              "stop_price": None}
    assert all(r.actor == "alice" for r in rows)
    fill = rows[-1]
    assert (fill.source, fill.at, fill.detail["price"]) == ("matcher", at(low.tick), str(low.price))


# -- the checker -------------------------------------------------------------------------------------------


async def test_the_checker_reports_a_reservation_that_no_open_order_explains(
    engine: LocalEngine, token: str, ledger_path: Path, clock: Clock
) -> None:
    await engine.deposit(token, "1000")
    low = record(engine.market, "DOGE", clock(), low=True, skip=5)
    await engine.place_order(token, limit("DOGE", "buy", "100", low.price))
    assert (await engine.admin_verify(engine.operator_token)).ok

    def tamper(delta: int) -> None:
        conn = sqlite3.connect(ledger_path)
        try:
            with conn:
                conn.execute("UPDATE balances SET reserved = reserved + ? WHERE asset = 'USD' AND reserved > 0",
                             (delta,))
        finally:
            conn.close()

    tamper(1)
    report = await engine.admin_verify(engine.operator_token)
    assert not report.ok
    assert any("reserves" in p and "open orders hold" in p for p in report.problems), report.problems
    tamper(10**9)  # more than the balance
    report = await engine.admin_verify(engine.operator_token)
    assert any("of a balance of" in p for p in report.problems), report.problems
    tamper(-(10**9) - 1)
    assert (await engine.admin_verify(engine.operator_token)).ok


# -- catching up --------------------------------------------------------------------------------------------


async def test_one_read_after_twenty_idle_minutes_fills_each_order_at_its_own_first_crossing_tick(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "100000")
    await engine.place_order(token, order("ETH", "buy", "3"))
    plans = []
    for skip in (5, 60, 300, 900):
        doge = record(engine.market, "DOGE", clock(), low=True, skip=skip)
        eth = record(engine.market, "ETH", clock(), low=False, skip=skip)
        plans.append((await engine.place_order(token, limit("DOGE", "buy", "100", doge.price)), doge))
        plans.append((await engine.place_order(token, limit("ETH", "sell", "0.5", eth.price)), eth))
    never = await engine.place_order(token, limit("DOGE", "buy", "100", Decimal("0.0001")))

    clock.advance(20 * 60)
    page = await engine.orders(token, limit=50)  # the only read: it matches 1,200 ticks
    by_id = {o.id: o for o in page.items}
    for placed, crossing in plans:
        got = by_id[placed.id]
        assert (got.status, got.price, got.closed_at) == (OrderStatus.FILLED, crossing.price, at(crossing.tick))
    assert by_id[never.id].status is OrderStatus.NEW
    assert (await engine.balance(token)).reserved == never.reserved
    assert len((await engine.history(token, kind=TxKind.SELL)).items) == 4


# -- a pass of the price loop racing a placement --------------------------------------------------------------


async def test_an_order_placed_while_a_pass_reads_the_book_still_fills_at_its_first_crossing_tick(
    engine: LocalEngine, token: str, clock: Clock, ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pass reads the open orders, then the clock: an order whose placement read the clock
    just before a second began, but committed just after the pass read the book, acts on that
    second's tick; the pass must not mark that tick matched without it. The order comes from a
    second engine on the same file, as from another server (in one process the pass reads the
    book and the clock with nothing in between)."""
    await engine.deposit(token, "1000")
    await engine.place_order(token, limit("DOGE", "buy", "10", Decimal("0.0001")))  # the book is not empty
    low = record(engine.market, "DOGE", clock(), low=True, skip=5)
    clock.now = low.tick - 0.02
    await engine.balance(token)  # matched up to the tick before the crossing one
    placed: list[Order] = []
    real_read = engine._ctx.readers.run_here

    async def place_elsewhere() -> Order:
        other = LocalEngine(ledger_path, clock=clock, hash_profile="fast", market_seed=7)
        try:
            return await other.place_order(token, limit("DOGE", "buy", "100", low.price))
        finally:
            await other.close()

    def read_then_place(job: Any) -> Any:
        result = real_read(job)
        if not placed:  # once: between the pass's read of the book and its reading of the clock
            clock.now = low.tick - 0.01
            with ThreadPoolExecutor(1) as pool:
                placed.append(pool.submit(asyncio.run, place_elsewhere()).result())
            clock.now = low.tick + 0.2
        return result

    monkeypatch.setattr(engine._ctx.readers, "run_here", read_then_place)
    await engine.match()
    monkeypatch.undo()

    clock.now = low.tick + 0.5
    [late] = placed
    filled = await engine.get_order(token, late.id)
    assert (filled.status, filled.price, filled.closed_at) == (OrderStatus.FILLED, low.price, at(low.tick))
