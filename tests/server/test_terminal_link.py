"""The terminal's header says what is true of its server (connecting, live, offline), from its
requests as well as the quote stream, and a page that failed while the server was away loads
again by itself when it is back."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from serve_support import free_port, serving
from server_helpers import PASSWORD
from test_remote_terminal import until

from orderproc.engine.remote import RemoteEngine
from orderproc.tui.app import OrderprocApp, SessionStore
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.login import LoginScreen


async def test_an_unreachable_server_is_offline_on_the_login_screen(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    engine = RemoteEngine(url, retries=1)
    app = OrderprocApp(engine, ledger_label=url, store=SessionStore(engine.session_key, tmp_path / "tui.json"))
    assert app.link == "connecting"  # nothing answered yet
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, LoginScreen))
            await until(pilot, lambda: app.sub_title.endswith(" · offline"), timeout=5)
            assert app.sub_title == f"not logged in · {url} · offline"
            assert any(n.title == "offline" and url in n.message for n in app._notifications)
    finally:
        await engine.close()


async def test_a_server_that_goes_away_is_offline_and_the_page_recovers_when_it_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    ledger, port, home, log = tmp_path / "shared.db", free_port(), tmp_path / "server", tmp_path / "server.log"
    engine = RemoteEngine(f"http://127.0.0.1:{port}", retries=1)
    with ExitStack() as first_life:
        url = first_life.enter_context(serving(ledger, port, home, log))
        await engine.register("alice", PASSWORD)
        token = (await engine.login("alice", PASSWORD)).token
        store = SessionStore(engine.session_key, tmp_path / "tui.json")
        store.save("alice", token)
        app = OrderprocApp(engine, ledger_label=url, store=store)
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.link == "live")
                page = app.screen
                chart = page.query_one("#dash-chart-box")
                await until(pilot, lambda: chart.border_title == "Chart · BTC")
                assert app.sub_title == f"alice · main · {url} · live"

                first_life.close()  # the server stops
                await until(pilot, lambda: app.link == "offline", timeout=5)
                assert app.sub_title == f"alice · main · {url} · offline"
                await pilot.press("r")  # a reload while it is away fails
                await until(pilot, lambda: chart.border_title == "Chart · BTC unavailable", timeout=5)
                assert app.link == "offline"

                with serving(ledger, port, home, log):  # back, on the same port
                    await until(pilot, lambda: app.link == "live", timeout=10)
                    # the page loads again by itself: no key pressed, the page never left
                    await until(pilot, lambda: chart.border_title == "Chart · BTC", timeout=5)
                    assert app.screen is page
                    assert app.sub_title == f"alice · main · {url} · live"
        finally:
            await engine.close()
