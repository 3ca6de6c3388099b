"""FigureTable: a table of figures that follow the prices (positions, P&L, lots, accounts).

Rows are keyed; `show_rows` rewrites only the cells that changed while the rows stay the same
(a price tick moves a few figures: the cursor and the scroll stay put) and rebuilds the rows
when one appears, goes or changes height. Some columns are shown only from WIDE columns on.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

from rich.text import Text
from textual import events
from textual.widgets import DataTable

Cell = str | Text


class Column(NamedTuple):
    key: str
    label: str
    at_right: bool = True  # figures are right-aligned, names and times are not
    wide_only: bool = False


class Row(NamedTuple):
    key: str
    cells: dict[str, Cell]
    height: int = 1


def same(a: Cell | None, b: Cell | None) -> bool:
    """Whether two cells look alike (rich's Text equality ignores the style of the whole text)."""
    if isinstance(a, Text) and isinstance(b, Text):
        return (a.plain, str(a.style), a.spans, a.justify) == (b.plain, str(b.style), b.spans, b.justify)
    return a == b


def right(text: Cell) -> Text:
    """`text` right-aligned in its cell."""
    cell = text.copy() if isinstance(text, Text) else Text(text)
    cell.justify = "right"
    return cell


class FigureTable(DataTable[Cell]):
    """Subclasses set COLUMNS and fill it with `show_rows`; `selected_key` is the row under the cursor."""

    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    WIDE: ClassVar[int] = 130

    DEFAULT_CSS = """
    FigureTable {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._shown_rows: list[Row] = []
        self._wide: bool | None = None

    def on_mount(self) -> None:
        self._set_columns(self.size.width >= self.WIDE if self.size.width else False)

    def on_resize(self, event: events.Resize) -> None:
        wide = event.size.width >= self.WIDE
        if wide != self._wide:
            self._set_columns(wide)

    @property
    def keys(self) -> list[str]:
        """The row keys, in row order."""
        return [str(row.key.value) for row in self.ordered_rows]

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return str(row_key.value)

    def show_rows(self, rows: list[Row]) -> None:
        """Bring the table in line with `rows`."""
        old, self._shown_rows = self._shown_rows, list(rows)
        if [(r.key, r.height) for r in old] != [(r.key, r.height) for r in rows] or self.row_count != len(rows):
            self._fill(self.selected_key)
            return
        columns = [str(key.value) for key in self.columns]
        for before, now in zip(old, rows, strict=True):
            for column in columns:
                if not same(before.cells.get(column), now.cells.get(column)):
                    self.update_cell(now.key, column, now.cells.get(column, ""), update_width=True)

    def _fill(self, selected: str | None) -> None:
        self.clear()
        columns = [str(key.value) for key in self.columns]
        for row in self._shown_rows:
            self.add_row(*(row.cells.get(c, "") for c in columns), key=row.key, height=row.height)
        if selected is not None and any(row.key == selected for row in self._shown_rows):
            self.move_cursor(row=self.get_row_index(selected), animate=False)

    def _set_columns(self, wide: bool) -> None:
        """(Re)build the columns for the width, keeping the rows and the cursor."""
        self._wide = wide
        selected = self.selected_key
        self.clear(columns=True)
        for column in self.COLUMNS:
            if wide or not column.wide_only:
                self.add_column(right(column.label) if column.at_right else Text(column.label), key=column.key)
        self._fill(selected)
