"""The Markets page: every asset with live prices; search, filter, sort; a detail pane; Enter trades.

The inventory is loaded once per visit (`list_assets`); search, category and sort then work on
that list and the live quotes, so typing never waits for the engine.
"""

from __future__ import annotations

import asyncio
import time

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.timer import Timer
from textual.widgets import DataTable, Input, Select, Static

from orderproc.engine.schemas import Asset, Quote
from orderproc.tui.alert_prompt import ask_alert
from orderproc.tui.charting import load_marks, range_bindings
from orderproc.tui.screens.base import Page
from orderproc.tui.widgets.candle_chart import CandleChart
from orderproc.tui.widgets.asset_table import (
    ALL_CATEGORIES,
    DESCENDING_FIRST,
    SORT_CYCLE,
    AssetDetail,
    AssetTable,
    SortField,
    select_assets,
)

# At this width and more the detail pane sits beside the table instead of below it, keeping
# DETAIL_WIDTH columns or more (the table leaves out what does not fit beside it).
WIDE = 120
DETAIL_WIDTH = 40
# The table takes at most one round of price writes per this many seconds, however fast
# quotes arrive (faster ones are coalesced and written at the end of the interval): every
# write redraws the visible table, and people read prices at about 1 Hz.
TABLE_EVERY = 1.0
# The chart of the highlighted asset is reloaded this often (seconds).
CHART_EVERY = 30.0
SORT_NAMES: dict[SortField, str] = {
    "rank": "rank",
    "symbol": "symbol",
    "name": "name",
    "category": "category",
    "price": "price",
    "change": "24h change",
}


# "s o Sort" in the footer (the column, then its order): at 80 columns it has no room for more
SORT_KEYS = Binding.Group("Sort")


class MarketsScreen(Page):
    CSS_PATH = "../styles/markets.tcss"
    BINDINGS = [
        Binding("slash", "focus_search", "Search", key_display="/", id="markets.search"),
        Binding("f", "focus_category", "Category", id="markets.category"),
        Binding("s", "cycle_sort", "Sort", group=SORT_KEYS, id="markets.sort"),
        Binding("o", "reverse_sort", "Order", group=SORT_KEYS, id="markets.order"),
        Binding("i", "toggle_detail", "Detail", id="markets.detail"),
        Binding("enter", "trade", "Trade", id="markets.trade"),
        # at 80 columns the footer has no room for these two: the Keys screen (?) lists them
        Binding("exclamation_mark", "alert", "Alert", key_display="!", tooltip="A price alert on the highlighted asset",
                show=False, id="markets.alert"),
        Binding("w", "toggle_watch", "Watch", tooltip="Put the highlighted asset on your watchlist, or take it off",
                show=False, id="markets.watch"),
        Binding("b", "trade('buy')", "Buy", show=False, id="markets.buy"),
        Binding("v", "trade('sell')", "Sell", show=False, id="markets.sell"),
        Binding("r", "reload", "Refresh", show=False, id="markets.refresh"),
        *range_bindings("markets", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.assets: dict[str, Asset] = {}
        self.quotes: dict[str, Quote] = {}
        self.sort: SortField = "rank"
        self.descending = False
        self._table_at = 0.0
        self._chart_at = 0.0
        self._flush_timer: Timer | None = None
        self._status = ""

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="markets-toolbar"):
            yield Input(placeholder="Search symbol or name", id="markets-search", max_length=64)
            yield Select[str](
                [("All categories", ALL_CATEGORIES)],
                value=ALL_CATEGORIES,
                allow_blank=False,
                id="markets-category",
            )
        yield Static("Loading assets...", id="markets-status", classes="muted")
        with Container(id="markets-body"):
            yield AssetTable(id="markets-table")
            yield AssetDetail(id="markets-detail")

    def body_mounted(self) -> None:
        self.query_one("#markets-search", Input).border_title = "Search /"
        self.query_one("#markets-category", Select).query_one("SelectCurrent").border_title = "Category f"
        self._lay_out(self.app.size.width)
        self.query_one(AssetTable).focus()

    def on_resize(self, event: events.Resize) -> None:
        if self.built:
            self._lay_out(event.size.width)

    def _lay_out(self, width: int) -> None:
        wide = width >= WIDE
        body = self.query_one("#markets-body")
        body.set_class(wide, "-wide")
        beside = wide and not body.has_class("-no-detail")
        self.query_one(AssetTable).set_room(width - DETAIL_WIDTH if beside else width)

    # -- loading ----------------------------------------------------------------------------

    def refresh_data(self) -> None:
        if self.assets:
            # shown again: the inventory has not changed, the prices have (rebuilding the table
            # of 299 rows made a switch back to Markets take ~250 ms); `r` loads it all again
            self.quotes = dict(self.oapp.quotes)
            self.flush_prices()
            return
        self.action_reload()

    @work(exclusive=True, group="markets-assets", exit_on_error=False)
    async def load_assets(self) -> None:
        assets = await self.oapp.engine.list_assets()
        self.assets = {a.symbol: a for a in assets}
        categories = sorted({a.category for a in assets})
        select = self.query_one("#markets-category", Select)
        chosen = select.value if select.value in categories else ALL_CATEGORIES
        with self.prevent(Select.Changed):
            select.set_options([("All categories", ALL_CATEGORIES), *((c, c) for c in categories)])
            select.value = chosen
        self.apply_view()
        self._show_detail()

    @work(exclusive=True, group="markets-history", exit_on_error=False)
    async def load_history(self, symbol: str, pause: float = 0.2) -> None:
        # the pause lets a fast scroll through rows cancel this before it reaches the engine
        await asyncio.sleep(pause)
        chart = self.query_one(CandleChart)
        series = await self.oapp.engine.candles(symbol, range=chart.range, limit=chart.candle_limit())
        self.query_one(AssetDetail).set_candles(series, await load_marks(self.oapp, symbol))

    def action_chart_range(self, step: int) -> None:
        self.query_one(CandleChart).cycle_range(step)
        detail = self.query_one(AssetDetail)
        if detail.symbol is not None:
            self.query_one(CandleChart).show_loading(detail.symbol)
            self._chart_at = time.monotonic()
            self.load_history(detail.symbol, pause=0)

    def on_candle_chart_room_changed(self) -> None:
        detail = self.query_one(AssetDetail)
        if detail.symbol is not None:
            self._chart_at = time.monotonic()
            self.load_history(detail.symbol)

    # -- the view: search, category, sort -----------------------------------------------------

    def apply_view(self) -> None:
        """Lay out the table for the current search, category and sort."""
        search = self.query_one("#markets-search", Input).value
        category = self.query_one("#markets-category", Select).value
        chosen = select_assets(
            self.assets.values(),
            self.quotes,
            search=search,
            category=category if isinstance(category, str) else ALL_CATEGORIES,
            sort=self.sort,
            descending=self.descending,
        )
        table = self.query_one(AssetTable)
        table.show(chosen, self.quotes, self.sort, self.descending)
        order = "▼" if self.descending else "▲"
        count = f"{len(chosen)} assets" if len(chosen) == len(self.assets) else f"{len(chosen)} of {len(self.assets)} assets"
        hint = "Enter: trade" if chosen else "no asset matches"
        self._status = f"{count} · sorted by {SORT_NAMES[self.sort]} {order} · {hint}"
        self.query_one("#markets-status", Static).update(self._status)
        if not chosen:
            self.query_one(AssetDetail).display = False
        elif not self.query_one("#markets-body").has_class("-no-detail"):
            self.query_one(AssetDetail).display = True

    @on(Input.Changed, "#markets-search")
    def _search_changed(self) -> None:
        if self.assets:
            self.apply_view()
            self._show_detail()

    @on(Input.Submitted, "#markets-search")
    def _search_submitted(self) -> None:
        self.query_one(AssetTable).focus()

    @on(Select.Changed, "#markets-category")
    def _category_changed(self) -> None:
        if self.assets:
            self.apply_view()
            self._show_detail()
            self.query_one(AssetTable).focus()

    def on_key(self, event: events.Key) -> None:
        # from the search box, Down and Escape go to the table
        if event.key in ("down", "escape") and self.focused is self.query_one("#markets-search"):
            event.stop()
            self.query_one(AssetTable).focus()

    def sort_by(self, field: SortField, descending: bool | None = None) -> None:
        self.sort = field
        self.descending = field in DESCENDING_FIRST if descending is None else descending
        self.apply_view()

    @on(DataTable.HeaderSelected, "#markets-table")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        field = event.column_key.value
        if field in SORT_NAMES:
            same = field == self.sort
            self.sort_by(field, not self.descending if same else None)

    def action_cycle_sort(self) -> None:
        at = SORT_CYCLE.index(self.sort) if self.sort in SORT_CYCLE else -1
        self.sort_by(SORT_CYCLE[(at + 1) % len(SORT_CYCLE)])

    def action_reverse_sort(self) -> None:
        self.sort_by(self.sort, not self.descending)

    # -- detail and trade ----------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#markets-table")
    def _row_highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        detail = self.query_one(AssetDetail)
        symbol = self.query_one(AssetTable).highlighted_symbol
        if symbol is None or symbol not in self.assets or symbol == detail.symbol:
            return
        detail.show_asset(self.assets[symbol], self.quotes.get(symbol))
        self._chart_at = time.monotonic()
        self.load_history(symbol)

    @on(DataTable.RowSelected, "#markets-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.oapp.open_trade(event.row_key.value)

    def action_trade(self, side: str = "buy") -> None:
        symbol = self.query_one(AssetTable).highlighted_symbol
        if symbol is not None:
            self.oapp.open_trade(symbol, side)

    @work(group="markets-watch", exit_on_error=False)
    async def action_toggle_watch(self) -> None:
        """The highlighted asset on the user's watchlist, or off it if it was there."""
        symbol = self.query_one(AssetTable).highlighted_symbol
        if symbol is None:
            return
        listed = await self.oapp.call(lambda me: me.watchlist())  # as it is now: another terminal may change it
        if listed is None:
            return
        on = symbol in {item.symbol for item in listed.items}
        if await self.oapp.call(lambda me: me.unwatch(symbol) if on else me.watch(symbol)) is None:
            return
        said = f"{symbol} is {'off' if on else 'on'} your watchlist"
        self.query_one("#markets-status", Static).update(f"{self._status} · {said}")
        self.notify(f"{said} (W shows it)", title="watchlist")

    def action_alert(self) -> None:
        symbol = self.query_one(AssetTable).highlighted_symbol
        if symbol is not None:
            ask_alert(self, self.oapp, symbol)

    def action_focus_search(self) -> None:
        self.query_one("#markets-search", Input).focus()

    def action_focus_category(self) -> None:
        select = self.query_one("#markets-category", Select)
        select.focus()
        select.action_show_overlay()

    def action_toggle_detail(self) -> None:
        body = self.query_one("#markets-body")
        body.toggle_class("-no-detail")
        self.query_one(AssetDetail).display = not body.has_class("-no-detail")
        self._lay_out(self.app.size.width)
        self.query_one(AssetTable).write_arriving()

    def action_reload(self) -> None:
        self.quotes = dict(self.oapp.quotes)
        self.query_one(AssetDetail).symbol = None  # reload its chart once the assets are in
        self.load_assets()

    # -- live prices ---------------------------------------------------------------------------

    def prices_changed(self, quotes: dict[str, Quote]) -> None:
        self.quotes = quotes
        wait = self._table_at + TABLE_EVERY - time.monotonic()
        if wait <= 0:
            self.flush_prices()
        elif self._flush_timer is None:
            self._flush_timer = self.set_timer(wait, self.flush_prices)

    def flush_prices(self) -> None:
        """Write the latest quotes into the table and the detail pane now."""
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        now = time.monotonic()
        self._table_at = now
        quotes = self.quotes
        self.query_one(AssetTable).update_quotes(quotes)
        detail = self.query_one(AssetDetail)
        if detail.symbol is not None and (quote := quotes.get(detail.symbol)) is not None:
            detail.update_quote(quote)
        if detail.symbol is not None and now - self._chart_at >= CHART_EVERY:
            self._chart_at = now
            self.load_history(detail.symbol, pause=0)
