"""The Leaderboard page: everyone on this ledger ranked by equity or by return, live.

On a shared ledger (a server) this is where a class or a team sees who is ahead; another
terminal's trade or deposit shows here within a second, as the page reloads on each leaderboard
event of the account stream. Equity also moves with the prices of what everyone holds, which only
the ledger can value: the page reads the board again every REVALUE_SECONDS as prices tick. Each of a
trader's paper accounts has its own line (`alice/scalping`; `main` goes unnamed); ▸ marks the
account this session trades.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Static

from orderproc.engine.bound import Bound
from orderproc.engine.events import EventKind
from orderproc.engine.schemas import LeaderboardEntry
from orderproc.formatting import pct, signed, signed_usd, trader, usd
from orderproc.tui.screens.base import LivePage
from orderproc.tui.widgets.figure_table import right

COLUMNS = (("#", "rank"), ("Trader", "trader"), ("Equity", "equity"), ("Net deposits", "net"), ("P&L", "pnl"),
           ("Return", "return"))


class LeaderboardScreen(LivePage[list[LeaderboardEntry]]):
    """Ids: #leaderboard-table, #leaderboard-empty, #leaderboard-note."""

    CSS_PATH = "../styles/leaderboard.tcss"
    AUTO_FOCUS = "#leaderboard-table"
    WATCHES = frozenset({EventKind.LEADERBOARD})
    REVALUE_SECONDS = 10.0
    BINDINGS = [
        Binding("s", "toggle_sort", "Sort", tooltip="Rank by equity or by return since the first deposit",
                id="leaderboard.sort"),
        Binding("r", "reload", "Refresh", show=False, id="leaderboard.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sort = "equity"

    def compose_body(self) -> ComposeResult:
        with Vertical(id="leaderboard-body"):
            with Horizontal(id="leaderboard-heading"):
                yield Label("Leaderboard", classes="page-title")
                yield Static("", id="leaderboard-note", classes="muted")
            yield DataTable(id="leaderboard-table", cursor_type="row", zebra_stripes=True)
            yield Static("Nobody has deposited yet: the board lists traders from their first deposit.",
                         id="leaderboard-empty", classes="muted")

    def body_mounted(self) -> None:
        table = self.query_one(DataTable)
        for title, key in COLUMNS:
            table.add_column(title, key=key)

    async def fetch(self, me: Bound) -> list[LeaderboardEntry]:
        return await me.leaderboard(sort=self.sort, limit=100)

    def show(self, rows: list[LeaderboardEntry]) -> None:
        table = self.query_one(DataTable)
        me = (self.oapp.user.username, self.oapp.account or "main") if self.oapp.user else None
        cursor = table.cursor_row
        table.clear()
        for r in rows:
            name = trader(r)
            if (r.username, r.account) == me:
                name = f"▸ {name}"
            table.add_row(
                right(str(r.rank)), name, right(usd(r.equity)), right(usd(r.net_deposits)),
                right(signed(r.pnl, signed_usd(r.pnl))), right(signed(r.return_pct, pct(r.return_pct))),
                key=f"{r.username}/{r.account}",
            )
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))
        table.display = bool(rows)
        self.query_one("#leaderboard-empty").display = not rows
        by = "equity" if self.sort == "equity" else "return since first deposit"
        traders = len({r.username for r in rows})
        count = f"{traders} trader{'s' * (traders != 1)}"
        if len(rows) != traders:
            count += f" · {len(rows)} accounts"
        self.query_one("#leaderboard-note", Static).update(f"{count} · by {by} · s: sort")

    def action_toggle_sort(self) -> None:
        self.sort = "return" if self.sort == "equity" else "equity"
        self.load()

    def action_reload(self) -> None:
        self.load()
