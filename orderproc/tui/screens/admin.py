"""The Admin page (admins only): users, the audit log and the ledger check.

Changing a user (enable/disable, grant/revoke admin) asks first; the admin cannot change their
own account here, since demoting or disabling themselves would end this very session.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.coordinate import Coordinate
from textual.widgets import Button, DataTable, Static, TabbedContent, TabPane

from orderproc.engine.schemas import AuditEvent, Role, User, VerifyReport
from orderproc.formatting import price, qty, signed, usd, when
from orderproc.tui.screens.base import Page
from orderproc.tui.screens.dialogs import ConfirmDialog

AUDIT_PAGE = 50
USER_COLUMNS = ("id", "username", "role", "status", "email", "created")
USER_ACTIONS = ("toggle_disabled", "toggle_admin")
AUDIT_ACTIONS = ("audit_page",)


def _user_cells(user: User) -> tuple[Any, ...]:
    status = signed(Decimal(-1), "disabled") if user.disabled else Text("active")
    role = Text(user.role.value, style="bold" if user.role is Role.ADMIN else "")
    # strings in a DataTable are read as markup: what users typed goes in as plain Text
    return (str(user.id), Text(user.username), role, status, Text(user.email or ""), when(user.created_at))


# the audit details that are amounts of dollars (the others are shown as they are), and those
# said first, in this order (the others follow as stored)
DOLLAR_DETAILS = {"amount", "cash", "price", "limit_price", "stop_price"}
FIRST_DETAILS = ("symbol", "side", "type")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _detail_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item).replace("_", " ") for item in value)
    if name in DOLLAR_DETAILS:
        return price(Decimal(str(value)))
    return str(value)


def _detail(detail: dict[str, Any]) -> str:
    """An audit event's details in words, those with a value only: "symbol: BTC · limit price: $3,000.00"."""
    first = {name: at for at, name in enumerate(FIRST_DETAILS)}
    shown = sorted((item for item in detail.items() if item[1] not in (None, "", [], {})),
                   key=lambda item: first.get(item[0], len(first)))
    return " · ".join(f"{name.replace('_', ' ')}: {_detail_value(name, value)}" for name, value in shown)


AUDIT_PAGES = Binding.Group("Audit page")  # "[] Audit page" in the footer: at 80 columns it has no room for more


class AdminScreen(Page):
    CSS_PATH = "../styles/admin.tcss"
    AUTO_FOCUS = "#users-table"
    BINDINGS = [
        Binding("e", "toggle_disabled", "Enable/disable", tooltip="Enable or disable the highlighted user",
                id="admin.enable-disable"),
        Binding("g", "toggle_admin", "Admin", tooltip="Make the highlighted user an admin, or not",
                id="admin.admin-role"),
        Binding("[", "audit_page(-1)", "Newer", tooltip="The previous (newer) page of the audit log", id="admin.newer",
                group=AUDIT_PAGES),
        Binding("]", "audit_page(1)", "Older", tooltip="The next (older) page of the audit log", id="admin.older",
                group=AUDIT_PAGES),
        Binding("v", "verify", "Verify", id="admin.verify"),
        Binding("r", "reload", "Refresh", show=False, id="admin.refresh"),
        Binding("1", "show_tab('tab-users')", "Users", show=False, id="admin.users-tab"),
        Binding("2", "show_tab('tab-audit')", "Audit log", show=False, id="admin.audit-tab"),
        Binding("3", "show_tab('tab-verify')", "Verify", show=False, id="admin.verify-tab"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._users: dict[str, User] = {}
        self._audit_offset = 0
        self._audit_total = 0

    def compose_body(self) -> ComposeResult:
        with TabbedContent(id="admin-tabs", initial="tab-users"):
            with TabPane("Users", id="tab-users"):
                yield DataTable(id="users-table", cursor_type="row", zebra_stripes=True)
                yield Static("Loading users…", id="users-status", classes="admin-status")
            with TabPane("Audit log", id="tab-audit"):
                yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)
                yield Static("Loading the audit log…", id="audit-status", classes="admin-status")
            with TabPane("Verify", id="tab-verify"), VerticalScroll(id="verify-scroll"):
                with Horizontal(id="verify-bar"):
                    yield Button("Verify ledger", variant="primary", id="verify-run")
                    yield Static("Recompute every balance from the journal and check that it balances.",
                                 id="verify-about", classes="muted")
                yield Static("Not run yet (press v).", id="verify-summary")
                yield Static("", id="verify-problems")  # shown when the check finds problems
                yield DataTable(id="verify-sums", cursor_type="row", zebra_stripes=True)

    def body_mounted(self) -> None:
        users = self.query_one("#users-table", DataTable)
        for column in USER_COLUMNS:
            users.add_column(column.capitalize(), key=column)
        audit = self.query_one("#audit-table", DataTable)
        for column in ("#", "When", "Actor", "Action", "Target", "Source", "Detail"):
            audit.add_column(column)
        sums = self.query_one("#verify-sums", DataTable)
        sums.add_column("Asset", key="asset")
        sums.add_column("Sum of balances (0 when balanced)", key="sum")
        sums.display = False
        self.query_one("#verify-problems").display = False

    # -- loading -----------------------------------------------------------------------------

    def refresh_data(self) -> None:
        if not self.oapp.is_admin:
            self.notify("the Admin page is for admins", title="forbidden", severity="warning")
            self.oapp.action_goto("dashboard")
            return
        self.load_users()
        self.load_audit()

    def action_reload(self) -> None:
        self.refresh_data()

    @work(exclusive=True, group="admin-users", exit_on_error=False)
    async def load_users(self) -> None:
        users = await self.oapp.call(lambda me: me.admin_users())
        if users is None:
            return
        table = self.query_one("#users-table", DataTable)
        highlighted = self._highlighted_username()
        table.clear()
        self._users = {}
        for user in users:
            table.add_row(*_user_cells(user), key=user.username)
            self._users[user.username] = user
        if highlighted in self._users:
            table.move_cursor(row=table.get_row_index(highlighted))
        self._show_users_status()

    def _show_users_status(self) -> None:
        users = self._users.values()
        admins = sum(u.role is Role.ADMIN for u in users)
        disabled = sum(u.disabled for u in users)
        self.query_one("#users-status", Static).update(
            f"{_count(len(self._users), 'user')} · {_count(admins, 'admin')} · {disabled} disabled"
        )

    @work(exclusive=True, group="admin-audit", exit_on_error=False)
    async def load_audit(self) -> None:
        offset = self._audit_offset
        page = await self.oapp.call(lambda me: me.admin_audit(offset=offset, limit=AUDIT_PAGE))
        if page is None:
            return
        if not page.items and offset > 0:  # the log shrank under us (it never does): back to the start
            self._audit_offset = 0
            self.load_audit()
            return
        self._audit_total = page.total
        self._show_audit(page.items)
        pages = max(1, -(-page.total // AUDIT_PAGE))
        first = offset + 1 if page.items else 0
        self.query_one("#audit-status", Static).update(
            f"events {first}-{offset + len(page.items)} of {page.total}, newest first"
            f" · page {offset // AUDIT_PAGE + 1}/{pages}"
        )

    def _show_audit(self, events: list[AuditEvent]) -> None:
        # A page is replaced whole when it changes: the log is not live data.
        table = self.query_one("#audit-table", DataTable)
        table.clear()
        for event in events:
            table.add_row(
                str(event.id),
                when(event.at),
                Text(event.actor or ""),
                Text(event.action),
                Text(event.target or ""),
                Text(event.source or ""),
                Text(_detail(event.detail)),
                key=str(event.id),
            )

    # -- users -------------------------------------------------------------------------------

    def _highlighted_username(self) -> str | None:
        table = self.query_one("#users-table", DataTable)
        if table.row_count == 0:
            return None
        row_key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key
        return str(row_key.value)

    def _highlighted_user(self) -> User | None:
        username = self._highlighted_username()
        user = self._users.get(username) if username is not None else None
        if user is None:
            self.notify("no user highlighted", title="admin", severity="warning")
            return None
        if self.oapp.user is not None and user.username == self.oapp.user.username:
            self.notify("you cannot change your own account here: ask another admin",
                        title="admin", severity="warning")
            return None
        return user

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "users-table":
            event.stop()
            self.action_toggle_disabled()

    def action_toggle_disabled(self) -> None:
        user = self._highlighted_user()
        if user is not None:
            self.change_user(user, "disabled")

    def action_toggle_admin(self) -> None:
        user = self._highlighted_user()
        if user is not None:
            self.change_user(user, "role")

    @work(exclusive=True, group="admin-change", exit_on_error=False)
    async def change_user(self, user: User, what: str) -> None:
        """Ask, then enable/disable the user or grant/revoke admin."""
        name = user.username
        if what == "disabled":
            verb = "Enable" if user.disabled else "Disable"
            body = (f"Let {name} log in again?" if user.disabled
                    else f"Disable {name}? Their sessions end now and they cannot log in until enabled.")
        else:
            verb = "Revoke admin" if user.role is Role.ADMIN else "Grant admin"
            body = (f"Make {name} a customer again? Their sessions end now." if user.role is Role.ADMIN
                    else f"Make {name} an admin? They will see users, the audit log and the ledger check.")
        if not await self.app.push_screen_wait(ConfirmDialog(f"{verb}: {name}", body, verb)):
            return
        if what == "disabled":
            updated = await self.oapp.call(lambda me: me.admin_set_disabled(name, not user.disabled))
        else:
            role = Role.CUSTOMER if user.role is Role.ADMIN else Role.ADMIN
            updated = await self.oapp.call(lambda me: me.admin_set_role(name, role))
        if updated is None:
            return
        self._users[name] = updated
        table = self.query_one("#users-table", DataTable)
        for column, value in zip(USER_COLUMNS, _user_cells(updated), strict=True):
            table.update_cell(name, column, value)
        self._show_users_status()
        self.notify(f"{verb}: {name}", title="admin")
        self.load_users()  # after the write: supersedes any load that started before it
        self.load_audit()

    # -- audit and verify --------------------------------------------------------------------

    def action_audit_page(self, step: int) -> None:
        offset = self._audit_offset + step * AUDIT_PAGE
        if offset < 0 or (step > 0 and offset >= self._audit_total):
            self.notify("no newer events" if step < 0 else "no older events", title="audit log")
            return
        self._audit_offset = offset
        self.load_audit()

    def action_show_tab(self, tab: str) -> None:
        self.query_one("#admin-tabs", TabbedContent).active = tab

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        focus = {"tab-users": "#users-table", "tab-audit": "#audit-table", "tab-verify": "#verify-run"}
        target = focus.get(event.pane.id or "")
        if target is not None:
            self.query_one(target).focus()

    def action_state(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        found = [tabs.active for tabs in self.query("#admin-tabs").results(TabbedContent)]
        active = found[0] if found else ""  # asked before the tabs exist, too
        if action in USER_ACTIONS:
            return active == "tab-users"
        if action in AUDIT_ACTIONS:
            return active == "tab-audit"
        return True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "verify-run":
            event.stop()
            self.action_verify()

    def action_verify(self) -> None:
        self.query_one("#admin-tabs", TabbedContent).active = "tab-verify"
        self.query_one("#verify-summary", Static).update("Verifying…")
        self.verify()

    @work(exclusive=True, group="admin-verify", exit_on_error=False)
    async def verify(self) -> None:
        report = await self.oapp.call(lambda me: me.admin_verify())
        if report is None:
            self.query_one("#verify-summary", Static).update("The check did not run.")
            return
        self._show_report(report)

    def _show_report(self, report: VerifyReport) -> None:
        counts = (f"{report.entries} entries · {report.postings} postings · "
                  f"{report.orders} orders · {report.accounts} accounts")
        summary = self.query_one("#verify-summary", Static)
        problems = self.query_one("#verify-problems", Static)
        if report.ok:
            summary.update(f"[$success]✓ Ledger OK[/]  {counts}")
            problems.update("")
        else:
            summary.update(f"[$error]✗ {len(report.problems)} problems[/]  {counts}")
            problems.update(Text("\n".join(f"• {p}" for p in report.problems)))
        problems.set_class(not report.ok, "negative")
        problems.display = not report.ok
        sums = self.query_one("#verify-sums", DataTable)
        sums.clear()
        for asset in sorted(report.sums, key=lambda a: (a != "USD", a)):
            total = report.sums[asset]
            text = usd(total) if asset == "USD" else qty(total)
            sums.add_row(asset, signed(total, text) if total else text, key=asset)
        sums.display = bool(report.sums)
