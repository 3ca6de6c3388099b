"""The Portfolio page: equity summary and, in one place switched with `v`, the positions, the P&L
by asset, or the open lots of the highlighted position; all revalued as prices move.

The P&L view is the engine's report (`Engine.pnl`): realized by sales, unrealized on what is
held, fees, by the ledger's cost method, and the line that reconciles it with the cash journal
(total = equity - net deposits). The lots view lists what each buy of one position paid and
what is left of it (`Engine.lots`); `[` and `]` step through the positions.

The page reads the engine when shown and when the account event stream says the cash, the
positions or the orders changed. The positions and the tiles follow the quote stream, valued
here (`orderproc.engine.valuation`); the P&L and lots views, the engine's reports, are read again
every REVALUE_SECONDS while prices tick.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, DataTable, Label, Static

from orderproc.engine import errors
from orderproc.engine.bound import Bound
from orderproc.engine.schemas import Lot, PnlReport, Portfolio, Quote
from orderproc.engine.valuation import revalued
from orderproc.formatting import signed, signed_usd, usd, when
from orderproc.tui.screens.base import LivePage
from orderproc.tui.widgets.figure_table import FigureTable
from orderproc.tui.widgets.lots_table import LotsTable
from orderproc.tui.widgets.pnl_table import PnlTable
from orderproc.tui.widgets.positions_table import PositionsTable
from orderproc.tui.widgets.price_chart import PriceChart
from orderproc.tui.widgets.summary import EquitySummary

View = Literal["positions", "pnl", "lots"]
VIEWS: dict[View, str] = {"positions": "Positions", "pnl": "P&L", "lots": "Lots"}
COST_METHODS = {"fifo": "FIFO", "average": "average cost"}


@dataclass(frozen=True)
class Holdings:
    """What the page loads each time: the portfolio, and what the view shows besides."""

    portfolio: Portfolio
    pnl: PnlReport | None = None
    lots: list[Lot] | None = None
    lots_of: str | None = None  # the symbol of `lots`


def cost_method(name: str) -> str:
    return f"{COST_METHODS.get(name, name)} cost basis"


def reconciliation(report: PnlReport, width: int) -> Text:
    """`Total +$17.02 = realized + unrealized - fees = equity $10,017.02 - net deposits $10,000.00`,
    on two lines (broken before the equity) when it is wider than `width`."""
    total = Text.assemble(
        "Total ", signed(report.total_pnl, signed_usd(report.total_pnl)), " = realized + unrealized − fees"
    )
    journal = Text.assemble(
        "= equity ", (usd(report.equity), "bold"), " − net deposits ", (usd(report.net_deposits), "bold")
    )
    joint = " " if total.cell_len + 1 + journal.cell_len <= width else "\n"
    return Text.assemble(total, joint, journal)


class PortfolioScreen(LivePage[Holdings]):
    """Ids: #equity-summary, #portfolio-views (which view), #portfolio-as-of, #positions-table,
    #positions-empty, #pnl-table, #pnl-empty, #pnl-reconcile, #lots-table, #lots-empty, and on
    tall screens #position-chart (the highlighted position's 24 h chart)."""

    CSS_PATH = "../styles/portfolio.tcss"
    AUTO_FOCUS = "#positions-table"
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]
    REVALUE_SECONDS = 10.0  # the P&L and lots views (the positions follow the quotes here)
    BINDINGS = [
        Binding("b", "trade('buy')", "Buy", id="portfolio.buy"),
        Binding("s", "trade('sell')", "Sell", id="portfolio.sell"),
        Binding("v", "next_view", "View", tooltip="Positions, P&L by asset, or the lots of the highlighted position",
                id="portfolio.view"),
        Binding("left_square_bracket", "other_position(-1)", "Prev position", key_display="[", show=False,
                id="portfolio.prev-position"),
        Binding("right_square_bracket", "other_position(1)", "Next position", key_display="]", show=False,
                id="portfolio.next-position"),
        Binding("r", "reload", "Refresh", show=False, id="portfolio.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.holdings: Holdings | None = None
        self.view: View = "positions"
        self.symbol: str | None = None  # the position looked at: its chart, its lots
        self._charted: str | None = None
        self._point_pnl = False  # put the P&L cursor on `symbol` when the report comes

    @property
    def portfolio(self) -> Portfolio | None:
        return self.holdings.portfolio if self.holdings is not None else None

    def body_mounted(self) -> None:
        self.query_one("#position-chart-box").border_title = "Price, last 24 h"
        self._show_views()

    def compose_body(self) -> ComposeResult:
        with Vertical(id="portfolio-body"):
            with Horizontal(id="portfolio-heading"):
                yield Label("Portfolio", classes="page-title")
                yield Static("", id="portfolio-views")
                yield Static("", id="portfolio-as-of", classes="muted")
            yield EquitySummary(id="equity-summary")
            with ContentSwitcher(initial="positions-view", id="portfolio-switcher"):
                with Vertical(id="positions-view", classes="portfolio-view"):
                    yield PositionsTable(id="positions-table")
                    yield Static(
                        "No positions yet: press [b]m[/b] for Markets, pick an asset and buy.",
                        id="positions-empty",
                        classes="muted portfolio-empty",
                    )
                with Vertical(id="pnl-view", classes="portfolio-view"):
                    yield Static("", id="pnl-reconcile")
                    yield PnlTable(id="pnl-table")
                    yield Static("Loading…", id="pnl-empty", classes="muted portfolio-empty")
                with Vertical(id="lots-view", classes="portfolio-view"):
                    yield LotsTable(id="lots-table")
                    yield Static("Loading…", id="lots-empty", classes="muted portfolio-empty")
            with Vertical(id="position-chart-box"):
                yield PriceChart(id="position-chart")

    # -- data --------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        self._charted = None
        super().refresh_data()

    def prices_changed(self, quotes: dict[str, Quote]) -> None:
        if self.holdings is not None:
            self.show(replace(self.holdings, portfolio=revalued(self.holdings.portfolio, quotes)))
        if self.view != "positions":
            super().prices_changed(quotes)

    async def fetch(self, me: Bound) -> Holdings:
        view = self.view
        portfolio = await me.portfolio()
        if view == "pnl":
            return Holdings(portfolio, pnl=await me.pnl())
        if view == "lots":
            symbol = self._lots_symbol(portfolio)
            lots = await me.lots(symbol=symbol) if symbol is not None else []
            return Holdings(portfolio, lots=lots, lots_of=symbol)
        return Holdings(portfolio)

    def _lots_symbol(self, portfolio: Portfolio) -> str | None:
        """The position whose lots to show: the one looked at, else the first."""
        held = [p.symbol for p in portfolio.positions]
        if self.symbol in held:
            return self.symbol
        return held[0] if held else None

    def show(self, holdings: Holdings) -> None:
        self.holdings = holdings
        portfolio = holdings.portfolio
        self.query_one(EquitySummary).show(portfolio)
        table = self.query_one(PositionsTable)
        table.show(portfolio.positions)
        empty = not portfolio.positions
        table.display = not empty
        self.query_one("#positions-empty", Static).display = empty
        self.set_class(empty, "-empty")
        if holdings.pnl is not None:
            self._show_pnl(holdings.pnl)
        if holdings.lots is not None:
            self._show_lots(holdings.lots, holdings.lots_of)
        if self.symbol is None:
            self.symbol = table.selected_symbol
        self._show_views()
        self._chart_selected()

    def _show_pnl(self, report: PnlReport) -> None:
        table = self.query_one(PnlTable)
        table.show(report)
        if self._point_pnl:
            self._point_pnl = False
            self._point_at(table)
        table.display = bool(report.lines)
        empty = self.query_one("#pnl-empty", Static)
        empty.display = not report.lines
        empty.update("No trades yet: the P&L starts with your first buy.")
        # the line spans the page but for its padding; the next reload follows a resize
        self.query_one("#pnl-reconcile", Static).update(reconciliation(report, self.size.width - 2))

    def _show_lots(self, lots: list[Lot], symbol: str | None) -> None:
        table = self.query_one(LotsTable)
        table.show(lots)
        table.display = bool(lots)
        empty = self.query_one("#lots-empty", Static)
        empty.display = not lots
        empty.update("No positions, so no lots: each buy opens one." if symbol is None else f"No open {symbol} lots.")

    def _show_views(self) -> None:
        """Which view is shown (the heading's tabs) and what it is of."""
        tabs = Text()
        for view, title in VIEWS.items():
            if tabs:
                tabs.append(" · ", style="dim")
            tabs.append(title, style="bold underline" if view == self.view else "dim")
        tabs.append("  v", style="dim")
        self.query_one("#portfolio-views", Static).update(tabs)
        holdings = self.holdings
        note = ""
        if holdings is not None:
            at = when(holdings.portfolio.as_of)
            if self.view == "pnl" and holdings.pnl is not None:
                note = f"{cost_method(holdings.pnl.cost_method)} · as of {at}"
            elif self.view == "lots" and holdings.lots is not None:
                if holdings.lots_of is not None:
                    count = len(holdings.lots)
                    note = f"{holdings.lots_of}: {count} open lot{'s' * (count != 1)} · [ ] other position"
            else:
                count = len(holdings.portfolio.positions)
                note = f"{count} position{'s' * (count != 1)} · as of {at}"
        self.query_one("#portfolio-as-of", Static).update(note)

    def _chart_selected(self) -> None:
        symbol = self.symbol
        if symbol is not None and symbol != self._charted:
            self._charted = symbol
            self.load_chart(symbol)

    @work(exclusive=True, group="portfolio-chart", exit_on_error=False)
    async def load_chart(self, symbol: str) -> None:
        try:
            points = await self.oapp.engine.price_history(symbol)
        except errors.OrderprocError as exc:
            self.notify(exc.message, title=exc.code, severity="warning")
            self._charted = None
            return
        self.query_one(PriceChart).set_points(symbol, points)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        table = event.data_table
        if table is not self._view_table():
            return  # a table out of sight filled or moved: not the user's choice
        symbol = table.selected_symbol if isinstance(table, PositionsTable | PnlTable) else None
        if symbol is not None:
            self.symbol = symbol
            self._chart_selected()

    def _view_table(self) -> FigureTable:
        view = self.view
        return self.query_one(PositionsTable if view == "positions" else PnlTable if view == "pnl" else LotsTable)

    def _point_at(self, table: FigureTable) -> None:
        """Put the table's cursor on the position looked at (when it has a row for it)."""
        if self.symbol is not None and self.symbol in table.keys:
            table.move_cursor(row=table.get_row_index(self.symbol), animate=False)

    # -- views -------------------------------------------------------------------------------

    def action_next_view(self) -> None:
        views = list(VIEWS)
        self.set_view(views[(views.index(self.view) + 1) % len(views)])

    def set_view(self, view: View) -> None:
        """Show the positions, the P&L or the lots, and load what that view needs."""
        self.view = view
        self.query_one(ContentSwitcher).current = f"{view}-view"
        table = self._view_table()
        if view == "lots":
            table.clear()  # another position's lots until they load: show none
            self.query_one("#lots-empty", Static).update("Loading…")
        else:
            self._point_at(table)
            self._point_pnl = view == "pnl"
        table.focus()
        self._show_views()
        self.load()

    def action_other_position(self, step: int) -> None:
        """The lots (and chart) of the previous or next position."""
        portfolio = self.portfolio
        if portfolio is None or not portfolio.positions:
            self.app.bell()
            return
        symbols = [p.symbol for p in portfolio.positions]
        at = symbols.index(self.symbol) if self.symbol in symbols else -step
        self.symbol = symbols[(at + step) % len(symbols)]
        positions = self.query_one(PositionsTable)
        positions.move_cursor(row=positions.get_row_index(self.symbol), animate=False)
        self._chart_selected()
        if self.view == "lots":
            self.set_view("lots")

    def action_state(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "other_position":
            return self.view == "lots"
        return True

    # -- actions -----------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        table = event.data_table
        if isinstance(table, PositionsTable | LotsTable):
            self.action_trade("sell")
        elif isinstance(table, PnlTable) and table.selected_symbol is not None:
            held = self.portfolio is not None and any(p.symbol == table.selected_symbol
                                                       for p in self.portfolio.positions)
            self.oapp.open_trade(table.selected_symbol, "sell" if held else "buy")

    def _selected(self) -> str | None:
        """The asset the keys act on: the highlighted row's, or the position looked at."""
        if self.view == "positions":
            return self.query_one(PositionsTable).selected_symbol
        if self.view == "pnl":
            return self.query_one(PnlTable).selected_symbol or self.symbol
        return self.holdings.lots_of if self.holdings is not None else self.symbol

    def action_trade(self, side: str) -> None:
        symbol = self._selected()
        if symbol is None:
            self.notify("No position selected: press m for Markets to buy one", severity="warning")
            return
        self.oapp.open_trade(symbol, side)

    def action_reload(self) -> None:
        self.load()
