"""AssetTable: the asset inventory as a live DataTable; AssetDetail: one asset's card and chart.

Live prices touch only what the user can see: a quote that changes a row outside the
visible window is kept and written when that row scrolls into view, and a quote whose
formatted text did not change writes nothing. Each DataTable write invalidates the whole
table's render cache, so this is what keeps a table of 300 ticking assets cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Literal

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static
from textual.widgets.data_table import RowDoesNotExist

from orderproc.engine.schemas import Asset, Candles, Quote
from orderproc.formatting import pct, price, signed
from orderproc.tui.widgets.candle_chart import CandleChart, ChartMark

SortField = Literal["rank", "symbol", "name", "category", "price", "change"]
SORT_CYCLE: tuple[SortField, ...] = ("rank", "symbol", "price", "change")
# Biggest first is what people want from a price or a move; A-Z and #1 first otherwise.
DESCENDING_FIRST: frozenset[SortField] = frozenset({"price", "change"})
ALL_CATEGORIES = "all"

# (key, label, justify), in the order shown; each column is as wide as its widest cell.
COLUMNS: tuple[tuple[SortField, str, Literal["left", "right"]], ...] = (
    ("rank", "#", "right"),
    ("symbol", "Symbol", "left"),
    ("name", "Name", "left"),
    ("category", "Category", "left"),
    ("price", "Price", "right"),
    ("change", "24h", "right"),
)
# When the width cannot hold every column, they are kept in this order and the rest left out
# (the detail pane says an asset's rank and category): a value is never cut.
KEPT_FIRST: tuple[SortField, ...] = ("symbol", "price", "change", "name", "rank", "category")


def matches(asset: Asset, needle: str, category: str) -> bool:
    """The engine's `list_assets` rule: the needle in the symbol or the name, any case."""
    if category != ALL_CATEGORIES and asset.category != category:
        return False
    return not needle or needle in asset.symbol.lower() or needle in asset.name.lower()


def select_assets(
    assets: Iterable[Asset],
    quotes: dict[str, Quote],
    *,
    search: str = "",
    category: str = ALL_CATEGORIES,
    sort: SortField = "rank",
    descending: bool = False,
) -> list[Asset]:
    """Filter and sort like `Engine.list_assets`, on live prices, without a round trip."""
    needle = search.strip().lower()[:64]
    chosen = [a for a in assets if matches(a, needle, category)]

    def live(asset: Asset) -> Quote | None:
        return quotes.get(asset.symbol)

    keys: dict[SortField, Any] = {
        "rank": lambda a: (a.rank is None, a.rank or 0, a.symbol),
        "symbol": lambda a: a.symbol,
        "name": lambda a: a.name.lower(),
        "category": lambda a: (a.category, a.rank or 0),
        "price": lambda a: q.price if (q := live(a)) else a.price,
        "change": lambda a: q.change_24h if (q := live(a)) else a.change_24h,
    }
    chosen.sort(key=keys[sort], reverse=descending)
    return chosen


def price_cell(amount: Decimal) -> Text:
    return Text(price(amount), justify="right", no_wrap=True)


def change_cell(change: Decimal) -> Text:
    text = signed(change, pct(change))
    text.justify = "right"
    return text


def asset_cells(asset: Asset, quote: Quote | None) -> dict[SortField, Text]:
    """What each column shows for an asset, at its live price when there is a quote."""
    now_price, change = (quote.price, quote.change_24h) if quote else (asset.price, asset.change_24h)
    return {
        "rank": Text(str(asset.rank) if asset.rank is not None else "-", justify="right"),
        "symbol": Text(asset.symbol, style="bold"),
        "name": Text(asset.name),
        "category": Text(asset.category),
        "price": price_cell(now_price),
        "change": change_cell(change),
    }


class AssetTable(DataTable[Text]):
    """Rows keyed by symbol; `show` lays out a view, `update_quotes` keeps its prices live.

    The screen says how wide the table may be (`set_room`); the columns are as wide as their
    content and those that do not fit are left out, least needed first (KEPT_FIRST). A resize,
    or a price grown wider than its column, lays the columns out again.
    """

    DEFAULT_CSS = """
    AssetTable {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.symbols: list[str] = []
        # the cells each row shows now (price and change kept live), to skip writes that change nothing
        self._cells: dict[str, dict[SortField, Text]] = {}
        # quotes that arrived for rows out of view, written when they scroll in
        self._pending: dict[str, Quote] = {}
        self._room = 0
        self._sort: tuple[SortField, bool] = ("rank", False)
        # the columns shown: (key, label, justify, width)
        self._layout: tuple[tuple[SortField, str, Literal["left", "right"], int], ...] = ()

    # -- layout ------------------------------------------------------------------------------

    def set_room(self, width: int) -> None:
        """Let the table take up to `width` cells, its scrollbar included."""
        if width != self._room:
            self._room = width
            if self.symbols:
                self._fill(self.highlighted_symbol)

    def _fit(self) -> tuple[tuple[SortField, str, Literal["left", "right"], int], ...]:
        """The columns that fit the room, each as wide as its label and cells."""
        sort, descending = self._sort
        arrow = " ▼" if descending else " ▲"
        labels = {key: label + (arrow if key == sort else "") for key, label, _ in COLUMNS}
        widths = {
            key: max([cell_len(labels[key]), *(cells[key].cell_len for cells in self._cells.values())])
            for key, _, _ in COLUMNS
        }
        room = self._room - self.styles.scrollbar_size_vertical
        kept: set[SortField] = set()
        for key in KEPT_FIRST:
            need = widths[key] + 2 * self.cell_padding
            if not kept or need <= room:  # the symbol always: a row must say what it is
                kept.add(key)
                room -= need
        return tuple((key, labels[key], justify, widths[key]) for key, _, justify in COLUMNS if key in kept)

    def show(self, assets: list[Asset], quotes: dict[str, Quote], sort: SortField, descending: bool) -> None:
        """Lay out these assets in this order, keeping the cursor on the same symbol if it is shown."""
        keep = self.highlighted_symbol
        self._sort = (sort, descending)
        self._pending.clear()
        self.symbols = [a.symbol for a in assets]
        self._cells = {a.symbol: asset_cells(a, quotes.get(a.symbol)) for a in assets}
        self._fill(keep)

    def _fill(self, keep: str | None) -> None:
        layout = self._fit()
        if layout != self._layout:
            self.clear(columns=True)
            for key, label, justify, width in layout:
                self.add_column(Text(label, justify=justify), width=width, key=key)
            self._layout = layout
        else:
            self.clear()
        for symbol in self.symbols:
            cells = self._cells[symbol]
            self.add_row(*(cells[key] for key, *_ in layout), key=symbol)
        if keep is not None and keep in self._cells:
            self.move_cursor(row=self.get_row_index(keep), scroll=True)
        elif self.symbols:
            self.move_cursor(row=0)

    @property
    def highlighted_symbol(self) -> str | None:
        if not self.row_count or not 0 <= self.cursor_row < self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except (RowDoesNotExist, KeyError):
            return None
        return row_key.value

    # -- live prices --------------------------------------------------------------------------

    def _visible_rows(self) -> range:
        first = max(0, int(self.scroll_y))
        return range(first, min(self.row_count, first + self.scrollable_content_region.height + 1))

    def update_quotes(self, quotes: dict[str, Quote]) -> int:
        """Write the changed prices of visible rows; remember the rest. Returns the cells written."""
        visible = self._visible_rows()
        in_view = set(self.symbols[visible.start : visible.stop])
        for symbol in self._cells:
            if symbol not in in_view and symbol in quotes:
                self._pending[symbol] = quotes[symbol]
        return self._write(quotes[s] for s in in_view if s in quotes)

    def _write(self, quotes: Iterable[Quote]) -> int:
        written = 0
        widths = {key: width for key, *_, width in self._layout}
        wider = False
        for quote in quotes:
            cells = self._cells.get(quote.symbol)
            if cells is None:
                continue
            self._pending.pop(quote.symbol, None)
            live: tuple[tuple[SortField, Text], ...] = (
                ("price", price_cell(quote.price)), ("change", change_cell(quote.change_24h)))
            for key, text in live:
                if text.plain == cells[key].plain:
                    continue
                cells[key] = text
                wider = wider or text.cell_len > widths.get(key, text.cell_len)
                if key in widths:
                    self.update_cell(quote.symbol, key, text)
                    written += 1
        if wider:
            self._fill(self.highlighted_symbol)
        return written

    def write_arriving(self) -> None:
        """Rows that came into view (a scroll, a resize) get the quotes they missed."""
        if self._pending:
            visible = self._visible_rows()
            arriving = [self._pending[s] for s in self.symbols[visible.start : visible.stop] if s in self._pending]
            if arriving:
                self._write(arriving)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.write_arriving()

    def on_resize(self) -> None:
        self.write_arriving()


class AssetDetail(VerticalScroll):
    """The highlighted asset: what it is, where its reference price comes from, its chart."""

    DEFAULT_CSS = """
    AssetDetail {
        height: auto;
        padding: 0 1;
    }
    AssetDetail > #detail-head {
        height: auto;
    }
    AssetDetail #detail-title {
        width: auto;
        margin-right: 2;
        text-style: bold;
        color: $accent;
    }
    AssetDetail #detail-quote {
        width: 1fr;
        height: 1;
    }
    AssetDetail > Static {
        height: auto;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.symbol: str | None = None
        self._quote_text = ""

    def compose(self) -> ComposeResult:
        with Horizontal(id="detail-head"):
            yield Static("No asset selected", id="detail-title")
            yield Static("", id="detail-quote")
        yield Static("", id="detail-facts", classes="muted")
        yield Static("", id="detail-reference", classes="muted")
        yield CandleChart(id="detail-chart")

    def show_asset(self, asset: Asset, quote: Quote | None) -> None:
        self.symbol = asset.symbol
        self.query_one("#detail-title", Static).update(Text(f"{asset.symbol} · {asset.name}"))
        facts = [asset.category, f"rank #{asset.rank}" if asset.rank is not None else "unranked"]
        facts.append(f"volatility {asset.volatility * 100:.1f}%/yr")
        facts.append(f"{asset.precision} decimals" if asset.precision else "whole units")
        if asset.peg:
            facts.append(f"pegged to {asset.peg}")
        self.query_one("#detail-facts", Static).update(Text(" · ".join(facts)))
        self.query_one("#detail-reference", Static).update(
            Text(f"Reference {price(asset.reference_price)} on {asset.reference_date} ({asset.source})")
        )
        self._quote_text = ""
        if quote is not None:
            self.update_quote(quote)
        else:
            self._show_price(asset.price, asset.change_24h)
        self.query_one(CandleChart).show_loading(asset.symbol)

    def update_quote(self, quote: Quote) -> None:
        if quote.symbol == self.symbol:
            self._show_price(quote.price, quote.change_24h)
            self.query_one(CandleChart).update_price(quote.price)

    def _show_price(self, now: Decimal, change: Decimal) -> None:
        text = Text.assemble(Text(price(now), style="bold"), "  ", change_cell(change), " 24h")
        if text.plain != self._quote_text:
            self._quote_text = text.plain
            # one line of fixed height: no need to lay the screen out again
            self.query_one("#detail-quote", Static).update(text, layout=False)

    def set_candles(self, series: Candles, marks: Sequence[ChartMark]) -> None:
        if series.symbol == self.symbol:
            self.query_one(CandleChart).show(series, marks)

