"""The Account page: cash balance, deposit and withdraw forms, the transaction history, and
(`v`) the user's paper accounts, to open another, switch to one or reset the current one.

The balance is all the cash; when open buy orders hold some of it back, the heading says how
much and what is left to spend or withdraw. Everything on the page is the account the session
trades (its name is in the heading and the header). Switching hands the new session to the app,
which reloads every page; resetting asks for the starting cash, then says what it does.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Literal

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, ContentSwitcher, DataTable, Input, Label, Select, Static

from orderproc.engine import errors
from orderproc.engine.events import AccountEvent, EventKind
from orderproc.engine.rules import cash_to_cents, cents_to_cash
from orderproc.engine.schemas import Portfolio, Transaction, TxKind
from orderproc.formatting import qty, typed_number, usd
from orderproc.tui.screens.base import Page
from orderproc.tui.screens.dialogs import ConfirmDialog, PromptDialog
from orderproc.tui.terminal import SessionEnded
from orderproc.tui.widgets.accounts_table import AccountsTable
from orderproc.tui.widgets.history_table import HistoryTable

CashKind = Literal["deposit", "withdraw"]
PAGE_SIZE = 20  # rows per history page; more when the table has room for more
# Actions whose keys an amount field types instead: hidden from the footer while one has focus.
TYPED_IN_FIELDS = {"focus_amount", "next_kind", "page", "reload", "show_view", "new_account", "switch_account",
                   "reset_account"}
HISTORY_ACTIONS = {"next_kind", "page"}  # the keys of the history view
ACCOUNTS_ACTIONS = {"new_account", "switch_account", "reset_account"}  # and of the accounts view
KIND_FILTERS: list[tuple[str, str]] = [
    ("All kinds", "all"),
    ("Deposits", TxKind.DEPOSIT.value),
    ("Withdrawals", TxKind.WITHDRAWAL.value),
    ("Buys", TxKind.BUY.value),
    ("Sells", TxKind.SELL.value),
    ("Resets", TxKind.RESET.value),
]
ACCOUNT_NAME_CHARS = r"[A-Za-z0-9_.\-]*"  # the engine's rule: 1-32 of these
# grouped in the footer ("+ - Cash", "[ ] Prev/next"): at 80 columns it has no room for more
CASH_KEYS = Binding.Group("Cash")
PAGE_KEYS = Binding.Group("Prev/next")


def starting_cash(text: str) -> Decimal:
    """A starting cash as typed, checked by the engine's rules for cash; raises InvalidAmount."""
    amount = typed_number(text)
    if not amount:
        raise errors.InvalidAmount("enter the starting cash in USD, e.g. 10000")
    return cents_to_cash(cash_to_cents(amount, "the starting cash"))


def cash_problem(text: str) -> str | None:
    try:
        starting_cash(text)
    except errors.InvalidAmount as exc:
        return exc.message
    return None


def reset_summary(portfolio: Portfolio, open_orders: int, cash: Decimal) -> str:
    """What a reset does to the account as it is now, in the confirmation's words."""
    parts = []
    if open_orders:
        parts.append(f"its {open_orders} open order{'s are' if open_orders != 1 else ' is'} canceled")
    held = [f"{qty(p.quantity)} {p.symbol}" for p in portfolio.positions]
    if portfolio.cash:
        held.append(f"{usd(portfolio.cash)} cash")
    if held:
        listed = held[0] if len(held) == 1 else ", ".join(held[:-1]) + " and " + held[-1]
        parts.append(f"what it holds ({listed}) goes back")
    parts.append(f"{usd(cash)} is deposited as its starting cash")
    first = "; ".join(parts)
    return (
        f"{first[0].upper()}{first[1:]}.\n\nIts history stays. Its P&L and its place on the leaderboard "
        "count from the reset. Your other accounts are not touched."
    )


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
    """Ids: #account-name, #cash-balance, #deposit-amount, #deposit (button), #deposit-error,
    #withdraw-amount, #withdraw (button), #withdraw-error, #history-kind (Select), #history-table,
    #history-prev, #history-next (buttons), #history-range ("1-20 of 57"), #accounts-table."""

    CSS_PATH = "../styles/account.tcss"
    AUTO_FOCUS = "#history-table"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("plus,equals_sign", "focus_amount('deposit')", "Deposit", key_display="+", group=CASH_KEYS,
                id="account.deposit"),
        Binding("minus", "focus_amount('withdraw')", "Withdraw", key_display="-", group=CASH_KEYS,
                id="account.withdraw"),
        Binding("f", "next_kind", "Filter", id="account.filter"),
        Binding("left_square_bracket", "page(-1)", "Previous page", key_display="[", group=PAGE_KEYS,
                id="account.previous-page"),
        Binding("right_square_bracket", "page(1)", "Next page", key_display="]", group=PAGE_KEYS,
                id="account.next-page"),
        Binding("v", "show_view('accounts')", "Accounts", tooltip="Your paper accounts: open, switch, reset",
                id="account.view"),
        Binding("v", "show_view('history')", "History", tooltip="This account's transactions", id="account.view"),
        Binding("n", "new_account", "New", tooltip="Open another paper account", id="account.new"),
        Binding("w", "switch_account", "Switch", tooltip="Trade the highlighted account (also Enter)",
                id="account.switch"),
        Binding("R", "reset_account", "Reset",
                tooltip="Start the account you trade again with a starting cash (asks first)", id="account.reset"),
        Binding("r", "reload", "Refresh", show=False, id="account.refresh"),
        Binding("escape", "leave_form", "Back", tooltip="Back to the table: the page keys work again",
                id="account.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.cash: str | None = None
        self.kind: TxKind | None = None
        self.page_offset = 0
        self.total = 0
        self.page_size = PAGE_SIZE
        self.view: Literal["history", "accounts"] = "history"
        self._keys: dict[CashKind, tuple[str, str]] = {}  # kind -> (amount, idempotency key)
        self._busy: set[CashKind] = set()

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="account-body"):
            with Vertical(id="cash-panel"):
                with Horizontal(id="cash-heading"):
                    with Horizontal(id="account-title"):
                        yield Label("Account", classes="page-title")
                        yield Label("", id="account-name")
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
            with ContentSwitcher(initial="history-panel", id="account-switcher"):
                with Vertical(id="history-panel"):
                    with Horizontal(id="history-bar"):
                        yield Label("History", classes="page-title", id="history-title")
                        yield Select(KIND_FILTERS, value="all", allow_blank=False, id="history-kind")
                        yield Button("‹", id="history-prev", classes="pager", tooltip="Previous page ([)")
                        yield Static("", id="history-range")
                        yield Button("›", id="history-next", classes="pager", tooltip="Next page (])")
                    yield HistoryTable(id="history-table")
                    yield Static("", id="history-empty", classes="muted")
                with Vertical(id="accounts-panel"):
                    with Horizontal(id="accounts-bar"):
                        yield Label("Accounts", classes="page-title", id="accounts-title")
                        yield Static("n new · Enter switch · R reset the one you trade", id="accounts-keys",
                                     classes="muted")
                    yield AccountsTable(id="accounts-table")
                    yield Static(
                        "Each account has its own cash, positions, orders and P&L; ▸ marks the one "
                        "you trade (the header names it). Reset starts it again with a starting cash: "
                        "its history stays, its P&L and leaderboard place count from then.",
                        id="accounts-help",
                        classes="muted",
                    )

    # -- loading -----------------------------------------------------------------------------

    def refresh_data(self) -> None:
        self.query_one("#account-name", Label).update(self.oapp.account or "")
        self.load_balance()
        self.load_history()
        if self.view == "accounts":
            self.load_accounts()

    @work(exclusive=True, group="balance", exit_on_error=False)
    async def load_balance(self) -> None:
        balance = await self.oapp.call(lambda me: me.balance())
        if balance is not None:
            self.cash = usd(balance.cash)
            self.query_one("#cash-balance", Static).update(self.cash)
            reserved = f"{usd(balance.reserved)} reserved · {usd(balance.available)} available"
            self.query_one("#cash-reserved", Static).update(reserved if balance.reserved else "")

    def account_changed(self, event: AccountEvent) -> None:
        if event.moved({EventKind.BALANCES, EventKind.ORDERS}):  # cash moved, or open orders hold it
            self.load_balance()
            self.load_history()

    def on_resize(self) -> None:
        if self.built:
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
        page = await self.oapp.call(lambda me: me.history(kind=kind, offset=offset, limit=limit))
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
        self.refresh_bindings()

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
        amount = typed_number(self.query_one(f"#{kind}-amount", Input).value)
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
        try:
            if kind == "deposit":
                tx = await self.oapp.attempt(lambda me: me.deposit(amount, key=key))
            else:
                tx = await self.oapp.attempt(lambda me: me.withdraw(amount, key=key))
        except SessionEnded:
            self._set_error(kind, "")
            return
        except errors.OrderprocError as exc:
            self._set_error(kind, f"{exc.message} ({exc.code})")
            return
        self._keys.pop(kind, None)
        self._set_error(kind, "")
        field = self.query_one(f"#{kind}-amount", Input)
        field.value = ""
        if field.has_focus:  # done: back to the table, where the page keys work again
            self._view_table().focus()
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

    def action_state(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in TYPED_IN_FIELDS and isinstance(self.focused, Input):
            return False  # the field would type the key: hide it from the footer
        if action == "show_view":
            return bool(parameters) and parameters[0] != self.view  # `v` shows the other view
        if action == "page" and self.view == "history":  # dimmed, as its button, with no page that way
            button = "#history-prev" if parameters and parameters[0] == -1 else "#history-next"
            return None if any(found.disabled for found in self.query(button)) else True
        if action in HISTORY_ACTIONS:
            return self.view == "history"
        if action in ACCOUNTS_ACTIONS:
            return self.view == "accounts"
        if action == "leave_form":
            return not isinstance(self.focused, HistoryTable | AccountsTable)
        return True

    def action_focus_amount(self, kind: CashKind) -> None:
        self.query_one(f"#{kind}-amount", Input).focus()

    def action_leave_form(self) -> None:
        self._view_table().focus()

    def _view_table(self) -> HistoryTable | AccountsTable:
        return self.query_one(AccountsTable) if self.view == "accounts" else self.query_one(HistoryTable)

    def action_reload(self) -> None:
        self.refresh_data()

    # -- accounts ----------------------------------------------------------------------------

    def action_show_view(self, view: str) -> None:
        """The history of the account traded, or the list of the user's accounts."""
        self.view = "accounts" if view == "accounts" else "history"
        self.query_one(ContentSwitcher).current = f"{self.view}-panel"
        self._view_table().focus()
        if self.view == "accounts":
            self.load_accounts()
        self.refresh_bindings()

    @work(exclusive=True, group="accounts", exit_on_error=False)
    async def load_accounts(self, select: str | None = None) -> None:
        accounts = await self.oapp.call(lambda me: me.accounts())
        if accounts is not None:
            table = self.query_one(AccountsTable)
            table.show(accounts)
            if select is not None:
                table.select(select)

    def action_new_account(self) -> None:
        self.new_account()

    @work(exclusive=True, group="account-change", exit_on_error=False)
    async def new_account(self) -> None:
        """Ask for a name, open the account; the user switches to it when they choose."""
        name = await self.app.push_screen_wait(PromptDialog(
            "Open another account",
            "An account of its own: cash, positions, orders and P&L. Name it with letters, digits, "
            "'_', '.' or '-'.",
            placeholder="e.g. scalping",
            restrict=ACCOUNT_NAME_CHARS,
            max_length=32,
            confirm_label="Open",
            check=lambda value: None if value else "type a name",
        ))
        if not name:
            return
        made = await self.oapp.call(lambda me: me.create_account(name))
        if made is not None:
            self.notify(f"Opened {made.name}: Enter to trade it, then deposit or reset it", title="account")
            self.load_accounts(select=made.name)

    def action_switch_account(self) -> None:
        name = self.query_one(AccountsTable).selected_name
        if name is None:
            self.notify("No account highlighted", severity="warning")
            return
        self.switch_to(name)

    @on(DataTable.RowSelected, "#accounts-table")
    def _account_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_switch_account()

    @work(exclusive=True, group="account-change", exit_on_error=False)
    async def switch_to(self, name: str) -> None:
        """Trade the account `name`: the app takes the new session and reloads every page."""
        if name == self.oapp.account:
            self.notify(f"You are trading {name} already", title="account")
            return
        session = await self.oapp.call(lambda me: me.switch_account(name))
        if session is not None:
            self.page_offset = 0
            self.oapp.use_session(session)
            self.notify(f"Now trading {session.account}", title="account")

    def action_reset_account(self) -> None:
        self.reset_account()

    @work(exclusive=True, group="account-change", exit_on_error=False)
    async def reset_account(self) -> None:
        """Ask for the starting cash, say what the reset does to the account as it is, reset it."""
        name = self.oapp.account or "main"
        typed = await self.app.push_screen_wait(PromptDialog(
            f"Reset {name}",
            f"Start the account {name} again with this much cash (USD). You confirm on the next step.",
            value="10000",
            restrict=r"[0-9$,._ ]*",
            max_length=20,
            confirm_label="Next",
            check=cash_problem,
        ))
        if typed is None:
            return
        cash = starting_cash(typed)
        portfolio = await self.oapp.call(lambda me: me.portfolio())
        orders = await self.oapp.call(lambda me: me.orders(open=True, limit=1))
        if portfolio is None or orders is None:
            return
        confirmed = await self.app.push_screen_wait(ConfirmDialog(
            f"Reset {name} to {usd(cash)}?",
            reset_summary(portfolio, orders.total, cash),
            confirm_label="Reset",
            cancel_label="Keep",
        ))
        if not confirmed:
            return
        deposit = await self.oapp.call(lambda me: me.reset_account(cash))
        if deposit is not None:
            self.notify(f"{name} starts again with {usd(deposit.cash)}", title="reset")
            self.page_offset = 0
            self.refresh_data()
