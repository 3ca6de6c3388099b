"""The trading terminal on a real `orderproc serve`: prices pushed by the server, a trade from
the ticket, and another trader's deposit on the leaderboard within about a second."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from server_helpers import PASSWORD, server  # noqa: F401 (fixture)
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from orderproc.engine.remote import RemoteEngine
from orderproc.tui.app import OrderprocApp, SessionStore
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.dialogs import ConfirmDialog
from orderproc.tui.screens.leaderboard import LeaderboardScreen
from orderproc.tui.screens.trade import TradeScreen
from orderproc.tui.widgets.order_ticket import OrderTicket


async def until(pilot: Pilot[None], condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait (letting the app run) until `condition()` holds."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError("timed out waiting for the terminal")
        await pilot.pause(0.02)


async def test_a_terminal_on_a_server_trades_and_sees_the_others_within_a_second(
    server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, _ledger = server
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    mine, theirs = RemoteEngine(url), RemoteEngine(url)
    try:
        await mine.register("alice", PASSWORD)
        token = (await mine.login("alice", PASSWORD)).token
        await mine.deposit(token, "10000")
        store = SessionStore(mine.session_key, tmp_path / "tui.json")
        store.save("alice", token)
        app = OrderprocApp(mine, ledger_label=url, store=store)
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.quotes and app.user)
            assert app.sub_title == f"alice · main · {url} · live"

            # a trade from the ticket, through the server
            await pilot.press("t")
            await until(pilot, lambda: isinstance(app.screen, TradeScreen) and app.screen.built)
            ticket = app.screen.query_one(OrderTicket)
            amount = app.screen.query_one("#ticket-amount", Input)
            await until(pilot, lambda: ticket.quote is not None and amount.has_focus)
            await pilot.press(*"0.01")
            trade = app.screen
            await until(pilot, lambda: "you pay" in str(trade.query_one("#ticket-preview").render()))
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.click("#confirm")
            await until(pilot, lambda: "Filled" in str(trade.query_one("#ticket-result").render()))
            [order] = (await mine.orders(token)).items
            assert (order.symbol, order.quantity) == (ticket.symbol, Decimal("0.01"))

            # the leaderboard follows another terminal's deposit
            await pilot.press("escape", "l")  # out of the ticket's field, then the page key
            await until(pilot, lambda: isinstance(app.screen, LeaderboardScreen) and app.screen.built)
            table = app.screen.query_one("#leaderboard-table", DataTable)
            await until(pilot, lambda: table.row_count == 1)
            await theirs.register("bob", PASSWORD)
            bob = (await theirs.login("bob", PASSWORD)).token
            await theirs.deposit(bob, "50000")
            # the page reloads on each pushed price tick (about once a second), nothing else asks it
            await until(pilot, lambda: table.row_count == 2, timeout=5)
            assert table.get_row_at(0)[1] == "bob"
    finally:
        await mine.close()
        await theirs.close()
