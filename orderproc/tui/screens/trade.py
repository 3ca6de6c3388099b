"""The Trade page: the order ticket, a confirmation, the fill; beside it the asset's chart.

Flow: the `OrderTicket` posts `Submitted` with a draft; `place` (a worker) asks for
confirmation, places the order with the ticket's idempotency key and hands the fill or the
error back to the ticket, which shows it next to the field concerned.
"""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Static

from orderproc.engine import errors
from orderproc.engine.schemas import Asset, Position, Quote, Side
from orderproc.formatting import price, qty, signed, usd, when
from orderproc.tui.screens.base import Page
from orderproc.tui.screens.dialogs import ConfirmDialog
from orderproc.tui.widgets.order_ticket import Draft, OrderTicket
from orderproc.tui.widgets.price_chart import PriceChart

# At this width and more the chart and recent orders sit beside the ticket.
WIDE = 120
RECENT_ORDERS = 8
CENT = Decimal("0.01")


class TradeScreen(Page):
    CSS_PATH = "../styles/trade.tcss"
    BINDINGS = [
        Binding("enter", "review", "Review", show=False),
        Binding("escape", "leave_field", "Leave field", tooltip="Leave the field: the page keys work again"),
        Binding("b", "side('buy')", "Buy"),
        Binding("s", "side('sell')", "Sell"),
        Binding("dollar_sign", "toggle_amount", "Qty/USD", key_display="$"),
        Binding("slash", "focus_symbol", "Symbol", key_display="/"),
        Binding("n", "new_ticket", "New", tooltip="A new ticket (a new idempotency key)"),
        Binding("r", "reload", "Refresh", show=False),
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
                yield PriceChart(id="trade-chart")
                yield Static("", id="trade-position")
                yield Static("", id="trade-orders-title", classes="section-title")
                yield DataTable[Text](id="trade-orders", cursor_type="row", zebra_stripes=True, show_cursor=False)

    def on_mount(self) -> None:
        self._lay_out(self.app.size.width)
        orders = self.query_one("#trade-orders", DataTable)
        for key, label in (("id", "#"), ("at", "Time"), ("side", "Side"), ("quantity", "Quantity"),
                           ("price", "Price"), ("notional", "Total")):
            orders.add_column(label, key=key)
        orders.display = False

    def on_resize(self, event: events.Resize) -> None:
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
        portfolio = await self.oapp.call(lambda token: self.oapp.engine.portfolio(token))
        if portfolio is not None:
            self.positions = {p.symbol: p for p in portfolio.positions}
            self.ticket.set_holdings(portfolio.cash, {p.symbol: p.quantity for p in portfolio.positions})
            self._show_position()

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
        value = (position.quantity * now).quantize(CENT)
        pnl = value - position.cost_basis
        card.update(Text.assemble(
            Text("Your position  ", style="bold"),
            f"{qty(position.quantity)} {symbol} · average cost {price(position.average_cost)} · value {usd(value)} · P&L ",
            signed(pnl),
        ))

    @work(exclusive=True, group="trade-asset", exit_on_error=False)
    async def load_asset(self, symbol: str) -> None:
        """The quote, chart and recent orders of the asset the ticket shows."""
        engine = self.oapp.engine
        quote = self.oapp.quotes.get(symbol) or await engine.quote(symbol)
        self.ticket.set_quote(quote)
        chart = self.query_one(PriceChart)
        chart.set_points(symbol, await engine.price_history(symbol, hours=24, points=96))
        page = await self.oapp.call(lambda token: engine.orders(token, symbol=symbol, limit=RECENT_ORDERS))
        if symbol != self.ticket.symbol:
            return
        self._show_position()
        title = self.query_one("#trade-orders-title", Static)
        table = self.query_one("#trade-orders", DataTable)
        table.clear()
        if page is None or not page.items:
            title.update(Text(f"No {symbol} orders yet.", style="dim"))
            table.display = False
            return
        title.update(f"Your recent {symbol} orders")
        for order in page.items:
            buying = order.side is Side.BUY
            table.add_row(
                Text(str(order.id), justify="right"),
                Text(when(order.created_at)),
                signed(Decimal(1 if buying else -1), order.side.value),
                Text(qty(order.quantity), justify="right"),
                Text(price(order.price), justify="right"),
                Text(usd(order.notional), justify="right"),
                key=str(order.id),
            )
        table.display = True

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
        try:
            confirmed = await self.app.push_screen_wait(
                ConfirmDialog(
                    f"Confirm {'buy' if draft.side is Side.BUY else 'sell'}",
                    f"{draft.summary()}?\n\n{draft.guard()}",
                    confirm_label="Buy" if draft.side is Side.BUY else "Sell",
                )
            )
            if not confirmed:
                ticket.finish()
                return
            token = self.oapp.token
            if token is None:
                self.oapp.signed_out()
                return
            ticket.show_placing()
            try:
                order = await self.oapp.engine.place_order(token, draft.request)
            except errors.AuthRequired as exc:
                self.notify(exc.message, title=exc.code, severity="warning")
                self.oapp.signed_out()
                ticket.finish()
                return
            except errors.OrderprocError as exc:
                ticket.show_error(exc)
                self.notify(exc.message, title=exc.code, severity="error")
                return
            ticket.show_fill(order)
            verb = "Bought" if order.side is Side.BUY else "Sold"
            self.notify(
                f"{verb} {qty(order.quantity)} {order.symbol} at {price(order.price)} for {usd(order.notional)}",
                title=f"order #{order.id} filled",
            )
            self.load_portfolio()
            self.load_asset(order.symbol)
        finally:
            self._placing = False
            if ticket.pending:
                ticket.finish()

    # -- live prices -------------------------------------------------------------------------

    def prices_changed(self, quotes: dict[str, Quote]) -> None:
        self.ticket.set_quote(quotes.get(self.ticket.symbol))
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

