"""What every page shares: header and footer, the app (as a `Terminal`: its engine and
session), live refresh: prices from the quote stream, the account's figures reloaded when the
account event stream says they changed (never on a timer for what only changes with the ledger)."""

from __future__ import annotations

import string
import time
from typing import Generic, TypeVar, cast

from textual import work
from textual.app import ComposeResult
from textual.compose import compose
from textual.binding import ActiveBinding
from textual.keys import _character_to_key, key_to_character
from textual.screen import Screen
from textual.widgets import Header

from orderproc.engine.bound import Bound
from orderproc.engine.events import AccountEvent, EventKind
from orderproc.engine.schemas import Quote
from orderproc.tui.messages import AccountChanged, LinkRestored, OrdersChanged, PricesUpdated
from orderproc.tui.terminal import Terminal
from orderproc.tui.widgets.page_footer import PageFooter

T = TypeVar("T")

# the character each key types, for the keys Textual's `key_to_character` has none for (/ + - \)
TYPED = {_character_to_key(c): c for c in string.punctuation}


class Page(Screen[None]):
    """A top-level page (a mode). Subclasses compose their body and refresh their data.

    A page shows at once: its first frame has the header and the footer (the key that opened it
    acknowledged), its body is built right after that frame, then `body_mounted` and the first
    `refresh_data` run. Until then the page ignores prices, account events and its own keys:
    there is nothing yet to show them on.
    """

    def __init__(self) -> None:
        super().__init__()
        self.built = False  # the body is mounted
        self._load_when_built = False  # shown before the body was: load then

    @property
    def oapp(self) -> Terminal:
        """The app, as its pages use it."""
        return cast(Terminal, self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        # compact, the page keys grouped ("d m t p a l u Pages": their titles are in the palette
        # and their tooltips) and the palette (ctrl+p, or the header's icon) left out: at 80
        # columns the page's own keys need the room
        yield PageFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.call_after_refresh(self._build_body)

    async def _build_body(self) -> None:
        await self.mount_all(compose(self, self.compose_body()), before=self.query_one(PageFooter))
        self._update_auto_focus()  # as Textual focuses a screen's first field when it is shown
        self.built = True
        self.refresh_bindings()  # the page's keys work now: the footer shows them so
        self.body_mounted()
        if self._load_when_built:
            self.refresh_data()

    def body_mounted(self) -> None:
        """Called once the body is mounted, before the first `refresh_data`: set up what
        compose could not (columns, border titles, layout for the width)."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.built:
            return None  # the page's keys wait for its body (the footer dims them)
        return self.action_state(action, parameters)

    def action_state(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Whether a key of the page works now (True), is shown dimmed (None) or hidden (False)."""
        return True

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The keys that work now (the footer shows them): Textual's, less the keys the focused
        field types instead, and the key of this very page dimmed (it does nothing here). Textual
        leaves the typed keys out already, but not those it finds no character for (/ + - \\):
        in a search field, `/` typed a slash while the footer said "/ Search"."""
        focused = self.focused
        here = f"goto('{type(self).__module__.rpartition('.')[2]}')"  # a page's mode is its module's name
        return {
            key: shown._replace(enabled=False) if shown.binding.action == here else shown
            for key, shown in super().active_bindings.items()
            if focused is None or shown.node is focused
            or not focused.check_consume_key(key, key_to_character(key) or TYPED.get(key))
        }

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_screen_resume(self) -> None:
        if self.built:
            self.refresh_data()
        else:
            self._load_when_built = True

    def refresh_data(self) -> None:
        """Load what the page shows from the engine (in a worker). Called each time it is shown."""

    def on_prices_updated(self, message: PricesUpdated) -> None:
        if not self.built:
            return
        self.prices_changed(message.quotes)

    def prices_changed(self, quotes: dict[str, Quote]) -> None:
        """Called about once a second with fresh quotes while the page is shown."""

    def on_link_restored(self, message: LinkRestored) -> None:
        if not self.built:
            return
        self.refresh_data()

    def on_account_changed(self, message: AccountChanged) -> None:
        if not self.built:
            return
        self.account_changed(message.event)

    def account_changed(self, event: AccountEvent) -> None:
        """Called when the account (or the leaderboard) changed while the page is shown:
        `event.kinds` says what."""

    def on_orders_changed(self, message: OrdersChanged) -> None:
        if not self.built:
            return
        self.orders_changed()

    def orders_changed(self) -> None:
        """Called when open orders filled or were rejected while the page is shown (cash and
        holdings moved)."""


class LivePage(Page, Generic[T]):
    """A page showing one engine read: loaded when shown, then again when an account event says
    one of the kinds it WATCHES changed. Between loads, a page revalues what it shows at each
    price tick (`prices_changed`); what only the engine can value (everyone's equity, P&L
    reports) is read again on a price tick at most every REVALUE_SECONDS (None: never). A
    failing reload reports once, not each time."""

    WATCHES: frozenset[EventKind] = frozenset({EventKind.BALANCES, EventKind.ORDERS})
    REVALUE_SECONDS: float | None = None

    def __init__(self) -> None:
        super().__init__()
        self._loading = False
        self._loaded_at = 0.0
        self._failing = False
        self._shows = 0  # results shown: a load begun before the latest of them is out of date

    async def fetch(self, me: Bound) -> T:
        """The engine read the page shows, with the session's handle."""
        raise NotImplementedError

    def show(self, result: T) -> None:
        """Show what `fetch` returned."""
        raise NotImplementedError

    def refresh_data(self) -> None:
        self.load()

    def account_changed(self, event: AccountEvent) -> None:
        if event.moved(self.WATCHES):
            self.load(live=True)

    def prices_changed(self, quotes: dict[str, Quote]) -> None:
        every = self.REVALUE_SECONDS
        if every is not None and not self._loading and time.monotonic() - self._loaded_at >= every:
            self.load(live=True)

    def superseded(self) -> None:
        """The page shows a result it got otherwise (a change's answer): a load begun before now
        may have read the ledger before that change, and is not shown."""
        self._shows += 1

    @work(exclusive=True, group="live-load", exit_on_error=False)
    async def load(self, live: bool = False) -> None:
        self._loading = True
        begun = self._shows
        try:
            result = await self.oapp.call(self.fetch, quiet=live and self._failing)
        finally:
            self._loading = False
            self._loaded_at = time.monotonic()
        self._failing = result is None
        if result is not None and begun == self._shows:
            self._shows += 1
            self.show(result)
