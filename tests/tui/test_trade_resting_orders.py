"""Limit and stop orders in the terminal: drafted on the ticket, confirmed, resting with what they
reserve, listed and canceled on the Orders page, filled by the price loop while the app is open.

Each test checks what the screen shows and what the engine recorded. The market is a function of
the test clock (`clock.advance` moves it).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, Protocol

import pytest
from textual.widgets import Input

from orderproc.engine import errors
from orderproc.engine.domain.money import cents_to_cash, notional_cents, to_units
from orderproc.engine.schemas import (
    Asset,
    OrderRequest,
    OrderStatus,
    OrderType,
    SettingsUpdate,
    Side,
    TimeInForce,
)
from orderproc.engine.service import LocalEngine
from orderproc.formatting import price, usd
from orderproc.tui.order_draft import draft_order
from orderproc.tui.order_words import explanation
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.dialogs import ConfirmDialog
from orderproc.tui.screens.orders import OrdersScreen
from orderproc.tui.screens.trade import TradeScreen
from orderproc.tui.widgets.order_tables import OpenOrdersTable, OrderHistoryTable
from tui_helpers import MakeApp, MemoryStore, on_page, open_ticket, text, wait_until

PASSWORD = "hunter22"
SIZE = (80, 24)


class Clock(Protocol):
    now: float

    def advance(self, seconds: float) -> None: ...


async def customer(engine: LocalEngine, cash: str) -> str:
    await engine.register("alice", PASSWORD)
    token = (await engine.login("alice", PASSWORD)).token
    await engine.deposit(token, Decimal(cash))
    return token


def dialog_text(app: Any) -> str:
    screen = app.screen
    assert isinstance(screen, ConfirmDialog)
    return f"{text(app, '.dialog-title')}\n{text(app, '.dialog-body')}"


def notified(app: Any, title: str) -> list[str]:
    """The messages of the notifications whose title starts with `title`."""
    return [n.message for n in app._notifications if (n.title or "").startswith(title)]


async def type_limit_order(pilot: Any, quantity: str, limit: str) -> None:
    """On the ticket, with the amount focused: a quantity, `k` for a limit order, its price."""
    await pilot.press(*quantity, "k", "tab", *limit)


# -- a limit buy rests, reserves cash, and is canceled -----------------------------------------


async def test_a_limit_buy_below_the_price_rests_reserving_cash_until_canceled_on_the_orders_page(
    engine: LocalEngine, make_app: MakeApp
) -> None:
    token = await customer(engine, "1000")
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        ticket = await open_ticket(pilot, "ETH")
        assert ticket.quote is not None and ticket.quote.price > 3000

        # a limit order by keys: k for limit, Tab to its price; the preview says what it reserves
        await type_limit_order(pilot, "0.1", "3000")
        assert ticket.kind is OrderType.LIMIT and ticket.query_one("#ticket-limit-price", Input).has_focus
        await wait_until(pilot, lambda: "Reserves $300.00" in text(app, "#ticket-preview"))
        assert "fills when ETH ≤ $3,000.00" in text(app, "#ticket-preview")
        assert not ticket.query_one("#ticket-mode").display  # limit orders are by quantity only

        # the confirmation says the same; y places it; the result says it rests
        await pilot.press("enter")
        await on_page(pilot, ConfirmDialog)
        asked = dialog_text(app)
        assert "Confirm limit buy" in asked and "at $3,000.00 or less" in asked
        assert "reserves $300.00 of your cash until it fills or you cancel it" in asked
        await pilot.press("y")
        await wait_until(pilot, lambda: "Resting as order #" in text(app, "#ticket-result"))
        assert "fills when ETH ≤ $3,000.00 · $300.00 reserved" in text(app, "#ticket-result")
        assert notified(app, "order #1 resting")

        [order] = (await engine.orders(token, open=True)).items
        assert order.type is OrderType.LIMIT and order.limit_price == Decimal("3000")
        assert order.reserved == Decimal("300.00")
        balance = await engine.balance(token)
        assert (balance.cash, balance.reserved, balance.available) == (Decimal("1000"), Decimal("300"), Decimal("700"))
        await wait_until(pilot, lambda: "$700.00 available" in text(app, "#ticket-holdings"))

        # Account: the cash and what of it is reserved
        await pilot.press("escape", "a")
        await wait_until(pilot, lambda: "$300.00 reserved · $700.00 available" in text(app, "#cash-reserved"))

        # Orders: the open order; c asks, y cancels it, the reservation is released
        await pilot.press("o")
        page = await on_page(pilot, OrdersScreen)
        open_orders = page.query_one(OpenOrdersTable)
        await wait_until(pilot, lambda: open_orders.row_count == 1)
        assert "1 open · $300.00 reserved" in text(app, "#orders-summary")
        shown = [str(getattr(c, "plain", c)) for c in open_orders.get_row_at(0)]
        assert shown[:5] == ["1", "limit buy", "0.1 ETH", "≤ $3,000.00", "$300.00"]
        assert open_orders.has_focus

        await pilot.press("c")
        await on_page(pilot, ConfirmDialog)
        assert "Cancel order #1?" in dialog_text(app) and "releases $300.00" in dialog_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: "no open orders" in text(app, "#orders-summary"))
        assert notified(app, "canceled #1") == ["$300.00 released"]
        history = page.query_one(OrderHistoryTable)
        await wait_until(pilot, lambda: history.row_count == 1)
        assert str(history.get_cell("1", "status")) == "canceled"

    assert (await engine.get_order(token, order.id)).status is OrderStatus.CANCELED
    balance = await engine.balance(token)
    assert (balance.reserved, balance.available) == (Decimal("0"), Decimal("1000"))


async def test_cancel_all_asks_first_and_no_keeps_every_order(engine: LocalEngine, make_app: MakeApp) -> None:
    token = await customer(engine, "1000")
    for limit in ("2000", "2500"):
        await engine.place_order(token, OrderRequest(symbol="ETH", side=Side.BUY, type=OrderType.LIMIT,
                                                     quantity=Decimal("0.1"), limit_price=Decimal(limit)))
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        await pilot.press("o")
        page = await on_page(pilot, OrdersScreen)
        table = page.query_one(OpenOrdersTable)
        await wait_until(pilot, lambda: table.row_count == 2)
        assert "2 open · $450.00 reserved" in text(app, "#orders-summary")

        await pilot.press("C")
        await on_page(pilot, ConfirmDialog)
        assert "Cancel all 2 open orders?" in dialog_text(app) and "releases $450.00" in dialog_text(app)
        await pilot.press("n")  # no: nothing changes
        await on_page(pilot, OrdersScreen)
        assert (await engine.orders(token, open=True)).total == 2

        await pilot.press("C")
        await on_page(pilot, ConfirmDialog)
        await pilot.press("y")
        await wait_until(pilot, lambda: table.row_count == 0 and "no open orders" in text(app, "#orders-summary"))
        assert notified(app, "canceled #1, #2") == ["$450.00 released"]

    assert (await engine.orders(token, open=True)).total == 0
    assert (await engine.balance(token)).available == Decimal("1000")


async def test_canceling_an_order_no_longer_open_is_refused_with_its_code(
    engine: LocalEngine, make_app: MakeApp
) -> None:
    token = await customer(engine, "1000")
    order = await engine.place_order(token, OrderRequest(symbol="ETH", side=Side.BUY, type=OrderType.LIMIT,
                                                         quantity=Decimal("0.1"), limit_price=Decimal("2000")))
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        await pilot.press("o")
        page = await on_page(pilot, OrdersScreen)
        await wait_until(pilot, lambda: page.query_one(OpenOrdersTable).row_count == 1)
        await pilot.press("delete")
        await on_page(pilot, ConfirmDialog)
        await engine.cancel_order(token, order.id)  # another terminal was quicker
        await pilot.press("y")
        await wait_until(pilot, lambda: notified(app, "order_not_open"))
        assert "order 1 is canceled" in notified(app, "order_not_open")[0]
        await wait_until(pilot, lambda: page.query_one(OpenOrdersTable).row_count == 0)


# -- stop orders and IOC: the preview is honest ----------------------------------------------------


async def test_a_stop_order_preview_says_when_it_trades_what_it_reserves_and_when_it_would_be_refused(
    engine: LocalEngine, make_app: MakeApp
) -> None:
    token = await customer(engine, "1000")
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        ticket = await open_ticket(pilot, "ETH")
        assert ticket.quote is not None
        now = ticket.quote.price
        # k twice: a stop order; its price field replaces the limit's
        await pilot.press(*"0.1", "k", "k", "tab", *"4500")
        assert ticket.kind is OrderType.STOP
        assert ticket.query_one("#ticket-stop-price", Input).has_focus
        assert not ticket.query_one("#ticket-limit-price-field").display
        await wait_until(pilot, lambda: "Reserves $450.00 (at the stop)" in text(app, "#ticket-preview"))
        preview = text(app, "#ticket-preview")
        assert f"Stop buy 0.1 ETH buys at market when ETH ≥ $4,500.00 (now {price(now)})" in preview
        assert "may fill higher" in preview
        assert not ticket.query_one("#ticket-warning").display

        # the confirmation says when it trades and what it holds back, in the engine's figures
        await pilot.press("enter")
        await on_page(pilot, ConfirmDialog)
        asked = dialog_text(app)
        assert "Stop buy 0.1 ETH at market when ETH ≥ $4,500.00?" in asked
        assert "When it reaches $4,500.00, the order buys at the price of that second" in asked
        assert "It reserves $450.00 of your cash" in asked
        await pilot.press("n")
        await on_page(pilot, TradeScreen)

        # a buy stop below the price is refused by the engine: warned as typed, and the engine's
        # preview refuses it before any confirmation, by the field
        stop = ticket.query_one("#ticket-stop-price", Input)
        stop.focus()
        await pilot.press(*["backspace"] * len(stop.value), *"3000")
        await wait_until(pilot, lambda: "A buy stop must be above the price" in text(app, "#ticket-warning"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: "invalid_amount" in text(app, "#ticket-stop-price-error"))
        assert not isinstance(app.screen, ConfirmDialog)
        assert notified(app, "invalid_amount") and stop.has_focus and not ticket.pending

        # a stop-limit sell of more than is held: it says so
        await pilot.press("s", "k", "tab", *"2900")
        assert ticket.kind is OrderType.STOP_LIMIT and ticket.side is Side.SELL
        assert ticket.query_one("#ticket-limit-price", Input).value == "2900"
        await wait_until(pilot, lambda: "Reserves 0.1 ETH · you receive at least $290.00" in text(app, "#ticket-preview"))
        assert "Stop-limit sell 0.1 ETH when ETH ≤ $3,000.00, a limit sell at ≥ $2,900.00" in text(
            app, "#ticket-preview")
        await wait_until(pilot, lambda: "That is more than you hold (0 ETH)" in text(app, "#ticket-warning"))

    assert (await engine.orders(token)).total == 0
    assert (await engine.balance(token)).available == Decimal("1000")


async def test_an_ioc_limit_order_the_price_has_not_reached_is_shown_expired(
    engine: LocalEngine, make_app: MakeApp
) -> None:
    token = await customer(engine, "1000")
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        ticket = await open_ticket(pilot, "ETH")
        await type_limit_order(pilot, "0.1", "3000")
        await pilot.press("i")  # immediate or cancel
        assert ticket.tif is TimeInForce.IOC
        await wait_until(pilot, lambda: "this IOC order would expire" in text(app, "#ticket-warning"))
        assert "nothing is reserved" in text(app, "#ticket-preview")
        await pilot.press("enter")
        await on_page(pilot, ConfirmDialog)
        assert "would expire unfilled now" in dialog_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: "Expired · order #1" in text(app, "#ticket-result"))

    [order] = (await engine.orders(token)).items
    assert order.status is OrderStatus.EXPIRED and order.time_in_force is TimeInForce.IOC
    assert (await engine.balance(token)).reserved == Decimal("0")


async def test_on_a_ledger_with_fees_the_confirmation_and_the_result_show_the_engines_figures(
    engine: LocalEngine, make_app: MakeApp
) -> None:
    await engine.admin_update_settings(engine.operator_token, SettingsUpdate(maker_fee_bps=Decimal("10"),
                                                                 taker_fee_bps=Decimal("10")))
    token = await customer(engine, "1000")
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        ticket = await open_ticket(pilot, "ETH")
        await wait_until(pilot, lambda: ticket.friction)

        # a market buy: the ticket's figure is before fees; the confirmation has the engine's fee
        await pilot.press(*"0.1")
        await wait_until(pilot, lambda: "before the ledger's spread and fees" in text(app, "#ticket-preview"))
        await pilot.press("enter")
        await on_page(pilot, ConfirmDialog)
        request = OrderRequest(symbol="ETH", side=Side.BUY, quantity=Decimal("0.1"))
        receipt = (await engine.preview_order(token, request)).receipt
        assert receipt is not None and receipt.fee > 0
        assert f"for about {usd(receipt.total)} including a {usd(receipt.fee)} fee?" in dialog_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: "Filled" in text(app, "#ticket-result"))
        assert f"for {usd(receipt.notional)} (+{usd(receipt.fee)} fee)" in text(app, "#ticket-result")

        # a limit buy reserves its maker fee too: $300.00 + 10 bps
        await type_limit_order(pilot, "0.1", "3000")
        await wait_until(pilot, lambda: "Reserves $300.00 + fee" in text(app, "#ticket-preview"))
        await pilot.press("enter")
        await on_page(pilot, ConfirmDialog)
        assert "It reserves $300.30 of your cash" in dialog_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: "$300.30 reserved" in text(app, "#ticket-result"))

    [resting] = (await engine.orders(token, open=True)).items
    assert resting.reserved == Decimal("300.30")


# -- the price loop fills resting orders while the terminal is open -----------------------------


async def test_a_limit_buy_fills_when_the_price_reaches_it_while_the_terminal_is_open(
    engine: LocalEngine, clock: Clock, make_app: MakeApp
) -> None:
    token = await customer(engine, "1000")
    # the limit: SOL's lowest price over the next two minutes, below its price now
    start = int(clock.now)
    wait, limit = min(((s, engine.market.price("SOL", start + s)) for s in range(1, 120)), key=lambda sp: sp[1])
    assert limit < engine.market.price("SOL", start)
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        ticket = await open_ticket(pilot, "SOL")
        await type_limit_order(pilot, "1", format(limit, "f"))
        await wait_until(pilot, lambda: "Reserves" in text(app, "#ticket-preview"))
        await pilot.press("enter")
        await on_page(pilot, ConfirmDialog)
        await pilot.press("y")
        await wait_until(pilot, lambda: "Resting as order #1" in text(app, "#ticket-result"))
        [resting] = (await engine.orders(token, open=True)).items
        # the terminal keeps the order it placed among those it watches for a fill
        assert list(app.open_orders) == [resting.id]
        assert app.open_orders[resting.id].limit_price == limit

        clock.advance(wait)  # the price comes down to the limit: the price loop fills the order
        await wait_until(pilot, lambda: notified(app, "order #1 filled"))
        sol = await engine.get_asset("SOL")
        cost = cents_to_cash(notional_cents(to_units("1", sol.precision), sol.precision, limit, buyer=True))
        assert notified(app, "order #1 filled") == [f"Bought 1 SOL at {price(limit)} for {usd(cost)}"]
        # the Trade page hears of it: the holdings line and its recent orders
        assert isinstance(app.screen, TradeScreen)
        await wait_until(pilot, lambda: "you hold 1 SOL" in text(app, "#ticket-holdings"))
        recent = app.screen.query_one(OrderHistoryTable)
        await wait_until(pilot, lambda: recent.row_count == 1 and str(recent.get_cell("1", "status")) == "filled")
        assert not app.open_orders and ticket.symbol == "SOL"

    order = await engine.get_order(token, 1)
    assert order.status is OrderStatus.FILLED and order.price == limit
    balance = await engine.balance(token)
    assert balance.reserved == Decimal("0") and balance.cash == Decimal("1000") - cost


async def test_the_terminal_runs_the_price_loop_for_as_long_as_it_is_open(
    engine: LocalEngine, make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even with nobody logged in: the loop matches every user's resting orders on this ledger."""
    runs: list[str] = []
    run_price_loop = engine.run_price_loop

    async def spy(interval: float = 1.0) -> None:
        runs.append("started")
        try:
            await run_price_loop(interval)
        except asyncio.CancelledError:
            runs.append("stopped")
            raise

    monkeypatch.setattr(engine, "run_price_loop", spy)
    app = make_app(MemoryStore())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: runs)
        loops = [w for w in app.workers if w.group == "price-loop"]
        assert len(loops) == 1 and not loops[0].is_finished
    assert runs == ["started", "stopped"]


# -- the draft: what a resting order reserves ------------------------------------------------------


def _asset(precision: int = 8) -> Asset:
    return Asset.model_construct(symbol="BTC", name="Bitcoin", category="coin", rank=1, price=Decimal("100000"),
                                 change_24h=Decimal(0), reference_price=Decimal("100000"), reference_date="",
                                 source="", volatility=Decimal(0), precision=precision)


def test_a_resting_buy_reserves_its_quantity_at_its_limit_rounded_up_to_the_cent() -> None:
    draft = draft_order(_asset(), Decimal("100000"), Side.BUY, "quantity", "0.00001234", "", "key",
                        kind=OrderType.LIMIT, limit_price_text="99999.99")
    assert not draft.fills_now and draft.reserve == Decimal("1.24")  # 1.2339999 rounded up
    assert draft.request.time_in_force is TimeInForce.GTC and draft.request.notional is None


def test_a_resting_sell_reserves_its_quantity_and_a_stop_order_its_quantity_at_the_stop() -> None:
    sell = draft_order(_asset(), Decimal("100000"), Side.SELL, "quantity", "0.5", "", "key",
                       kind=OrderType.STOP, stop_price_text="90000")
    assert sell.reserve == Decimal("0.5") and sell.request.stop_price == Decimal("90000")
    buy = draft_order(_asset(), Decimal("100000"), Side.BUY, "quantity", "0.5", "", "key",
                      kind=OrderType.STOP_LIMIT, stop_price_text="110000", limit_price_text="111000")
    assert buy.reserve == Decimal("55500.00")  # at the limit, which is what it can pay


def test_a_limit_order_the_price_has_reached_fills_now_and_reserves_nothing() -> None:
    draft = draft_order(_asset(), Decimal("100000"), Side.BUY, "quantity", "0.5", "", "key",
                        kind=OrderType.LIMIT, limit_price_text="100500")
    assert draft.fills_now and draft.reserve is None and draft.cash == Decimal("50000.00")
    assert "it fills now" in explanation(draft)


def test_a_limit_order_takes_a_quantity_even_when_the_ticket_was_on_usd() -> None:
    draft = draft_order(_asset(), Decimal("100000"), Side.BUY, "usd", "0.5", "", "key",
                        kind=OrderType.LIMIT, limit_price_text="90000")
    assert draft.request.quantity == Decimal("0.5") and draft.request.notional is None


@pytest.mark.parametrize(("limit", "message"), [("", "enter a limit price"), ("0", "greater than zero"),
                                                 ("1.2.3", "not a number")])
def test_a_missing_or_bad_limit_price_is_an_error_by_its_field(limit: str, message: str) -> None:
    with pytest.raises(errors.InvalidAmount, match=message) as caught:
        draft_order(_asset(), Decimal("100000"), Side.BUY, "quantity", "0.5", "", "key",
                    kind=OrderType.LIMIT, limit_price_text=limit)
    assert caught.value.details["field"] == "limit_price"
