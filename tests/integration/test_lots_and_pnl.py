"""Lots and P&L on a real ledger with a fake clock: every buy opens a lot, a sell closes lots by
the ledger's cost method (FIFO for a new ledger, the average, or a named lot first) with its
realized P&L exact to the cent, and the P&L report reconciles with the cash journal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import Clock
from depth_helpers import assert_reconciles, buy, cost, execute, proceeds, sell, share, trader

from orderproc.engine import errors
from orderproc.engine.schemas import SettingsUpdate
from orderproc.engine.service import LocalEngine

HOUR = 3600


@pytest.fixture(autouse=True)
async def _ledger_checks_out_after_each_test(request: pytest.FixtureRequest, engine: LocalEngine) -> AsyncIterator[None]:
    yield
    if "tampered" not in request.node.name:
        report = await engine.admin_verify(engine.operator_token)
        assert report.ok, report.problems


async def _two_eth_lots(engine: LocalEngine, clock: Clock, token: str) -> tuple[Decimal, Decimal]:
    """Buy 0.5 ETH, an hour later 0.75 ETH: the two buys' notionals."""
    first = await engine.place_order(token, buy("ETH", "0.5"))
    clock.advance(HOUR)
    second = await engine.place_order(token, buy("ETH", "0.75"))
    clock.advance(HOUR)
    assert first.notional is not None and second.notional is not None
    return first.notional, second.notional


async def test_every_buy_opens_a_lot_at_what_it_cost(engine: LocalEngine, clock: Clock) -> None:
    token = await trader(engine, "alice", "10000")
    t0 = clock()
    c1, c2 = await _two_eth_lots(engine, clock, token)
    assert c1 == cost("0.5", engine.market.price("ETH", t0))
    assert c2 == cost("0.75", engine.market.price("ETH", t0 + HOUR))

    lots = await engine.lots(token)
    orders = (await engine.orders(token)).items
    assert [(lot.symbol, lot.order_id, lot.quantity, lot.cost, lot.remaining, lot.remaining_cost) for lot in lots] == [
        ("ETH", orders[1].id, Decimal("0.5"), c1, Decimal("0.5"), c1),
        ("ETH", orders[0].id, Decimal("0.75"), c2, Decimal("0.75"), c2),
    ]
    price = engine.market.price("ETH", clock())
    for lot in lots:
        assert lot.price == price
        assert lot.market_value == (lot.remaining * price).quantize(Decimal("0.01"))
        assert lot.unrealized_pnl == lot.market_value - lot.remaining_cost
    assert sum(lot.remaining_cost for lot in lots) == (await engine.portfolio(token)).positions[0].cost_basis


async def test_a_sell_across_two_lots_closes_them_oldest_first_with_exact_realized_pnl(
    engine: LocalEngine, clock: Clock
) -> None:
    token = await trader(engine, "alice", "10000")
    assert (await engine.ledger_settings(token)).cost_method == "fifo"
    c1, c2 = await _two_eth_lots(engine, clock, token)
    [first, second] = await engine.lots(token)

    sale = await engine.place_order(token, sell("ETH", "0.8"))
    assert sale.notional == proceeds("0.8", engine.market.price("ETH", clock()))
    # all of the first lot, 0.3 of the 0.75 of the second at its own cost (rounded down)
    taken = c1 + share(c2, "0.3", "0.75")
    assert sale.realized_pnl == sale.notional - taken
    assert (await engine.get_order(token, sale.id)).realized_pnl == sale.realized_pnl

    [left] = await engine.lots(token)
    assert (left.id, left.remaining, left.remaining_cost) == (second.id, Decimal("0.45"), c2 - share(c2, "0.3", "0.75"))
    closed = await engine.lots(token, closed=True)
    assert [(lot.id, lot.remaining, lot.remaining_cost, lot.cost) for lot in closed] == [
        (first.id, Decimal("0"), Decimal("0.00"), c1),
        (second.id, Decimal("0.45"), left.remaining_cost, c2),
    ]
    assert (await engine.portfolio(token)).positions[0].cost_basis == left.remaining_cost


async def test_a_sell_naming_a_lot_closes_that_lot_first_then_the_oldest(engine: LocalEngine, clock: Clock) -> None:
    token = await trader(engine, "alice", "10000")
    c1, c2 = await _two_eth_lots(engine, clock, token)
    [first, second] = await engine.lots(token)

    sale = await engine.place_order(token, sell("ETH", "1", lot_id=second.id))
    assert sale.lot_id == second.id
    # the named lot's 0.75 at its whole cost, then 0.25 of the 0.5 of the oldest
    assert sale.realized_pnl == sale.notional - c2 - share(c1, "0.25", "0.5")
    [left] = await engine.lots(token)
    assert (left.id, left.remaining, left.remaining_cost) == (first.id, Decimal("0.25"), c1 - share(c1, "0.25", "0.5"))


async def test_a_sell_smaller_than_the_named_lot_leaves_the_older_lot_untouched(
    engine: LocalEngine, clock: Clock
) -> None:
    token = await trader(engine, "alice", "10000")
    c1, c2 = await _two_eth_lots(engine, clock, token)
    [first, second] = await engine.lots(token)
    sale = await engine.place_order(token, sell("ETH", "0.25", lot_id=second.id))
    assert sale.realized_pnl == sale.notional - share(c2, "0.25", "0.75")
    lots = await engine.lots(token)
    assert [(lot.id, lot.remaining, lot.remaining_cost) for lot in lots] == [
        (first.id, Decimal("0.5"), c1), (second.id, Decimal("0.5"), c2 - share(c2, "0.25", "0.75"))]


async def _state(engine: LocalEngine, token: str) -> tuple[object, ...]:
    return ((await engine.balance(token)), await engine.lots(token, closed=True), (await engine.orders(token)).total,
            (await engine.history(token)).total, await engine.portfolio(token))


async def test_a_lot_that_is_not_an_open_lot_of_that_asset_is_not_found_and_nothing_changes(
    engine: LocalEngine, clock: Clock
) -> None:
    token = await trader(engine, "alice", "20000")
    await engine.place_order(token, buy("ETH", "0.5"))
    await engine.place_order(token, buy("BTC", "0.01"))
    await engine.place_order(token, buy("ETH", "0.2"))
    eth_lot, other_eth = [lot for lot in await engine.lots(token) if lot.symbol == "ETH"]
    btc_lot = (await engine.lots(token, symbol="BTC"))[0]
    await engine.place_order(token, sell("ETH", "0.5", lot_id=eth_lot.id))  # empties that lot
    bob = await trader(engine, "bob", "5000")
    await engine.place_order(bob, buy("ETH", "0.1"))
    bobs_lot = (await engine.lots(bob))[0]
    before = await _state(engine, token)

    for lot_id in (eth_lot.id, btc_lot.id, bobs_lot.id, 10_000):
        with pytest.raises(errors.NotFound) as caught:
            await engine.place_order(token, sell("ETH", "0.1", lot_id=lot_id))
        assert caught.value.code == "not_found"
        assert caught.value.details == {"lot_id": lot_id}
    assert await _state(engine, token) == before
    assert [lot.id for lot in await engine.lots(token, symbol="ETH")] == [other_eth.id]


async def test_a_lot_on_a_buy_is_a_validation_error_and_nothing_changes(engine: LocalEngine, clock: Clock) -> None:
    token = await trader(engine, "alice", "10000")
    await engine.place_order(token, buy("ETH", "0.5"))
    lot = (await engine.lots(token))[0]
    before = await _state(engine, token)
    with pytest.raises(errors.ValidationError) as caught:
        await engine.place_order(token, buy("ETH", "0.1", lot_id=lot.id))
    assert caught.value.code == "validation_error" and caught.value.details == {"field": "lot_id"}
    assert await _state(engine, token) == before


async def test_the_average_method_removes_the_average_cost_and_the_open_lots_share_the_rest(
    engine: LocalEngine, clock: Clock
) -> None:
    updated = await engine.admin_update_settings(engine.operator_token, SettingsUpdate(cost_method="average"))
    assert updated.cost_method == "average"
    token = await trader(engine, "alice", "10000")
    c1, c2 = await _two_eth_lots(engine, clock, token)
    [first, second] = await engine.lots(token)

    sale = await engine.place_order(token, sell("ETH", "0.8"))
    # 0.8 of the 1.25 held at the position's average cost, rounded down to the cent
    removed = share(c1 + c2, "0.8", "1.25")
    assert sale.realized_pnl == sale.notional - removed
    # the quantity still leaves the oldest lot first; the open lot carries the whole rest
    [left] = await engine.lots(token)
    assert (left.id, left.remaining, left.remaining_cost) == (second.id, Decimal("0.45"), c1 + c2 - removed)
    assert (await engine.portfolio(token)).positions[0].cost_basis == c1 + c2 - removed
    # the emptied lot keeps no cost (it kept its own cost less the average's share before the fix)
    emptied = (await engine.lots(token, closed=True))[0]
    assert (emptied.id, emptied.remaining, emptied.remaining_cost) == (first.id, 0, 0)
    verify = await engine.admin_verify(engine.operator_token)
    assert verify.ok, verify.problems
    report = await engine.pnl(token)
    assert report.cost_method == "average"
    assert report.realized_pnl == sale.realized_pnl


async def test_under_the_average_method_several_open_lots_share_the_remaining_cost_by_their_units(
    engine: LocalEngine, clock: Clock
) -> None:
    await engine.admin_update_settings(engine.operator_token, SettingsUpdate(cost_method="average"))
    token = await trader(engine, "alice", "10000")
    c1, c2 = await _two_eth_lots(engine, clock, token)
    await engine.place_order(token, sell("ETH", "0.2"))
    remaining = c1 + c2 - share(c1 + c2, "0.2", "1.25")
    first, second = await engine.lots(token)
    assert (first.remaining, second.remaining) == (Decimal("0.3"), Decimal("0.75"))
    assert first.remaining_cost == share(remaining, "0.3", "1.05")
    assert second.remaining_cost == remaining - first.remaining_cost


async def test_pnl_lines_and_totals_reconcile_with_equity_minus_net_deposits(engine: LocalEngine, clock: Clock) -> None:
    token = await trader(engine, "alice", "20000")
    await engine.withdraw(token, "1500.50")
    c1, c2 = await _two_eth_lots(engine, clock, token)
    eth_sale = await engine.place_order(token, sell("ETH", "0.8"))
    btc = await engine.place_order(token, buy("BTC", "0.01"))
    clock.advance(HOUR)
    btc_sale = await engine.place_order(token, sell("BTC", "0.01"))  # sold out
    clock.advance(HOUR)

    report = await engine.pnl(token)
    assert_reconciles(report, await engine.portfolio(token))
    assert report.net_deposits == Decimal("18499.50")
    assert report.fees == 0
    lines = {line.symbol: line for line in report.lines}
    assert set(lines) == {"ETH", "BTC"}
    eth_price = engine.market.price("ETH", clock())
    held_cost = c1 + c2 - (eth_sale.notional - eth_sale.realized_pnl)  # type: ignore[operator]
    eth = lines["ETH"]
    assert (eth.quantity, eth.cost_basis, eth.realized_pnl) == (Decimal("0.45"), held_cost, eth_sale.realized_pnl)
    assert eth.market_value == (Decimal("0.45") * eth_price).quantize(Decimal("0.01"))
    btc_line = lines["BTC"]
    assert (btc_line.quantity, btc_line.cost_basis, btc_line.market_value, btc_line.unrealized_pnl) == (0, 0, 0, 0)
    assert btc_line.realized_pnl == btc_sale.notional - btc.notional  # type: ignore[operator]
    assert report.realized_pnl == eth_sale.realized_pnl + btc_sale.realized_pnl  # type: ignore[operator]
    assert report.equity == (await engine.balance(token)).cash + eth.market_value
    assert [line.total_pnl for line in report.lines] == sorted((line.total_pnl for line in report.lines), reverse=True)


async def test_a_new_account_has_an_empty_pnl_that_still_reconciles(engine: LocalEngine, clock: Clock) -> None:
    token = await trader(engine, "alice", "250")
    report = await engine.pnl(token)
    assert report.lines == []
    assert (report.total_pnl, report.equity, report.net_deposits) == (0, Decimal("250.00"), Decimal("250.00"))
    assert_reconciles(report, await engine.portfolio(token))


async def test_the_checker_accepts_the_lots_and_reports_a_tampered_lot(
    engine: LocalEngine, clock: Clock, ledger_path: Path
) -> None:
    token = await trader(engine, "alice", "10000")
    await _two_eth_lots(engine, clock, token)
    await engine.place_order(token, sell("ETH", "0.8"))
    assert (await engine.admin_verify(engine.operator_token)).ok
    [lot] = await engine.lots(token)

    execute(ledger_path, "UPDATE lots SET remaining_cost = remaining_cost + 1 WHERE id = ?", (lot.id,))
    report = await engine.admin_verify(engine.operator_token)
    assert not report.ok
    assert any("open lots hold" in problem for problem in report.problems), report.problems
