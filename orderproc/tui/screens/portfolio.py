"""The Portfolio page: equity summary and positions, revalued as prices move; trade from a row."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Static

from orderproc.engine import errors
from orderproc.engine.schemas import Portfolio
from orderproc.formatting import when
from orderproc.tui.screens.base import LivePage
from orderproc.tui.widgets.positions_table import PositionsTable
from orderproc.tui.widgets.price_chart import PriceChart
from orderproc.tui.widgets.summary import EquitySummary



class PortfolioScreen(LivePage[Portfolio]):
    """Ids: #equity-summary, #positions-table, #positions-empty, #portfolio-as-of, and on tall
    screens #position-chart (the highlighted position's 24 h chart)."""

    CSS_PATH = "../styles/portfolio.tcss"
    AUTO_FOCUS = "#positions-table"
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]
    BINDINGS = [
        Binding("b", "trade('buy')", "Buy"),
        Binding("s", "trade('sell')", "Sell"),
        Binding("r", "reload", "Refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.portfolio: Portfolio | None = None
        self._charted: str | None = None

    def on_mount(self) -> None:
        self.query_one("#position-chart-box").border_title = "Price, last 24 h"

    def compose_body(self) -> ComposeResult:
        with Vertical(id="portfolio-body"):
            with Horizontal(id="portfolio-heading"):
                yield Label("Portfolio", classes="page-title")
                yield Static("", id="portfolio-as-of", classes="muted")
            yield EquitySummary(id="equity-summary")
            yield PositionsTable(id="positions-table")
            yield Static(
                "No positions yet: press [b]m[/b] for Markets, pick an asset and buy.",
                id="positions-empty",
                classes="muted",
            )
            with Vertical(id="position-chart-box"):
                yield PriceChart(id="position-chart")

    # -- data --------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        self._charted = None
        super().refresh_data()

    async def fetch(self, token: str) -> Portfolio:
        return await self.oapp.engine.portfolio(token)

    def show(self, portfolio: Portfolio) -> None:
        self.portfolio = portfolio
        self.query_one(EquitySummary).show(portfolio)
        table = self.query_one(PositionsTable)
        table.show(portfolio.positions)
        empty = not portfolio.positions
        table.display = not empty
        self.query_one("#positions-empty", Static).display = empty
        count = len(portfolio.positions)
        noun = "position" if count == 1 else "positions"
        self.query_one("#portfolio-as-of", Static).update(f"{count} {noun} · as of {when(portfolio.as_of)}")
        self.set_class(empty, "-empty")
        self._chart_selected()

    def _chart_selected(self) -> None:
        symbol = self.query_one(PositionsTable).selected_symbol
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
        self._chart_selected()

    # -- actions -----------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.oapp.open_trade(str(event.row_key.value), "sell")

    def action_trade(self, side: str) -> None:
        symbol = self.query_one(PositionsTable).selected_symbol
        if symbol is None:
            self.notify("No position selected: press m for Markets to buy one", severity="warning")
            return
        self.oapp.open_trade(symbol, side)

    def action_reload(self) -> None:
        self.load()
