"""The Dashboard's "Today's change" card shows the engine's figure (the account's P&L since
00:00 UTC, after fees), with its percentage of what the day started with, and says so in words."""

from __future__ import annotations

from decimal import Decimal

from conftest import Clock
from textual.app import App, ComposeResult
from textual.widgets import Static

from orderproc.engine.schemas import OrderRequest, SettingsUpdate
from orderproc.engine.service import LocalEngine
from orderproc.tui.widgets.dashboard_cards import TODAY_CAPTION, EquityCards
from tui_helpers import wait_until

PASSWORD = "correct horse battery"


class _Cards(App[None]):
    def compose(self) -> ComposeResult:
        yield EquityCards()


def _figure(app: App[None], card: str) -> str:
    return str(app.query_one(f"#{card} .summary-value", Static).render())


async def test_the_card_shows_eth_bought_a_minute_ago_at_its_pnl_less_its_fee(
    engine: LocalEngine, clock: Clock
) -> None:
    await engine.register("alice", PASSWORD)
    token = (await engine.login("alice", PASSWORD)).token
    await engine.deposit(token, "10000")
    await engine.admin_update_settings(engine.operator_token, SettingsUpdate(taker_fee_bps=Decimal(10)))
    order = await engine.place_order(token, OrderRequest(symbol="ETH", side="buy", quantity="1"))
    clock.advance(60)
    portfolio = await engine.portfolio(token)
    [lot] = await engine.lots(token)
    assert order.receipt is not None
    today = lot.unrealized_pnl - order.receipt.fee
    assert portfolio.day_change == today

    app = _Cards()
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one(EquityCards).show(portfolio)
        await wait_until(pilot, lambda: "$" in _figure(app, "card-today"))
        percent = (today * 100 / Decimal(10000)).quantize(Decimal("0.01"))
        sign = "+" if today > 0 else "-"
        assert _figure(app, "card-today") == f"{sign}${abs(today):,.2f} ({sign}{abs(percent)}%)"
        caption = app.query_one(".equity-cards-caption", Static)
        assert str(caption.render()) == TODAY_CAPTION
        assert caption.content_region.width >= len(TODAY_CAPTION)  # whole at 80 columns
        assert "00:00 UTC" in TODAY_CAPTION and "fees" in TODAY_CAPTION
