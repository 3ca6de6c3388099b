"""The Account page: cash balance, deposit and withdraw forms, the transaction history.

The balance is all the cash; when open buy orders hold some of it back, the heading says how
much and what is left to spend or withdraw.
"""

from __future__ import annotations

import uuid
from typing import Literal

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select, Static

from orderproc.engine import errors
from orderproc.engine.schemas import Transaction, TxKind
from orderproc.formatting import usd
from orderproc.tui.screens.base import Page
from orderproc.tui.widgets.history_table import HistoryTable

CashKind = Literal["deposit", "withdraw"]
PAGE_SIZE = 20  # rows per history page; more when the table has room for more
# Actions whose keys an amount field types instead: hidden from the footer while one has focus.
TYPED_IN_FIELDS = {"focus_amount", "next_kind", "page", "reload"}
KIND_FILTERS: list[tuple[str, str]] = [
    ("All kinds", "all"),
    ("Deposits", TxKind.DEPOSIT.value),
    ("Withdrawals", TxKind.WITHDRAWAL.value),
    ("Buys", TxKind.BUY.value),
    ("Sells", TxKind.SELL.value),
]


def clean_amount(text: str) -> str:
    """What people type ("$1,000.50 ") as the engine reads it ("1000.50")."""
    return text.strip().replace("$", "").replace(",", "").replace("_", "").replace(" ", "")


class CashForm(Horizontal):
    """An amount and a button; `kind` says which way the money goes."""

    def __init__(self, kind: CashKind) -> None:
        super().__init__(id=f"{kind}-form", classes="cash-form")
        self.kind: CashKind = kind

    def compose(self) -> ComposeResult:
        title = "Deposit" if self.kind == "deposit" else "Withdraw"
        with Vertical(classes="cash-field"):
            yield Input(
                placeholder=f"{title} amount, USD",
                id=f"{self.kind}-amount",
                restrict=r"[0-9$,._ ]*",
                max_length=20,
            )
            yield Static("", id=f"{self.kind}-error", classes="field-error cash-error")
        yield Button(title, id=self.kind, variant="success" if self.kind == "deposit" else "warning")


class AccountScreen(Page):
    """Ids: #cash-balance, #deposit-amount, #deposit (button), #deposit-error, #withdraw-amount,
    #withdraw (button), #withdraw-error, #history-kind (Select), #history-table,
    #history-prev, #history-next (buttons), #history-range ("1-20 of 57")."""

    CSS_PATH = "../styles/account.tcss"
    AUTO_FOCUS = "#history-table"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("plus,equals_sign", "focus_amount('deposit')", "Deposit", key_display="+"),
        Binding("minus", "focus_amount('withdraw')", "Withdraw", key_display="-"),
        Binding("f", "next_kind", "Filter"),
        Binding("left_square_bracket", "page(-1)", "Prev", key_display="["),
        Binding("right_square_bracket", "page(1)", "Next", key_display="]"),
        Binding("r", "reload", "Refresh", show=False),
        Binding("escape", "leave_form", "Back to history", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.cash: str | None = None
        self.kind: TxKind | None = None
        self.page_offset = 0
        self.total = 0
        self.page_size = PAGE_SIZE
        self._keys: dict[CashKind, tuple[str, str]] = {}  # kind -> (amount, idempotency key)
        self._busy: set[CashKind] = set()

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="account-body"):
            with Vertical(id="cash-panel"):
                with Horizontal(id="cash-heading"):
                    yield Label("Account", classes="page-title")
                    yield Label("Cash", classes="muted", id="cash-caption")
                    yield Static("…", id="cash-balance")
                    yield Static("", id="cash-reserved", classes="muted")
                with Horizontal(id="cash-forms"):
                    yield CashForm("deposit")
                    yield CashForm("withdraw")
                yield Static(
                    "Enter submits, Esc goes back to the history. Resending the same amount after "
                    "an error never moves the money twice.",
                    id="cash-help",
                    classes="muted",
                )
            with Vertical(id="history-panel"):
                with Horizontal(id="history-bar"):
                    yield Label("History", classes="page-title", id="history-title")
                    yield Select(KIND_FILTERS, value="all", allow_blank=False, id="history-kind")
                    yield Button("‹", id="history-prev", classes="pager", tooltip="Previous page ([)")
                    yield Static("", id="history-range")
                    yield Button("›", id="history-next", classes="pager", tooltip="Next page (])")
                yield HistoryTable(id="history-table")
                yield Static("", id="history-empty", classes="muted")

    # -- loading -----------------------------------------------------------------------------

    def refresh_data(self) -> None:
        self.load_balance()
        self.load_history()

    @work(exclusive=True, group="balance", exit_on_error=False)
    async def load_balance(self) -> None:
        balance = await self.oapp.call(lambda token: self.oapp.engine.balance(token))
        if balance is not None:
            self.cash = usd(balance.cash)
            self.query_one("#cash-balance", Static).update(self.cash)
            reserved = f"{usd(balance.reserved)} reserved · {usd(balance.available)} available"
            self.query_one("#cash-reserved", Static).update(reserved if balance.reserved else "")

    def orders_changed(self) -> None:
        self.refresh_data()  # a fill moved cash: the balance and the history

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_page_size)

    def _fit_page_size(self) -> None:
        """Fill a tall table: the page holds as many rows as it shows (at least PAGE_SIZE)."""
        table = self.query_one(HistoryTable)
        size = min(200, max(PAGE_SIZE, table.scrollable_content_region.height - 1))
        if size != self.page_size:
            self.page_size = size
            self.page_offset = self.page_offset // size * size
            self.load_history()

    @work(exclusive=True, group="history", exit_on_error=False)
    async def load_history(self) -> None:
        kind, offset, limit = self.kind, self.page_offset, self.page_size
        page = await self.oapp.call(
            lambda token: self.oapp.engine.history(token, kind=kind, offset=offset, limit=limit)
        )
        if page is None:
            return
        if page.total and offset >= page.total:  # the list shrank under us: show its last page
            self.page_offset = (page.total - 1) // limit * limit
            self.load_history()
            return
        self.total = page.total
        self.show_history(page.items)

    def show_history(self, items: list[Transaction]) -> None:
        table = self.query_one(HistoryTable)
        table.show(items)
        empty = self.total == 0
        table.display = not empty
        message = self.query_one("#history-empty", Static)
        message.display = empty
        if empty and self.kind is not None:
            message.update("No transactions of this kind.")
        elif empty:
            message.update("No transactions yet: deposit some cash to start.")
        first = self.page_offset + 1 if items else 0
        last = self.page_offset + len(items)
        self.query_one("#history-range", Static).update(f"{first}-{last} of {self.total}")
        self.query_one("#history-prev", Button).disabled = self.page_offset == 0
        self.query_one("#history-next", Button).disabled = last >= self.total

    # -- deposit and withdraw ----------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id in ("deposit-amount", "withdraw-amount"):
            event.stop()
            self.submit_cash("deposit" if event.input.id == "deposit-amount" else "withdraw")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("deposit-amount", "withdraw-amount"):
            kind: CashKind = "deposit" if event.input.id == "deposit-amount" else "withdraw"
            self._set_error(kind, "")

    @on(Button.Pressed, "#deposit")
    def _deposit_pressed(self) -> None:
        self.submit_cash("deposit")

    @on(Button.Pressed, "#withdraw")
    def _withdraw_pressed(self) -> None:
        self.submit_cash("withdraw")

    def submit_cash(self, kind: CashKind) -> None:
        """Start a deposit or withdrawal unless one of that kind is already on its way."""
        if kind in self._busy:
            return
        amount = clean_amount(self.query_one(f"#{kind}-amount", Input).value)
        if not amount:
            self._set_error(kind, "Enter an amount in USD, e.g. 250 or 99.95")
            self.query_one(f"#{kind}-amount", Input).focus()
            return
        # One key per intended movement: the same amount resubmitted after a failure (or a
        # double press) reuses it, so the engine moves the money at most once.
        seen = self._keys.get(kind)
        if seen is None or seen[0] != amount:
            seen = (amount, uuid.uuid4().hex)
            self._keys[kind] = seen
        self._busy.add(kind)
        self.query_one(f"#{kind}", Button).disabled = True
        self._set_error(kind, "Depositing..." if kind == "deposit" else "Withdrawing...", working=True)
        self.move_cash(kind, amount, seen[1])

    @work(group="cash", exit_on_error=False)
    async def move_cash(self, kind: CashKind, amount: str, key: str) -> None:
        try:
            await self._move_cash(kind, amount, key)
        finally:
            self._busy.discard(kind)
            self.query_one(f"#{kind}", Button).disabled = False

    async def _move_cash(self, kind: CashKind, amount: str, key: str) -> None:
        token = self.oapp.token
        if token is None:
            self.oapp.signed_out()
            return
        engine = self.oapp.engine
        try:
            if kind == "deposit":
                tx = await engine.deposit(token, amount, key=key)
            else:
                tx = await engine.withdraw(token, amount, key=key)
        except errors.AuthRequired as exc:
            self._set_error(kind, "")
            self.notify(exc.message, title=exc.code, severity="warning")
            self.oapp.signed_out()
            return
        except errors.OrderprocError as exc:
            self._set_error(kind, f"{exc.message} ({exc.code})")
            return
        self._keys.pop(kind, None)
        self._set_error(kind, "")
        field = self.query_one(f"#{kind}-amount", Input)
        field.value = ""
        if field.has_focus:  # done: back to the history, where the page keys work again
            self.query_one(HistoryTable).focus()
        moved = usd(abs(tx.cash))
        self.notify(f"{'Deposited' if kind == 'deposit' else 'Withdrew'} {moved}", title=kind)
        self.page_offset = 0
        self.refresh_data()

    def _set_error(self, kind: CashKind, text: str, *, working: bool = False) -> None:
        error = self.query_one(f"#{kind}-error", Static)
        error.update(text)
        error.set_class(bool(text), "-shown")
        error.set_class(working, "-working")

    # -- history controls --------------------------------------------------------------------

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id != "history-kind":
            return
        event.stop()
        value = event.value
        kind = TxKind(value) if isinstance(value, str) and value != "all" else None
        if kind != self.kind:
            self.kind = kind
            self.page_offset = 0
            self.load_history()

    @on(Button.Pressed, "#history-prev")
    def _prev_pressed(self) -> None:
        self.action_page(-1)

    @on(Button.Pressed, "#history-next")
    def _next_pressed(self) -> None:
        self.action_page(1)

    def action_page(self, step: int) -> None:
        offset = self.page_offset + step * self.page_size
        if (step < 0 and self.page_offset == 0) or (step > 0 and offset >= self.total):
            self.app.bell()
            return
        self.page_offset = max(0, offset)
        self.load_history()

    def action_next_kind(self) -> None:
        select: Select[str] = self.query_one("#history-kind", Select)
        values = [value for _, value in KIND_FILTERS]
        current = select.value if isinstance(select.value, str) else "all"
        select.value = values[(values.index(current) + 1) % len(values)]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        in_field = isinstance(self.focused, Input)
        if action in TYPED_IN_FIELDS:
            return not in_field  # the field would type the key: hide it from the footer
        if action == "leave_form":
            return not isinstance(self.focused, HistoryTable)
        return True

    def action_focus_amount(self, kind: CashKind) -> None:
        self.query_one(f"#{kind}-amount", Input).focus()

    def action_leave_form(self) -> None:
        self.query_one(HistoryTable).focus()

    def action_reload(self) -> None:
        self.refresh_data()
