"""AssetTable: the asset inventory as a live DataTable; AssetDetail: one asset's card and chart.

Live prices touch only what the user can see: a quote that changes a row outside the
visible window is kept and written when that row scrolls into view, and a quote whose
formatted text did not change writes nothing. Each DataTable write invalidates the whole
table's render cache, so this is what keeps a table of 300 ticking assets cheap.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Label, Static
from textual.widgets.data_table import RowDoesNotExist

from orderproc.engine.schemas import Asset, PricePoint, Quote
from orderproc.formatting import pct, price, signed
from orderproc.tui.widgets.price_chart import PriceChart

SortField = Literal["rank", "symbol", "name", "category", "price", "change"]
SORT_CYCLE: tuple[SortField, ...] = ("rank", "symbol", "price", "change")
# Biggest first is what people want from a price or a move; A-Z and #1 first otherwise.
DESCENDING_FIRST: frozenset[SortField] = frozenset({"price", "change"})
ALL_CATEGORIES = "all"

# (key, label, width): fixed widths, so a live price never resizes a column.
COLUMNS: tuple[tuple[SortField, str, int], ...] = (
    ("rank", "#", 3),
    ("symbol", "Symbol", 8),
    ("name", "Name", 16),
    ("category", "Category", 12),
    ("price", "Price", 15),
    ("change", "24h", 8),
)
WIDE_WIDTHS: dict[str, int] = {"name": 24, "category": 16}


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


class AssetTable(DataTable[Text]):
    """Rows keyed by symbol; `show` lays out a view, `update_quotes` keeps its prices live."""

    DEFAULT_CSS = """
    AssetTable {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.symbols: list[str] = []
        # the price and change text each row shows now, to skip writes that change nothing
        self._shown: dict[str, tuple[str, str]] = {}
        # quotes that arrived for rows out of view, written when they scroll in
        self._pending: dict[str, Quote] = {}
        self._wide = False
        self._header: tuple[str, ...] = ()

    # -- layout ------------------------------------------------------------------------------

    def set_wide(self, wide: bool) -> None:
        """More room for names and categories on a large screen (re-lay out with `show`)."""
        self._wide = wide

    def _column_labels(self, sort: SortField, descending: bool) -> tuple[str, ...]:
        arrow = " ▼" if descending else " ▲"
        return tuple(label + (arrow if key == sort else "") for key, label, _ in COLUMNS)

    def show(self, assets: list[Asset], quotes: dict[str, Quote], sort: SortField, descending: bool) -> None:
        """Lay out these assets in this order, keeping the cursor on the same symbol if it is shown."""
        keep = self.highlighted_symbol
        labels = self._column_labels(sort, descending) + (("wide",) if self._wide else ())
        if labels != self._header:
            self.clear(columns=True)
            for (key, _label, width), text in zip(COLUMNS, labels, strict=False):
                width = WIDE_WIDTHS.get(key, width) if self._wide else width
                justify: Literal["left", "right"] = "right" if key in ("rank", "price", "change") else "left"
                self.add_column(Text(text, justify=justify), width=width, key=key)
            self._header = labels
        else:
            self.clear()
        self._shown.clear()
        self._pending.clear()
        self.symbols = [a.symbol for a in assets]
        for asset in assets:
            quote = quotes.get(asset.symbol)
            now_price, change = (quote.price, quote.change_24h) if quote else (asset.price, asset.change_24h)
            price_text, change_text = price_cell(now_price), change_cell(change)
            self._shown[asset.symbol] = (price_text.plain, change_text.plain)
            self.add_row(
                Text(str(asset.rank) if asset.rank is not None else "-", justify="right"),
                Text(asset.symbol, style="bold"),
                Text(asset.name, no_wrap=True, overflow="ellipsis"),
                Text(asset.category, no_wrap=True, overflow="ellipsis"),
                price_text,
                change_text,
                key=asset.symbol,
            )
        if keep is not None and keep in self._shown:
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
        for symbol in self._shown:
            if symbol not in in_view and symbol in quotes:
                self._pending[symbol] = quotes[symbol]
        return self._write(quotes[s] for s in in_view if s in quotes)

    def _write(self, quotes: Iterable[Quote]) -> int:
        written = 0
        for quote in quotes:
            shown = self._shown.get(quote.symbol)
            if shown is None:
                continue
            self._pending.pop(quote.symbol, None)
            price_text, change_text = price_cell(quote.price), change_cell(quote.change_24h)
            if price_text.plain != shown[0]:
                self.update_cell(quote.symbol, "price", price_text)
                written += 1
            if change_text.plain != shown[1]:
                self.update_cell(quote.symbol, "change", change_text)
                written += 1
            self._shown[quote.symbol] = (price_text.plain, change_text.plain)
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
        yield PriceChart(id="detail-chart")

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
        chart = self.query_one(PriceChart)
        chart.set_points(asset.symbol, [])
        chart.query_one(".chart-caption", Label).update(f"{asset.symbol}: loading the 24h chart...")

    def update_quote(self, quote: Quote) -> None:
        if quote.symbol == self.symbol:
            self._show_price(quote.price, quote.change_24h)

    def _show_price(self, now: Decimal, change: Decimal) -> None:
        text = Text.assemble(Text(price(now), style="bold"), "  ", change_cell(change), " 24h")
        if text.plain != self._quote_text:
            self._quote_text = text.plain
            # one line of fixed height: no need to lay the screen out again
            self.query_one("#detail-quote", Static).update(text, layout=False)

    def set_history(self, symbol: str, points: list[PricePoint]) -> None:
        if symbol == self.symbol:
            self.query_one(PriceChart).set_points(symbol, points)

