"""Fees and receipts: the friction profile the ledger's owner chooses prices every fill (fee,
half the spread, size-proportional slippage, all against the taker; a maker pays its own fee
only), every fill keeps its receipt, fees are paid to the fee account, and P&L counts them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from conftest import Clock
from depth_helpers import assert_reconciles, buy, cost, fee, first_low, proceeds, sell, share, trader

from orderproc.engine import errors
from orderproc.engine.domain.money import round_price
from orderproc.engine.schemas import LedgerSettings, Order, OrderType, Receipt, SettingsUpdate
from orderproc.engine.service import LocalEngine

BPS = Decimal(10_000)


@pytest.fixture(autouse=True)
async def _ledger_checks_out_after_each_test(engine: LocalEngine) -> AsyncIterator[None]:
    yield
    report = await engine.admin_verify(engine.operator_token)
    assert report.ok, report.problems
    assert all(total == 0 for total in report.sums.values()), report.sums


async def _friction(engine: LocalEngine, **bps: int | str) -> LedgerSettings:
    return await engine.admin_update_settings(engine.operator_token, SettingsUpdate.model_validate(bps))


def _receipt(order: Order) -> Receipt:
    assert order.receipt is not None
    return order.receipt


def _taker_price(reference: Decimal, buy_side: bool, size_usd: Decimal, spread_bps: int, slip_per_1000: int
                 ) -> tuple[Decimal, Decimal, Decimal]:
    """(half spread, slippage, fill price) a taker gets, as friction.py documents them: half the
    spread and `slip_per_1000` bps per $1,000 of the trade, per unit, against the taker."""
    half = round_price(reference * spread_bps / BPS / 2)
    slip = round_price(reference * (slip_per_1000 * size_usd / 1000) / BPS)
    price = round_price(reference + half + slip) if buy_side else round_price(reference - half - slip)
    return half, slip, price


async def test_by_default_a_fill_has_no_friction_and_its_receipt_says_so(engine: LocalEngine, clock: Clock) -> None:
    token = await trader(engine, "alice", "10000")
    assert await engine.ledger_settings(token) == LedgerSettings(
        cost_method="fifo", maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(0), spread_bps=Decimal(0),
        slippage_bps_per_1000_usd=Decimal(0))
    reference = engine.market.price("ETH", clock())
    order = await engine.place_order(token, buy("ETH", "0.5"))
    receipt = _receipt(order)
    assert (receipt.liquidity, receipt.reference_price, receipt.price, receipt.spread, receipt.slippage) == (
        "taker", reference, reference, 0, 0)
    assert (receipt.quantity, receipt.notional, receipt.fee, receipt.total) == (
        Decimal("0.5"), cost("0.5", reference), 0, cost("0.5", reference))
    assert order.price == reference
    assert (await engine.balance(token)).cash == Decimal("10000") - receipt.total
    assert (await engine.admin_verify(engine.operator_token)).fees_collected == 0


async def test_a_taker_fee_is_rounded_up_to_the_cent_added_to_a_buy_and_taken_from_a_sell(
    engine: LocalEngine, clock: Clock
) -> None:
    await _friction(engine, taker_fee_bps=10)
    token = await trader(engine, "alice", "10000")
    reference = engine.market.price("ETH", clock())
    bought = _receipt(await engine.place_order(token, buy("ETH", "0.7")))
    assert bought.notional == cost("0.7", reference)
    assert (bought.fee_bps, bought.fee) == (10, fee(bought.notional, 10))
    assert bought.fee > 0 and bought.total == bought.notional + bought.fee
    assert (await engine.balance(token)).cash == Decimal("10000") - bought.total

    clock.advance(60)
    reference = engine.market.price("ETH", clock())
    sold = _receipt(await engine.place_order(token, sell("ETH", "0.3")))
    assert sold.notional == proceeds("0.3", reference)
    assert sold.fee == fee(sold.notional, 10) and sold.total == sold.notional - sold.fee
    assert (await engine.balance(token)).cash == Decimal("10000") - bought.total + sold.total


@pytest.mark.parametrize("quantity", ["0.05", "2.5"])
async def test_spread_and_slippage_move_a_takers_price_against_it_by_half_the_spread_and_the_slippage(
    engine: LocalEngine, clock: Clock, quantity: str
) -> None:
    await _friction(engine, spread_bps=20, slippage_bps_per_1000_usd=3)
    token = await trader(engine, "alice", "20000")
    reference = engine.market.price("ETH", clock())
    half, slip, price = _taker_price(reference, True, Decimal(quantity) * reference, 20, 3)
    bought = _receipt(await engine.place_order(token, buy("ETH", quantity)))
    assert (bought.reference_price, bought.spread, bought.slippage, bought.price) == (reference, half, slip, price)
    assert half == round_price(reference * Decimal("0.001"))  # half of 20 bps
    assert price > reference and bought.notional == cost(quantity, price)

    half, slip, price = _taker_price(reference, False, Decimal(quantity) * reference, 20, 3)
    sold = _receipt(await engine.place_order(token, sell("ETH", quantity)))
    assert (sold.reference_price, sold.spread, sold.slippage, sold.price) == (reference, half, slip, price)
    assert price < reference and sold.notional == proceeds(quantity, price)


async def test_the_slippage_grows_with_the_size_of_the_trade(engine: LocalEngine, clock: Clock) -> None:
    await _friction(engine, slippage_bps_per_1000_usd=5)
    token = await trader(engine, "alice", "50000")
    small = _receipt(await engine.place_order(token, buy("ETH", "0.1")))
    large = _receipt(await engine.place_order(token, buy("ETH", "10")))
    assert 0 < small.slippage < large.slippage
    assert large.slippage == round_price(large.reference_price * (5 * 10 * large.reference_price / 1000) / BPS)


async def test_a_buy_by_usd_amount_spends_at_most_that_amount_fee_included(engine: LocalEngine, clock: Clock) -> None:
    await _friction(engine, taker_fee_bps=25, spread_bps=10, slippage_bps_per_1000_usd=2)
    token = await trader(engine, "alice", "5000")
    order = await engine.place_order(token, buy("ETH", notional="1000"))
    receipt = _receipt(order)
    assert receipt.fee == fee(receipt.notional, 25)
    assert receipt.total == receipt.notional + receipt.fee <= Decimal("1000")
    # the largest quantity that fits: one more unit (1e-8 ETH) would not
    more = cost(order.quantity + Decimal("0.00000001"), receipt.price)
    assert more + fee(more, 25) > Decimal("1000")
    assert (await engine.balance(token)).cash == Decimal("5000") - receipt.total


async def test_a_sell_by_usd_amount_brings_the_notional_less_the_fee(engine: LocalEngine, clock: Clock) -> None:
    await _friction(engine, taker_fee_bps=30)
    token = await trader(engine, "alice", "5000")
    await engine.place_order(token, buy("ETH", "1"))
    cash = (await engine.balance(token)).cash
    receipt = _receipt(await engine.place_order(token, sell("ETH", notional="500")))
    assert receipt.notional <= Decimal("500") and receipt.total == receipt.notional - fee(receipt.notional, 30)
    assert (await engine.balance(token)).cash == cash + receipt.total


@pytest.mark.parametrize("request_", [buy("ETH", "0.4"), buy("BTC", notional="777.77"), sell("ETH", "0.25")],
                         ids=["buy-quantity", "buy-usd", "sell"])
async def test_a_preview_gives_the_receipt_the_order_placed_in_the_same_second_gets(
    engine: LocalEngine, clock: Clock, request_: object
) -> None:
    token = await trader(engine, "alice", "10000")
    await engine.place_order(token, buy("ETH", "1"))
    await _friction(engine, taker_fee_bps=12, spread_bps=8, slippage_bps_per_1000_usd=4)
    clock.advance(30.2)
    balance, orders = await engine.balance(token), (await engine.orders(token)).total
    preview = await engine.preview_order(token, request_)  # type: ignore[arg-type]
    assert (await engine.balance(token), (await engine.orders(token)).total) == (balance, orders)  # nothing placed
    assert not preview.rests and preview.reserved is None
    clock.advance(0.5)  # the same second
    placed = await engine.place_order(token, request_)  # type: ignore[arg-type]
    assert preview.receipt == placed.receipt
    assert preview.reference_price == _receipt(placed).reference_price


async def test_a_resting_limit_buy_reserves_at_its_limit_with_the_maker_fee_and_fills_as_a_maker(
    engine: LocalEngine, clock: Clock
) -> None:
    await _friction(engine, maker_fee_bps=5, taker_fee_bps=20, spread_bps=30, slippage_bps_per_1000_usd=10)
    token = await trader(engine, "alice", "10000")
    clock.advance(3600)
    tick, low = first_low(engine.market, "ETH", clock())
    request_ = buy("ETH", "0.9", type="limit", limit_price=str(low))
    preview = await engine.preview_order(token, request_)
    held = cost("0.9", low) + fee(cost("0.9", low), 5)
    assert (preview.rests, preview.reserved, preview.receipt) == (True, held, None)

    order = await engine.place_order(token, request_)
    assert (order.status.value, order.reserved, order.receipt) == ("new", held, None)
    assert (await engine.balance(token)).reserved == held
    clock.now = tick + 0.25
    assert await engine.match() == 1

    filled = await engine.get_order(token, order.id)
    receipt = _receipt(filled)
    assert (filled.status.value, filled.type, filled.price) == ("filled", OrderType.LIMIT, low)
    assert (receipt.liquidity, receipt.reference_price, receipt.spread, receipt.slippage, receipt.price) == (
        "maker", low, 0, 0, low)
    assert (receipt.fee_bps, receipt.fee, receipt.total) == (5, fee(cost("0.9", low), 5), held)
    balance = await engine.balance(token)
    assert (balance.cash, balance.reserved) == (Decimal("10000") - held, 0)


async def test_fees_go_to_the_fee_account_and_pnl_counts_them(engine: LocalEngine, clock: Clock) -> None:
    await _friction(engine, maker_fee_bps=7, taker_fee_bps=15, spread_bps=10)
    alice = await trader(engine, "alice", "20000")
    bob = await trader(engine, "bob", "20000")
    orders = [await engine.place_order(alice, buy("ETH", "1.3")),
              await engine.place_order(bob, buy("BTC", notional="2500"))]
    clock.advance(600)
    tick, low = first_low(engine.market, "SOL", clock())
    resting = await engine.place_order(alice, buy("SOL", "3", type="limit", limit_price=str(low)))
    orders.append(await engine.place_order(alice, sell("ETH", "0.6")))
    clock.now = tick
    await engine.match()
    orders.append(await engine.get_order(alice, resting.id))
    clock.advance(900)
    orders.append(await engine.place_order(bob, sell("BTC", "0.001")))

    fees = [_receipt(o).fee for o in orders]
    assert all(f > 0 for f in fees)
    report = await engine.admin_verify(engine.operator_token)
    assert report.ok, report.problems
    assert report.fees_collected == sum(fees)
    assert all(total == 0 for total in report.sums.values())

    alice_pnl = await engine.pnl(alice)
    assert alice_pnl.fees == sum(_receipt(o).fee for o in orders[:1] + orders[2:4])
    assert {line.symbol: line.fees for line in alice_pnl.lines} == {
        "ETH": _receipt(orders[0]).fee + _receipt(orders[2]).fee, "SOL": _receipt(orders[3]).fee}
    assert_reconciles(alice_pnl, await engine.portfolio(alice))
    bob_pnl = await engine.pnl(bob)
    assert bob_pnl.fees == _receipt(orders[1]).fee + _receipt(orders[4]).fee
    assert_reconciles(bob_pnl, await engine.portfolio(bob))
    # realized P&L is before fees: proceeds minus the cost basis of the lots the sale closed
    sale = orders[2]
    assert sale.realized_pnl == _receipt(sale).notional - share(_receipt(orders[0]).notional, "0.6", "1.3")


@pytest.mark.parametrize(("update", "code"), [
    ({"taker_fee_bps": "-1"}, "invalid_amount"),
    ({"maker_fee_bps": "1000.01"}, "invalid_amount"),
    ({"spread_bps": "5000"}, "invalid_amount"),
    ({"slippage_bps_per_1000_usd": "-0.5"}, "invalid_amount"),
    ({"spread_bps": "abc"}, "invalid_amount"),
    ({"cost_method": "lifo"}, "validation_error"),
    ({"rebate_bps": "1"}, "validation_error"),
    ({}, "validation_error"),
])
async def test_bad_settings_are_refused_with_a_stable_code_and_change_nothing(
    engine: LocalEngine, update: dict[str, str], code: str
) -> None:
    before = await engine.ledger_settings(engine.operator_token)  # type: ignore[arg-type]
    with pytest.raises(errors.ValidationError) as caught:
        await engine.admin_update_settings(engine.operator_token, SettingsUpdate.model_validate(update))
    assert caught.value.code == code
    assert await engine.ledger_settings(engine.operator_token) == before  # type: ignore[arg-type]


async def test_the_bounds_of_a_setting_are_accepted(engine: LocalEngine) -> None:
    settings = await _friction(engine, taker_fee_bps="1000", maker_fee_bps="0", spread_bps="0.5")
    assert (settings.taker_fee_bps, settings.maker_fee_bps, settings.spread_bps) == (1000, 0, Decimal("0.5"))
    assert settings.cost_method == "fifo"  # left out, left as it was


async def test_a_customer_reads_the_settings_but_cannot_change_them(engine: LocalEngine) -> None:
    await _friction(engine, taker_fee_bps=9)
    token = await trader(engine, "alice")
    assert (await engine.ledger_settings(token)).taker_fee_bps == 9
    with pytest.raises(errors.Forbidden):
        await engine.admin_update_settings(token, SettingsUpdate(taker_fee_bps=Decimal(0)))
    assert (await engine.ledger_settings(token)).taker_fee_bps == 9
    await engine.admin_set_role(engine.operator_token, "alice", "admin")  # type: ignore[arg-type]
    assert (await engine.admin_update_settings(token, SettingsUpdate(taker_fee_bps=Decimal(2)))).taker_fee_bps == 2
    changes = [e for e in (await engine.admin_audit(engine.operator_token)).items if e.action == "settings_change"]
    assert [(e.actor, e.detail) for e in changes] == [("alice", {"taker_fee_bps": "2"}), ("operator", {"taker_fee_bps": "9"})]


async def test_new_fees_apply_to_fills_from_then_on_and_old_receipts_stay(engine: LocalEngine, clock: Clock) -> None:
    token = await trader(engine, "alice", "10000")
    first = await engine.place_order(token, buy("ETH", "0.5"))
    await _friction(engine, taker_fee_bps=50)
    second = await engine.place_order(token, buy("ETH", "0.5"))
    assert (await engine.get_order(token, first.id)).receipt == first.receipt
    assert (_receipt(first).fee, _receipt(second).fee) == (0, fee(_receipt(second).notional, 50))
