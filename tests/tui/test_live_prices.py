"""Live prices: the feed moves what the screen shows without getting in the user's way.

The engine's prices are a function of the test clock: `clock.advance(seconds)` moves the
market, and the app's price feed (every 0.05 s in tests) brings the new quotes in.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from orderproc.engine.service import LocalEngine
from orderproc.formatting import price
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.markets import TABLE_EVERY, MarketsScreen
from orderproc.tui.screens.trade import TradeScreen
from orderproc.tui.widgets.asset_table import AssetTable, change_cell, price_cell
from orderproc.tui.widgets.order_ticket import OrderTicket
from tui_helpers import MakeApp, MemoryStore, wait_until

SIZE = (80, 24)
LIVE = ("price", "change")


class Clock(Protocol):
    def advance(self, seconds: float) -> None: ...


def text(pilot: Pilot[None], selector: str) -> str:
    return str(pilot.app.screen.query_one(selector, Static).render())


def cells(table: DataTable[Any]) -> dict[tuple[str, str], str]:
    """The price and 24 h change every row shows now, by (symbol, column)."""
    return {
        (str(row.key.value), column): table.get_cell(row.key, column).plain
        for row in table.ordered_rows
        for column in LIVE
    }


async def test_the_quote_moves_while_a_quantity_is_typed_and_the_typing_is_kept(
    engine: LocalEngine, token: str, clock: Clock, make_app: MakeApp
) -> None:
    await engine.deposit(token, Decimal("5000"))
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TradeScreen))
        ticket = app.screen.query_one(OrderTicket)
        amount = app.screen.query_one("#ticket-amount", Input)
        await wait_until(pilot, lambda: ticket.symbol == "BTC" and ticket.quote is not None and amount.has_focus)
        shown = [text(pilot, "#ticket-quote")]

        for key in "0.0125":
            await pilot.press(key)
            clock.advance(90)  # the market moves between two keystrokes
            await wait_until(pilot, lambda: text(pilot, "#ticket-quote") != shown[-1])
            shown.append(text(pilot, "#ticket-quote"))

        assert len(set(shown)) == len(shown)  # each keystroke saw a new quote
        latest = app.quotes["BTC"].price
        assert price(latest) in shown[-1]
        assert amount.value == "0.0125" and amount.cursor_position == len("0.0125")
        assert app.focused is amount
        # the cost preview follows the price too
        await wait_until(pilot, lambda: price(app.quotes["BTC"].price) in text(pilot, "#ticket-preview"))
        assert "0.0125 BTC" in text(pilot, "#ticket-preview")


async def test_the_markets_table_ticks_while_the_search_is_typed(
    token: str, clock: Clock, make_app: MakeApp
) -> None:
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.quotes)
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, MarketsScreen))
        markets = app.screen
        assert isinstance(markets, MarketsScreen)
        table = markets.query_one(AssetTable)
        search = markets.query_one("#markets-search", Input)
        await wait_until(pilot, lambda: table.row_count > 100)
        await pilot.press("slash")
        await pilot.press(*"coin")  # Bitcoin, Dogecoin, ...
        await wait_until(pilot, lambda: 1 < table.row_count < 100)
        before = cells(table)

        clock.advance(600)
        await wait_until(pilot, lambda: cells(table) != before, timeout=5)
        await pilot.press(*" ")  # type on: the filter is kept, and so is the text

        assert search.value == "coin " and search.has_focus
        symbols = set(table.symbols)
        assert "BTC" in symbols and all("coin" in markets.assets[s].name.lower() or "coin" in s.lower()
                                        for s in symbols)
        btc = app.quotes["BTC"]
        await wait_until(pilot, lambda: table.get_cell("BTC", "price").plain == price_cell(btc.price).plain)


async def test_a_tick_rewrites_only_the_cells_whose_price_or_change_moved(
    token: str, clock: Clock, make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[tuple[str, str, str]] = []
    rebuilds: list[str] = []
    update_cell = AssetTable.update_cell
    clear = AssetTable.clear

    def spy_update(self: AssetTable, row_key: Any, column_key: Any, value: Any, **kwargs: Any) -> None:
        writes.append((str(row_key), str(column_key), value.plain))
        update_cell(self, row_key, column_key, value, **kwargs)

    def spy_clear(self: AssetTable, columns: bool = False) -> AssetTable:
        rebuilds.append("clear")
        return clear(self, columns)

    monkeypatch.setattr(AssetTable, "update_cell", spy_update)
    monkeypatch.setattr(AssetTable, "clear", spy_clear)
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.quotes)
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, MarketsScreen))
        table = app.screen.query_one(AssetTable)
        await wait_until(pilot, lambda: table.row_count > 100)

        # the clock stands still: quotes keep arriving, but nothing changed, so nothing is written
        await pilot.pause(TABLE_EVERY + 0.2)
        writes.clear()
        rebuilds.clear()
        await pilot.pause(TABLE_EVERY + 0.2)
        assert writes == [] and rebuilds == []

        before = cells(table)
        clock.advance(45)
        await wait_until(pilot, lambda: writes)
        await pilot.pause(TABLE_EVERY + 0.2)  # every tick since has carried the same quotes

        after = cells(table)
        changed = {key for key in before if before[key] != after[key]}
        assert changed  # something moved on screen
        assert {(row, column) for row, column, _ in writes} == changed
        assert len(writes) == len(changed)  # each changed cell written once
        assert rebuilds == []  # and the table was never cleared and rebuilt
        for row, column, value in writes:
            quote = app.quotes[row]
            assert value == (price_cell(quote.price) if column == "price" else change_cell(quote.change_24h)).plain
        # the rows whose text did not change were left alone (at 80x24 only the visible rows tick)
        untouched = {row for row, _ in before} - {row for row, _ in changed}
        assert untouched
