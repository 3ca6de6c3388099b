"""LotsTable: the open lots of a position, what each buy paid and what is left of it."""

from __future__ import annotations

from rich.text import Text

from orderproc.engine.schemas import Lot
from orderproc.formatting import price, qty, signed, signed_usd, usd
from orderproc.tui.order_words import short_when
from orderproc.tui.widgets.figure_table import Cell, Column, FigureTable, Row, right


def lot_cells(lot: Lot) -> dict[str, Cell]:
    return {
        "lot": right(f"#{lot.id}"),
        "opened": Text(short_when(lot.opened_at)),
        "bought": right(qty(lot.quantity)),
        "cost": right(usd(lot.cost)),
        "unit_cost": right(price(lot.unit_cost)),
        "remaining": right(qty(lot.remaining)),
        "remaining_cost": right(usd(lot.remaining_cost)),
        "market_value": right(usd(lot.market_value)),
        "pnl": right(signed(lot.unrealized_pnl, signed_usd(lot.unrealized_pnl))),
    }


class LotsTable(FigureTable):
    """Rows keyed by lot id, oldest first (the order FIFO sells them in)."""

    COLUMNS = (
        Column("lot", "Lot"),
        Column("opened", "Opened", at_right=False),
        Column("bought", "Bought"),
        Column("cost", "Paid", wide_only=True),
        Column("unit_cost", "Unit cost"),
        Column("remaining", "Remaining"),
        Column("remaining_cost", "Cost basis", wide_only=True),
        Column("market_value", "Value"),
        Column("pnl", "P&L"),
    )

    def show(self, lots: list[Lot]) -> None:
        self.show_rows([Row(str(lot.id), lot_cells(lot)) for lot in lots])
