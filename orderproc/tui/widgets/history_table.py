"""HistoryTable: one page of the cash and asset transactions of an account."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from orderproc.engine.schemas import Transaction, TxKind
from orderproc.formatting import qty, signed, usd, when

KIND_LABELS: dict[TxKind, str] = {
    TxKind.DEPOSIT: "Deposit",
    TxKind.WITHDRAWAL: "Withdrawal",
    TxKind.BUY: "Buy",
    TxKind.SELL: "Sell",
    TxKind.RESET: "Reset",
}


def _right(text: str | Text) -> Text:
    cell = text.copy() if isinstance(text, Text) else Text(text)
    cell.justify = "right"
    return cell


def transaction_cells(tx: Transaction) -> tuple[str | Text, ...]:
    """Time, kind, symbol, quantity (signed, for trades) and cash (coloured by sign)."""
    quantity: str | Text = ""
    if tx.quantity is not None:
        quantity = signed(tx.quantity, ("+" if tx.quantity > 0 else "") + qty(tx.quantity))
    cash = signed(tx.cash, ("+" if tx.cash > 0 else "") + usd(tx.cash))
    return (
        when(tx.created_at),
        KIND_LABELS.get(tx.kind, str(tx.kind)),
        tx.symbol or "",
        _right(quantity),
        _right(cash),
    )


class HistoryTable(DataTable[str | Text]):
    """`show(transactions)` replaces the rows with one page (rows keyed by transaction id)."""

    DEFAULT_CSS = """
    HistoryTable {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.add_column("Time", key="time")
        self.add_column("Kind", key="kind")
        self.add_column("Symbol", key="symbol")
        self.add_column(_right("Quantity"), key="quantity")
        self.add_column(_right("Cash"), key="cash")

    def show(self, transactions: list[Transaction]) -> None:
        row = self.cursor_row
        self.clear()
        for tx in transactions:
            self.add_row(*transaction_cells(tx), key=str(tx.id))
        if self.row_count:
            self.move_cursor(row=min(row, self.row_count - 1), animate=False)
