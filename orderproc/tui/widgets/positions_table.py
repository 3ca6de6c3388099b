"""PositionsTable: the positions of a portfolio, updated cell by cell as prices move."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text

from orderproc.engine.schemas import Position
from orderproc.formatting import pct, price, qty, share, signed, usd
from orderproc.tui.widgets.figure_table import Cell, Column, FigureTable, Row, right

BAR_WIDTH = 20
BLOCKS = " ▏▎▍▌▋▊▉█"


def allocation_bar(allocation: Decimal, width: int = BAR_WIDTH) -> str:
    """A horizontal bar `allocation` percent of `width` cells long, in eighths of a cell."""
    eighths = int(max(Decimal(0), min(allocation, Decimal(100))) * width * 8 / 100)
    full, part = divmod(eighths, 8)
    return ("█" * full + (BLOCKS[part] if part else "")).ljust(width)


def quantity_cell(position: Position) -> Text:
    """The quantity held; what open sell orders hold back of it on a second line."""
    cell = Text(qty(position.quantity))
    if position.reserved:
        cell.append(f"\n{qty(position.reserved)} in orders", style="dim")
    return right(cell)


def position_cells(position: Position) -> dict[str, Cell]:
    """What each column shows for a position."""
    pnl = position.unrealized_pnl
    change = pnl * 100 / position.cost_basis if position.cost_basis else Decimal(0)
    return {
        "symbol": Text(position.symbol, style="bold"),
        "name": position.name,
        "quantity": quantity_cell(position),
        "average_cost": right(price(position.average_cost)),
        "price": right(price(position.price)),
        "market_value": right(usd(position.market_value)),
        "unrealized_pnl": right(signed(pnl, ("+" if pnl > 0 else "") + usd(pnl))),
        "pnl_pct": right(signed(change, pct(change))),
        "allocation": right(share(position.allocation)),
        "allocation_bar": Text(allocation_bar(position.allocation), style="dim"),
    }


class PositionsTable(FigureTable):
    """Rows keyed by symbol, in the engine's order; from 130 columns it also shows names, P&L
    in percent and allocation bars. Enter selects a row (`DataTable.RowSelected`, its
    `row_key.value` is the symbol)."""

    COLUMNS = (
        Column("symbol", "Symbol", at_right=False),
        Column("name", "Name", at_right=False, wide_only=True),
        Column("quantity", "Quantity"),
        Column("average_cost", "Avg cost"),
        Column("price", "Price"),
        Column("market_value", "Value"),
        Column("unrealized_pnl", "P&L"),
        Column("pnl_pct", "P&L %", wide_only=True),
        Column("allocation", "Alloc"),
        Column("allocation_bar", "", at_right=False, wide_only=True),
    )

    @property
    def symbols(self) -> list[str]:
        """The symbols shown, in row order."""
        return self.keys

    @property
    def selected_symbol(self) -> str | None:
        """The symbol under the cursor, if there is a row."""
        return self.selected_key

    def show(self, positions: list[Position]) -> None:
        """Bring the rows in line with `positions` (a portfolio's, in the engine's order)."""
        self.show_rows([Row(p.symbol, position_cells(p), 2 if p.reserved else 1) for p in positions])
