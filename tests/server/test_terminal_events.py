"""A terminal on a real `orderproc serve` sitting on a page asks the server nothing while nothing
happens (the quote and account streams are open), and shows another client's deposit within
about a second: the pages reload on the account event stream, not every second."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from serve_support import free_port, serving
from server_helpers import PASSWORD
from textual.pilot import Pilot
from textual.widgets import DataTable

from orderproc.engine.remote import RemoteEngine
from orderproc.tui.app import OrderprocApp, SessionStore
from orderproc.tui.screens.leaderboard import LeaderboardScreen
from orderproc.tui.screens.portfolio import PortfolioScreen
from orderproc.tui.widgets.summary import EquitySummary


async def wait_until(pilot: Pilot[None], condition: Callable[[], object], timeout: float = 10.0) -> None:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "timed out waiting for the terminal"
        await pilot.pause(0.02)


def cash_shown(app: OrderprocApp) -> str:
    return app.screen.query_one(EquitySummary).values()["summary-cash"]


class Counting(httpx.AsyncHTTPTransport):
    """The requests a terminal sends, by path."""

    def __init__(self) -> None:
        super().__init__()
        self.paths = Counter[str]()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths[request.url.path] += 1
        return await super().handle_async_request(request)


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    with serving(tmp_path / "shared.db", free_port(), tmp_path / "server", tmp_path / "server.log") as url:
        yield url


async def test_a_terminal_on_a_server_sits_on_the_portfolio_asking_nothing_until_a_deposit_elsewhere(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    wire = Counting()
    mine, theirs = RemoteEngine(server_url, transport=wire), RemoteEngine(server_url)
    try:
        await mine.register("alice", PASSWORD)
        token = (await mine.login("alice", PASSWORD)).token
        await mine.deposit(token, "1000")
        store = SessionStore(mine.session_key, tmp_path / "tui.json")
        store.save("alice", token)
        app = OrderprocApp(mine, ledger_label=server_url, store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.token is not None)
            await pilot.press("p")
            await wait_until(pilot, lambda: isinstance(app.screen, PortfolioScreen) and app.screen.built)
            await wait_until(pilot, lambda: cash_shown(app) == "$1,000.00", timeout=10)
            await pilot.pause(1.0)  # what showing the page asked is answered
            asked = wire.paths.copy()
            started = time.monotonic()
            await pilot.pause(3.0)
            quiet = wire.paths - asked
            assert time.monotonic() - started >= 3.0
            assert quiet == Counter(), quiet  # the two streams are open: nothing else asked

            # another client's deposit into the account: the page shows it
            elsewhere = (await theirs.login("alice", PASSWORD)).token
            await theirs.deposit(elsewhere, "0.55")
            await wait_until(pilot, lambda: cash_shown(app) == "$1,000.55", timeout=5)
            assert (wire.paths - asked)["/v1/portfolio"] == 1

            # the leaderboard follows another trader's first deposit the same way
            await pilot.press("l")
            await wait_until(pilot, lambda: isinstance(app.screen, LeaderboardScreen) and app.screen.built)
            table = app.screen.query_one("#leaderboard-table", DataTable)
            await wait_until(pilot, lambda: table.row_count == 1, timeout=5)
            await theirs.register("bob", PASSWORD)
            bob = (await theirs.login("bob", PASSWORD)).token
            await theirs.deposit(bob, "50000")
            await wait_until(pilot, lambda: table.row_count == 2, timeout=5)
    finally:
        await mine.close()
        await theirs.close()
