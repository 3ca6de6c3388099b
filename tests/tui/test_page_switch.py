"""What a page switch costs besides showing the page (issue 13, item 1; bench/tui.py measures the
switches): the footer is not rebuilt when its keys are the same, and the real terminal keeps
what its pages hold out of the garbage collector's walks."""

from __future__ import annotations

import subprocess
from decimal import Decimal
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static
from textual.widgets._footer import FooterKey

from orderproc import collector
from orderproc.config import Settings

from orderproc.engine.service import LocalEngine
from orderproc.tui import launch
from orderproc.tui.app import OrderprocApp
from orderproc.tui.screens.account import AccountScreen
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.markets import MarketsScreen
from orderproc.tui.widgets.page_footer import PageFooter
from tui_helpers import MemoryStore, on_page, wait_until

PASSWORD = "correct horse battery"


async def _signed_in(engine: LocalEngine) -> MemoryStore:
    await engine.register("alice", PASSWORD)
    return MemoryStore((await engine.login("alice", PASSWORD)).token)


async def test_a_page_shown_again_keeps_its_footer_keys_rather_than_rebuilding_them(engine: LocalEngine) -> None:
    app = OrderprocApp(engine, ledger_label="ledger.db", store=await _signed_in(engine), price_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        dashboard = await on_page(pilot, DashboardScreen)
        await pilot.pause(0.2)
        keys = list(dashboard.query(FooterKey))
        assert [k.key for k in keys][:1] == ["c"]  # the Dashboard's own key first, then the pages'
        await pilot.press("m")
        markets = await on_page(pilot, MarketsScreen)
        assert "slash" in [k.key for k in markets.query(FooterKey)]  # each page shows its own keys
        await pilot.press("d")
        await on_page(pilot, DashboardScreen)
        await pilot.pause(0.2)
        assert list(dashboard.query(FooterKey)) == keys  # the same widgets: not composed again


async def test_a_page_opened_by_a_key_shows_its_frame_at_once_and_its_body_right_after(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: a key is acknowledged on screen at once (the page's header and footer, its key
    dimmed there), the body is built after that frame and loaded once."""
    loads: list[str] = []
    refresh_data = AccountScreen.refresh_data
    monkeypatch.setattr(AccountScreen, "refresh_data", lambda self: (loads.append("load"), refresh_data(self)))
    store = await _signed_in(engine)
    await engine.deposit(store.token, Decimal("250"))  # a history to show (an empty one hides its table)
    app = OrderprocApp(engine, ledger_label="ledger.db", store=store, price_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await on_page(pilot, DashboardScreen)
        frames: list[tuple[bool, int, int]] = []  # each frame drawn of the Account page: built, fields, footers
        display = app._display

        def drawn(screen: Any, renderable: Any) -> None:
            if isinstance(app.screen, AccountScreen):
                frames.append((app.screen.built, len(app.screen.query(Input)), len(app.screen.query(PageFooter))))
            display(screen, renderable)

        monkeypatch.setattr(app, "_display", drawn)
        await pilot.press("a")
        page = await on_page(pilot, AccountScreen)
        await wait_until(pilot, lambda: "$250.00" in str(page.query_one("#cash-balance", Static).render()))
        assert frames[0] == (False, 0, 1)  # the first frame: the page's header and footer only
        assert page.query(Input)  # then its body
        assert loads == ["load"]  # loaded once, once the body was there
        assert page.focused is page.query_one("#history-table")  # focused as the page says (AUTO_FOCUS)

        await pilot.press("d", "a")  # visited: drawn whole at once
        await on_page(pilot, AccountScreen)
        assert loads == ["load", "load"]


async def test_the_terminal_calls_its_settled_hook_each_time_a_page_is_shown(engine: LocalEngine) -> None:
    shown: list[str] = []
    app = OrderprocApp(engine, ledger_label="ledger.db", store=await _signed_in(engine), price_interval=0.05,
                       settled=lambda: shown.append(app.current_mode))
    async with app.run_test(size=(120, 40)) as pilot:
        await on_page(pilot, DashboardScreen)
        await pilot.press("m")
        await on_page(pilot, MarketsScreen)
        await pilot.press("d")
        await on_page(pilot, DashboardScreen)
        await pilot.pause(0.1)
    assert shown == ["dashboard", "markets", "dashboard"]


async def test_markets_shown_again_keeps_its_table_and_shows_the_new_prices(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Back on Markets, the inventory is not loaded nor the table built again (that made the
    switch ~250 ms): the rows stay and take the prices as they tick; `r` loads it all again."""
    loads: list[object] = []
    list_assets = engine.list_assets

    async def counted(*args: Any, **kwargs: Any) -> Any:
        loads.append(args)
        return await list_assets(*args, **kwargs)

    monkeypatch.setattr(engine, "list_assets", counted)
    app = OrderprocApp(engine, ledger_label="ledger.db", store=await _signed_in(engine), price_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await on_page(pilot, DashboardScreen)
        await pilot.press("m")
        markets = await on_page(pilot, MarketsScreen)
        table = markets.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 299)
        assert len(loads) == 1
        rows = [table.get_row_at(i)[0] for i in range(5)]
        await pilot.press("d")
        await on_page(pilot, DashboardScreen)
        await pilot.pause(0.3)  # prices move meanwhile
        await pilot.press("m")
        await on_page(pilot, MarketsScreen)
        await pilot.pause(0.1)
        assert len(loads) == 1 and table.row_count == 299
        assert [table.get_row_at(i)[0] for i in range(5)] == rows
        await pilot.press("r")
        await wait_until(pilot, lambda: len(loads) == 2)


async def test_a_first_visit_does_not_restyle_every_page(engine: LocalEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Textual took a new screen for stale and re-parsed the whole stylesheet and restyled every
    widget of every page, twice, on each first visit (40-80 ms of it)."""
    app = OrderprocApp(engine, ledger_label="ledger.db", store=await _signed_in(engine), price_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await on_page(pilot, DashboardScreen)
        restyled: list[object] = []
        refresh_css = app.refresh_css
        monkeypatch.setattr(app, "refresh_css", lambda *a, **k: (restyled.append(a), refresh_css(*a, **k)))
        for key, page in (("m", MarketsScreen), ("d", DashboardScreen), ("l", None), ("o", None)):
            await pilot.press(key)
            await wait_until(pilot, lambda: app.current_mode != "dashboard" or key == "d")
            if page is not None:
                await on_page(pilot, page)
        assert restyled == []
        app.theme = "nord"  # a theme change still restyles what exists
        await pilot.pause(0.1)
        assert restyled


async def _markets_styles(engine: LocalEngine, store: MemoryStore, *, switch_to: str | None) -> list[str]:
    """The styles of the Markets page's widgets on its first visit (after switching the theme
    to `switch_to` on the Dashboard, if given)."""
    app = OrderprocApp(engine, ledger_label="ledger.db", store=store, price_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await on_page(pilot, DashboardScreen)
        if switch_to is not None:
            app.theme = switch_to
            await pilot.pause(0.1)
        await pilot.press("m")
        markets = await on_page(pilot, MarketsScreen)
        await pilot.pause(0.1)
        return [f"{type(w).__name__}#{w.id}: {w.rich_style}" for w in markets.query("*")]


async def test_a_page_first_shown_after_a_theme_change_wears_that_theme(engine: LocalEngine) -> None:
    """A page made on its first visit is styled as it mounts, under the theme of now (the app
    no longer restyles everything then: the page must not keep the start's theme)."""
    store = await _signed_in(engine)
    store.saved_theme = "nord"
    started_on_nord = await _markets_styles(engine, store, switch_to=None)
    store.saved_theme = None
    switched_to_nord = await _markets_styles(engine, store, switch_to="nord")
    store.saved_theme = None  # (the switch was remembered)
    default = await _markets_styles(engine, store, switch_to=None)
    assert switched_to_nord == started_on_nord
    assert default != started_on_nord


def test_the_real_terminal_is_given_the_collector_freeze_as_its_settled_hook(monkeypatch: pytest.MonkeyPatch,
                                                                           tmp_path: Path) -> None:
    made: dict[str, Any] = {}

    class Recorded:
        def __init__(self, engine: Any, **options: Any) -> None:
            made.update(options)

        async def run_async(self) -> None:
            pass

    monkeypatch.setattr(launch, "OrderprocApp", Recorded)
    launch.run(Settings.load(db=str(tmp_path / "ledger.db")))
    assert made["settled"] is collector.freeze


def test_freezing_moves_what_exists_out_of_the_collectors_walks() -> None:
    """In a process of its own: the freeze and the thresholds are the process's."""
    code = ("import gc; from orderproc import collector; before = gc.get_freeze_count(); collector.freeze(); "
            "print(before, gc.get_freeze_count() > before, gc.get_threshold()[0])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["0", "True", "10000"]
