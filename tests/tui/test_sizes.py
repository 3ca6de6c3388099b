"""Every page at 80x24, 100x30, 120x40, 160x50 and 200x60 shows every value whole.

`cut_values` walks the page as the terminal draws it: each table cell against its column's width
and the table's visible width, each text (Statics, labels, buttons, border titles) against the
lines it is drawn on, within what its containers let show. A value is shown whole when it is
drawn on one line between blanks (a price cut to `$109,6`, a date to `2025-11-` or to `2025-1…`,
a column pushed out of sight to the right all count as cut). Scrolling down to a row or a line
is fine: a long page scrolls; sideways it must not have to.

The pages are the ones of test_snapshots.py (same ledger, same steps to reach each page):
`test_nothing_is_cut` takes each page through the five sizes in one run (as a person resizing
the terminal), `test_page` shoots each main page afresh at the sizes test_snapshots.py does not
(the snapshots at 80x24 and 160x50 are there), checking it the same way before the shot. The
last test shows the check finds what it looks for.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.errors import NoWidget
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static
from textual.widgets._data_table import default_cell_formatter
from textual.worker import Worker

from orderproc.formatting import price
from orderproc.tui.app import OrderprocApp
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.markets import MarketsScreen
from orderproc.tui.widgets.asset_table import AssetTable
from test_snapshots import (  # noqa: F401 - the ledger and the pinned clock and time zone are fixtures
    PAGES,
    QUIET_FEED,
    RunBefore,
    SnapCompare,
    ledger,
    pinned_machine,
    snap_compare,
)
from tui_helpers import MakeApp, MemoryStore, on_page, wait_until

SIZES = [(80, 24), (100, 30), (120, 40), (160, 50), (200, 60)]
SHOT_IN_TEST_SNAPSHOTS = {(80, 24), (160, 50)}
SHOT_HERE = [pytest.param(size, id=f"{size[0]}x{size[1]}") for size in SIZES if size not in SHOT_IN_TEST_SNAPSHOTS]
MAIN_PAGES = [page for page in PAGES if page.id in {
    "login", "dashboard", "markets", "trade", "orders", "portfolio", "account", "profile", "leaderboard", "admin",
}]


def _shown(widget: Widget) -> bool:
    return all(node.display and node.visible for node in widget.ancestors_with_self if isinstance(node, Widget))


def _lines(value: object, console: Console) -> list[str]:
    """The lines of text a table cell or a widget's render reads as."""
    if isinstance(value, str):
        value = Text.from_markup(value)
    elif not isinstance(value, (Text, Content)):
        value = default_cell_formatter(value)
    if isinstance(value, (Text, Content)):
        return value.plain.splitlines() or [""]
    return ["x" * Measurement.get(console, console.options, value).maximum]


def _visible_columns(widget: Widget) -> tuple[int, int]:
    """The widget's columns the terminal shows (relative to the widget): its containers clip it."""
    geometry = widget.screen.find_widget(widget)
    region, clip = geometry.region, geometry.clip
    return max(clip.x, region.x) - region.x, min(clip.right, region.right) - region.x


def _name(widget: Widget) -> str:
    return f"{type(widget).__name__}#{widget.id}" if widget.id else type(widget).__name__


def _table_cuts(table: DataTable[Any], console: Console) -> list[str]:
    """Cells wider than their column or taller than their row, columns out of sight."""
    cuts: list[str] = []
    name = _name(table)
    first, last = _visible_columns(table)
    room = min(last, table.scrollable_content_region.width) - first
    if table.scroll_x:
        cuts.append(f"{name} is scrolled sideways")
    x = 0
    for column in table.ordered_columns:
        width = column.get_render_width(table)
        inner = width - 2 * table.cell_padding
        label = " ".join(_lines(column.label, console))
        values = [_lines(value, console) for value in table.get_column(column.key)]
        if x + width > room:
            example = next((line for lines in values for line in lines if line.strip()), label)
            cuts.append(f"{name}: column {label!r} beyond the {room} columns shown (e.g. {example!r})")
        too_wide = [line for lines in [[label], *values] for line in lines if cell_len(line) > inner]
        if too_wide:
            more = f" and {len(too_wide) - 1} more" if len(too_wide) > 1 else ""
            cuts.append(f"{name}: column {label!r} {inner} wide cuts {too_wide[0]!r}{more}")
        x += width
    for row in table.ordered_rows:
        for value in table.get_row(row.key):
            if len(lines := _lines(value, console)) > row.height:
                cuts.append(f"{name}: {lines!r} in a row {row.height} high")
    return cuts


def _words(text: str) -> list[str]:
    return [word for word in text.split() if word.strip("…")]


# a word is drawn whole between blanks or the lines and blocks of borders and bars, not next to
# anything else (`2025-11-` next to the edge of the pane is cut, as is `2025-1…`)
NOT_EDGE = r"[^\s\u2500-\u259f]"


def _drawn(strips: list[str], word: str) -> bool:
    pattern = re.compile(f"(?<!{NOT_EDGE}){re.escape(word)}(?!{NOT_EDGE})")
    return any(pattern.search(line) for line in strips)


def _text_cuts(widget: Widget) -> list[str]:
    """The words of the widget's text and border titles that are not drawn whole where it shows."""
    try:
        first, last = _visible_columns(widget)
    except NoWidget:
        return []
    width, height = widget.outer_size
    if not width or not height:
        return []
    strips = [strip.text[first:last] for strip in widget.render_lines(Region(0, 0, width, height))]
    texts = [Text.from_markup(str(title)).plain for title in (widget.border_title, widget.border_subtitle) if title]
    # a table is checked cell by cell; an input scrolls what is typed, by design
    if not isinstance(widget, (DataTable, Input)):
        rendered = widget.render()
        if isinstance(rendered, (str, Text, Content)):
            texts.append(" ".join(_lines(rendered, widget.app.console)))
    name = _name(widget)
    drawn = " / ".join(strip.strip() for strip in strips if strip.strip())
    return [
        f"{name}: {word!r} of {text!r} not drawn whole (drawn: {drawn!r})"
        for text in texts
        for word in _words(text)
        if not _drawn(strips, word)
    ]


def _clip_cuts(widget: Widget) -> list[str]:
    """A widget cut off at the top or the bottom with nothing to scroll it into view."""
    try:
        geometry = widget.screen.find_widget(widget)
    except NoWidget:
        return []
    region, clip = geometry.region, geometry.clip
    if not region or (region.y >= clip.y and region.bottom <= clip.bottom):
        return []
    if any(node.allow_vertical_scroll for node in widget.ancestors if isinstance(node, Widget)):
        return []
    return [f"{_name(widget)}: rows {region.y}-{region.bottom} shown only {clip.y}-{clip.bottom}, no scrolling"]


def cut_values(app: App[Any]) -> list[str]:
    """What the current screen cuts: each value not shown whole, and where."""
    cuts: list[str] = []
    console = app.console
    for widget in app.screen.walk_children(Widget, with_self=False):
        if not _shown(widget):
            continue
        if isinstance(widget, DataTable):
            cuts += _table_cuts(widget, console)
        cuts += _text_cuts(widget) + _clip_cuts(widget)
    return cuts


async def _relaid(pilot: Pilot[None], endless: set[Worker[Any]]) -> None:
    """Let a resize settle: the layout, then what the pages load again for the new width (the
    workers `endless`, running when the page was ready, never end: the price feed, a dialog)."""
    for _ in range(3):
        pilot.app.screen.refresh(layout=True)
        await pilot.pause(0.1)
    await wait_until(pilot, lambda: all(worker.is_finished for worker in pilot.app.workers if worker not in endless))


@pytest.mark.parametrize(("user", "run_before"), PAGES)
async def test_nothing_is_cut(make_app: MakeApp, ledger: dict[str, str], user: str | None,
                              run_before: RunBefore) -> None:
    app: OrderprocApp = make_app(MemoryStore(ledger[user] if user else None), price_interval=QUIET_FEED)
    async with app.run_test(size=SIZES[0]) as pilot:
        await run_before(pilot)
        endless = {worker for worker in app.workers if not worker.is_finished}
        cuts: dict[str, list[str]] = {}
        for width, height in [*SIZES, SIZES[0]]:
            await pilot.resize_terminal(width, height)
            await _relaid(pilot, endless)
            if found := cut_values(app):
                cuts[f"{width}x{height}"] = found
        assert not cuts, "\n".join(f"{size}: {cut}" for size, found in cuts.items() for cut in found)


@pytest.mark.parametrize("size", SHOT_HERE)
@pytest.mark.parametrize(("user", "run_before"), MAIN_PAGES)
def test_page(snap_compare: SnapCompare, make_app: MakeApp, ledger: dict[str, str], user: str | None,
              run_before: RunBefore, size: tuple[int, int]) -> None:
    async def checked(pilot: Pilot[None]) -> None:
        await run_before(pilot)
        cuts = cut_values(pilot.app)
        assert not cuts, "\n".join(cuts)

    app: OrderprocApp = make_app(MemoryStore(ledger[user] if user else None), price_interval=QUIET_FEED)
    assert snap_compare(app, terminal_size=size, run_before=checked)



def _columns(table: AssetTable) -> list[str]:
    return [str(column.key.value) for column in table.ordered_columns]


async def test_markets_leaves_out_the_least_needed_columns_and_brings_them_back_when_there_is_room(
    make_app: MakeApp, token: str
) -> None:
    app = make_app(MemoryStore(token), price_interval=QUIET_FEED)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.quotes)
        await pilot.press("m")
        markets = await on_page(pilot, MarketsScreen)
        table = markets.query_one(AssetTable)
        await wait_until(pilot, lambda: table.row_count > 100)
        # 80 columns hold the longest name beside the price and the move, not the rank and the category
        assert _columns(table) == ["symbol", "name", "price", "change"]
        longest = max(len(asset.name) for asset in markets.assets.values())
        assert table.columns["name"].width == longest  # type: ignore[index]

        await pilot.resize_terminal(160, 50)
        await wait_until(pilot, lambda: len(table.columns) == 6)
        await pilot.resize_terminal(120, 40)  # the detail pane beside the table: 40 columns of it
        await wait_until(pilot, lambda: len(table.columns) < 6)
        await pilot.press("i")  # the detail pane hidden: its room goes to the table
        await wait_until(pilot, lambda: len(table.columns) == 6)
        assert _columns(table) == ["rank", "symbol", "name", "category", "price", "change"]


async def test_a_price_grown_wider_than_its_column_widens_it(make_app: MakeApp, token: str) -> None:
    app = make_app(MemoryStore(token), price_interval=QUIET_FEED)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.quotes)
        await pilot.press("m")
        markets = await on_page(pilot, MarketsScreen)
        table = markets.query_one(AssetTable)
        await wait_until(pilot, lambda: table.row_count > 100)
        btc = app.quotes["BTC"]
        soared = btc.model_copy(update={"price": btc.price * 10_000_000})
        assert len(price(soared.price)) > table.columns["price"].width  # type: ignore[index]

        table.update_quotes({**app.quotes, "BTC": soared})
        await pilot.pause()
        assert table.get_cell("BTC", "price").plain == price(soared.price)
        assert not cut_values(app)

class _Cut(App[None]):
    """A price column too narrow for its values, a column pushed out of sight, a date cut at
    the edge of its pane and one shortened with an ellipsis."""

    CSS = """
    #pane { width: 30; height: 4; layout: horizontal; }
    #reference { width: 40; }
    #shortened { width: 14; text-wrap: nowrap; text-overflow: ellipsis; }
    DataTable { width: 30; height: 4; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal(id="pane"):
            yield Static("Reference $109,669.56 on 2025-11-03", id="reference")
        yield Static("on 2025-11-03 at noon", id="shortened")
        yield DataTable()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("24h", width=3, key="change")
        table.add_column("Name", width=20, key="name")
        table.add_column("Price", width=12, key="price")
        table.add_row("+6.11%", "Bitcoin", "$109,669.56")


async def test_the_check_finds_cut_prices_dates_and_columns_out_of_sight() -> None:
    async with _Cut().run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        cuts = "\n".join(cut_values(pilot.app))
    assert "column '24h' 3 wide cuts '+6.11%'" in cuts
    assert "column 'Price' beyond" in cuts
    assert "'2025-11-03' of 'Reference $109,669.56 on 2025-11-03'" in cuts
    assert "'2025-11-03' of 'on 2025-11-03 at noon'" in cuts
    assert "'$109,669.56' of" not in cuts  # drawn whole on the pane's first line
