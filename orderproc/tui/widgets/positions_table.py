"""PositionsTable: the positions of a portfolio, updated cell by cell as prices move."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual import events
from textual.widgets import DataTable

from orderproc.engine.schemas import Position
from orderproc.formatting import pct, price, qty, signed, usd

WIDE = 130  # from this many columns the table also shows names, P&L in percent, allocation bars

# (key, label, shown only when wide)
COLUMNS: list[tuple[str, str, bool]] = [
    ("symbol", "Symbol", False),
    ("name", "Name", True),
    ("quantity", "Quantity", False),
    ("average_cost", "Avg cost", False),
    ("price", "Price", False),
    ("market_value", "Value", False),
    ("unrealized_pnl", "P&L", False),
    ("pnl_pct", "P&L %", True),
    ("allocation", "Alloc", False),
    ("allocation_bar", "", True),
]
BAR_WIDTH = 20
BLOCKS = " ▏▎▍▌▋▊▉█"


def allocation_bar(allocation: Decimal, width: int = BAR_WIDTH) -> str:
    """A horizontal bar `allocation` percent of `width` cells long, in eighths of a cell."""
    eighths = int(max(Decimal(0), min(allocation, Decimal(100))) * width * 8 / 100)
    full, part = divmod(eighths, 8)
    return ("█" * full + (BLOCKS[part] if part else "")).ljust(width)


def right(text: str | Text) -> Text:
    cell = text.copy() if isinstance(text, Text) else Text(text)
    cell.justify = "right"
    return cell


def position_cells(position: Position) -> dict[str, str | Text]:
    """What each column shows for a position."""
    pnl = position.unrealized_pnl
    change = pnl * 100 / position.cost_basis if position.cost_basis else Decimal(0)
    return {
        "symbol": Text(position.symbol, style="bold"),
        "name": position.name,
        "quantity": right(qty(position.quantity)),
        "average_cost": right(price(position.average_cost)),
        "price": right(price(position.price)),
        "market_value": right(usd(position.market_value)),
        "unrealized_pnl": right(signed(pnl, ("+" if pnl > 0 else "") + usd(pnl))),
        "pnl_pct": right(signed(change, pct(change))),
        "allocation": right(f"{position.allocation:.2f}%"),
        "allocation_bar": Text(allocation_bar(position.allocation), style="dim"),
    }


class PositionsTable(DataTable[str | Text]):
    """Rows keyed by symbol. `show(positions)` updates changed cells in place and adds or
    removes rows only when a position appears or disappears; Enter selects a row
    (`DataTable.RowSelected`, its `row_key.value` is the symbol)."""

    DEFAULT_CSS = """
    PositionsTable {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._positions: list[Position] = []
        self._shown: dict[str, dict[str, str | Text]] = {}  # symbol -> column -> cell
        self._wide: bool | None = None

    def on_mount(self) -> None:
        self._set_columns(self.size.width >= WIDE if self.size.width else False)

    def on_resize(self, event: events.Resize) -> None:
        wide = event.size.width >= WIDE
        if wide != self._wide:
            self._set_columns(wide)

    @property
    def symbols(self) -> list[str]:
        """The symbols shown, in row order."""
        return [str(row.key.value) for row in self.ordered_rows]

    @property
    def selected_symbol(self) -> str | None:
        """The symbol under the cursor, if there is a row."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return str(row_key.value)

    def show(self, positions: list[Position]) -> None:
        """Bring the rows in line with `positions` (a portfolio's, in the engine's order)."""
        self._positions = list(positions)
        columns = [str(key.value) for key in self.columns]
        wanted = {p.symbol for p in positions}
        for symbol in [s for s in self._shown if s not in wanted]:
            self.remove_row(symbol)
            del self._shown[symbol]
        for position in positions:
            cells = position_cells(position)
            shown = self._shown.get(position.symbol)
            if shown is None:
                self.add_row(*(cells[c] for c in columns), key=position.symbol)
            else:
                for column in columns:
                    if shown.get(column) != cells[column]:
                        self.update_cell(position.symbol, column, cells[column], update_width=True)
            self._shown[position.symbol] = cells

    def _set_columns(self, wide: bool) -> None:
        """(Re)build the columns for the width, keeping the rows and the cursor."""
        self._wide = wide
        selected = self.selected_symbol
        self.clear(columns=True)
        self._shown.clear()
        for key, label, wide_only in COLUMNS:
            if wide or not wide_only:
                self.add_column(label if key in ("symbol", "name") else right(label), key=key)
        self.show(self._positions)
        if selected is not None and selected in self._shown:
            self.move_cursor(row=self.get_row_index(selected), animate=False)
