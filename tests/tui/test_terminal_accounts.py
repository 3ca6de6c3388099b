"""Named paper accounts in the terminal: open one (a taken name is refused with its code), switch
to it (the whole terminal follows), reset it to a starting cash; the header, the leaderboard and a
resumed session name the account."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import Input

from orderproc.engine.schemas import OrderRequest, Side, TxKind
from orderproc.engine.service import LocalEngine
from orderproc.tui.screens.account import AccountScreen
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.dialogs import ConfirmDialog, PromptDialog
from orderproc.tui.screens.leaderboard import LeaderboardScreen
from orderproc.tui.screens.portfolio import PortfolioScreen
from orderproc.tui.widgets.accounts_table import AccountsTable
from orderproc.tui.widgets.history_table import HistoryTable
from orderproc.tui.widgets.positions_table import PositionsTable
from orderproc.tui.widgets.summary import EquitySummary
from tui_helpers import MakeApp, MemoryStore, cell, notified, on_page, text, wait_until

PASSWORD = "hunter22"
SIZE = (80, 24)


async def customer(engine: LocalEngine) -> str:
    """alice: $10,000 in main and some ETH."""
    await engine.register("alice", PASSWORD)
    token = (await engine.login("alice", PASSWORD)).token
    await engine.deposit(token, Decimal("10000"))
    await engine.place_order(token, OrderRequest(symbol="ETH", side=Side.BUY, quantity=Decimal("1")))
    return token


async def test_open_an_account_switch_to_it_and_reset_it_to_a_starting_cash(
    engine: LocalEngine, make_app: MakeApp
) -> None:
    main = await customer(engine)
    main_cash = (await engine.balance(main)).cash
    store = MemoryStore(main)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        assert app.sub_title == "alice · main · ledger.db · live"
        # the Portfolio page, seen once: it must not show main's ETH after the switch
        await pilot.press("p")
        positions = (await on_page(pilot, PortfolioScreen)).query_one(PositionsTable)
        await wait_until(pilot, lambda: positions.symbols == ["ETH"])

        # Account, v: the accounts; n asks for a name and opens it
        await pilot.press("a")
        page = await on_page(pilot, AccountScreen)
        await wait_until(pilot, lambda: "main" in text(app, "#account-name"))
        await pilot.press("v")
        accounts = page.query_one(AccountsTable)
        await wait_until(pilot, lambda: accounts.keys == ["main"] and accounts.has_focus)
        assert cell(accounts, "main", "current") == "▸"
        await pilot.press("n")
        await on_page(pilot, PromptDialog)
        await pilot.press(*"main", "enter")  # taken: refused with its code
        await wait_until(pilot, lambda: notified(app, "conflict"))
        assert notified(app, "conflict") == ["you already have an account named 'main'"]
        assert isinstance(app.screen, AccountScreen) and accounts.keys == ["main"]
        await pilot.press("n")
        await on_page(pilot, PromptDialog)
        await pilot.press(*"swing", "enter")
        await wait_until(pilot, lambda: accounts.keys == ["main", "swing"] and accounts.selected_name == "swing")
        assert notified(app, "account") == ["Opened swing: Enter to trade it, then deposit or reset it"]
        assert [a.name for a in await engine.accounts(main)] == ["main", "swing"]

        # Enter switches: a new session trades swing; the header, the cash and the pages follow
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.account == "swing")
        swing = app.token
        assert swing is not None and swing != main and store.token == swing
        assert app.sub_title == "alice · swing · ledger.db · live"
        await wait_until(pilot, lambda: text(app, "#cash-balance") == "$0.00" and "swing" in text(app, "#account-name"))
        await wait_until(pilot, lambda: cell(accounts, "swing", "current") == "▸" and not cell(accounts, "main", "current"))
        await pilot.press("p")
        portfolio = await on_page(pilot, PortfolioScreen)
        positions = portfolio.query_one(PositionsTable)
        assert positions.symbols == []  # a page built anew, not main's with its ETH
        await wait_until(pilot, lambda: portfolio.portfolio is not None)
        assert positions.symbols == [] and portfolio.query_one("#positions-empty").display
        assert portfolio.query_one(EquitySummary).values()["summary-cash"] == "$0.00"

        # some cash and a trade in swing, then R: the starting cash, what the reset does, y
        await engine.deposit(swing, Decimal("1000"))
        await engine.place_order(swing, OrderRequest(symbol="BTC", side=Side.BUY, notional=Decimal("500")))
        await pilot.press("a")
        await on_page(pilot, AccountScreen)
        await pilot.press("R")
        prompt = await on_page(pilot, PromptDialog)
        assert prompt.query_one(Input).value == "10000"
        prompt.query_one(Input).value = ""
        await pilot.press(*"2500", "enter")
        await on_page(pilot, ConfirmDialog)
        asked = f"{text(app, '.dialog-title')}\n{text(app, '.dialog-body')}"
        assert "Reset swing to $2,500.00?" in asked
        [btc] = (await engine.portfolio(swing)).positions
        assert f"What it holds ({btc.quantity.normalize():f} BTC and $500.00 cash) goes back" in asked
        assert "$2,500.00 is deposited as its starting cash" in asked
        await pilot.press("y")
        await wait_until(pilot, lambda: text(app, "#cash-balance") == "$2,500.00")
        assert notified(app, "reset") == ["swing starts again with $2,500.00"]
        assert (await engine.balance(swing)).cash == Decimal("2500")
        assert (await engine.portfolio(swing)).positions == []

        # the history (v), filtered to resets (f, five times): the reset entry
        await pilot.press("v", *"fffff")
        history = page.query_one(HistoryTable)
        await wait_until(pilot, lambda: history.row_count == 1 and page.kind is TxKind.RESET)
        assert history.get_row_at(0)[1] == "Reset"

        # the leaderboard names the account (not main) and marks the one traded
        await pilot.press("l")
        board = await on_page(pilot, LeaderboardScreen)
        await wait_until(pilot, lambda: board.query_one("#leaderboard-table").row_count == 2)
        names = [str(name) for name in board.query_one("#leaderboard-table").get_column("trader")]
        assert sorted(names) == ["alice", "▸ alice/swing"]

    # main was not touched
    assert (await engine.balance(main)).cash == main_cash
    assert [p.symbol for p in (await engine.portfolio(main)).positions] == ["ETH"]


async def test_a_resumed_session_names_the_account_it_trades(engine: LocalEngine, make_app: MakeApp) -> None:
    main = await customer(engine)
    await engine.create_account(main, "swing")
    swing = (await engine.switch_account(main, "swing")).token
    app = make_app(MemoryStore(swing))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        assert app.sub_title == "alice · swing · ledger.db · live"
