"""Tables of orders: the open (resting) orders one can cancel, and orders of any status.

Both are rebuilt whole by `show(orders)` (a few dozen rows that change when an order is placed,
fills or is canceled), keeping the cursor on the same order when it is still there.
"""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.widgets import DataTable

from orderproc.engine.schemas import Order, OrderStatus, OrderType, Side
from orderproc.formatting import STATUS_WORDS, qty, reserved, signed, usd
from orderproc.tui.order_words import NONE, kind_of, price_lines, short_when
from orderproc.tui.widgets.figure_table import right


def order_cell(order: Order) -> Text:
    """`buy`, `limit sell`: green for buys, red for sells."""
    return signed(Decimal(1 if order.side is Side.BUY else -1), kind_of(order.type, order.side))


class OrdersTable(DataTable[Text]):
    """Rows keyed by order id; `selected_order` is the order under the cursor."""

    COLUMNS: tuple[tuple[str, str, bool], ...] = ()  # (key, label, right-aligned)

    DEFAULT_CSS = """
    OrdersTable {
        height: auto;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._orders: list[Order] = []

    def on_mount(self) -> None:
        for key, label, at_right in self._columns():
            self.add_column(right(label) if at_right else Text(label), key=key)

    def _columns(self) -> tuple[tuple[str, str, bool], ...]:
        return self.COLUMNS

    @property
    def orders(self) -> list[Order]:
        return list(self._orders)

    @property
    def selected_order(self) -> Order | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return next((o for o in self._orders if str(o.id) == row_key.value), None)

    def show(self, orders: list[Order]) -> None:
        """Show `orders` (newest first), the cursor staying on its order if it is still shown."""
        if orders == self._orders and self.row_count == len(orders):
            return  # the page reloads with every price tick: most reloads change nothing
        selected = self.selected_order
        self._orders = list(orders)
        self.clear()
        columns = [str(key.value) for key in self.columns]
        for order in orders:
            cells = self.cells(order)
            self.add_row(*(cells[c] for c in columns), key=str(order.id), height=self.row_height(order))
        if selected is not None and any(o.id == selected.id for o in orders):
            self.move_cursor(row=self.get_row_index(str(selected.id)), animate=False)

    def cells(self, order: Order) -> dict[str, Text]:
        raise NotImplementedError

    def row_height(self, order: Order) -> int:
        return len(price_lines(order).splitlines())


class OpenOrdersTable(OrdersTable):
    """Resting orders: what they are, the price they wait for, what they hold back, when they
    were placed (narrow enough for 80 columns: a stop-limit's two prices take two lines)."""

    COLUMNS = (
        ("id", "#", True),
        ("order", "Order", False),
        ("quantity", "Qty", True),
        ("price", "Price", True),
        ("reserved", "Reserved", True),
        ("placed", "Placed", False),
    )

    def cells(self, order: Order) -> dict[str, Text]:
        terms = price_lines(order)
        if order.type is OrderType.STOP_LIMIT and order.triggered_at:
            terms += " (stop hit)"
        return {
            "id": right(str(order.id)),
            "order": order_cell(order),
            "quantity": right(f"{qty(order.quantity)} {order.symbol}"),
            "price": right(terms),
            "reserved": right(reserved(order)),
            "placed": Text(short_when(order.created_at)),
        }

class OrderHistoryTable(OrdersTable):
    """Orders of any status: the fill's price and total, or the open order's terms and `—`."""

    COLUMNS = (
        ("id", "#", True),
        ("at", "Time", False),
        ("order", "Order", False),
        ("symbol", "Symbol", False),
        ("quantity", "Qty", True),
        ("price", "Price", True),
        ("notional", "Total", True),
        ("status", "Status", False),
    )

    def __init__(self, *, with_symbol: bool = True, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.with_symbol = with_symbol

    def _columns(self) -> tuple[tuple[str, str, bool], ...]:
        return tuple(c for c in self.COLUMNS if self.with_symbol or c[0] != "symbol")

    def cells(self, order: Order) -> dict[str, Text]:
        status = STATUS_WORDS[order.status]
        return {
            "id": right(str(order.id)),
            "at": Text(short_when(order.created_at)),
            "order": order_cell(order),
            "symbol": Text(order.symbol, style="bold"),
            "quantity": right(qty(order.quantity)),
            "price": right(Text(price_lines(order), style="" if order.price is not None else "dim")),
            "notional": right(usd(order.notional)) if order.notional is not None else right(Text(NONE, style="dim")),
            "status": Text(status, style="bold" if order.is_open else "" if order.status is OrderStatus.FILLED
                           else "dim"),
        }
