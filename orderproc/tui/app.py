"""The Textual trading terminal: one app over an Engine, a mode per page.

The app never builds an engine: it is handed one (tests pass a seeded one). A signed-in app
holds the session's handle (`me`, an `engine.bound.Bound`: the engine's private calls with the
token filled in). Every private engine call runs in a worker through `OrderprocApp.call` (or
`attempt`, for a page that shows a refusal by its field), which turns a domain error into a
notification titled with its stable code and an ended session into the login screen; anything
unexpected reaches `on_worker_state_changed`, which shows it in an error dialog instead of a
traceback. The pages see the app as a `Terminal` (terminal.py), never import this module.
Prices arrive through one app-level worker that posts `PricesUpdated` to the active screen;
what changes in the account (fills, cash moves, order states) and on the leaderboard through
another (`Engine.stream_account`), which posts `AccountChanged`: the pages reload on it, not on
a timer.

A session trades one of the user's paper accounts (the header names it). Switching to another
(`use_session`, from the Account page) replaces the token here and in the session store, and
rebuilds every page, so nothing the previous account showed stays on screen.

Two more app-level workers follow the orders. The price loop (`Engine.run_price_loop`) fills the
ledger's resting orders as the price reaches them while the terminal is open: an embedded
ledger has no server to do it (a remote engine's returns at once: its server runs one). And
while the user has open orders, each account event about orders looks at which of them are no
longer open: a fill or a rejection is announced and the page told (`OrdersChanged`).
"""

from __future__ import annotations

import asyncio
import importlib
import tomllib
from contextlib import aclosing
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

from textual import work
from textual._context import active_app
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import AwaitMount
from textual.worker import Worker, WorkerState

from orderproc.engine import errors
from orderproc.engine.bound import Bound, bind
from orderproc.engine.events import EventKind
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import Order, OrderStatus, Quote, Role, Session, User
from orderproc.tui.messages import AccountChanged, LinkRestored, OrdersChanged, PricesUpdated
from orderproc.tui.order_words import alert_fired, outcome
from orderproc.tui.screens.base import Page
from orderproc.tui.screens.dialogs import ErrorDialog
from orderproc.tui.screens.help import HelpScreen
from orderproc.tui.screens.login import LoginScreen
from orderproc.tui.terminal import SessionEnded

if TYPE_CHECKING:
    from orderproc.tui.terminal import Terminal

T = TypeVar("T")

PAGES: dict[str, tuple[str, str, str]] = {
    # mode: (key, title, what the command palette says)
    "dashboard": ("d", "Dashboard", "Equity, cash, P&L, movers, recent orders and a chart"),
    "markets": ("m", "Markets", "Every asset with live prices: search, filter, sort"),
    "trade": ("t", "Trade", "The order ticket: market, limit, stop and stop-limit orders"),
    "orders": ("o", "Orders", "Your open orders (cancel one or all) and your order history"),
    "portfolio": ("p", "Portfolio", "Your positions, P&L by asset (realized, unrealized, fees) and lots"),
    "account": ("a", "Account", "Cash, deposits, withdrawals, history; your accounts: open, switch, reset"),
    "leaderboard": ("l", "Leaderboard", "Everyone on this ledger ranked by equity or return"),
    "watchlist": ("W", "Watchlist", "The assets you follow: live prices and 24h change, sorted as you chose"),
    "profile": ("u", "Profile", "Your details, password and logout"),
    "admin": ("x", "Admin", "Users, audit log and ledger verification (admins only)"),
}


# The footer shows the page keys together ("d m t o p a l u Pages"), leaving room at 80 columns
# for the keys of the page itself; each page's title is in its tooltip and in the palette.
PAGE_KEYS = Binding.Group("Pages")
Link = Literal["connecting", "live", "offline"]


@runtime_checkable
class LinkWatched(Protocol):
    """An engine that says whether its server answers (RemoteEngine): the header follows it."""

    def watch_link(self, watcher: Callable[[bool, str], None]) -> None: ...


WATCHED_ORDERS = 500  # the most open orders the terminal follows (the engine's largest page)
RETRY_SECONDS = 5.0  # before starting the price loop again after the ledger failed it


def _page(mode: str) -> Callable[[], Page]:
    """A factory for the page of `mode`: class `<Mode>Screen` in `orderproc.tui.screens.<mode>`."""

    def make() -> Page:
        module = importlib.import_module(f"orderproc.tui.screens.{mode}")
        page: Page = getattr(module, f"{mode.capitalize()}Screen")()
        # A new screen's CSS counter says "stale", so Textual re-parsed the whole stylesheet and
        # restyled every widget of every page, twice, on each first visit (40-80 ms): a page
        # made now is styled as it mounts, under the theme of now.
        page._css_update_count = active_app.get()._css_update_count
        return page

    return make


class SessionStore:
    """Where the app keeps the session token (per ledger: `orderproc.sessions`) and the theme
    picked in its palette (the config file's `theme`) between runs; none: forget both."""

    def __init__(self, ledger: str, config_file: Path | None = None) -> None:
        self.ledger = ledger
        self.config_file = config_file

    def load(self) -> str | None:
        from orderproc.sessions import load_token

        return load_token(self.ledger)

    def save(self, username: str, token: str) -> None:
        from orderproc.sessions import save_token

        save_token(self.ledger, username, token)

    def forget(self) -> None:
        from orderproc.sessions import forget_token

        forget_token(self.ledger)

    def theme(self) -> str | None:
        if self.config_file is None:
            return None
        try:
            value = tomllib.loads(self.config_file.read_text(encoding="utf-8")).get("theme")
        except (OSError, ValueError):
            return None
        return value if isinstance(value, str) else None

    def save_theme(self, theme: str) -> None:
        """Set `theme` in the config file, keeping the rest of it as written (comments too)."""
        if self.config_file is None:
            return
        import tomlkit
        from tomlkit.exceptions import TOMLKitError

        try:
            try:
                document = tomlkit.parse(self.config_file.read_text(encoding="utf-8"))
            except FileNotFoundError:
                document = tomlkit.document()
            document["theme"] = theme
            self.config_file.parent.mkdir(parents=True, exist_ok=True)
            self.config_file.write_text(tomlkit.dumps(document), encoding="utf-8")
        except (OSError, UnicodeDecodeError, TOMLKitError):
            pass  # a file the terminal cannot read or write: the theme holds for this run only


class OrderprocApp(App[None]):
    # every page's styles at start, not with each page's first visit: a stylesheet read then
    # was parsed again whole and applied again to every widget of every page (70-130 ms of
    # each first visit); the pages keep their CSS_PATH, already read by then
    CSS_PATH = ["orderproc.tcss", *sorted(str(p.relative_to(Path(__file__).parent))
                                          for p in (Path(__file__).parent / "styles").glob("*.tcss"))]
    TITLE = "orderproc"
    # each page's module is imported when the page is first shown, not at start
    MODES = {mode: _page(mode) for mode in PAGES}
    BINDINGS = [
        *(Binding(key, f"goto('{mode}')", title, tooltip=about, group=PAGE_KEYS, id=f"app.{mode}")
          for mode, (key, title, about) in PAGES.items()),
        Binding("q", "quit", "Quit", id="app.quit"),
        # f1 too: in a text field `?` types a question mark
        Binding("question_mark,f1", "help", "Keys", tooltip="Every key of this page and what it does", id="app.keys"),
    ]

    def __init__(
        self,
        engine: Engine,
        *,
        ledger_label: str,
        store: SessionStore | None = None,
        price_interval: float = 1.0,
        settled: Callable[[], None] | None = None,
        keymap: dict[str, str] | None = None,
        theme: str | None = None,
        account: str | None = None,
    ) -> None:
        super().__init__()
        self.engine = engine
        self._user_keymap = keymap or {}  # binding id -> keys (checked: keymap.checked_keymap)
        self._theme = theme  # the configured theme (else the one last picked in the palette)
        self.default_account = account  # the paper account a login trades (when the user has it)
        self.ledger_label = ledger_label
        self.store = store
        self.price_interval = price_interval
        # called each time a page is shown (`collector.freeze` in the real terminal: what the
        # pages hold for good is kept out of the garbage collector's walks, which landed on key
        # presses as 30-150 ms pauses); nothing in tests, which share one process
        self._settled = settled
        self.me: Bound | None = None  # the session's handle (None: signed out)
        self._resuming: asyncio.Future[None] | None = None  # set while a cached session is checked
        self.user: User | None = None
        self.account: str | None = None  # the name of the paper account the session trades
        self.quotes: dict[str, Quote] = {}
        # what the header says of the engine: a server is "connecting" until it first answers,
        # then "live" or "offline" by the last request or stream event (a ledger file is live)
        self.link: Link = "live"
        if isinstance(engine, LinkWatched):
            self.link = "connecting"
            engine.watch_link(self._link_changed)
        self.trade_symbol = "BTC"  # the asset the Trade ticket opens on
        self.trade_side = "buy"
        self.open_orders: dict[int, Order] = {}  # the user's open orders, as last seen
        self.alerts_seen: set[int] | None = None  # the session's fired alerts announced (or there before it)
        self._watching = False
        self._switching = False  # in switch_mode (which would hold the screen)

    # -- start and session -----------------------------------------------------------------

    def on_mount(self) -> None:
        theme = self._theme or (self.store.theme() if self.store is not None else None)
        if theme in self.available_themes:
            self.theme = theme
        if self._user_keymap:
            self.set_keymap(self._user_keymap)
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self._run_price_loop()
        self._price_feed()  # signed in or not: the login screen's status is true from the start
        token = self.store.load() if self.store is not None else None
        if token is not None:
            # the Dashboard's frame at once, its figures once the session is confirmed: engine
            # calls wait for `_resuming` (a refused token signs out to the login screen, quietly)
            self.me = bind(self.engine, token)
            self._resuming = asyncio.get_running_loop().create_future()
            self.switch_mode("dashboard")
        self._update_header()
        self._resume_session()

    def _remember_theme(self, theme: Any) -> None:
        if self.store is not None:
            self.store.save_theme(theme.name)

    @work(exclusive=True, group="session", exit_on_error=False)
    async def _resume_session(self) -> None:
        """Check the cached session (the Dashboard is shown meanwhile); without one, or when the
        engine refuses it, the login screen."""
        me, resuming = self.me, self._resuming
        if me is not None and resuming is not None:
            user: User | None = None
            try:
                user = await me.whoami()
                # a cached token may trade another account than "main" (switched last time)
                account = await self._current_account(me)
            except errors.OrderprocError:
                user = None
            finally:  # the calls that waited go on now, with the session or without
                self._resuming = None
                resuming.set_result(None)
            if user is not None:
                self.signed_in(Session.model_construct(token=me.token, user=user, expires_at=None, account=account))
                return
            self.me = None
            if self.store is not None:
                self.store.forget()
        await self.push_screen(LoginScreen())
        self._update_header()

    async def _current_account(self, me: Bound) -> str:
        try:
            accounts = await me.accounts()
        except errors.OrderprocError:
            return "main"
        return next((a.name for a in accounts if a.current), "main")

    def signed_in(self, session: Session) -> None:
        """Called by the login screen (or a resumed session): show the dashboard, start prices."""
        self._start_session(session)
        while isinstance(self.screen, LoginScreen):
            self.pop_screen()
        self.switch_mode("dashboard")
        self._page_shown()

    def use_session(self, session: Session) -> None:
        """Trade another of the user's accounts (`Engine.switch_account`'s session) from now on:
        the page shown reloads, every other page is built again when next shown."""
        self._start_session(session)
        for screen in self.screen_stack:
            if isinstance(screen, Page):
                screen.refresh_data()

    def renew_session(self, session: Session) -> None:
        """The same user and account under a new token (a password change ends every session,
        this one included, and returns a new one): the pages stay as they are."""
        self.me = bind(self.engine, session.token)
        self.user = session.user
        if self.store is not None:
            self.store.save(session.user.username, session.token)
        self._account_feed()  # the old token's stream ends with the old token

    def _start_session(self, session: Session) -> None:
        self.me = bind(self.engine, session.token)
        self.user = session.user
        self.account = session.account
        if self.store is not None:
            self.store.save(session.user.username, session.token)
        self._update_header()
        self._forget_pages()
        self.open_orders = {}
        self.alerts_seen = None
        self._watch_orders()
        self._account_feed()

    def _forget_pages(self) -> None:
        """Drop every page but the one shown: another user or account must not see this one's
        figures, even for the moment a page takes to reload."""
        for mode in PAGES:
            if mode != self.current_mode:
                self.remove_mode(mode)
                self.add_mode(mode, _page(mode))

    def signed_out(self) -> None:
        """The session ended (logout, revoked, expired): back to the login screen."""
        if self.store is not None:
            self.store.forget()
        self.me = None
        self.user = None
        self.account = None
        self._update_header()
        self.workers.cancel_group(self, "order-watch")
        self.workers.cancel_group(self, "account-events")
        self.open_orders = {}
        if not isinstance(self.screen, LoginScreen):
            self.push_screen(LoginScreen())

    def _update_header(self) -> None:
        if self._resuming is not None:
            who = "signing in…"
        elif self.user is None:
            who = "not logged in"
        else:
            who = self.user.username + (" [admin]" if self.user.role is Role.ADMIN else "")
            who += f" · {self.account or 'main'}"
        self.sub_title = f"{who} · {self.ledger_label} · {self.link}"

    @property
    def token(self) -> str | None:
        """The session's token (None: signed out)."""
        return self.me.token if self.me is not None else None

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.role is Role.ADMIN

    # -- engine calls ----------------------------------------------------------------------

    async def attempt(self, use: Callable[[Bound], Awaitable[T]]) -> T:
        """Await `use(me)`, an engine call with the session's handle. Without a session, or when
        the engine ended it, sign out (saying why) and raise SessionEnded; another domain error
        is the caller's to show (by the field it is about)."""
        if self._resuming is not None:
            await asyncio.shield(self._resuming)
        me = self.me
        if me is None:
            self.signed_out()
            raise SessionEnded
        try:
            return await use(me)
        except errors.EngineUnavailable as exc:
            self._link_changed(False, exc.message)
            raise
        except errors.AuthRequired as exc:
            self.notify(exc.message, title=exc.code, severity="warning")
            self.signed_out()
            raise SessionEnded from exc

    async def call(self, use: Callable[[Bound], Awaitable[T]], *, quiet: bool = False) -> T | None:
        """`attempt`, a domain error reported as a notification (unless `quiet`): None when the
        call failed."""
        try:
            return await self.attempt(use)
        except SessionEnded:
            return None
        except errors.OrderprocError as exc:
            if not quiet:
                self.notify(exc.message, title=exc.code, severity="error")
            return None

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state is WorkerState.ERROR and worker.error is not None:
            error = worker.error
            if isinstance(error, SessionEnded):
                return  # the app has signed out and said why
            if isinstance(error, errors.OrderprocError):
                self.notify(error.message, title=error.code, severity="error")
            else:
                self.push_screen(ErrorDialog(error))

    @work(exclusive=True, group="prices", exit_on_error=False)
    async def _price_feed(self) -> None:
        """Quotes as the engine streams them: a server pushes them, a ledger file is priced here.
        A broken stream marks the terminal offline and is opened again. It runs for the app's
        lifetime, signed in or not."""
        while True:
            try:
                async for quotes in self.engine.stream_quotes(self.price_interval):
                    self._link_changed(True)
                    self.quotes = {q.symbol: q for q in quotes}
                    self.screen.post_message(PricesUpdated(self.quotes))
            except errors.OrderprocError as exc:
                self._link_changed(False, exc.message)
            await asyncio.sleep(self.price_interval)

    @work(exclusive=True, group="account-events", exit_on_error=False)
    async def _account_feed(self) -> None:
        """What changes in the session's account and on the leaderboard, as the engine streams it
        (`Engine.stream_account`): the page shown reloads what moved, and open orders that changed
        are looked at (a fill is announced). A broken stream is opened again (the quote feed says
        the terminal is offline); an ended session signs out."""
        while True:
            try:
                await self.attempt(self._follow_account)
            except SessionEnded:
                return
            except errors.OrderprocError:
                pass
            await asyncio.sleep(self.price_interval)

    async def _follow_account(self, me: Bound) -> None:
        async with aclosing(self.engine.stream_account(me.token)) as events:
            async for event in events:
                if self.alerts_seen is None:  # those that fired before this session are not news
                    # (the marks say whether any ever fired: most users' terminals start without the read)
                    self.alerts_seen = {a.id for a in await me.alerts(fired=True)} if event.alert else set()
                if not event.kinds:
                    continue  # the first: the marks as they are, which the page shown has loaded
                if event.moved({EventKind.ORDERS}) and self.open_orders:
                    self._watch_orders()
                if event.moved({EventKind.ALERTS}):
                    self._announce_alerts()
                self.screen.post_message(AccountChanged(event))

    @work(exclusive=True, group="alerts", exit_on_error=False)
    async def _announce_alerts(self) -> None:
        """Each alert that fired since the last look: the bell and a notification."""
        fired = await self.call(lambda me: me.alerts(fired=True), quiet=True)
        if fired is None or self.alerts_seen is None:
            return
        for alert in fired:
            if alert.id not in self.alerts_seen:
                self.alerts_seen.add(alert.id)
                self.bell()
                self.notify(alert_fired(alert), title="price alert", timeout=30)

    @work(exclusive=True, group="price-loop", exit_on_error=False)
    async def _run_price_loop(self) -> None:
        """Fill resting orders as the price reaches them, for the app's lifetime. A failing
        ledger is reported once and the loop started again."""
        reported = False
        while True:
            try:
                await self.engine.run_price_loop()
                return  # a remote engine: its server runs the loop
            except errors.OrderprocError as exc:
                if not reported:
                    self.notify(exc.message, title=f"{exc.code}: orders not matched", severity="warning")
                    reported = True
            await asyncio.sleep(RETRY_SECONDS)

    def track_orders(self, orders: Iterable[Order]) -> None:
        """Orders a page placed, read or canceled: the open ones are watched for fills."""
        for order in orders:
            if order.is_open:
                self.open_orders[order.id] = order
            else:
                self.open_orders.pop(order.id, None)

    @work(group="order-watch", exit_on_error=False)
    async def _watch_orders(self) -> None:
        """Which watched orders are no longer open: announce fills and rejections, tell the page."""
        if self._watching:
            return
        self._watching = True
        try:
            while True:
                token = self.token
                await self._look_at_orders()
                if self.token is None or self.token == token:
                    break  # else the account changed meanwhile: look again with the new session
        finally:
            self._watching = False

    async def _look_at_orders(self) -> None:
        token = self.token
        page = await self.call(lambda me: me.orders(open=True, limit=WATCHED_ORDERS), quiet=True)
        if page is None:
            return
        now_open = {o.id: o for o in page.items}
        closed: list[Order] = []
        for order_id in [i for i in self.open_orders if i not in now_open]:
            order = await self._read_order(order_id)
            if order is not None:
                closed.append(order)
        if self.token is None or self.token != token:
            return  # signed out, or another account now: these orders are not its
        self.open_orders = now_open
        for order in closed:
            if order.status is OrderStatus.FILLED:
                self.notify(outcome(order), title=f"order #{order.id} filled")
            elif order.status is OrderStatus.REJECTED:
                self.notify(outcome(order), title=f"order #{order.id} rejected", severity="warning")
        if closed:
            self.screen.post_message(OrdersChanged(closed))

    async def _read_order(self, order_id: int) -> Order | None:
        return await self.call(lambda me: me.get_order(order_id), quiet=True)

    def _link_changed(self, up: bool, why: str = "") -> None:
        """The engine answered (`up`) or could not be reached: the header says so, going offline
        is announced once, and coming back reloads the page shown (what failed meanwhile)."""
        link: Link = "live" if up else "offline"
        if link == self.link:
            return
        was, self.link = self.link, link
        self._update_header()
        if not self.is_running:
            return
        if not up:
            self.notify(why, title="offline", severity="warning")
        elif was == "offline":
            self.screen.post_message(LinkRestored())

    # -- navigation ------------------------------------------------------------------------

    def action_goto(self, mode: str) -> None:
        if self.token is None:
            return
        if mode == "admin" and not self.is_admin:
            self.notify("the Admin page is for admins", title="forbidden", severity="warning")
            return
        self.switch_mode(mode)
        self._page_shown()

    def switch_mode(self, mode: str) -> AwaitMount:
        # Textual holds the screen 50 ms on each switch, to hide a new page's first layout: a
        # visited page is drawn whole at once, a new one shows its frame, then its body (Page),
        # so the key shows on screen with the next frame
        self._switching = True
        try:
            return super().switch_mode(mode)
        finally:
            self._switching = False

    def delay_update(self, delay: float = 0.05) -> None:
        if not self._switching:
            super().delay_update(delay)

    def _page_shown(self) -> None:
        if self._settled is not None:  # cheap: what a page built is moved out of the collector's way
            self.call_after_refresh(self._settled)

    def open_trade(self, symbol: str, side: str = "buy") -> None:
        """Open the Trade ticket on `symbol` (from Markets, Portfolio, the Dashboard)."""
        self.trade_symbol = symbol
        self.trade_side = side
        self.action_goto("trade")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "goto":
            if self.token is None:
                return False
            if parameters and parameters[0] == "admin" and not self.is_admin:
                return False  # hidden from customers
        return True

    def action_help(self) -> None:
        """The keys of the screen shown and what they do (Esc closes)."""
        screen = self.screen
        title = PAGES[self.current_mode][1] if isinstance(screen, Page) else "Log in"
        self.push_screen(HelpScreen(screen, title))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self.token is None:
            return
        for mode, (_key, title, about) in PAGES.items():
            if mode != "admin" or self.is_admin:
                yield SystemCommand(title, about, lambda mode=mode: self.action_goto(mode))


if TYPE_CHECKING:
    _TERMINAL: type[Terminal] = OrderprocApp  # the pages' view of the app (checked by mypy)
