"""A user's journeys through the terminal, driven by keys and clicks on a real ledger.

Each test checks both what the screen shows and what the engine recorded.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from orderproc.engine import errors
from orderproc.engine.schemas import Order, OrderRequest, Role, TxKind
from orderproc.engine.service import LocalEngine
from orderproc.tui.screens.account import AccountScreen
from orderproc.tui.screens.admin import AdminScreen
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.dialogs import ConfirmDialog
from orderproc.tui.screens.login import LoginScreen
from orderproc.tui.screens.markets import MarketsScreen
from orderproc.tui.screens.portfolio import PortfolioScreen
from orderproc.tui.screens.profile import ProfileScreen
from orderproc.tui.screens.trade import TradeScreen
from orderproc.tui.widgets.asset_table import AssetTable
from orderproc.tui.widgets.order_ticket import OrderTicket
from orderproc.tui.widgets.positions_table import PositionsTable
from tui_helpers import MakeApp, MemoryStore, on_page, open_ticket, sign_up, text, wait_until

PASSWORD = "hunter22"  # short: every character is a keystroke
SIZE = (80, 24)  # the smallest screen the terminal supports: every click must reach its target


def cell(table: DataTable[Any], row: str, column: str) -> str:
    return str(getattr(value := table.get_cell(row, column), "plain", value))


def row_texts(table: DataTable[Any]) -> list[list[str]]:
    return [[str(getattr(v, "plain", v)) for v in table.get_row_at(i)] for i in range(table.row_count)]


async def logged_in(engine: LocalEngine, username: str = "alice", cash: str | None = None) -> str:
    await engine.register(username, PASSWORD)
    token = (await engine.login(username, PASSWORD)).token
    if cash is not None:
        await engine.deposit(token, Decimal(cash))
    return token


async def filled(pilot: Pilot[None]) -> str:
    app = pilot.app
    await wait_until(pilot, lambda: "Filled" in text(app, "#ticket-result"))
    return text(app, "#ticket-result")


# -- the whole journey ---------------------------------------------------------------------------


async def test_register_deposit_buy_from_markets_sell_from_portfolio_and_see_the_history(
    engine: LocalEngine, make_app: MakeApp
) -> None:
    store = MemoryStore()
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, LoginScreen)
        await sign_up(pilot, "alice", PASSWORD)
        await on_page(pilot, DashboardScreen)
        token = app.token
        assert token is not None and store.token == token

        # Account: type an amount, press Deposit
        await pilot.press("a")
        await on_page(pilot, AccountScreen)
        await wait_until(pilot, lambda: text(app, "#cash-balance") == "$0.00")
        await pilot.click("#deposit-amount")
        await pilot.press(*"10000")
        await pilot.click("#deposit")
        await wait_until(pilot, lambda: text(app, "#cash-balance") == "$10,000.00")
        assert (await engine.balance(token)).cash == Decimal("10000")
        assert app.screen.query_one("#deposit-amount", Input).value == ""

        # Markets: search, Enter to the table, Enter on BTC opens the ticket
        await pilot.press("m")
        markets = await on_page(pilot, MarketsScreen)
        table = markets.query_one(AssetTable)
        await wait_until(pilot, lambda: table.row_count > 100)
        await pilot.press("slash")
        assert markets.query_one("#markets-search", Input).has_focus
        await pilot.press(*"BTC")
        await wait_until(pilot, lambda: table.symbols == ["BTC"])
        await pilot.press("enter")
        assert table.has_focus and table.highlighted_symbol == "BTC"
        await pilot.press("enter")
        trade = await on_page(pilot, TradeScreen)
        ticket = trade.query_one(OrderTicket)
        await wait_until(pilot, lambda: ticket.symbol == "BTC" and ticket.quote is not None)

        # Trade: a quantity, Enter to review, confirm in the dialog, the fill shows
        amount = trade.query_one("#ticket-amount", Input)
        await wait_until(pilot, lambda: amount.has_focus)
        await pilot.press(*"0.01")
        await wait_until(pilot, lambda: "you pay" in text(app, "#ticket-preview"))
        await pilot.press("enter")
        await on_page(pilot, ConfirmDialog)
        await pilot.click("#confirm")
        result = await filled(pilot)
        assert "Bought 0.01 BTC" in result
        orders = await engine.orders(token)
        assert orders.total == 1 and orders.items[0].quantity == Decimal("0.01")
        assert f"order #{orders.items[0].id}" in result

        # a page key typed in the amount field stays on the ticket; Escape leaves the field
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, TradeScreen)
        # Portfolio: the BTC position
        await pilot.press("escape", "p")
        portfolio = await on_page(pilot, PortfolioScreen)
        positions = portfolio.query_one(PositionsTable)
        await wait_until(pilot, lambda: positions.symbols == ["BTC"])
        assert cell(positions, "BTC", "quantity") == "0.01"

        # select it (Enter) to trade it: the ticket opens on BTC, selling; sell half
        assert positions.has_focus
        await pilot.press("enter")
        trade = await on_page(pilot, TradeScreen)
        ticket = trade.query_one(OrderTicket)
        await wait_until(pilot, lambda: ticket.symbol == "BTC" and ticket.side.value == "sell")
        await wait_until(pilot, lambda: trade.query_one("#ticket-amount", Input).has_focus)
        await pilot.press(*"0.005", "enter")
        await on_page(pilot, ConfirmDialog)
        await pilot.press("y")
        assert "Sold 0.005 BTC" in await filled(pilot)
        held = {p.symbol: p.quantity for p in (await engine.portfolio(token)).positions}
        assert held == {"BTC": Decimal("0.005")}

        # Account: the history shows the sell, the buy and the deposit, newest first
        await pilot.press("escape", "a")
        account = await on_page(pilot, AccountScreen)
        history = account.query_one("#history-table", DataTable)
        await wait_until(pilot, lambda: history.row_count == 3)
        rows = row_texts(history)
        assert [row[1] for row in rows] == ["Sell", "Buy", "Deposit"]
        assert [row[2] for row in rows] == ["BTC", "BTC", ""]
        assert rows[0][3] == "-0.005" and rows[1][3] == "+0.01" and rows[2][4] == "+$10,000.00"
        recorded = await engine.history(token)
        assert [tx.kind for tx in recorded.items] == [TxKind.SELL, TxKind.BUY, TxKind.DEPOSIT]
        cash = (await engine.balance(token)).cash
        await wait_until(pilot, lambda: text(app, "#cash-balance") == f"${cash:,.2f}")


# -- bad input changes nothing -------------------------------------------------------------------


async def test_a_bad_deposit_or_withdrawal_shows_the_error_by_its_field_and_moves_no_money(
    engine: LocalEngine, make_app: MakeApp
) -> None:
    token = await logged_in(engine, cash="100")
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        await pilot.press("a")
        await on_page(pilot, AccountScreen)
        await wait_until(pilot, lambda: text(app, "#cash-balance") == "$100.00")
        deposit = app.screen.query_one("#deposit-amount", Input)

        # letters cannot be typed into an amount; the empty field says what it wants
        await pilot.click("#deposit-amount")
        await pilot.press(*"abc")
        assert deposit.value == ""
        await pilot.click("#deposit")
        await wait_until(pilot, lambda: "Enter an amount" in text(app, "#deposit-error"))

        # a malformed number: the engine's message, next to the field
        await pilot.click("#deposit-amount")
        await pilot.press(*"1.2.3", "enter")
        await wait_until(pilot, lambda: "invalid_amount" in text(app, "#deposit-error"))
        assert deposit.value == "1.2.3"  # left for the user to fix

        # more than the cash: insufficient funds, next to the withdraw field
        await pilot.click("#withdraw-amount")
        await pilot.press(*"500", "enter")
        await wait_until(pilot, lambda: "insufficient_funds" in text(app, "#withdraw-error"))
        assert text(app, "#cash-balance") == "$100.00"

    assert (await engine.balance(token)).cash == Decimal("100")
    assert (await engine.history(token)).total == 1  # the deposit made before the app started


async def test_a_bad_order_shows_the_error_by_the_quantity_and_places_nothing(
    engine: LocalEngine, make_app: MakeApp
) -> None:
    token = await logged_in(engine, cash="100")
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        ticket = await open_ticket(pilot, "BTC")
        amount = app.screen.query_one("#ticket-amount", Input)

        # a malformed quantity: flagged as typed, and Enter does not get to a confirmation
        await pilot.press(*"1.2.3")
        await wait_until(pilot, lambda: text(app, "#ticket-amount-error") != "")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ConfirmDialog)
        assert amount.value == "1.2.3"

        # one BTC with $100: warned before, refused by the engine after the confirmation
        await pilot.press(*["backspace"] * len(amount.value), "1")
        await wait_until(pilot, lambda: "more than your cash" in text(app, "#ticket-warning"))
        await pilot.press("enter")
        await on_page(pilot, ConfirmDialog)
        await pilot.press("y")
        await wait_until(pilot, lambda: "insufficient_funds" in text(app, "#ticket-amount-error"))
        assert "Filled" not in text(app, "#ticket-result")
        assert amount.has_focus and amount.value == "1"
        assert not ticket.pending

    assert (await engine.orders(token)).total == 0
    assert (await engine.balance(token)).cash == Decimal("100")


async def test_pressing_review_and_confirm_repeatedly_fills_the_order_once(
    engine: LocalEngine, make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await logged_in(engine, cash="1000")
    placed: list[OrderRequest] = []
    place_order = engine.place_order
    release = asyncio.Event()

    async def slow_place_order(token: str, request: OrderRequest) -> Order:
        placed.append(request)
        await release.wait()  # the order is in flight while the keys keep coming
        return await place_order(token, request)

    monkeypatch.setattr(engine, "place_order", slow_place_order)
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        await open_ticket(pilot, "ETH")
        await pilot.press(*"0.1")
        await wait_until(pilot, lambda: "you pay" in text(app, "#ticket-preview"))
        # a double Enter stops at the confirmation; y confirms
        await pilot.press("enter", "enter")
        await on_page(pilot, ConfirmDialog)
        await pilot.press("y")
        await wait_until(pilot, lambda: placed)
        assert "Placing" in text(app, "#ticket-result")
        # while the order is in flight: Enter in the field again, clicks on the (disabled) button
        await pilot.press("enter", "enter")
        await pilot.click("#ticket-submit", times=2)
        await pilot.press("y", "enter")
        assert not isinstance(app.screen, ConfirmDialog)
        release.set()
        assert "Bought 0.1 ETH" in await filled(pilot)
        await pilot.pause(0.5)
        assert not isinstance(app.screen, ConfirmDialog)

    assert len(placed) == 1
    orders = await engine.orders(token)
    assert orders.total == 1 and orders.items[0].quantity == Decimal("0.1")


async def test_a_double_enter_on_the_ticket_stops_at_the_confirmation(
    engine: LocalEngine, make_app: MakeApp
) -> None:
    token = await logged_in(engine, cash="1000")
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        await open_ticket(pilot, "ETH")
        await pilot.press(*"0.1")
        await wait_until(pilot, lambda: "you pay" in text(app, "#ticket-preview"))
        await pilot.press("enter")
        await on_page(pilot, ConfirmDialog)
        await pilot.press("enter")  # the second press of the double press
        await pilot.pause(0.2)
        assert isinstance(app.screen, ConfirmDialog)
        assert (await engine.orders(token)).total == 0


# -- session ---------------------------------------------------------------------------------------


async def test_logout_from_the_profile_returns_to_the_login_and_logging_in_again_works(
    engine: LocalEngine, make_app: MakeApp
) -> None:
    token = await logged_in(engine)
    store = MemoryStore(token)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        await pilot.press("u")
        profile = await on_page(pilot, ProfileScreen)
        await wait_until(pilot, lambda: "alice" in text(app, "#profile-summary"))
        await pilot.click("#logout")
        await on_page(pilot, LoginScreen)
        assert app.token is None and app.user is None and store.token is None
        with pytest.raises(errors.AuthRequired):
            await engine.whoami(token)
        assert profile is not app.screen

        await pilot.click("#username")
        await pilot.press(*"alice", "enter")  # Enter in the username goes to the password
        await pilot.press(*PASSWORD, "enter")
        await on_page(pilot, DashboardScreen)
        assert app.token is not None and app.token != token and store.token == app.token
        assert (await engine.whoami(app.token)).username == "alice"
        assert app.sub_title.startswith("alice · ")


async def test_an_admin_sees_the_users_and_the_ledger_verifies(engine: LocalEngine, make_app: MakeApp) -> None:
    await logged_in(engine, "alice", cash="250")
    root = await logged_in(engine, "root")
    await engine.admin_set_role(engine.operator_token, "root", Role.ADMIN)
    app = make_app(MemoryStore(root))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        assert app.is_admin
        await pilot.press("x")
        admin = await on_page(pilot, AdminScreen)
        users = admin.query_one("#users-table", DataTable)
        await wait_until(pilot, lambda: users.row_count == 2)
        rows = {row[1]: row for row in row_texts(users)}
        assert set(rows) == {"alice", "root"}
        assert rows["root"][2] == "admin" and rows["alice"][2] == "customer"
        assert "2 users · 1 admin · 0 disabled" in text(app, "#users-status")

        await pilot.press("v")
        await wait_until(pilot, lambda: "Ledger OK" in text(app, "#verify-summary"))
        assert (await engine.admin_verify(root)).ok
        sums = admin.query_one("#verify-sums", DataTable)
        assert sums.display and cell(sums, "USD", "asset") == "USD"
