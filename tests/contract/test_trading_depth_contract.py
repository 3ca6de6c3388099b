"""Lots, P&L, previews and receipts, the ledger's settings and named accounts, run against
LocalEngine and against RemoteEngine over the HTTP app in-process: the same DTOs to the last
decimal, the same error classes and codes.

Each test also reads through the ledger's own LocalEngine what it read through the engine under
test, so a DTO that lost or changed anything on its way through HTTP fails the remote run. Set-up
that is not part of the protocol (granting the admin role, moving the clock, running the price
loop) goes through the LocalEngine as its operator.
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import httpx
import pytest
from conftest import PASSWORD, Clock

from orderproc.config import Settings
from orderproc.engine import errors
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import OrderRequest, OrderStatus, Role, SettingsUpdate, TxKind
from orderproc.engine.service import LocalEngine
from orderproc.server.app import create_app
from contract_helpers import engine, ledger_checks_out, signed_up  # noqa: F401 - fixtures

CENT = Decimal("0.01")


def _order(symbol: str, side: str, **fields: Any) -> OrderRequest:
    return OrderRequest.model_validate({"symbol": symbol, "side": side, **fields})


def _low(engine: LocalEngine, clock: Clock, symbol: str) -> tuple[int, Decimal]:
    """The first tick after now whose price is a new low: a limit buy there fills then, at it."""
    first = math.floor(clock())
    lowest = engine.market.price(symbol, first)
    for tick in range(first + 1, first + 3601):
        if (price := engine.market.price(symbol, tick)) < lowest:
            return tick, price
        lowest = min(lowest, price)
    raise AssertionError(f"no new low of {symbol} within an hour")


# -- lots and P&L ------------------------------------------------------------------------------------


async def test_lots_close_oldest_first_and_a_named_lot_first_alike(api: Engine, engine: LocalEngine, clock: Clock) -> None:
    token = await signed_up(api, cash="10000")
    first = await api.place_order(token, _order("ETH", "buy", quantity="0.5"))
    clock.advance(3600)
    second = await api.place_order(token, _order("ETH", "buy", quantity="0.75"))
    clock.advance(3600)
    lots = await api.lots(token)
    assert [(lot.order_id, lot.remaining, lot.remaining_cost) for lot in lots] == [
        (first.id, Decimal("0.5"), first.notional), (second.id, Decimal("0.75"), second.notional)]
    assert lots == await engine.lots(token)

    sale = await api.place_order(token, _order("ETH", "sell", quantity="0.8"))
    taken = second.notional * Decimal("0.3") / Decimal("0.75")  # type: ignore[operator]
    assert sale.realized_pnl == sale.notional - first.notional - taken.quantize(CENT, ROUND_FLOOR)  # type: ignore[operator]
    assert sale == await engine.get_order(token, sale.id)
    closed = await api.lots(token, closed=True)
    assert [lot.remaining for lot in closed] == [0, Decimal("0.45")]
    assert closed == await engine.lots(token, closed=True)
    assert await api.lots(token, symbol="eth") == await engine.lots(token, symbol="ETH")
    assert await api.lots(token, symbol="BTC") == []

    named = await api.place_order(token, _order("ETH", "sell", quantity="0.1", lot_id=lots[1].id))
    assert named.lot_id == lots[1].id and named == await engine.get_order(token, named.id)
    with pytest.raises(errors.NotFound) as gone:
        await api.place_order(token, _order("ETH", "sell", quantity="0.1", lot_id=lots[0].id))
    assert (gone.value.code, gone.value.details) == ("not_found", {"lot_id": lots[0].id})
    with pytest.raises(errors.ValidationError) as on_a_buy:
        await api.place_order(token, _order("ETH", "buy", quantity="0.1", lot_id=lots[1].id))
    assert on_a_buy.value.code == "validation_error"
    with pytest.raises(errors.UnknownAsset):
        await api.lots(token, symbol="NOPE")
    assert (await api.orders(token)).total == 4


async def test_pnl_reconciles_and_reads_the_same_through_every_engine(
    api: Engine, engine: LocalEngine, clock: Clock
) -> None:
    token = await signed_up(api, cash="20000")
    await api.withdraw(token, "999.99")
    await api.place_order(token, _order("ETH", "buy", quantity="1.2"))
    await api.place_order(token, _order("BTC", "buy", notional="3000"))
    clock.advance(1800)
    await api.place_order(token, _order("ETH", "sell", quantity="0.7"))
    await api.place_order(token, _order("BTC", "sell", notional="1500"))
    clock.advance(1800)

    report = await api.pnl(token)
    assert report == await engine.pnl(token)
    assert report.cost_method == "fifo"
    assert report.total_pnl == report.realized_pnl + report.unrealized_pnl - report.fees
    assert report.total_pnl == report.equity - report.net_deposits
    assert report.equity == (await api.portfolio(token)).equity
    assert report.net_deposits == Decimal("19000.01")
    assert {line.symbol for line in report.lines} == {"ETH", "BTC"}


# -- fees, receipts and previews ---------------------------------------------------------------------


async def test_a_preview_is_the_receipt_of_the_order_placed_in_the_same_second(
    api: Engine, engine: LocalEngine, clock: Clock
) -> None:
    await engine.admin_update_settings(engine.operator_token, SettingsUpdate(
        taker_fee_bps=Decimal(15), spread_bps=Decimal(12), slippage_bps_per_1000_usd=Decimal(2)))
    token = await signed_up(api, cash="10000")
    for request in (_order("ETH", "buy", quantity="0.6"), _order("SOL", "buy", notional="1234.56"),
                    _order("ETH", "sell", quantity="0.2")):
        preview = await api.preview_order(token, request)
        assert preview == await engine.preview_order(token, request)
        placed = await api.place_order(token, request)
        assert preview.receipt == placed.receipt and not preview.rests
        assert placed.receipt is not None and placed.receipt.fee > 0
        assert placed == await engine.get_order(token, placed.id)
        clock.advance(61)
    tick, low = _low(engine, clock, "BTC")
    limit = _order("BTC", "buy", type="limit", quantity="0.01", limit_price=str(low))
    resting = await api.preview_order(token, limit)
    assert resting == await engine.preview_order(token, limit)
    assert resting.rests and resting.receipt is None and resting.reserved is not None
    assert (await api.place_order(token, limit)).reserved == resting.reserved
    assert (await api.orders(token, open=True)).total == 1
    with pytest.raises(errors.InvalidAmount):
        await api.preview_order(token, _order("ETH", "buy"))
    with pytest.raises(errors.UnknownAsset):
        await api.preview_order(token, _order("NOPE", "buy", quantity="1"))


async def test_a_resting_limit_buy_fills_as_a_maker_and_its_fee_reaches_the_fee_account(
    api: Engine, engine: LocalEngine, clock: Clock
) -> None:
    await engine.admin_update_settings(engine.operator_token, SettingsUpdate(maker_fee_bps=Decimal(4), taker_fee_bps=Decimal(9),
                                                                spread_bps=Decimal(20)))
    token = await signed_up(api, cash="5000")
    tick, low = _low(engine, clock, "SOL")
    order = await api.place_order(token, _order("SOL", "buy", type="limit", quantity="3", limit_price=str(low)))
    clock.now = tick
    await engine.match()
    filled = await api.get_order(token, order.id)
    assert filled == await engine.get_order(token, order.id)
    assert filled.status is OrderStatus.FILLED and filled.receipt is not None
    assert (filled.receipt.liquidity, filled.receipt.spread, filled.receipt.price) == ("maker", 0, low)
    assert filled.receipt.fee_bps == 4 and filled.receipt.total == order.reserved
    assert (await engine.admin_verify(engine.operator_token)).fees_collected == filled.receipt.fee


# -- the ledger's settings ---------------------------------------------------------------------------


async def test_settings_are_read_by_anyone_and_changed_by_an_admin_only(api: Engine, engine: LocalEngine) -> None:
    customer = await signed_up(api, "carol")
    admin = await signed_up(api, "root")
    await engine.admin_set_role(engine.operator_token, "root", Role.ADMIN)
    settings = await api.ledger_settings(customer)
    assert settings == await engine.ledger_settings(engine.operator_token)
    assert (settings.cost_method, settings.taker_fee_bps) == ("fifo", 0)

    with pytest.raises(errors.Forbidden):
        await api.admin_update_settings(customer, SettingsUpdate(taker_fee_bps=Decimal(5)))
    changed = await api.admin_update_settings(admin, SettingsUpdate(
        cost_method="average", taker_fee_bps=Decimal("7.5"), slippage_bps_per_1000_usd=Decimal(1)))
    assert (changed.cost_method, changed.taker_fee_bps, changed.maker_fee_bps, changed.slippage_bps_per_1000_usd) == (
        "average", Decimal("7.5"), 0, 1)
    assert await api.ledger_settings(customer) == changed == await engine.ledger_settings(engine.operator_token)

    for bad, code in (({"taker_fee_bps": "-1"}, "invalid_amount"), ({"spread_bps": "1000.5"}, "invalid_amount"),
                      ({}, "validation_error")):
        with pytest.raises(errors.ValidationError) as caught:
            await api.admin_update_settings(admin, SettingsUpdate.model_validate(bad))
        assert caught.value.code == code
    assert await api.ledger_settings(customer) == changed
    with pytest.raises(errors.AuthRequired):
        await api.ledger_settings("not.a.token")


async def test_bad_settings_bodies_get_a_validation_error_over_http(engine: LocalEngine) -> None:
    """What a Python caller cannot build (SettingsUpdate refuses it first) a raw HTTP client can send."""
    await engine.register("root", PASSWORD)
    await engine.admin_set_role(engine.operator_token, "root", Role.ADMIN)
    token = (await engine.login("root", PASSWORD)).token
    before = await engine.ledger_settings(engine.operator_token)
    app = create_app(engine, Settings(rate_limit=0, login_limit=0, log_requests=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        for body, code in (({"cost_method": "lifo"}, "validation_error"), ({"rebate_bps": "1"}, "validation_error"),
                           ({"taker_fee_bps": 2.5}, "invalid_amount"), ({"taker_fee_bps": "NaN"}, "invalid_amount"),
                           ([1, 2], "validation_error")):
            response = await http.patch("/v1/admin/settings", json=body, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 422, (body, response.text)
            assert response.json()["error"]["code"] == code, (body, response.text)
    assert await engine.ledger_settings(engine.operator_token) == before


# -- named accounts ----------------------------------------------------------------------------------


async def test_accounts_are_created_switched_and_listed_alike(api: Engine, engine: LocalEngine) -> None:
    main = await signed_up(api, cash="300")
    made = await api.create_account(main, "swing")
    assert (made.name, made.current, made.cash) == ("swing", False, 0)
    session = await api.switch_account(main, "swing")
    assert (session.account, session.user.username) == ("swing", "alice")
    swing = session.token
    await api.deposit(swing, "50")
    listed = await api.accounts(swing)
    assert [(a.name, a.current, a.cash) for a in listed] == [("main", False, Decimal("300")), ("swing", True, Decimal("50"))]
    assert listed == await engine.accounts(swing)
    assert [a.current for a in await api.accounts(main)] == [True, False]
    assert (await api.balance(main)).cash == Decimal("300")

    with pytest.raises(errors.Conflict) as taken:
        await api.create_account(main, "swing")
    assert taken.value.code == "conflict"
    with pytest.raises(errors.ValidationError) as bad:
        await api.create_account(main, "no spaces")
    assert bad.value.code == "validation_error"
    with pytest.raises(errors.NotFound):
        await api.switch_account(main, "nope")
    bob = await signed_up(api, "bob")
    await api.create_account(bob, "bobs")
    with pytest.raises(errors.NotFound):
        await api.switch_account(main, "bobs")
    # a key used on one account is a conflict on another, not the first account's result
    await api.deposit(main, "1", key="same-key")
    with pytest.raises(errors.Conflict):
        await api.deposit(swing, "1", key="same-key")
    await api.place_order(main, _order("DOGE", "buy", quantity="100", client_order_id="same-order"))
    with pytest.raises(errors.Conflict):
        await api.place_order(swing, _order("DOGE", "buy", quantity="100", client_order_id="same-order"))
    assert (await api.balance(swing)).cash == Decimal("50") and (await api.orders(swing)).total == 0


async def test_a_reset_reads_the_same_through_every_engine(api: Engine, engine: LocalEngine, clock: Clock) -> None:
    token = await signed_up(api, cash="8000")
    await api.place_order(token, _order("ETH", "buy", quantity="1"))
    tick, low = _low(engine, clock, "SOL")
    await api.place_order(token, _order("SOL", "buy", type="limit", quantity="2", limit_price=str(low)))
    clock.advance(2)
    deposit = await api.reset_account(token, "2500.50")
    assert (deposit.kind, deposit.cash) == (TxKind.DEPOSIT, Decimal("2500.50"))
    history = await api.history(token)
    assert [t.kind for t in history.items] == [TxKind.DEPOSIT, TxKind.RESET, TxKind.BUY, TxKind.DEPOSIT]
    assert history == await engine.history(token)
    assert [o.status for o in (await api.orders(token)).items] == [OrderStatus.CANCELED, OrderStatus.FILLED]
    report = await api.pnl(token)
    assert (report.total_pnl, report.equity, report.net_deposits, report.lines) == (0, Decimal("2500.50"),
                                                                                     Decimal("2500.50"), [])
    assert report == await engine.pnl(token)
    assert await api.lots(token) == []
    [entry] = await api.leaderboard(token)
    assert (entry.username, entry.account, entry.net_deposits, entry.equity) == (
        "alice", "main", Decimal("2500.50"), Decimal("2500.50"))
    with pytest.raises(errors.InvalidAmount):
        await api.reset_account(token, "-1")
    assert (await api.balance(token)).cash == Decimal("2500.50")
