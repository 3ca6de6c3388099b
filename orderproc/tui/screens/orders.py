"""The Orders page: the user's open orders, to cancel one or all, and their order history.

An open (resting) order waits for the price and holds back what it could spend: cash for a
buy, the asset for a sell. The page says how much, and reloads when the account event stream says
one of the orders changed (here or anywhere: another terminal, the price loop filling one), so an
order the price reaches moves from the open orders to the history within a second or so. Canceling
asks first; the engine's refusal (an order that filled meanwhile: `order_not_open`) is a
notification titled with its code, like every error. Enter on an order shows it in full, with
the receipt of its fill (`OrderDetails`), and from there trades its asset or cancels it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Static

from orderproc.engine.bound import Bound
from orderproc.engine.events import EventKind
from orderproc.engine.schemas import Order, Side
from orderproc.formatting import qty, reserved, usd
from orderproc.tui.order_words import kind_of, order_conditions
from orderproc.tui.screens.base import LivePage
from orderproc.tui.screens.dialogs import ConfirmDialog
from orderproc.tui.screens.order_details import OrderDetails
from orderproc.tui.widgets.order_tables import OpenOrdersTable, OrderHistoryTable

OPEN_LIMIT = 500  # the engine's largest page: more open orders than anyone keeps
HISTORY_LIMIT = 50


@dataclass(frozen=True)
class OrdersView:
    open: list[Order]
    history: list[Order]
    closed: int  # how many closed orders there are in all


def reserved_text(orders: list[Order]) -> str:
    """What these open orders hold back together: `$1,500.00 and 0.5 ETH`."""
    cash = sum((o.reserved for o in orders if o.side is Side.BUY), Decimal(0))
    assets: dict[str, Decimal] = defaultdict(Decimal)
    for o in orders:
        if o.side is Side.SELL:
            assets[o.symbol] += o.reserved
    parts = ([usd(cash)] if cash else []) + [f"{qty(n)} {symbol}" for symbol, n in sorted(assets.items())]
    if not parts:
        return "nothing"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


class OrdersScreen(LivePage[OrdersView]):
    """Ids: #orders-summary, #open-orders, #open-orders-empty, #order-history, #order-history-empty."""

    CSS_PATH = "../styles/orders.tcss"
    AUTO_FOCUS = "#open-orders"
    WATCHES = frozenset({EventKind.ORDERS})
    BINDINGS = [
        Binding("c,delete", "cancel_selected", "Cancel order", key_display="c",
                tooltip="Cancel the highlighted open order (asks first)", id="orders.cancel-order"),
        Binding("C", "cancel_all", "Cancel all", tooltip="Cancel every open order (asks first)",
                id="orders.cancel-all"),
        Binding("r", "reload", "Refresh", show=False, id="orders.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view: OrdersView | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="orders-body"):
            with Horizontal(id="orders-heading"):
                yield Label("Orders", classes="page-title")
                yield Static("", id="orders-summary", classes="muted")
            with Vertical(id="open-orders-box", classes="orders-box"):
                yield OpenOrdersTable(id="open-orders")
                yield Static("Loading…", id="open-orders-empty", classes="orders-empty muted")
            with Vertical(id="order-history-box", classes="orders-box"):
                yield OrderHistoryTable(id="order-history")
                yield Static("Loading…", id="order-history-empty", classes="orders-empty muted")

    def body_mounted(self) -> None:
        box = self.query_one("#open-orders-box")
        box.border_title = "Open orders"
        box.border_subtitle = "c cancel · C cancel all · Enter: details"
        history = self.query_one("#order-history-box")
        history.border_title = "History"
        history.border_subtitle = "Enter: details and receipt"
        self.query_one("#open-orders").display = False
        self.query_one("#order-history").display = False

    # -- data --------------------------------------------------------------------------------

    async def fetch(self, me: Bound) -> OrdersView:
        open_orders = await me.orders(open=True, limit=OPEN_LIMIT)
        history = await me.orders(open=False, limit=HISTORY_LIMIT)
        return OrdersView(open_orders.items, history.items, history.total)

    def show(self, view: OrdersView) -> None:
        self.view = view
        self.oapp.track_orders(view.open)
        table = self.query_one(OpenOrdersTable)
        had_focus = table.has_focus
        table.show(view.open)
        table.display = bool(view.open)
        empty = self.query_one("#open-orders-empty", Static)
        empty.display = not view.open
        empty.update("No open orders. On the Trade page (t), press k for a limit or stop order.")
        history = self.query_one(OrderHistoryTable)
        history.show(view.history)
        history.display = bool(view.history)
        none = self.query_one("#order-history-empty", Static)
        none.display = not view.history
        none.update("No closed orders yet.")
        # the keys act on a table: the open orders when there are some, else the history
        if view.open and self.focused is None:
            table.focus()
        elif not view.open and view.history and (had_focus or self.focused is None):
            history.focus()
        count = len(view.open)
        summary = f"{count} open · {reserved_text(view.open)} reserved" if count else "no open orders"
        shown = f"last {len(view.history)} of {view.closed}" if view.closed > len(view.history) else str(view.closed)
        self.query_one("#orders-summary", Static).update(f"{summary} · {shown} closed")
        self.refresh_bindings()

    # -- canceling ---------------------------------------------------------------------------

    def action_state(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("cancel_selected", "cancel_all"):
            return True if self.view is not None and self.view.open else None  # shown, dimmed
        return True

    def action_cancel_selected(self) -> None:
        order = self.query_one(OpenOrdersTable).selected_order
        if order is None:
            self.notify("No open order to cancel", severity="warning")
            return
        self.cancel([order], every=False)

    def action_cancel_all(self) -> None:
        orders = self.query_one(OpenOrdersTable).orders
        if not orders:
            self.notify("No open orders to cancel", severity="warning")
            return
        self.cancel(orders, every=True)

    @work(exclusive=True, group="orders-cancel", exit_on_error=False)
    async def cancel(self, orders: list[Order], every: bool) -> None:
        """Ask, then cancel one order or every open order; what they held back is released."""
        if every:
            count = len(orders)
            title = f"Cancel all {count} open order{'s' * (count != 1)}?"
            body = f"That releases {reserved_text(orders)}."
        else:
            order = orders[0]
            title = f"Cancel order #{order.id}?"
            body = (
                f"{kind_of(order.type, order.side).capitalize()} {qty(order.quantity)} {order.symbol}: "
                f"{order_conditions(order)}.\n\nThat releases {reserved(order)}."
            )
        label = "Cancel orders" if every and len(orders) > 1 else "Cancel order"
        if not await self.app.push_screen_wait(ConfirmDialog(title, body, confirm_label=label, cancel_label="Keep")):
            return
        canceled: list[Order] | None
        if every:
            canceled = await self.oapp.call(lambda me: me.cancel_orders())
        else:
            one = await self.oapp.call(lambda me: me.cancel_order(orders[0].id))
            canceled = [one] if one is not None else None
        if canceled is not None:
            self.oapp.track_orders(canceled)
            if canceled:
                ids = ", ".join(f"#{o.id}" for o in canceled)
                gone = {o.id for o in canceled}  # a canceled order holds nothing: say what it held
                self.notify(f"{reserved_text([o for o in orders if o.id in gone])} released",
                            title=f"canceled {ids}" if len(canceled) < 4 else f"canceled {len(canceled)} orders")
            else:
                self.notify("No open orders to cancel", severity="warning")
        self.load()

    # -- actions -----------------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        table = event.data_table
        if isinstance(table, OpenOrdersTable | OrderHistoryTable) and (order := table.selected_order) is not None:
            self.show_order(order.id)

    @work(exclusive=True, group="orders-details", exit_on_error=False)
    async def show_order(self, order_id: int) -> None:
        """The order as it is now, in full; then what the user chose: trade its asset or cancel it."""
        order = await self.oapp.call(lambda me: me.get_order(order_id))
        if order is None:
            return
        step = await self.app.push_screen_wait(OrderDetails(order))
        if step == "trade":
            self.oapp.open_trade(order.symbol, order.side.value)
        elif step == "cancel" and order.is_open:
            self.cancel([order], every=False)

    def action_reload(self) -> None:
        self.load()
