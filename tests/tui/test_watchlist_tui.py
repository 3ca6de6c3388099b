"""The watchlist in the terminal: `w` on a Markets row puts the asset on it or takes it off; the
Watchlist page (W) shows it with live prices, `+` adds by symbol, `-` removes, `s` changes the
sort, kept in the ledger: a terminal started later, or the CLI's engine, sees the same list."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from conftest import Clock
from textual.widgets import DataTable, Input

from orderproc.engine.rules import round_price
from orderproc.engine.service import LocalEngine
from orderproc.engine.watching import WatchSort
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.dialogs import PromptDialog
from orderproc.tui.screens.markets import MarketsScreen
from orderproc.tui.screens.trade import TradeScreen
from orderproc.tui.screens.watchlist import WatchlistScreen
from orderproc.tui.widgets.asset_table import AssetTable
from tui_helpers import MakeApp, MemoryStore, notified, on_page, text, wait_until

PASSWORD = "hunter22"
SIZE = (120, 40)


def rows(page: WatchlistScreen) -> list[str]:
    table = page.query_one("#watchlist-table", DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


async def test_watch_from_markets_then_manage_the_list_on_its_page(engine: LocalEngine, make_app: MakeApp) -> None:
    await engine.register("alice", PASSWORD)
    token = (await engine.login("alice", PASSWORD)).token
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        await pilot.press("m")
        markets = await on_page(pilot, MarketsScreen)
        table = markets.query_one(AssetTable)
        await wait_until(pilot, lambda: table.highlighted_symbol is not None)
        first = table.highlighted_symbol
        await pilot.press("w")
        await wait_until(pilot, lambda: notified(app, "watchlist"))
        assert f"{first} is on your watchlist" in notified(app, "watchlist")[-1]
        assert [i.symbol for i in (await engine.watchlist(token)).items] == [first]
        await pilot.press("down", "w")
        second = table.highlighted_symbol
        await wait_until(pilot, lambda: len(notified(app, "watchlist")) == 2)
        await pilot.press("up", "w")  # on the list already: taken off
        await wait_until(pilot, lambda: len(notified(app, "watchlist")) == 3)
        assert f"{first} is off your watchlist" in notified(app, "watchlist")[-1]
        assert [i.symbol for i in (await engine.watchlist(token)).items] == [second]

        await pilot.press("W")
        page = await on_page(pilot, WatchlistScreen)
        await wait_until(pilot, lambda: rows(page) == [second])
        quote = app.quotes[second]
        assert text(app, "#watchlist-note").startswith("1 asset · in the order added")
        table_text = str(page.query_one("#watchlist-table", DataTable).get_row_at(0))
        assert second in table_text and str(quote.price)[:3] in table_text.replace(",", "")

        # + asks for a symbol; a wrong one is refused with its code and changes nothing
        await pilot.press("plus")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
        app.screen.query_one(Input).value = "NOPE"
        await pilot.press("enter")
        await wait_until(pilot, lambda: notified(app, "unknown_asset"))
        assert rows(page) == [second]
        for symbol in ("btc", "sol"):
            await pilot.press("plus")
            await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
            app.screen.query_one(Input).value = symbol
            await pilot.press("enter")
            await wait_until(pilot, lambda: symbol.upper() in rows(page))
        assert rows(page) == [second, "BTC", "SOL"]

        # s: by symbol, kept in the ledger
        await pilot.press("s")
        await wait_until(pilot, lambda: rows(page) == sorted([second, "BTC", "SOL"]))
        assert (await engine.watchlist(token)).sort is WatchSort.SYMBOL

        # - takes the highlighted one off; Enter trades the highlighted one
        table_widget = page.query_one("#watchlist-table", DataTable)
        table_widget.move_cursor(row=rows(page).index("SOL"))
        await pilot.press("minus")
        await wait_until(pilot, lambda: "SOL" not in rows(page))
        await pilot.press("enter")
        await on_page(pilot, TradeScreen)
        assert app.trade_symbol == rows(page)[0]

    # another terminal on the ledger (or this one started again) shows the same list and sort
    again = make_app(MemoryStore(token))
    async with again.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        await pilot.press("W")
        page = await on_page(pilot, WatchlistScreen)
        await wait_until(pilot, lambda: rows(page) == sorted([second, "BTC"]))
        assert "by symbol" in text(again, "#watchlist-note")


async def test_an_empty_watchlist_says_how_to_fill_it(engine: LocalEngine, make_app: MakeApp) -> None:
    await engine.register("bob", PASSWORD)
    token = (await engine.login("bob", PASSWORD)).token
    await engine.deposit(token, Decimal("100"))
    app = make_app(MemoryStore(token))
    async with app.run_test(size=(80, 24)) as pilot:
        await on_page(pilot, DashboardScreen)
        await pilot.press("W")
        page = await on_page(pilot, WatchlistScreen)
        await wait_until(pilot, lambda: page.query_one("#watchlist-empty").display)
        assert "w on a row of Markets" in text(app, "#watchlist-empty")
        assert not page.query_one("#watchlist-table").display


async def test_an_alert_set_from_the_watchlist_rings_once_when_the_price_gets_there(
    engine: LocalEngine, make_app: MakeApp, clock: Clock
) -> None:
    await engine.register("carol", PASSWORD)
    token = (await engine.login("carol", PASSWORD)).token
    await engine.watch(token, "ETH")
    start = math.floor(clock())
    now = engine.market.price("ETH", clock())
    path = [(t, engine.market.price("ETH", t)) for t in range(start + 1, start + 3600)]
    top = max(p for _, p in path)
    assert top > now  # the replayed ETH rises in the next hour (seed 7)
    level = round_price((now + top) / 2)
    first = next(t for t, p in path if p >= level)
    app = make_app(MemoryStore(token))
    rings: list[int] = []
    app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        await pilot.press("W")
        page = await on_page(pilot, WatchlistScreen)
        await wait_until(pilot, lambda: rows(page) == ["ETH"])
        await pilot.press("exclamation_mark")  # a price above the current one: an alert above it
        await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
        app.screen.query_one(Input).value = str(level)
        await pilot.press("enter")
        await wait_until(pilot, lambda: notified(app, "alert set"))
        (alert,) = await engine.alerts(token)
        assert (alert.direction.value, alert.price, alert.fired_at) == ("above", level, None)

        clock.now = first + 2  # the terminal's price loop reaches the tick; the stream says so
        await wait_until(pilot, lambda: notified(app, "price alert"), timeout=10)
        (said,) = notified(app, "price alert")
        assert said.startswith("ETH rose to") and "at or above" in said
        assert rings == [1]
        clock.advance(60)
        await pilot.pause(1.5)
        assert len(notified(app, "price alert")) == 1 and rings == [1]  # once


async def test_a_change_made_elsewhere_shows_on_the_open_page(engine: LocalEngine, make_app: MakeApp,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Another terminal (here: the engine, as the CLI would) adds to the list and sorts it: the
    page open here reads the list again as prices tick (every REVALUE_SECONDS; 0.2 s here)."""
    monkeypatch.setattr(WatchlistScreen, "REVALUE_SECONDS", 0.2)
    await engine.register("dave", PASSWORD)
    token = (await engine.login("dave", PASSWORD)).token
    await engine.watch(token, "SOL")
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        await pilot.press("W")
        page = await on_page(pilot, WatchlistScreen)
        await wait_until(pilot, lambda: rows(page) == ["SOL"])
        await engine.watch(token, "BTC")
        await engine.sort_watchlist(token, WatchSort.SYMBOL)
        await wait_until(pilot, lambda: rows(page) == ["BTC", "SOL"])
        assert "by symbol" in text(app, "#watchlist-note")
