"""OrderDetails: one order in full, and the receipt of its fill.

The receipt goes from the ledger price to what the account paid or received: the half spread
and the slippage paid per unit (a taker's; a maker pays neither), the fill price, the fee and
its rate, the total; a sale also says the P&L it realized. The dialog answers with what the user
chose to do next: trade the asset, cancel the order (an open one), or nothing.
"""

from __future__ import annotations

from typing import Literal

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from orderproc.engine.schemas import Order, OrderType
from orderproc.formatting import STATUS_WORDS, qty, receipt_rows, reserved, signed, signed_usd, terms, usd, when
from orderproc.tui.order_words import NONE, kind_of, order_conditions

NextStep = Literal["trade", "cancel"]


def order_rows(order: Order) -> list[tuple[str, Text | str]]:
    """What the order is and what became of it."""
    rows: list[tuple[str, Text | str]] = [
        ("Order", f"{kind_of(order.type, order.side)} ({order.time_in_force.value})"),
        ("Placed", when(order.created_at)),
        ("Quantity", f"{qty(order.quantity)} {order.symbol}"),
        ("Terms", terms(order)),
        ("Status", STATUS_WORDS[order.status]),
    ]
    if order.is_open:
        rows.append(("Reserved", reserved(order)))
    if order.triggered_at is not None and order.type is OrderType.STOP_LIMIT:
        rows.append(("Triggered", when(order.triggered_at)))
    if order.lot_id is not None:
        rows.append(("Lot", f"#{order.lot_id} first"))
    if order.closed_at is not None and order.closed_at != order.created_at:
        rows.append(("Closed", when(order.closed_at)))
    if order.reason:
        rows.append(("Reason", order.reason))
    rows.append(("Key", order.client_order_id or NONE))
    return rows


def fill_rows(order: Order) -> list[tuple[str, Text | str]]:
    """The receipt of a filled order (and the P&L a sale realized); none for an unfilled one."""
    receipt = order.receipt
    if receipt is None:
        return []
    rows: list[tuple[str, Text | str]] = list(receipt_rows(receipt))
    at_fee = next(i for i, (label, _) in enumerate(rows) if label == "Fee")
    rows.insert(at_fee, ("Notional", usd(receipt.notional)))
    if order.realized_pnl is not None:  # proceeds less the cost basis: the fee is apart
        rows.append(("Realized P&L", signed(order.realized_pnl, signed_usd(order.realized_pnl))))
        if receipt.fee:
            rows.append(("", Text("before the fee", style="dim")))
    return rows


def grid(rows: list[tuple[str, Text | str]]) -> Table:
    table = Table.grid(padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for label, value in rows:
        table.add_row(label, value)
    return table


class OrderDetails(ModalScreen[NextStep | None]):
    """Ids: #order-facts, #order-receipt (a filled order's), #order-trade, #order-cancel (an open order's)."""

    AUTO_FOCUS = ""
    BINDINGS = [
        Binding("escape,enter", "close", "Close", id="order_details.close"),
        Binding("t", "answer('trade')", "Trade", id="order_details.trade"),
        Binding("c", "answer('cancel')", "Cancel order", id="order_details.cancel-order"),
    ]

    def __init__(self, order: Order) -> None:
        super().__init__()
        self.order = order

    def compose(self) -> ComposeResult:
        order = self.order
        with Vertical(classes="dialog order-dialog"):
            yield Label(f"Order #{order.id} · {kind_of(order.type, order.side)} {qty(order.quantity)} "
                        f"{order.symbol} · {STATUS_WORDS[order.status]}", classes="dialog-title")
            with Horizontal(id="order-columns"):
                yield Static(grid(order_rows(order)), id="order-facts")
                fill = fill_rows(order)
                if fill:
                    yield Static(grid(fill), id="order-receipt")
                else:
                    why = order_conditions(order) if order.is_open else "no fill, so no receipt"
                    yield Static(Text(why[:1].upper() + why[1:] + ".", style="dim"), id="order-receipt")
            with Horizontal(classes="dialog-buttons"):
                if order.is_open:
                    yield Button("Cancel order (c)", variant="error", id="order-cancel")
                yield Button(f"Trade {order.symbol} (t)", variant="primary", id="order-trade")
                yield Button("Close (Esc)", id="order-close")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "order-trade":
            self.dismiss("trade")
        elif event.button.id == "order-cancel":
            self.dismiss("cancel")
        else:
            self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "answer" and parameters == ("cancel",):
            return self.order.is_open
        return True

    def action_answer(self, step: str) -> None:
        self.dismiss("cancel" if step == "cancel" else "trade")

    def action_close(self) -> None:
        self.dismiss(None)
