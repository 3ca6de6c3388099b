"""The terminal's keys and words (issue 13, items 8, 9, 11, 12 and 13): the footer shows only keys
that do something where the cursor is, none cut at 80 columns; `?` lists the page's keys; the
order confirmation says its keys and takes a deliberate Enter, not the second of a double press;
one name per page; the Admin page's counts and audit details in words."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static
from textual.widgets._footer import FooterKey

from orderproc.engine.schemas import OrderRequest, OrderType, Role, Side
from orderproc.engine.service import LocalEngine
from orderproc.tui.app import PAGES, OrderprocApp
from orderproc.tui.screens.admin import AdminScreen
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.dialogs import ConfirmDialog
from orderproc.tui.screens.help import HelpScreen
from orderproc.tui.screens.login import LoginScreen
from orderproc.tui.screens.trade import TradeScreen
from orderproc.tui.widgets.page_footer import PageFooter
from tui_helpers import MemoryStore, on_page, open_ticket, text, wait_until

PASSWORD = "correct horse battery"
QUIET_FEED = 3600.0  # one price fetch at sign-in, then none: the screen changes only when a key moves it


async def _ledger(engine: LocalEngine) -> dict[str, str]:
    """alice: cash, a position and a resting order; bob; root, an admin. Their tokens."""
    await engine.register("alice", PASSWORD)
    alice = (await engine.login("alice", PASSWORD)).token
    await engine.deposit(alice, Decimal("10000"))
    await engine.place_order(alice, OrderRequest(symbol="BTC", side=Side.BUY, quantity=Decimal("0.01")))
    await engine.place_order(alice, OrderRequest(symbol="ETH", side=Side.BUY, type=OrderType.LIMIT,
                                                 quantity=Decimal("0.2"), limit_price=Decimal("1000")))
    await engine.register("bob", PASSWORD)
    await engine.register("root", PASSWORD)
    await engine.admin_set_role(engine.operator_token, "root", Role.ADMIN)
    root = (await engine.login("root", PASSWORD)).token
    return {"alice": alice, "root": root}


def _shown(widget: Widget) -> bool:
    return all(node.display for node in widget.ancestors_with_self if isinstance(node, Widget))


def footer_keys(app: OrderprocApp) -> list[FooterKey]:
    """The keys the footer of the screen shown offers: displayed and not dimmed."""
    return [key for key in app.screen.query(FooterKey) if _shown(key) and not key.has_class("-disabled")]


def _look(app: OrderprocApp) -> tuple[Any, ...]:
    """What a person sees: the screen, where the cursor is, and everything drawn."""
    for field in app.screen.query(Input):
        field.cursor_blink = False
    drawn = tuple(strip.text for strip in app.screen._compositor.render_strips())
    return app.screen, app.focused, drawn


# (user, page, the widget focused: None for where the page puts the cursor, "" for nothing)
STATES = [
    pytest.param(None, "login", None, id="login"),
    pytest.param("alice", "dashboard", None, id="dashboard"),
    pytest.param("alice", "markets", None, id="markets"),
    pytest.param("alice", "markets", "#markets-search", id="markets-search"),
    pytest.param("alice", "trade", None, id="trade-amount"),
    pytest.param("alice", "trade", "#ticket-symbol", id="trade-symbol"),
    pytest.param("alice", "trade", "", id="trade-left-field"),
    pytest.param("alice", "orders", None, id="orders"),
    pytest.param("alice", "portfolio", None, id="portfolio"),
    pytest.param("alice", "account", None, id="account"),
    pytest.param("alice", "account", "#deposit-amount", id="account-deposit"),
    pytest.param("alice", "leaderboard", None, id="leaderboard"),
    pytest.param("alice", "watchlist", None, id="watchlist"),
    pytest.param("alice", "profile", None, id="profile"),
    pytest.param("alice", "profile", "#display-name", id="profile-field"),
    pytest.param("root", "admin", None, id="admin"),
]


async def _enter_state(pilot: Pilot[None], engine: LocalEngine, user: str | None, mode: str,
                       focus: str | None, *, fresh: bool) -> None:
    """The page as a person finds it (`fresh`: built again, as a key may have changed its view or
    sort), its data loaded, the cursor where the state says."""
    app = pilot.app
    assert isinstance(app, OrderprocApp)
    while isinstance(app.screen, ModalScreen):
        await pilot.press("escape")  # as a person closes it (a worker may be waiting on its answer)
        await pilot.pause()
    if user is None:
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
    else:
        if app.token is None:  # a key logged out
            app.signed_in(await engine.login(user, PASSWORD))
        if fresh and mode in app._screen_stacks:
            if app.current_mode == mode:
                app.switch_mode("markets" if mode == "dashboard" else "dashboard")
            page_class = type(app._screen_stacks[mode][0])
            app.remove_mode(mode)
            app.add_mode(mode, page_class)
        app.action_goto(mode)
        await wait_until(pilot, lambda: app.current_mode == mode and app.screen.is_current)
    await wait_until(pilot, lambda: all(w.is_finished for w in app.workers if w.node is app.screen))
    if focus == "":
        app.screen.set_focus(None)
    elif focus is not None:
        app.screen.query_one(focus).focus()
    await pilot.pause(0.1)


async def _changed(pilot: Pilot[None], before: tuple[Any, ...]) -> bool:
    for _ in range(24):
        await pilot.pause(0.05)
        if not pilot.app.is_running or _look(pilot.app) != before:  # type: ignore[arg-type]
            return True
    return False


@pytest.mark.parametrize(("user", "mode", "focus"), STATES)
async def test_every_key_the_footer_shows_does_something_where_it_is_shown(
    engine: LocalEngine, user: str | None, mode: str, focus: str | None
) -> None:
    tokens = await _ledger(engine)
    store = MemoryStore(tokens[user] if user else None)
    app = OrderprocApp(engine, ledger_label="ledger.db", store=store, price_interval=QUIET_FEED)
    async with app.run_test(size=(120, 40)) as pilot:
        if user is not None:
            await on_page(pilot, DashboardScreen)
        await _enter_state(pilot, engine, user, mode, focus, fresh=False)
        await wait_until(pilot, lambda: footer_keys(app))  # the footer recomposes after a focus change
        keys = [key.key for key in footer_keys(app)]
        idle: list[str] = []
        page = None
        for key in [k for k in keys if k != "q"]:
            await _enter_state(pilot, engine, user, mode, focus, fresh=app.screen is page)
            page = app.screen
            assert key in [k.key for k in footer_keys(app)]
            before = _look(app)
            await pilot.press(key)
            if not await _changed(pilot, before):
                idle.append(key)
        assert not idle, f"keys shown in the footer that did nothing: {idle}"
        if "q" in keys:
            await _enter_state(pilot, engine, user, mode, focus, fresh=True)
            await pilot.press("q")
            await wait_until(pilot, lambda: not app.is_running)


def _cut_keys(app: OrderprocApp) -> list[str]:
    """The footer's keys (and group labels) not drawn whole: past the right edge or under the
    help key docked there."""
    footer = app.screen.query_one(PageFooter)
    right = footer.region.right
    helps = [key for key in footer.query(FooterKey) if key.has_class("-help")]
    if helps:
        right = helps[0].region.x
    cut = []
    for widget in footer.query("FooterKey, FooterLabel"):
        if _shown(widget) and widget not in helps and widget.region.right > right:
            cut.append(str(widget.render()))
    return cut


@pytest.mark.parametrize("user", ["alice", "root"])
async def test_at_80_columns_every_key_in_the_footer_is_whole_on_every_page(engine: LocalEngine, user: str) -> None:
    tokens = await _ledger(engine)
    app = OrderprocApp(engine, ledger_label="ledger.db", store=MemoryStore(tokens[user]), price_interval=QUIET_FEED)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_page(pilot, DashboardScreen)
        for mode, (key, _title, _about) in PAGES.items():
            if mode == "admin" and user != "root":
                continue
            app.action_goto(mode)
            await wait_until(pilot, lambda mode=mode: app.current_mode == mode and app.screen.is_current)
            # the page as it lands, then out of the field (Trade puts the cursor in one) and in a
            # limit order's fields (Trade's keys change with the order type)
            for step in ("", "escape", "k"):
                if step:
                    await pilot.press(step)
                await pilot.pause(0.25)
                assert not _cut_keys(app), f"{mode} ({step or 'landed'}): {_cut_keys(app)} cut"
                assert "Keys" in [str(k.description) for k in app.screen.query(FooterKey) if _shown(k)]
            shown = [k.key for k in footer_keys(app)]
            assert key not in shown  # the page's own key is dimmed: it would do nothing here


async def test_in_the_trade_ticket_the_footer_offers_the_ticket_keys_and_how_to_leave_not_the_pages(
    engine: LocalEngine,
) -> None:
    tokens = await _ledger(engine)
    app = OrderprocApp(engine, ledger_label="ledger.db", store=MemoryStore(tokens["root"]), price_interval=QUIET_FEED)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_page(pilot, DashboardScreen)
        ticket = await open_ticket(pilot, "BTC")
        keys = [k.key for k in footer_keys(app)]
        assert keys[0] == "escape" and {"s", "k", "slash", "f1"} <= set(keys)
        assert not {"b", "d", "o", "q", "question_mark"} & set(keys)  # b: the ticket buys already
        await pilot.press("o", "q", "s")  # swallowed, swallowed, Sell
        assert isinstance(app.screen, TradeScreen) and app.is_running
        assert ticket.side is Side.SELL
        await pilot.press("escape")
        keys = [k.key for k in footer_keys(app)]
        assert {"d", "o", "question_mark"} <= set(keys) and "escape" not in keys
        await pilot.press("o")
        await wait_until(pilot, lambda: app.current_mode == "orders")


# -- help ----------------------------------------------------------------------------------------------


async def test_question_mark_lists_the_keys_of_the_page_and_closes_with_escape_or_question_mark(
    engine: LocalEngine,
) -> None:
    tokens = await _ledger(engine)
    app = OrderprocApp(engine, ledger_label="ledger.db", store=MemoryStore(tokens["alice"]), price_interval=QUIET_FEED)
    async with app.run_test(size=(120, 50)) as pilot:
        await on_page(pilot, DashboardScreen)
        await pilot.press("o")
        await wait_until(pilot, lambda: app.current_mode == "orders")
        await pilot.press("question_mark")
        await on_page(pilot, HelpScreen)
        await pilot.pause()
        listed = "\n".join(_look(app)[2])
        assert "Keys · Orders" in text(app, ".dialog-title")
        # the page's keys with what they do, hidden ones too (r), then every page's
        for line in ("Cancel order", "Cancel all", "Refresh", "Dashboard", "Leaderboard", "Quit"):
            assert line in listed, line
        assert "Sell" not in listed  # another page's key
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen))
        # from the ticket's quantity field `?` would be typed: f1 opens it, `?` closes it
        await open_ticket(pilot, "BTC")
        await pilot.press("f1")
        await on_page(pilot, HelpScreen)
        await pilot.pause()
        listed = "\n".join(_look(app)[2])
        assert "Qty/USD" in listed and "Leave field" in listed and "in a text field" in listed
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, TradeScreen))


async def test_the_palette_keeps_its_keys_entry_and_names_each_page_as_the_readme_does(
    engine: LocalEngine,
) -> None:
    tokens = await _ledger(engine)
    app = OrderprocApp(engine, ledger_label="ledger.db", store=MemoryStore(tokens["alice"]), price_interval=QUIET_FEED)
    async with app.run_test(size=(120, 40)) as pilot:
        await on_page(pilot, DashboardScreen)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert {"Keys", "Dashboard", "Leaderboard", "Markets", "Orders"} <= set(titles)
        assert not {"Home", "Leaders"} & set(titles)
        await pilot.press("ctrl+p")
        await on_page(pilot, CommandPalette)
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for _key, title, _about in PAGES.values():
        assert f"| {title} |" in readme, title


# -- the order confirmation ---------------------------------------------------------------------


async def test_the_confirmation_says_its_keys_ignores_a_double_enter_and_takes_a_deliberate_one(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # armed later than a user's 0.3 s: on a loaded machine the double press below still comes first
    monkeypatch.setattr(ConfirmDialog, "ARM_SECONDS", 1.5)
    tokens = await _ledger(engine)
    app = OrderprocApp(engine, ledger_label="ledger.db", store=MemoryStore(tokens["alice"]), price_interval=QUIET_FEED)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_page(pilot, DashboardScreen)
        await open_ticket(pilot, "ETH")
        await pilot.press(*"0.1")
        await wait_until(pilot, lambda: "you pay" in text(app, "#ticket-preview"))
        await pilot.press("enter")
        dialog = await on_page(pilot, ConfirmDialog)
        assert text(app, "#confirm-keys") == "Enter/y buy · Esc/n cancel"
        await pilot.press("enter")  # the second of a double press, as the dialog opens
        await pilot.pause(0.1)
        assert app.screen is dialog
        await pilot.pause(ConfirmDialog.ARM_SECONDS)
        assert dialog.focused is not None and dialog.focused.id == "confirm"
        await pilot.press("enter")  # read, then Enter: the order is placed
        await wait_until(pilot, lambda: "Filled" in text(app, "#ticket-result"))
    orders = await engine.orders(tokens["alice"], symbol="ETH")
    assert [o.quantity for o in orders.items if o.type is OrderType.MARKET] == [Decimal("0.1")]


# -- the Admin page -------------------------------------------------------------------------------


async def test_the_admin_page_counts_users_in_words_and_shows_audit_details_that_have_values(
    engine: LocalEngine,
) -> None:
    tokens = await _ledger(engine)
    app = OrderprocApp(engine, ledger_label="ledger.db", store=MemoryStore(tokens["root"]), price_interval=QUIET_FEED)
    async with app.run_test(size=(160, 50)) as pilot:
        await on_page(pilot, DashboardScreen)
        await pilot.press("x")
        admin = await on_page(pilot, AdminScreen)
        await wait_until(pilot, lambda: "users" in text(app, "#users-status"))
        assert text(app, "#users-status").startswith("3 users · 1 admin · 0 disabled")
        audit = admin.query_one("#audit-table", DataTable)
        await wait_until(pilot, lambda: audit.row_count > 0)
        details = [str(audit.get_row_at(row)[-1]) for row in range(audit.row_count)]
        limit = next(d for d in details if "limit price" in d)
        assert limit == "symbol: ETH · side: buy · type: limit · limit price: $1,000.00"
        assert not [d for d in details if "None" in d or "=" in d]
