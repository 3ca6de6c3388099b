"""The terminal's shell: login and registration, session resume, navigation, errors."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from textual.widgets import Input, Static

from orderproc.engine.schemas import Role, User
from orderproc.engine.service import LocalEngine
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.dialogs import ErrorDialog
from orderproc.tui.screens.login import LoginScreen
from tui_helpers import MakeApp, MemoryStore, sign_up, wait_until

PASSWORD = "correct horse battery"


async def test_a_new_ledger_offers_registration_and_lands_on_the_dashboard(make_app: MakeApp) -> None:
    store = MemoryStore()
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        await sign_up(pilot, "alice", PASSWORD)
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert app.user is not None and app.user.username == "alice"
        assert app.sub_title == "alice · main · ledger.db · live"
        assert store.token == app.token


async def test_a_wrong_password_shows_the_error_in_place(engine: LocalEngine, make_app: MakeApp) -> None:
    await engine.register("alice", PASSWORD)
    app = make_app(MemoryStore())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        app.screen.query_one("#username", Input).value = "alice"
        app.screen.query_one("#password", Input).value = "not the password"
        await pilot.click("#login")
        error = app.screen.query_one("#login-error", Static)
        await wait_until(pilot, lambda: "invalid_credentials" in str(error.render()))
        assert isinstance(app.screen, LoginScreen)
        assert app.token is None


async def test_a_cached_valid_session_skips_the_login(engine: LocalEngine, make_app: MakeApp) -> None:
    await engine.register("alice", PASSWORD)
    token = (await engine.login("alice", PASSWORD)).token
    app = make_app(MemoryStore(token))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert app.token == token


async def test_with_a_cached_session_the_dashboard_shows_at_once_and_fills_once_the_session_is_confirmed(
    engine: LocalEngine, make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    await engine.register("alice", PASSWORD)
    token = (await engine.login("alice", PASSWORD)).token
    await engine.deposit(token, Decimal("2500"))
    confirmed = asyncio.Event()
    whoami = engine.whoami

    async def slow_whoami(token: str) -> User:  # a server slow to answer
        await confirmed.wait()
        return await whoami(token)

    monkeypatch.setattr(engine, "whoami", slow_whoami)
    app = make_app(MemoryStore(token))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        assert isinstance(app.screen, DashboardScreen)  # its frame, before the engine answered
        assert app.sub_title == "signing in… · ledger.db · live"
        def cash() -> str:
            return str(app.screen.query_one("#card-cash .summary-value", Static).render())

        assert "$" not in cash()  # nothing loaded before the session is confirmed
        confirmed.set()
        await wait_until(pilot, lambda: "$2,500.00" in cash())
        assert app.sub_title == "alice · main · ledger.db · live"
        assert isinstance(app.screen, DashboardScreen)


async def test_a_revoked_cached_session_is_forgotten_and_the_login_shown_without_a_warning(
    engine: LocalEngine, make_app: MakeApp
) -> None:
    await engine.register("alice", PASSWORD)
    token = (await engine.login("alice", PASSWORD)).token
    await engine.logout(token)
    store = MemoryStore(token)
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        await pilot.pause(0.3)  # the Dashboard's loads, held while the session was checked, end quietly
        assert store.token is None
        assert app.token is None
        assert isinstance(app.screen, LoginScreen)
        assert app.sub_title == "not logged in · ledger.db · live"
        assert not app._notifications  # a cached session that ended is no error of the user's


async def test_the_admin_page_is_hidden_from_customers_and_open_to_admins(
    engine: LocalEngine, make_app: MakeApp
) -> None:
    await engine.register("alice", PASSWORD)
    await engine.register("root", PASSWORD)
    await engine.admin_set_role(engine.operator_token, "root", Role.ADMIN)
    customer = (await engine.login("alice", PASSWORD)).token
    app = make_app(MemoryStore(customer))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert app.check_action("goto", ("admin",)) is False
        await pilot.press("x")
        await pilot.pause()
        assert app.current_mode == "dashboard"
    admin = (await engine.login("root", PASSWORD)).token
    app = make_app(MemoryStore(admin))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("x")
        await wait_until(pilot, lambda: app.current_mode == "admin")


async def test_an_unexpected_failure_shows_an_error_dialog_not_a_traceback(
    engine: LocalEngine, make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    await engine.register("alice", PASSWORD)
    token = (await engine.login("alice", PASSWORD)).token

    async def broken(symbols: list[str] | None = None) -> list[object]:
        raise RuntimeError("the price source exploded")

    monkeypatch.setattr(engine, "quotes", broken)
    app = make_app(MemoryStore(token))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorDialog))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ErrorDialog))
        assert app.is_running


async def test_the_chosen_theme_is_remembered(engine: LocalEngine, make_app: MakeApp) -> None:
    store = MemoryStore()
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        app.theme = "nord"
        await pilot.pause()
    assert store.saved_theme == "nord"
    again = make_app(store)
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert again.theme == "nord"
