"""RecentOrders: the user's last few orders, compact when narrow, with price and status when wide.

An open order has no fill price or total yet: the wide layout shows its limit or stop instead
and a dash for the total; the narrow ones say its status where the total would be.
"""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from orderproc.engine.schemas import Order, OrderStatus, Side
from orderproc.formatting import STATUS_WORDS, qty, signed, usd
from orderproc.tui.order_words import NONE, short_terms, short_when
from orderproc.tui.widgets.order_tables import order_cell

# How many columns the table needs for each layout: full (with price and status), with the
# quantity, or the bare minimum (when, what, how much).
FULL = 70
WITH_QTY = 48


def _layout(width: int) -> str:
    return "full" if width >= FULL else "qty" if width >= WITH_QTY else "compact"


class RecentOrders(Vertical):
    """`show(orders)` (newest first); Enter on a row posts `Selected` with its symbol."""

    DEFAULT_CSS = """
    RecentOrders {
        height: auto;
    }
    RecentOrders > DataTable {
        height: auto;
    }
    RecentOrders > .recent-orders-empty {
        color: $text-muted;
        padding: 0 1;
    }
    """

    class Selected(Message):
        """The user chose an order's asset (to trade it again)."""

        def __init__(self, symbol: str) -> None:
            super().__init__()
            self.symbol = symbol

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._orders: list[Order] | None = None
        self._layout: str | None = None

    def compose(self) -> ComposeResult:
        yield DataTable(id="recent-orders-table", cursor_type="row", zebra_stripes=True)
        yield Static("Loading orders…", id="recent-orders-empty", classes="recent-orders-empty")

    def on_mount(self) -> None:
        self.query_one(DataTable).display = False

    def show(self, orders: list[Order]) -> None:
        self._orders = orders
        self._render_orders()

    def on_resize(self, event: events.Resize) -> None:
        if self._orders is not None and _layout(event.size.width) != self._layout:
            # rebuilt after the resize settles: rebuilt inside it, the columns kept their header widths
            self.call_after_refresh(self._render_orders)

    def _render_orders(self) -> None:
        # Five rows that change only when the page is shown: rebuilt whole, not cell by cell.
        orders = self._orders or []
        table = self.query_one(DataTable)
        empty = self.query_one("#recent-orders-empty", Static)
        table.display = bool(orders)
        empty.display = not orders
        empty.update("No orders yet: press t to open the Trade ticket")
        self._layout = layout = _layout(self.size.width)
        table.clear(columns=True)
        if layout == "full":
            table.add_columns("When", "Order", "Symbol", "Qty", "Price", "Total", "Status")
        elif layout == "qty":
            table.add_columns("When", "Order", "Qty", "Total")
        else:
            table.add_columns("When", "Order", "Total")
        for order in orders:
            side = order_cell(order) if layout == "full" else signed(
                Decimal(1 if order.side is Side.BUY else -1), order.side.value)
            filled = order.status is OrderStatus.FILLED and order.notional is not None
            status = STATUS_WORDS[order.status]
            # an order not filled has no total: the narrow layouts say its status instead
            total: str | Text = usd(order.notional) if filled and order.notional is not None else (
                Text(NONE, style="dim") if layout == "full" else Text(status, style="bold" if order.is_open else "dim"))
            cells: tuple[object, ...]
            if layout == "full":
                cells = (short_when(order.created_at), side, order.symbol, qty(order.quantity),
                         Text(short_terms(order), style="" if order.price is not None else "dim"), total,
                         Text(status, style="bold" if order.is_open else "" if filled else "dim"))
            elif layout == "qty":
                cells = (short_when(order.created_at), side + Text(f" {order.symbol}"), qty(order.quantity), total)
            else:
                cells = (short_when(order.created_at), side + Text(f" {order.symbol}"), total)
            table.add_row(*cells, key=str(order.id))
        # as high as its rows, set outright: a DataTable of `height: auto` filled after its first
        # layout could stay 0 rows high until something laid the screen out again (seen under load)
        table.styles.height = table.header_height + table.row_count if orders else "auto"

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        for order in self._orders or []:
            if str(order.id) == event.row_key.value:
                self.post_message(self.Selected(order.symbol))
                return
