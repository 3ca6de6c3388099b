"""The Watchlist page: the assets the user follows, with live prices and 24 h change, sorted as
they chose. The list is the user's in the ledger (the same on each of their accounts, terminals
and servers); `s` changes its sort there too. Markets' `w` puts an asset on it or takes it off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Static

from orderproc.engine.bound import Bound
from orderproc.engine.schemas import Quote
from orderproc.engine.watching import Watchlist, WatchSort
from orderproc.formatting import pct, price, signed
from orderproc.tui.alert_prompt import ask_alert
from orderproc.tui.screens.base import LivePage
from orderproc.tui.screens.dialogs import PromptDialog
from orderproc.tui.widgets.figure_table import right

COLUMNS = (("Symbol", "symbol"), ("Name", "name"), ("Price", "price"), ("24h", "change"))
SORTS = list(WatchSort)
ROW_ACTIONS = {"trade", "remove", "alert"}  # the keys that act on the highlighted row
SORT_WORDS = {WatchSort.ADDED: "in the order added", WatchSort.SYMBOL: "by symbol",
              WatchSort.PRICE: "by price, highest first", WatchSort.CHANGE: "by 24h change, highest first"}


def ordered(watchlist: Watchlist, quotes: dict[str, Quote]) -> list[tuple[str, str, Decimal, Decimal]]:
    """The rows (symbol, name, price, 24 h change) at the latest quotes, in the list's sort."""
    rows = []
    for item in watchlist.items:
        quote = quotes.get(item.symbol)
        rows.append((item.symbol, item.name, quote.price if quote else item.price,
                     quote.change_24h if quote else item.change_24h))
    if watchlist.sort is WatchSort.SYMBOL:
        rows.sort(key=lambda row: row[0])
    elif watchlist.sort is WatchSort.PRICE:
        rows.sort(key=lambda row: row[2], reverse=True)
    elif watchlist.sort is WatchSort.CHANGE:
        rows.sort(key=lambda row: row[3], reverse=True)
    return rows


class WatchlistScreen(LivePage[Watchlist]):
    """Ids: #watchlist-table, #watchlist-empty, #watchlist-note."""

    CSS_PATH = "../styles/watchlist.tcss"
    AUTO_FOCUS = "#watchlist-table"
    WATCHES = frozenset()  # the list changes by this user's hand; prices come with each tick
    REVALUE_SECONDS = 10.0  # and read again as ticks come: a change from another terminal shows
    BINDINGS = [
        Binding("enter", "trade", "Trade", id="watchlist.trade"),
        Binding("plus,equals_sign", "add", "Add", key_display="+", tooltip="Put an asset on the watchlist",
                id="watchlist.add"),
        Binding("delete,minus", "remove", "Remove", key_display="-", tooltip="Take the highlighted asset off",
                id="watchlist.remove"),
        Binding("exclamation_mark", "alert", "Alert", key_display="!", tooltip="A price alert on the highlighted asset",
                id="watchlist.alert"),
        Binding("s", "cycle_sort", "Sort", tooltip="Order added, symbol, price or 24h change (kept in the ledger)",
                id="watchlist.sort"),
        Binding("r", "reload", "Refresh", show=False, id="watchlist.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.watchlist = Watchlist()

    def compose_body(self) -> ComposeResult:
        with Vertical(id="watchlist-body"):
            with Horizontal(id="watchlist-heading"):
                yield Label("Watchlist", classes="page-title")
                yield Static("", id="watchlist-note", classes="muted")
            yield DataTable(id="watchlist-table", cursor_type="row", zebra_stripes=True)
            yield Static("Nothing on your watchlist yet: + adds an asset, or press w on a row of Markets.",
                         id="watchlist-empty", classes="muted")

    def body_mounted(self) -> None:
        table = self.query_one(DataTable)
        for title, key in COLUMNS:
            table.add_column(title, key=key)

    async def fetch(self, me: Bound) -> Watchlist:
        return await me.watchlist()

    def show(self, result: Watchlist, highlight: str | None = None) -> None:
        self.watchlist = result
        self._draw(highlight)
        self.refresh_bindings()

    def action_state(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # an empty list has nothing to trade, remove or alert on (the footer leaves those out)
        return bool(self.watchlist.items) or action not in ROW_ACTIONS

    def prices_changed(self, quotes: dict[str, Quote]) -> None:
        if self.watchlist.items:
            self._draw()
        super().prices_changed(quotes)

    def _draw(self, highlight: str | None = None) -> None:
        table = self.query_one(DataTable)
        rows = ordered(self.watchlist, self.oapp.quotes)
        at = highlight or self.highlighted
        table.clear()
        for symbol, name, last, change in rows:
            table.add_row(symbol, name, right(price(last)), right(signed(change, pct(change))), key=symbol)
        symbols = [row[0] for row in rows]
        if symbols:
            table.move_cursor(row=symbols.index(at) if at in symbols else 0, animate=False)
        table.display = bool(rows)
        self.query_one("#watchlist-empty").display = not rows
        count = f"{len(rows)} asset{'s' * (len(rows) != 1)}"
        self.query_one("#watchlist-note", Static).update(f"{count} · {SORT_WORDS[self.watchlist.sort]} · s: sort")

    @property
    def highlighted(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    # -- actions -------------------------------------------------------------------------------

    @on(DataTable.RowSelected, "#watchlist-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_trade()

    def action_trade(self) -> None:
        if (symbol := self.highlighted) is not None:
            self.oapp.open_trade(symbol)

    def action_cycle_sort(self) -> None:
        chosen = SORTS[(SORTS.index(self.watchlist.sort) + 1) % len(SORTS)]
        self.change(lambda me: me.sort_watchlist(chosen))

    def action_remove(self) -> None:
        if (symbol := self.highlighted) is not None:
            self.change(lambda me: me.unwatch(symbol), f"{symbol} is off your watchlist")

    def action_add(self) -> None:
        def added(symbol: str | None) -> None:
            if symbol and symbol.strip():
                wanted = symbol.strip().upper()
                self.change(lambda me: me.watch(wanted), f"{wanted} is on your watchlist", highlight=wanted)

        self.app.push_screen(PromptDialog("Add to the watchlist", "The asset's symbol, e.g. BTC",
                                          placeholder="BTC", restrict=r"[A-Za-z0-9]*", max_length=16,
                                          confirm_label="Add"), added)

    def action_alert(self) -> None:
        if (symbol := self.highlighted) is not None:
            ask_alert(self, self.oapp, symbol)

    def action_reload(self) -> None:
        self.load()

    @work(group="watchlist-change", exit_on_error=False)
    async def change(self, use: Callable[[Bound], Awaitable[Watchlist]], done: str | None = None,
                     highlight: str | None = None) -> None:
        """Change the list in the ledger (`use(me)`), then show what it is now (the cursor on
        `highlight` when given; a reload under way, e.g. the one as its dialog closed, is superseded)."""
        result = await self.oapp.call(use)
        if result is None:
            return
        self.superseded()
        self.show(result, highlight)
        if done:
            self.notify(done, title="watchlist")
