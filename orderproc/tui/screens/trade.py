"""The Trade page: the order ticket, a confirmation, the result; beside it the asset's chart,
the user's position and recent orders in it.

Flow: the `OrderTicket` posts `Submitted` with a draft; `place` (a worker) asks for
confirmation (saying what a resting order reserves and when it trades), places the order with
the ticket's idempotency key and hands what became of it (filled, resting, expired) or the
error back to the ticket, which shows it next to the field concerned. A resting order is
handed to the app, which announces its fill; the Orders page (`o`) lists and cancels them.
"""

from __future__ import annotations

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Static

from orderproc.engine import errors, rules
from orderproc.engine.bound import Bound
from orderproc.engine.schemas import Asset, Order, OrderStatus, OrderType, Position, Quote, Side
from orderproc.formatting import price, qty, signed, usd
from orderproc.tui.order_draft import Draft
from orderproc.tui.order_words import confirmation_title, explanation, outcome, summary
from orderproc.tui.screens.base import Page
from orderproc.tui.screens.dialogs import ConfirmDialog
from orderproc.tui.terminal import SessionEnded
from orderproc.tui.widgets.order_tables import OrderHistoryTable
from orderproc.tui.widgets.order_ticket import OrderTicket
from orderproc.tui.charting import load_marks, range_bindings
from orderproc.tui.widgets.candle_chart import CandleChart

# At this width and more the chart and recent orders sit beside the ticket (from 120 the
# recent orders table did not fit beside it: its last columns were cut).
WIDE = 160
RECENT_ORDERS = 8


class TradeScreen(Page):
    CSS_PATH = ["../styles/trade.tcss", "../styles/order_ticket.tcss"]
    BINDINGS = [
        Binding("enter", "review", "Review", show=False, id="trade.review"),
        Binding("escape", "leave_field", "Leave field", tooltip="Out of the text field: the page keys work again",
                id="trade.leave-field"),
        # the footer shows the other side's key only ("s Sell" on a buy ticket)
        Binding("b", "side('buy')", "Buy", id="trade.buy"),
        Binding("s", "side('sell')", "Sell", id="trade.sell"),
        Binding("k", "cycle_kind", "Type", tooltip="Order type: market, limit, stop, stop-limit", id="trade.type"),
        Binding("dollar_sign", "toggle_amount", "Qty/USD", key_display="$", id="trade.qty-usd"),
        Binding("i", "toggle_tif", "GTC/IOC", tooltip="Good till canceled, or immediate or cancel", id="trade.gtc-ioc"),
        Binding("slash", "focus_symbol", "Symbol", key_display="/", id="trade.symbol"),
        # in the help, not the footer: on a ticket with nothing typed it would change nothing to see
        Binding("n", "new_ticket", "New ticket", show=False, tooltip="Clear the ticket (a new idempotency key)",
                id="trade.new-ticket"),
        Binding("r", "reload", "Refresh", show=False, id="trade.refresh"),
        *range_bindings("trade", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[Asset] = []
        self.positions: dict[str, Position] = {}
        self._placing = False

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="trade-body"):
            with Vertical(id="trade-main"):
                yield OrderTicket(id="order-ticket")
            with Vertical(id="trade-aside"):
                yield CandleChart(id="trade-chart")
                yield Static("", id="trade-position")
                yield Static("", id="trade-orders-title", classes="section-title")
                yield OrderHistoryTable(with_symbol=False, id="trade-orders")

    def body_mounted(self) -> None:
        self._lay_out(self.app.size.width)
        orders = self.query_one("#trade-orders", DataTable)
        orders.show_cursor = False
        orders.display = False

    def on_resize(self, event: events.Resize) -> None:
        if self.built:
            self._lay_out(event.size.width)

    def _lay_out(self, width: int) -> None:
        self.query_one("#trade-body").set_class(width >= WIDE, "-wide")

    @property
    def ticket(self) -> OrderTicket:
        return self.query_one(OrderTicket)

    # -- loading ----------------------------------------------------------------------------

    def refresh_data(self) -> None:
        ticket = self.ticket
        ticket.prefill(self.oapp.trade_symbol, self.oapp.trade_side)
        if ticket.symbol:
            ticket.set_quote(self.oapp.quotes.get(ticket.symbol))
            self.load_asset(ticket.symbol)
        self.query_one("#ticket-amount", Input).focus()
        self.load_assets()
        self.load_portfolio()
        self.load_settings()

    def on_screen_suspend(self) -> None:
        # `t` brings the ticket back as it was left; `open_trade` from another page overrides it
        if self.ticket.symbol:
            self.oapp.trade_symbol = self.ticket.symbol
        self.oapp.trade_side = self.ticket.side.value

    @work(exclusive=True, group="trade-assets", exit_on_error=False)
    async def load_assets(self) -> None:
        if not self.assets:
            self.assets = await self.oapp.engine.list_assets()
            self.ticket.set_assets(self.assets)  # names the asset: SymbolChanged loads the rest

    @work(exclusive=True, group="trade-portfolio", exit_on_error=False)
    async def load_portfolio(self) -> None:
        portfolio = await self.oapp.call(lambda me: me.portfolio())
        if portfolio is not None:
            self.positions = {p.symbol: p for p in portfolio.positions}
            self.ticket.set_holdings(
                portfolio.cash,
                {p.symbol: p.quantity for p in portfolio.positions},
                reserved_cash=portfolio.reserved_cash,
                reserved={p.symbol: p.reserved for p in portfolio.positions if p.reserved},
            )
            self._show_position()
            if self.ticket.symbol:
                self.load_chart_marks(self.ticket.symbol)

    @work(exclusive=True, group="trade-settings", exit_on_error=False)
    async def load_settings(self) -> None:
        """Whether the ledger's fills pay a spread, slippage or fees (the ticket's preview is before them)."""
        settings = await self.oapp.call(lambda me: me.ledger_settings(), quiet=True)
        if settings is not None:
            self.ticket.set_friction(any((settings.maker_fee_bps, settings.taker_fee_bps, settings.spread_bps,
                                          settings.slippage_bps_per_1000_usd)))

    def _show_position(self) -> None:
        """The user's position in the ticket's asset, valued at the live price."""
        card = self.query_one("#trade-position", Static)
        symbol = self.ticket.symbol
        position = self.positions.get(symbol)
        if not symbol:
            card.update("")
            return
        if position is None or not position.quantity:
            card.update(Text(f"You hold no {symbol}.", style="dim"))
            return
        quote = self.oapp.quotes.get(symbol)
        now = quote.price if quote is not None else position.price
        value = rules.value(position.quantity, now)
        pnl = value - position.cost_basis
        in_orders = f" ({qty(position.reserved)} in open orders)" if position.reserved else ""
        card.update(Text.assemble(
            Text("Your position  ", style="bold"),
            f"{qty(position.quantity)} {symbol}{in_orders} · average cost {price(position.average_cost)} · "
            f"value {usd(value)} · P&L ",
            signed(pnl),
        ))

    @work(exclusive=True, group="trade-asset", exit_on_error=False)
    async def load_asset(self, symbol: str) -> None:
        """The quote, chart and recent orders of the asset the ticket shows."""
        engine = self.oapp.engine
        quote = self.oapp.quotes.get(symbol) or await engine.quote(symbol)
        self.ticket.set_quote(quote)
        if symbol == self.ticket.symbol:
            self._show_position()
            self.load_orders(symbol)
        self.load_chart(symbol)

    @work(exclusive=True, group="trade-chart", exit_on_error=False)
    async def load_chart(self, symbol: str) -> None:
        """The asset's candles over the chart's range, with the user's cost and order lines."""
        chart = self.query_one(CandleChart)
        chart.show_loading(symbol)
        series = await self.oapp.engine.candles(symbol, range=chart.range, limit=chart.candle_limit())
        marks = await load_marks(self.oapp, symbol, self.positions or None)
        if symbol == self.ticket.symbol:
            chart.show(series, marks)

    @work(exclusive=True, group="trade-chart-marks", exit_on_error=False)
    async def load_chart_marks(self, symbol: str) -> None:
        marks = await load_marks(self.oapp, symbol, self.positions)
        if symbol == self.ticket.symbol:
            self.query_one(CandleChart).set_marks(marks)

    def action_chart_range(self, step: int) -> None:
        self.query_one(CandleChart).cycle_range(step)
        if self.ticket.symbol:
            self.load_chart(self.ticket.symbol)

    def on_candle_chart_room_changed(self) -> None:
        if self.ticket.symbol:
            self.load_chart(self.ticket.symbol)

    @work(exclusive=True, group="trade-orders", exit_on_error=False)
    async def load_orders(self, symbol: str) -> None:
        """The user's recent orders in the asset, open ones included."""
        page = await self.oapp.call(lambda me: me.orders(symbol=symbol, limit=RECENT_ORDERS))
        if symbol != self.ticket.symbol:
            return
        title = self.query_one("#trade-orders-title", Static)
        table = self.query_one(OrderHistoryTable)
        if page is None or not page.items:
            table.show([])
            title.update(Text(f"No {symbol} orders yet.", style="dim"))
            table.display = False
            return
        open_count = sum(o.is_open for o in page.items)
        title.update(f"Your recent {symbol} orders" + (f" · {open_count} open (o: Orders)" if open_count else ""))
        table.show(page.items)
        table.display = True

    def orders_changed(self) -> None:
        """Resting orders filled: the cash, holdings and this asset's orders moved."""
        self.load_portfolio()
        if self.ticket.symbol:
            self.load_orders(self.ticket.symbol)

    @on(OrderTicket.SymbolChanged)
    def _symbol_changed(self, event: OrderTicket.SymbolChanged) -> None:
        self.oapp.trade_symbol = event.symbol
        self.ticket.set_quote(self.oapp.quotes.get(event.symbol))
        self._show_position()
        self.load_asset(event.symbol)

    # -- placing an order --------------------------------------------------------------------

    @on(OrderTicket.Submitted)
    def _submitted(self, event: OrderTicket.Submitted) -> None:
        event.stop()
        if self._placing:  # a second press while the first is in flight
            return
        self._placing = True
        self.oapp.trade_side = event.draft.side.value
        self.place(event.draft)

    @work(exclusive=True, group="trade-order", exit_on_error=False)
    async def place(self, draft: Draft) -> None:
        ticket = self.ticket
        request = draft.request
        try:
            # the confirmation shows the engine's own figures: fees, spread, what it reserves
            try:
                draft = draft.with_preview(await self.oapp.attempt(lambda me: me.preview_order(request)))
            except SessionEnded:
                return
            except errors.OrderprocError as exc:
                self._refused(exc)
                return
            confirmed = await self.app.push_screen_wait(
                ConfirmDialog(
                    confirmation_title(draft),
                    f"{summary(draft)}?\n\n{explanation(draft)}",
                    confirm_label=(
                        ("Buy" if draft.side is Side.BUY else "Sell") if draft.fills_now else "Place order"
                    ),
                )
            )
            if not confirmed:
                ticket.finish()
                return

            async def send(me: Bound) -> Order:
                ticket.show_placing()
                return await me.place_order(request)

            try:
                order = await self.oapp.attempt(send)
            except SessionEnded:
                return  # the ticket may submit again (below)
            except errors.OrderprocError as exc:
                self._refused(exc)
                return
            ticket.show_result(order)
            self.oapp.track_orders([order])
            status = "resting" if order.is_open else order.status.value
            self.notify(
                outcome(order),
                title=f"order #{order.id} {status}",
                severity="warning" if order.status in (OrderStatus.EXPIRED, OrderStatus.REJECTED) else "information",
            )
            self.load_portfolio()  # then the chart's lines
            self.load_orders(order.symbol)
        finally:
            self._placing = False
            if ticket.pending:
                ticket.finish()

    def _refused(self, exc: errors.OrderprocError) -> None:
        """The engine refused the order: the ticket shows why by its field, a notification too."""
        self.ticket.show_error(exc)
        self.notify(exc.message, title=exc.code, severity="error")

    # -- live prices -------------------------------------------------------------------------

    def prices_changed(self, quotes: dict[str, Quote]) -> None:
        quote = quotes.get(self.ticket.symbol)
        self.ticket.set_quote(quote)
        if quote is not None:
            self.query_one(CandleChart).update_price(quote.price)
        if self.ticket.symbol in self.positions:
            self._show_position()

    # -- actions -----------------------------------------------------------------------------

    def action_review(self) -> None:
        self.ticket.submit()

    def action_side(self, side: str) -> None:
        self.ticket.set_side(Side(side))
        self.oapp.trade_side = side

    def action_toggle_amount(self) -> None:
        self.ticket.toggle_amount_in()

    def action_cycle_kind(self) -> None:
        self.ticket.cycle_kind()

    def action_toggle_tif(self) -> None:
        self.ticket.toggle_tif()

    @on(OrderTicket.ChoicesChanged)
    def _choices_changed(self, event: OrderTicket.ChoicesChanged) -> None:
        event.stop()
        self.refresh_bindings()

    def action_state(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave_field":
            return isinstance(self.focused, Input)
        if action == "side":  # the key of the other side only: the ticket's own would change nothing
            tickets = self.query(OrderTicket)
            return not tickets or parameters[0] != tickets.first().side.value
        # only the keys the order type takes are shown: USD amounts are for market orders,
        # a time in force for limit orders
        if action in ("toggle_amount", "toggle_tif"):
            tickets = self.query(OrderTicket)
            kind = tickets.first().kind if tickets else OrderType.MARKET
            return kind is (OrderType.MARKET if action == "toggle_amount" else OrderType.LIMIT)
        return True

    def action_focus_symbol(self) -> None:
        self.query_one("#ticket-symbol", Input).focus()

    def action_new_ticket(self) -> None:
        self.ticket.new_ticket()
        self.query_one("#ticket-amount", Input).focus()

    def action_leave_field(self) -> None:
        """Out of the text fields, so single-key bindings (and page keys) work."""
        self.set_focus(None)

    def action_reload(self) -> None:
        self.refresh_data()

