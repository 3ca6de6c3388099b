"""The Dashboard page: equity at a glance, top movers, recent orders and a chart.

Valuations follow the prices without asking the engine: each `prices_changed` values the
portfolio last read at the new quotes (`orderproc.engine.valuation`). The portfolio and the
recent orders are read again when the account event stream says they changed. The movers come
from the app's quotes, so they cost no engine call. The chart shows the largest position until
the user chooses an asset (`c`, `[`, `]`), over the range `g`/`G` pick; live prices move its
last candle and it reloads every 30 s.
"""

from __future__ import annotations

import asyncio

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.timer import Timer
from textual.widgets import Input, Label, Static

from orderproc.engine import errors
from orderproc.engine.events import AccountEvent, EventKind
from orderproc.engine.schemas import Portfolio, Quote
from orderproc.engine.valuation import revalued
from orderproc.tui.screens.base import Page
from orderproc.tui.widgets.dashboard_cards import EquityCards
from orderproc.tui.widgets.movers import TopMovers
from orderproc.tui.charting import load_marks, range_bindings
from orderproc.tui.widgets.candle_chart import CandleChart
from orderproc.tui.widgets.recent_orders import RecentOrders

DEFAULT_SYMBOL = "BTC"
CHART_RELOAD_SECONDS = 30.0


class ChartPicker(ModalScreen[str | None]):
    """Ask for the symbol to chart; Enter shows it, Escape keeps the current one."""

    CSS_PATH = "../styles/dashboard.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dashboard.cancel")]

    def __init__(self, symbols: list[str], held: list[str], current: str | None) -> None:
        super().__init__()
        self._symbols = symbols
        self._held = held
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="chart-picker", classes="dialog"):
            yield Label("Chart which asset?", classes="dialog-title")
            yield Input(
                placeholder="symbol, e.g. BTC",
                id="chart-symbol",
                max_length=16,
                suggester=SuggestFromList(self._symbols, case_sensitive=False) if self._symbols else None,
            )
            yield Static("", id="chart-symbol-error", classes="field-error")
            held = " ".join(self._held) if self._held else "none yet"
            yield Static(f"Held: {held}", classes="muted")
            yield Static("Enter: chart it · Esc: cancel · [ ] cycle held", classes="muted")

    def on_mount(self) -> None:
        self.query_one("#chart-symbol", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        symbol = event.value.strip().upper()
        error = self.query_one("#chart-symbol-error", Static)
        if not symbol:
            error.update("type a symbol")
        elif self._symbols and symbol not in self._symbols:
            error.update(f"no asset {symbol}")
        else:
            self.dismiss(symbol)

    def action_cancel(self) -> None:
        self.dismiss(None)


class DashboardScreen(Page):
    CSS_PATH = "../styles/dashboard.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (24, "-normal"), (30, "-middle"), (36, "-tall")]
    BINDINGS = [
        Binding("c", "pick_chart", "Chart", tooltip="Choose the asset the chart shows", id="dashboard.chart"),
        # [ and ] are hinted on the chart's border, keeping the footer free for the page keys
        Binding("[", "cycle_chart(-1)", "Prev held", show=False, tooltip="Chart the previous asset you hold",
                id="dashboard.prev-held"),
        Binding("]", "cycle_chart(1)", "Next held", show=False, tooltip="Chart the next asset you hold",
                id="dashboard.next-held"),
        Binding("r", "reload", "Refresh", show=False, id="dashboard.refresh"),
        *range_bindings("dashboard"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._portfolio: Portfolio | None = None
        self._chart_symbol: str | None = None
        self._chart_chosen = False  # the user picked the symbol: stop following the largest position
        self._auto_pick_pending = True
        self._chart_timer: Timer | None = None

    def compose_body(self) -> ComposeResult:
        with Container(id="dash-body"):
            yield EquityCards(id="dash-cards")
            with Vertical(id="dash-chart-box"):
                yield CandleChart(id="dash-chart")
            yield TopMovers(id="dash-movers")
            yield RecentOrders(id="dash-orders")

    def body_mounted(self) -> None:
        self.query_one("#dash-chart-box").border_title = "Chart"
        self.query_one("#dash-chart-box").border_subtitle = "c: choose an asset · [ ]: previous/next held · g: range"
        self.query_one("#dash-movers").border_title = "Top movers 24h"
        self.query_one("#dash-movers").border_subtitle = "Enter: trade"
        self.query_one("#dash-orders").border_title = "Recent orders"
        self._chart_timer = self.set_interval(CHART_RELOAD_SECONDS, self._chart_tick)

    # -- data --------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        self._auto_pick_pending = not self._chart_chosen
        self.load_portfolio(quiet=False)
        self.load_orders()
        if self.oapp.quotes:
            self.query_one(TopMovers).show(self.oapp.quotes)
        if self._chart_chosen and self._chart_symbol is not None:
            self.load_chart(self._chart_symbol)

    def account_changed(self, event: AccountEvent) -> None:
        if event.moved({EventKind.BALANCES, EventKind.ORDERS}):
            self.load_portfolio(quiet=True)
        if event.moved({EventKind.ORDERS}):
            self.load_orders()
            if self._chart_symbol is not None:
                self.load_chart(self._chart_symbol)  # its cost and order lines

    def prices_changed(self, quotes: dict[str, Quote]) -> None:
        self.query_one(TopMovers).show(quotes)
        if self._portfolio is not None:
            self._portfolio = revalued(self._portfolio, quotes)
            self.query_one(EquityCards).show(self._portfolio)
        if self._chart_symbol is not None and (quote := quotes.get(self._chart_symbol)) is not None:
            self.query_one(CandleChart).update_price(quote.price)

    @work(exclusive=True, group="dash-portfolio", exit_on_error=False)
    async def load_portfolio(self, quiet: bool) -> None:
        """Value the portfolio. The first load of a visit reports errors; the reloads on account
        events stay quiet (the next one retries) rather than stack notifications."""
        portfolio = await self.oapp.call(lambda me: me.portfolio(), quiet=quiet)
        if portfolio is not None:
            self._portfolio = portfolio
            self.query_one(EquityCards).show(portfolio)
        if self._auto_pick_pending and not self._chart_chosen:
            self._auto_pick_pending = False
            largest = max(portfolio.positions, key=lambda p: p.market_value, default=None) if portfolio else None
            self._set_chart_symbol(largest.symbol if largest else (self._chart_symbol or DEFAULT_SYMBOL))

    @work(exclusive=True, group="dash-orders", exit_on_error=False)
    async def load_orders(self) -> None:
        page = await self.oapp.call(lambda me: me.orders(limit=5))
        if page is not None:
            self.query_one(RecentOrders).show(page.items)

    @work(exclusive=True, group="dash-chart", exit_on_error=False)
    async def load_chart(self, symbol: str) -> None:
        box = self.query_one("#dash-chart-box")
        chart = self.query_one(CandleChart)
        positions = {p.symbol: p for p in self._portfolio.positions} if self._portfolio is not None else None
        # the candles and the lines at once: the Dashboard is the first page, and waits for both
        asked = asyncio.gather(self.oapp.engine.candles(symbol, range=chart.range, limit=chart.candle_limit()),
                               load_marks(self.oapp, symbol, positions))
        try:
            series, marks = await asked
        except errors.OrderprocError as exc:
            box.border_title = f"Chart · {symbol} unavailable"
            self.notify(exc.message, title=exc.code, severity="error")
            return
        if symbol == self._chart_symbol:
            box.border_title = f"Chart · {symbol}"
            chart.show(series, marks)

    def _set_chart_symbol(self, symbol: str, *, chosen: bool = False) -> None:
        self._chart_chosen = self._chart_chosen or chosen
        self._chart_symbol = symbol
        self.query_one("#dash-chart-box").border_title = f"Chart · {symbol} (loading)"
        self.query_one(CandleChart).show_loading(symbol)
        if self._chart_timer is not None:
            self._chart_timer.reset()
        self.load_chart(symbol)

    def _chart_tick(self) -> None:
        if self.is_current and self._chart_symbol is not None:
            self.load_chart(self._chart_symbol)

    # -- actions -----------------------------------------------------------------------------

    def _held(self) -> list[str]:
        return sorted(p.symbol for p in self._portfolio.positions) if self._portfolio else []

    def action_pick_chart(self) -> None:
        def picked(symbol: str | None) -> None:
            if symbol:
                self._set_chart_symbol(symbol, chosen=True)

        symbols = sorted(self.oapp.quotes)
        self.app.push_screen(ChartPicker(symbols, self._held(), self._chart_symbol), picked)

    def action_cycle_chart(self, step: int) -> None:
        held = self._held()
        if not held:
            self.notify("You hold no assets yet: press c to chart any symbol", title="chart")
            return
        if self._chart_symbol in held:
            index = (held.index(self._chart_symbol) + step) % len(held)
        else:
            index = 0 if step > 0 else len(held) - 1
        self._set_chart_symbol(held[index], chosen=True)

    def action_reload(self) -> None:
        self.refresh_data()

    def action_chart_range(self, step: int) -> None:
        chart = self.query_one(CandleChart)
        chart.cycle_range(step)
        if self._chart_symbol is not None:
            self._set_chart_symbol(self._chart_symbol)

    def on_candle_chart_room_changed(self) -> None:
        if self._chart_symbol is not None:
            self.load_chart(self._chart_symbol)

    def on_top_movers_selected(self, message: TopMovers.Selected) -> None:
        self.oapp.open_trade(message.symbol)

    def on_recent_orders_selected(self, message: RecentOrders.Selected) -> None:
        self.oapp.open_trade(message.symbol)
