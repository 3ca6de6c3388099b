"""PnlTable: a P&L report by asset (realized, unrealized, fees, total) with a totals row."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text

from orderproc.engine.schemas import PnlLine, PnlReport
from orderproc.formatting import qty, signed, signed_usd, usd
from orderproc.tui.widgets.figure_table import Cell, Column, FigureTable, Row, right

TOTAL = "__total__"  # the totals row's key (no symbol is spelt so)


def gain(amount: Decimal) -> Text:
    """`+$1.50` in green, `-$2.00` in red, right-aligned."""
    return right(signed(amount, signed_usd(amount)))


def line_cells(line: PnlLine) -> dict[str, Cell]:
    return {
        "symbol": Text(line.symbol, style="bold"),
        "quantity": right(qty(line.quantity)),
        "cost_basis": right(usd(line.cost_basis)),
        "market_value": right(usd(line.market_value)),
        "unrealized": gain(line.unrealized_pnl),
        "realized": gain(line.realized_pnl),
        "fees": right(usd(line.fees)),
        "total": gain(line.total_pnl),
    }


def total_cells(report: PnlReport) -> dict[str, Cell]:
    cells: dict[str, Cell] = {
        "symbol": Text("Total", style="bold"),
        "quantity": "",
        "cost_basis": right(usd(sum((line.cost_basis for line in report.lines), Decimal("0.00")))),
        "market_value": right(usd(sum((line.market_value for line in report.lines), Decimal("0.00")))),
        "unrealized": gain(report.unrealized_pnl),
        "realized": gain(report.realized_pnl),
        "fees": right(usd(report.fees)),
        "total": gain(report.total_pnl),
    }
    for cell in cells.values():
        if isinstance(cell, Text):
            cell.stylize("bold")
    return cells


class PnlTable(FigureTable):
    """One row per asset traded (sold out ones too), then the totals; `selected_symbol` is None
    on the totals row."""

    COLUMNS = (
        Column("symbol", "Symbol", at_right=False),
        Column("quantity", "Quantity"),
        Column("cost_basis", "Cost basis", wide_only=True),
        Column("market_value", "Value"),
        Column("unrealized", "Unrealized"),
        Column("realized", "Realized"),
        Column("fees", "Fees"),
        Column("total", "Total"),
    )

    @property
    def selected_symbol(self) -> str | None:
        key = self.selected_key
        return None if key == TOTAL else key

    def show(self, report: PnlReport) -> None:
        rows = [Row(line.symbol, line_cells(line)) for line in report.lines]
        if rows:
            rows.append(Row(TOTAL, total_cells(report)))
        self.show_rows(rows)
