"""Cash, orders, idempotency, the portfolio and the asset list, through the engine on a real ledger file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import pytest
from conftest import PASSWORD, Clock

from orderproc.engine import errors
from orderproc.engine.schemas import Asset, Order, OrderRequest, OrderStatus, Side, TxKind
from orderproc.engine.service import LocalEngine

CENT = Decimal("0.01")


@pytest.fixture(autouse=True)
async def _ledger_checks_out_after_each_test(engine: LocalEngine) -> AsyncIterator[None]:
    yield
    report = await engine.admin_verify(engine.operator_token)
    assert report.ok, report.problems
    assert all(total == 0 for total in report.sums.values()), report.sums


def buy(symbol: str, *, quantity: str | None = None, usd: str | None = None, **kw: object) -> OrderRequest:
    return OrderRequest(symbol=symbol, side=Side.BUY, quantity=quantity, notional=usd, **kw)  # type: ignore[arg-type]


def sell(symbol: str, *, quantity: str | None = None, usd: str | None = None, **kw: object) -> OrderRequest:
    return OrderRequest(symbol=symbol, side=Side.SELL, quantity=quantity, notional=usd, **kw)  # type: ignore[arg-type]


def rounded_notional(order: Order) -> Decimal:
    """The documented rule: a buyer pays quantity x price rounded up to the cent, a seller gets it rounded down."""
    rounding = ROUND_CEILING if order.side is Side.BUY else ROUND_FLOOR
    return (order.quantity * order.price).quantize(CENT, rounding=rounding)


async def snapshot(engine: LocalEngine, token: str) -> tuple[object, ...]:
    return (
        (await engine.balance(token)).cash,
        (await engine.history(token)).total,
        (await engine.orders(token)).total,
        await engine.portfolio(token),
        await engine.admin_verify(engine.operator_token),
    )


async def _second_user(engine: LocalEngine, name: str = "bob") -> str:
    await engine.register(name, PASSWORD)
    return (await engine.login(name, PASSWORD)).token


# -- cash ------------------------------------------------------------------------------------


async def test_a_new_account_holds_no_cash_and_no_history(engine: LocalEngine, token: str) -> None:
    assert (await engine.balance(token)).cash == 0
    assert (await engine.history(token)).total == 0
    assert (await engine.portfolio(token)).positions == []


async def test_deposits_and_withdrawals_move_the_balance_by_exactly_their_amount(
    engine: LocalEngine, token: str
) -> None:
    deposit = await engine.deposit(token, "100.10")
    assert (deposit.kind, deposit.cash) == (TxKind.DEPOSIT, Decimal("100.10"))
    await engine.deposit(token, Decimal("0.20"))
    withdrawal = await engine.withdraw(token, "50.05")
    assert (withdrawal.kind, withdrawal.cash) == (TxKind.WITHDRAWAL, Decimal("-50.05"))

    balance = await engine.balance(token)
    assert balance.cash == Decimal("50.25")
    assert str(balance.cash) == "50.25"
    assert balance.currency == "USD"


async def test_withdrawing_the_whole_balance_leaves_exactly_zero(engine: LocalEngine, token: str) -> None:
    await engine.deposit(token, "0.30")
    await engine.withdraw(token, "0.10")
    await engine.withdraw(token, "0.20")
    assert (await engine.balance(token)).cash == 0


async def test_many_one_cent_deposits_sum_to_exactly_their_count_in_cents(engine: LocalEngine, token: str) -> None:
    await asyncio.gather(*(engine.deposit(token, "0.01") for _ in range(300)))
    assert (await engine.balance(token)).cash == Decimal("3.00")
    assert (await engine.history(token)).total == 300


async def test_history_is_newest_first_paged_and_filtered_by_kind(engine: LocalEngine, token: str) -> None:
    for amount in ("1", "2", "3", "4", "5"):
        await engine.deposit(token, amount)
    await engine.withdraw(token, "6")
    await engine.withdraw(token, "7")

    first = await engine.history(token, limit=3)
    assert first.total == 7
    assert (first.offset, first.limit) == (0, 3)
    assert [t.cash for t in first.items] == [Decimal("-7"), Decimal("-6"), Decimal("5")]
    second = await engine.history(token, offset=3, limit=3)
    assert [t.cash for t in second.items] == [Decimal("4"), Decimal("3"), Decimal("2")]
    last = await engine.history(token, offset=6, limit=3)
    assert [t.cash for t in last.items] == [Decimal("1")]
    assert (await engine.history(token, offset=7)).items == []

    withdrawals = await engine.history(token, kind=TxKind.WITHDRAWAL)
    assert withdrawals.total == 2
    assert [t.kind for t in withdrawals.items] == [TxKind.WITHDRAWAL] * 2
    deposits = await engine.history(token, kind="deposit")  # type: ignore[arg-type]
    assert [t.cash for t in deposits.items] == [Decimal(n) for n in "54321"]
    assert (await engine.history(token, kind=TxKind.BUY)).total == 0


async def test_a_bad_history_kind_or_page_is_a_validation_error(engine: LocalEngine, token: str) -> None:
    for call in (
        engine.history(token, kind="refund"),  # type: ignore[arg-type]
        engine.history(token, limit=0),
        engine.history(token, limit=100_000),
        engine.history(token, offset=-1),
    ):
        with pytest.raises(errors.ValidationError):
            await call


async def test_a_user_sees_only_their_own_cash_and_history(engine: LocalEngine, token: str) -> None:
    bob = await _second_user(engine)
    await engine.deposit(token, "100")
    await engine.deposit(bob, "7")
    await engine.place_order(bob, buy("ETH", usd="5"))
    assert (await engine.balance(token)).cash == 100
    assert [t.cash for t in (await engine.history(token)).items] == [Decimal(100)]
    assert (await engine.orders(token)).total == 0
    assert (await engine.portfolio(token)).positions == []


async def test_withdrawing_more_than_the_balance_fails_and_changes_nothing(engine: LocalEngine, token: str) -> None:
    await engine.deposit(token, "100")
    await engine.place_order(token, buy("ETH", quantity="0.01"))
    before = await snapshot(engine, token)
    cash = before[0]

    with pytest.raises(errors.InsufficientFunds) as caught:
        await engine.withdraw(token, Decimal(cash) + CENT)  # type: ignore[arg-type]
    assert caught.value.code == "insufficient_funds"
    assert caught.value.details.get("asset") == "USD"
    assert await snapshot(engine, token) == before


async def test_twenty_concurrent_withdrawals_of_the_whole_balance_let_exactly_one_through(
    engine: LocalEngine, token: str
) -> None:
    await engine.deposit(token, "250.00")
    results = await asyncio.gather(*(engine.withdraw(token, "250.00") for _ in range(20)), return_exceptions=True)

    succeeded = [r for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(succeeded) == 1
    assert all(isinstance(r, errors.InsufficientFunds) for r in failed)
    assert (await engine.balance(token)).cash == 0
    assert (await engine.history(token, kind=TxKind.WITHDRAWAL)).total == 1


async def test_twenty_concurrent_sells_of_the_whole_position_let_exactly_one_through(
    engine: LocalEngine, token: str
) -> None:
    await engine.deposit(token, "1000")
    await engine.place_order(token, buy("SOL", quantity="1.5"))
    results = await asyncio.gather(
        *(engine.place_order(token, sell("SOL", quantity="1.5")) for _ in range(20)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, errors.InsufficientFunds) for r in results if isinstance(r, BaseException))
    assert (await engine.portfolio(token)).positions == []
    assert (await engine.orders(token)).total == 2


# -- orders ------------------------------------------------------------------------------------


async def test_a_buy_by_quantity_fills_at_the_quote_and_the_buyer_pays_the_notional_rounded_up(
    engine: LocalEngine, token: str
) -> None:
    await engine.deposit(token, "10000")
    quote = await engine.quote("BTC")
    order = await engine.place_order(token, buy("BTC", quantity="0.01234567"))

    assert (order.symbol, order.side, order.status) == ("BTC", Side.BUY, OrderStatus.FILLED)
    assert order.quantity == Decimal("0.01234567")
    assert order.price == quote.price
    assert order.notional == rounded_notional(order)
    assert order.notional >= order.quantity * order.price
    assert (await engine.balance(token)).cash == 10000 - order.notional


async def test_a_sell_by_quantity_pays_the_seller_the_notional_rounded_down(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "10000")
    await engine.place_order(token, buy("DOGE", quantity="12345.6789"))
    clock.advance(3600)
    order = await engine.place_order(token, sell("DOGE", quantity="2345.6789"))
    assert order.price == (await engine.quote("DOGE")).price
    assert order.notional == rounded_notional(order)
    assert order.notional <= order.quantity * order.price


async def test_a_buy_by_usd_amount_spends_at_most_that_amount_on_the_most_units_it_affords(
    engine: LocalEngine, token: str
) -> None:
    await engine.deposit(token, "1000")
    order = await engine.place_order(token, buy("ETH", usd="250"))
    precision = (await engine.get_asset("ETH")).precision
    unit = Decimal(1).scaleb(-precision)

    assert order.notional <= Decimal(250)
    assert order.notional == rounded_notional(order)
    assert (order.quantity + unit) * order.price > Decimal(250)  # one more unit would overspend
    assert (await engine.balance(token)).cash == 1000 - order.notional


async def test_a_sell_by_usd_amount_sells_the_units_that_amount_is_worth(engine: LocalEngine, token: str) -> None:
    await engine.deposit(token, "1000")
    await engine.place_order(token, buy("ETH", quantity="0.2"))
    order = await engine.place_order(token, sell("ETH", usd="100"))
    assert order.side is Side.SELL
    assert order.notional <= Decimal(100)
    assert order.notional == rounded_notional(order)
    position = (await engine.portfolio(token)).positions[0]
    assert position.quantity == Decimal("0.2") - order.quantity


async def test_cash_equals_deposits_minus_buys_plus_sells_to_the_cent(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "5000")
    await engine.deposit(token, "123.45")
    orders = []
    for request in (
        buy("BTC", quantity="0.01"),
        buy("ETH", usd="333.33"),
        buy("DOGE", usd="99.99"),
        sell("BTC", quantity="0.004"),
        buy("SOL", quantity="2.5"),
        sell("ETH", usd="100.01"),
        sell("DOGE", quantity="10"),
    ):
        orders.append(await engine.place_order(token, request))
        clock.advance(97)  # prices move between orders
    await engine.withdraw(token, "10")

    for order in orders:
        assert order.notional == rounded_notional(order)
    spent = sum(o.notional for o in orders if o.side is Side.BUY)
    received = sum(o.notional for o in orders if o.side is Side.SELL)
    expected = Decimal("5123.45") - spent + received - 10
    assert (await engine.balance(token)).cash == expected
    assert sum((t.cash for t in (await engine.history(token, limit=500)).items), Decimal(0)) == expected

    trades = [
        *(await engine.history(token, kind=TxKind.BUY)).items,
        *(await engine.history(token, kind=TxKind.SELL)).items,
    ]
    by_order = {t.order_id: t for t in trades}
    for order in orders:
        tx = by_order[order.id]
        assert tx.symbol == order.symbol
        assert tx.cash == (-order.notional if order.side is Side.BUY else order.notional)
        assert tx.quantity == (order.quantity if order.side is Side.BUY else -order.quantity)


async def test_a_buy_costing_more_than_the_cash_fails_and_changes_nothing(engine: LocalEngine, token: str) -> None:
    await engine.deposit(token, "100")
    before = await snapshot(engine, token)
    with pytest.raises(errors.InsufficientFunds):
        await engine.place_order(token, buy("BTC", quantity="1"))
    with pytest.raises(errors.InsufficientFunds):
        await engine.place_order(token, buy("ETH", usd="100.01"))
    assert await snapshot(engine, token) == before


async def test_a_buy_under_a_price_guard_fills_when_the_price_is_within_it(engine: LocalEngine, token: str) -> None:
    await engine.deposit(token, "1000")
    price = (await engine.quote("ETH")).price
    at_limit = await engine.place_order(token, buy("ETH", quantity="0.01", price_limit=str(price)))
    above = await engine.place_order(token, buy("ETH", quantity="0.01", price_limit=str(price * 2)))
    assert at_limit.price == above.price == price


async def test_a_buy_fails_with_price_moved_when_the_price_is_past_its_guard_and_changes_nothing(
    engine: LocalEngine, token: str
) -> None:
    await engine.deposit(token, "1000")
    price = (await engine.quote("ETH")).price
    before = await snapshot(engine, token)
    with pytest.raises(errors.PriceMoved) as caught:
        await engine.place_order(token, buy("ETH", quantity="0.01", price_limit=str(price - Decimal("0.01"))))
    assert caught.value.code == "price_moved"
    assert Decimal(caught.value.details["price"]) == price
    assert await snapshot(engine, token) == before


async def test_a_sell_under_a_price_guard_fills_at_or_above_it_and_fails_below_it(
    engine: LocalEngine, token: str
) -> None:
    await engine.deposit(token, "1000")
    await engine.place_order(token, buy("ETH", quantity="0.1"))
    price = (await engine.quote("ETH")).price
    before = await snapshot(engine, token)
    with pytest.raises(errors.PriceMoved):
        await engine.place_order(token, sell("ETH", quantity="0.05", price_limit=str(price + Decimal("0.01"))))
    assert await snapshot(engine, token) == before
    filled = await engine.place_order(token, sell("ETH", quantity="0.05", price_limit=str(price)))
    assert filled.status is OrderStatus.FILLED
    assert (await engine.place_order(token, sell("ETH", usd="10", price_limit="0.01"))).price == price


async def test_a_price_guard_set_at_a_quote_rejects_the_fill_once_the_price_moved_against_it(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "1000")
    await engine.place_order(token, buy("SOL", quantity="1"))
    seen = (await engine.quote("SOL")).price
    clock.advance(60)
    while (now := (await engine.quote("SOL")).price) == seen:
        clock.advance(60)
    before = await snapshot(engine, token)
    # the guard is the price the user saw: a buy rejects a rise, a sell rejects a fall
    against_me = buy("SOL", quantity="1", price_limit=str(seen)) if now > seen else sell(
        "SOL", quantity="1", price_limit=str(seen)
    )
    with_me = sell("SOL", quantity="1", price_limit=str(seen)) if now > seen else buy(
        "SOL", quantity="1", price_limit=str(seen)
    )
    with pytest.raises(errors.PriceMoved):
        await engine.place_order(token, against_me)
    assert await snapshot(engine, token) == before
    assert (await engine.place_order(token, with_me)).price == now


async def test_selling_more_than_is_held_fails_and_changes_nothing(engine: LocalEngine, token: str) -> None:
    await engine.deposit(token, "1000")
    await engine.place_order(token, buy("ETH", quantity="0.1"))
    before = await snapshot(engine, token)
    with pytest.raises(errors.InsufficientFunds) as caught:
        await engine.place_order(token, sell("ETH", quantity="0.10000001"))
    assert caught.value.details.get("asset") == "ETH"
    with pytest.raises(errors.InsufficientFunds):
        await engine.place_order(token, sell("BTC", quantity="0.001"))
    with pytest.raises(errors.InsufficientFunds):
        await engine.place_order(token, sell("ETH", usd="100000"))
    assert await snapshot(engine, token) == before


async def test_selling_part_of_a_position_keeps_the_remaining_share_of_its_cost_basis(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "1000")
    bought = await engine.place_order(token, buy("ETH", quantity="0.2"))
    clock.advance(600)
    await engine.place_order(token, sell("ETH", quantity="0.05"))
    position = (await engine.portfolio(token)).positions[0]
    assert position.quantity == Decimal("0.15")
    removed = (bought.notional * 100 * Decimal("0.05") / Decimal("0.2")).to_integral_value(ROUND_FLOOR) / 100
    assert position.cost_basis == bought.notional - removed


async def test_selling_a_whole_position_leaves_no_position_and_no_cost_basis(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "2000")
    await engine.place_order(token, buy("ETH", quantity="0.1"))
    clock.advance(60)
    await engine.place_order(token, buy("ETH", quantity="0.0333"))
    clock.advance(60)
    await engine.place_order(token, sell("ETH", quantity="0.05"))
    await engine.place_order(token, sell("ETH", quantity="0.0833"))
    assert (await engine.portfolio(token)).positions == []

    # a new position starts from its own cost, with nothing carried over
    clock.advance(60)
    again = await engine.place_order(token, buy("ETH", quantity="0.01"))
    (position,) = (await engine.portfolio(token)).positions
    assert position.cost_basis == again.notional
    assert position.quantity == Decimal("0.01")


async def test_selling_a_quantity_worth_less_than_a_cent_or_giving_no_amount_is_an_invalid_amount(
    engine: LocalEngine, token: str
) -> None:
    await engine.deposit(token, "100")
    await engine.place_order(token, buy("BTC", usd="50"))
    before = await snapshot(engine, token)
    with pytest.raises(errors.InvalidAmount):
        await engine.place_order(token, sell("BTC", quantity="0.00000001"))  # about 0.001 USD
    with pytest.raises(errors.InvalidAmount):
        await engine.place_order(token, buy("ETH", quantity="1", usd="10"))  # both ways at once
    with pytest.raises(errors.InvalidAmount):
        await engine.place_order(token, OrderRequest(symbol="ETH", side=Side.BUY))  # neither
    assert await snapshot(engine, token) == before


# -- idempotency --------------------------------------------------------------------------------


async def test_a_retried_deposit_with_the_same_key_returns_the_first_result_and_moves_money_once(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    first = await engine.deposit(token, "75.50", key="dep-1")
    clock.advance(30)
    again = await engine.deposit(token, "75.50", key="dep-1")
    assert again == first
    assert first.client_key == "dep-1"
    assert (await engine.balance(token)).cash == Decimal("75.50")
    assert (await engine.history(token)).total == 1


async def test_a_retried_withdrawal_with_the_same_key_moves_money_once(engine: LocalEngine, token: str) -> None:
    await engine.deposit(token, "100")
    first = await engine.withdraw(token, "40", key="wd-1")
    assert await engine.withdraw(token, "40", key="wd-1") == first
    assert await engine.withdraw(token, Decimal("40.00"), key="wd-1") == first  # the same amount written differently
    assert (await engine.balance(token)).cash == 60


async def test_a_retried_order_with_the_same_key_returns_the_first_fill_even_after_the_price_moved(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "1000")
    first = await engine.place_order(token, buy("ETH", usd="100", client_order_id="ord-1"))
    clock.advance(3600)
    assert (await engine.quote("ETH")).price != first.price
    again = await engine.place_order(token, buy("eth", usd="100", client_order_id="ord-1"))
    assert again == first
    assert (await engine.orders(token)).total == 1
    assert (await engine.balance(token)).cash == 1000 - first.notional


async def test_ten_concurrent_duplicates_of_a_keyed_deposit_have_one_effect(engine: LocalEngine, token: str) -> None:
    results = await asyncio.gather(*(engine.deposit(token, "10", key="same") for _ in range(10)))
    assert all(r == results[0] for r in results)
    assert (await engine.balance(token)).cash == 10


@pytest.mark.parametrize(
    "retry",
    [
        pytest.param(lambda e, t: e.deposit(t, "20", key="k"), id="deposit-other-amount"),
        pytest.param(lambda e, t: e.withdraw(t, "10", key="k"), id="withdrawal-same-amount"),
        pytest.param(lambda e, t: e.place_order(t, buy("ETH", usd="10", client_order_id="k")), id="order"),
    ],
)
async def test_reusing_a_deposit_key_for_another_request_is_a_conflict_and_moves_nothing(
    engine: LocalEngine, token: str, retry: object
) -> None:
    await engine.deposit(token, "10", key="k")
    before = await snapshot(engine, token)
    with pytest.raises(errors.Conflict) as caught:
        await retry(engine, token)  # type: ignore[operator]
    assert caught.value.code == "conflict"
    assert await snapshot(engine, token) == before


@pytest.mark.parametrize(
    "retry",
    [
        pytest.param(buy("ETH", usd="50.01", client_order_id="o"), id="other-amount"),
        pytest.param(buy("BTC", usd="50", client_order_id="o"), id="other-symbol"),
        pytest.param(sell("ETH", usd="50", client_order_id="o"), id="other-side"),
        pytest.param(buy("ETH", quantity="0.01", client_order_id="o"), id="by-quantity"),
        pytest.param(buy("ETH", usd="50", price_limit="100000", client_order_id="o"), id="with-guard"),
    ],
)
async def test_reusing_an_order_key_for_another_order_is_a_conflict_and_moves_nothing(
    engine: LocalEngine, token: str, retry: OrderRequest
) -> None:
    await engine.deposit(token, "1000")
    await engine.place_order(token, buy("ETH", usd="50", client_order_id="o"))
    before = await snapshot(engine, token)
    with pytest.raises(errors.Conflict):
        await engine.place_order(token, retry)
    with pytest.raises(errors.Conflict):
        await engine.deposit(token, "50", key="o")
    assert await snapshot(engine, token) == before


async def test_one_users_key_never_collides_with_another_users_same_key(engine: LocalEngine, token: str) -> None:
    bob = await _second_user(engine)
    mine = await engine.deposit(token, "10", key="shared-key")
    theirs = await engine.deposit(bob, "99", key="shared-key")
    assert theirs != mine
    assert (await engine.balance(token)).cash == 10
    assert (await engine.balance(bob)).cash == 99

    await engine.deposit(token, "1000", key="k2")
    mine_order = await engine.place_order(token, buy("ETH", usd="10", client_order_id="order-key"))
    await engine.deposit(bob, "1000", key="k3")
    their_order = await engine.place_order(bob, buy("ETH", usd="10", client_order_id="order-key"))
    assert their_order.id != mine_order.id
    assert (await engine.orders(bob)).total == 1


# -- portfolio ---------------------------------------------------------------------------------


async def test_the_portfolio_values_positions_at_the_current_price(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "10000")
    eth = await engine.place_order(token, buy("ETH", quantity="0.5"))
    btc = await engine.place_order(token, buy("BTC", usd="1500"))
    doge = await engine.place_order(token, buy("DOGE", quantity="1000"))
    clock.advance(6 * 3600)  # the market moves on

    portfolio = await engine.portfolio(token)
    positions = {p.symbol: p for p in portfolio.positions}
    assert set(positions) == {"ETH", "BTC", "DOGE"}
    for order in (eth, btc, doge):
        p = positions[order.symbol]
        price = (await engine.quote(order.symbol)).price
        assert p.price == price
        assert p.quantity == order.quantity
        assert p.cost_basis == order.notional
        assert p.average_cost == pytest.approx(order.notional / order.quantity, rel=Decimal("1e-11"))
        assert abs(p.market_value - p.quantity * price) <= Decimal("0.005")
        assert p.market_value == p.market_value.quantize(CENT)
        assert p.unrealized_pnl == p.market_value - p.cost_basis

    assert portfolio.cash == (await engine.balance(token)).cash == 10000 - eth.notional - btc.notional - doge.notional
    assert portfolio.market_value == sum(p.market_value for p in portfolio.positions)
    assert portfolio.equity == portfolio.cash + portfolio.market_value
    assert portfolio.unrealized_pnl == sum(p.unrealized_pnl for p in portfolio.positions)
    cash_share = portfolio.cash * 100 / portfolio.equity
    assert sum(p.allocation for p in portfolio.positions) + cash_share == pytest.approx(100, abs=Decimal("0.02"))
    values = [p.market_value for p in portfolio.positions]
    assert values == sorted(values, reverse=True)  # largest holding first


async def test_the_average_cost_of_two_buys_is_their_total_cost_over_their_total_quantity(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "5000")
    first = await engine.place_order(token, buy("SOL", quantity="3"))
    clock.advance(86400)
    second = await engine.place_order(token, buy("SOL", quantity="1"))
    assert first.price != second.price
    (position,) = (await engine.portfolio(token)).positions
    assert position.quantity == 4
    assert position.cost_basis == first.notional + second.notional
    assert position.average_cost == pytest.approx((first.notional + second.notional) / 4, rel=Decimal("1e-11"))


# -- order history -------------------------------------------------------------------------------


async def test_orders_are_listed_newest_first_paged_and_filtered_by_symbol(
    engine: LocalEngine, token: str, clock: Clock
) -> None:
    await engine.deposit(token, "5000")
    placed = []
    for request in (buy("ETH", usd="10"), buy("BTC", usd="10"), buy("ETH", usd="20"), sell("ETH", usd="5")):
        placed.append(await engine.place_order(token, request))
        clock.advance(5)

    page = await engine.orders(token, limit=3)
    assert page.total == 4
    assert [o.id for o in page.items] == [o.id for o in reversed(placed)][:3]
    rest = await engine.orders(token, offset=3, limit=3)
    assert [o.id for o in rest.items] == [placed[0].id]
    assert page.items[0] == placed[-1]

    eth = await engine.orders(token, symbol="eth")
    assert eth.total == 3
    assert {o.symbol for o in eth.items} == {"ETH"}
    assert (await engine.orders(token, symbol="SOL")).total == 0
    with pytest.raises(errors.UnknownAsset):
        await engine.orders(token, symbol="NOPE")


# -- assets and prices ----------------------------------------------------------------------------


async def test_the_asset_list_is_searchable_by_symbol_or_name(engine: LocalEngine) -> None:
    all_assets = await engine.list_assets()
    assert len(all_assets) >= 98
    assert len({a.symbol for a in all_assets}) == len(all_assets)
    assert "BTC" in {a.symbol for a in await engine.list_assets(search="bitcoin")}
    assert "ETH" in {a.symbol for a in await engine.list_assets(search="eth")}
    found = await engine.list_assets(search="  DOGE ")
    assert found and all("doge" in (a.symbol + a.name).lower() for a in found)
    assert await engine.list_assets(search="no such coin anywhere") == []


async def test_the_asset_list_filters_by_category(engine: LocalEngine) -> None:
    stable = await engine.list_assets(category="stablecoin")
    assert stable and {a.category for a in stable} == {"stablecoin"}
    assert "USDT" in {a.symbol for a in stable}
    assert await engine.list_assets(category="no-such-category") == []


async def test_the_asset_list_sorts_by_each_field_either_way(engine: LocalEngine) -> None:
    keys: dict[str, Callable[[Asset], Any]] = {
        "rank": lambda a: a.rank,
        "price": lambda a: a.price,
        "change": lambda a: a.change_24h,
        "symbol": lambda a: a.symbol,
        "name": lambda a: a.name.lower(),
    }
    for sort, key in keys.items():
        ascending = [key(a) for a in await engine.list_assets(sort=sort) if a.rank is not None or sort != "rank"]
        assert ascending == sorted(ascending), sort
        descending = [
            key(a) for a in await engine.list_assets(sort=sort, descending=True) if a.rank is not None or sort != "rank"
        ]
        assert descending == sorted(descending, reverse=True), sort
    assert [a.symbol for a in await engine.list_assets()][:2] == ["BTC", "ETH"]


async def test_sorting_by_an_unknown_field_is_a_validation_error(engine: LocalEngine) -> None:
    with pytest.raises(errors.ValidationError) as caught:
        await engine.list_assets(sort="volume")
    assert caught.value.code == "validation_error"


async def test_symbols_are_case_insensitive_and_unknown_ones_are_unknown_asset(engine: LocalEngine) -> None:
    assert (await engine.quote("btc")).symbol == "BTC"
    assert (await engine.quote("Eth")).price == (await engine.quote("ETH")).price
    assert (await engine.get_asset("sol")).symbol == "SOL"
    for call in (engine.quote("NOPE"), engine.get_asset("NOPE"), engine.price_history("NOPE")):
        with pytest.raises(errors.UnknownAsset) as caught:
            await call
        assert caught.value.code == "unknown_asset"


async def test_an_asset_carries_its_reference_data_and_current_price(engine: LocalEngine) -> None:
    btc = await engine.get_asset("BTC")
    assert (btc.name, btc.category, btc.rank, btc.precision) == ("Bitcoin", "layer-1", 1, 8)
    assert btc.price == (await engine.quote("BTC")).price > 0
    assert btc.reference_date and btc.source


async def test_price_history_returns_the_requested_number_of_points_ending_now(
    engine: LocalEngine, clock: Clock
) -> None:
    for points in (1, 10, 96):
        history = await engine.price_history("ETH", hours=24, points=points)
        assert len(history) == points
    history = await engine.price_history("eth", hours=6, points=24)
    assert [p.at for p in history] == sorted(p.at for p in history)
    assert history[-1].at.timestamp() <= clock.now
    assert history[0].at.timestamp() >= clock.now - 6 * 3600 - 1
    assert all(p.low <= min(p.open, p.close) and p.high >= max(p.open, p.close) for p in history)
    with pytest.raises(errors.ValidationError):
        await engine.price_history("ETH", points=0)


async def test_everyone_on_one_ledger_sees_the_same_price_at_the_same_moment(engine: LocalEngine, token: str) -> None:
    bob = await _second_user(engine)
    await engine.deposit(token, "1000")
    await engine.deposit(bob, "1000")
    mine = await engine.place_order(token, buy("ETH", quantity="0.1"))
    theirs = await engine.place_order(bob, buy("ETH", quantity="0.1"))
    assert mine.price == theirs.price == (await engine.quote("ETH")).price
    assert mine.notional == theirs.notional
