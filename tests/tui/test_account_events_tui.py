"""The pages reload on account events, not on a timer: a terminal sitting on a page asks the
engine nothing while nothing happens, and shows what another session did within a second."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from conftest import PASSWORD, Clock

from orderproc.engine.schemas import Portfolio
from orderproc.engine.service import LocalEngine
from orderproc.formatting import usd
from orderproc.tui.app import OrderprocApp
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.portfolio import PortfolioScreen
from orderproc.tui.widgets.summary import EquitySummary
from tui_helpers import MemoryStore, on_page, wait_until


def cash_shown(app: OrderprocApp) -> str:
    return app.screen.query_one(EquitySummary).values()["summary-cash"]


async def test_the_portfolio_page_reloads_when_another_session_deposits_and_not_on_price_ticks(
    engine: LocalEngine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await engine.register("alice", PASSWORD)
    token = (await engine.login("alice", PASSWORD)).token
    await engine.deposit(token, "100")
    reads = Counter[str]()
    portfolio = engine.portfolio

    async def counted(token: str) -> Portfolio:
        reads["portfolio"] += 1
        return await portfolio(token)

    monkeypatch.setattr(engine, "portfolio", counted)
    other = LocalEngine(engine.path, clock=clock, hash_profile="fast")  # another terminal on the file
    app = OrderprocApp(engine, ledger_label="ledger.db", store=MemoryStore(token), price_interval=0.05)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await on_page(pilot, DashboardScreen)  # signed in
            await pilot.press("p")
            await on_page(pilot, PortfolioScreen)
            await wait_until(pilot, lambda: cash_shown(app) == "$100.00")
            await pilot.pause(0.3)
            before = reads["portfolio"]
            await pilot.pause(1.5)  # 30 price ticks
            assert reads["portfolio"] == before

            await other.deposit((await other.login("alice", PASSWORD)).token, "23.45")
            await wait_until(pilot, lambda: cash_shown(app) == usd(Decimal("123.45")), timeout=5)
    finally:
        await other.close()
