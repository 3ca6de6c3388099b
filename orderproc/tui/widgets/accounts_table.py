"""AccountsTable: a user's paper accounts, the one the session trades marked."""

from __future__ import annotations

from rich.text import Text

from orderproc.engine.schemas import AccountInfo
from orderproc.formatting import usd
from orderproc.tui.widgets.figure_table import Cell, Column, FigureTable, Row, right

CURRENT = "▸"


def account_cells(account: AccountInfo) -> dict[str, Cell]:
    return {
        "current": Text(CURRENT if account.current else "", style="bold"),
        "name": Text(account.name, style="bold" if account.current else ""),
        "cash": right(usd(account.cash)),
        "reserved": right(usd(account.reserved_cash) if account.reserved_cash else ""),
        "available": right(usd(account.cash - account.reserved_cash)),
    }


class AccountsTable(FigureTable):
    """Rows keyed by account name, oldest first; `selected_name` is the one under the cursor."""

    COLUMNS = (
        Column("current", "", at_right=False),
        Column("name", "Account", at_right=False),
        Column("cash", "Cash"),
        Column("reserved", "Reserved"),
        Column("available", "Available"),
    )

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.accounts: list[AccountInfo] = []

    @property
    def selected_name(self) -> str | None:
        return self.selected_key

    def show(self, accounts: list[AccountInfo]) -> None:
        self.accounts = list(accounts)
        self.show_rows([Row(a.name, account_cells(a)) for a in accounts])

    def select(self, name: str) -> None:
        """Put the cursor on the account `name` (one just opened)."""
        if name in self.keys:
            self.move_cursor(row=self.get_row_index(name), animate=False)
