"""Receipts in the terminal: Enter on an order of the Orders page shows it in full with the
receipt of its fill, and a sale the P&L it realized; the ticket's result says it too."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any, Protocol

from rich.console import Console
from textual.widgets import Static

from orderproc.engine.schemas import OrderRequest, SettingsUpdate, Side
from orderproc.engine.service import LocalEngine
from orderproc.formatting import price, signed_usd, usd
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.dialogs import ConfirmDialog
from orderproc.tui.screens.order_details import OrderDetails
from orderproc.tui.screens.orders import OrdersScreen
from orderproc.tui.screens.trade import TradeScreen
from orderproc.tui.widgets.order_tables import OrderHistoryTable
from orderproc.tui.widgets.order_ticket import OrderTicket
from tui_helpers import MakeApp, MemoryStore, on_page, open_ticket, text, wait_until

PASSWORD = "hunter22"
SIZE = (80, 24)


class Clock(Protocol):
    def advance(self, seconds: float) -> None: ...


def shown(app: Any, selector: str) -> str:
    """What a Static holding a Rich renderable (a table) shows, as plain text at its width."""
    widget = app.screen.query_one(selector, Static)
    console = Console(width=widget.content_region.width, file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


async def test_a_filled_sale_shows_its_receipt_with_the_fee_and_its_realized_pnl(
    engine: LocalEngine, clock: Clock, make_app: MakeApp
) -> None:
    await engine.admin_update_settings(engine.operator_token, SettingsUpdate(taker_fee_bps=Decimal(10)))
    await engine.register("alice", PASSWORD)
    token = (await engine.login("alice", PASSWORD)).token
    await engine.deposit(token, Decimal("10000"))
    await engine.place_order(token, OrderRequest(symbol="ETH", side=Side.BUY, quantity=Decimal("1")))
    clock.advance(3600)
    sale = await engine.place_order(token, OrderRequest(symbol="ETH", side=Side.SELL, quantity=Decimal("0.4")))
    receipt = sale.receipt
    assert receipt is not None and receipt.fee > 0 and sale.realized_pnl is not None

    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        await pilot.press("o")
        page = await on_page(pilot, OrdersScreen)
        history = page.query_one(OrderHistoryTable)
        await wait_until(pilot, lambda: history.row_count == 2 and history.has_focus)
        assert history.selected_order is not None and history.selected_order.id == sale.id  # newest first

        await pilot.press("enter")
        details = await on_page(pilot, OrderDetails)
        title = text(app, ".dialog-title")
        facts = shown(app, "#order-facts")
        fill = shown(app, "#order-receipt")
        assert title == f"Order #{sale.id} · sell 0.4 ETH · filled"
        assert "at market" in facts and "filled" in facts
        for label, value in [
            ("Liquidity", "taker"),
            ("Ledger price", price(receipt.reference_price)),
            ("Spread", f"{price(receipt.spread)} a unit"),
            ("Slippage", f"{price(receipt.slippage)} a unit"),
            ("Fill price", price(receipt.price)),
            ("Notional", usd(receipt.notional)),
            ("Fee", f"{usd(receipt.fee)} (10 bps)"),
            ("Total", usd(receipt.total)),
            ("Realized P&L", signed_usd(sale.realized_pnl)),
        ]:
            assert any(line.split() == [*label.split(), *value.split()] for line in fill.splitlines()), (label, fill)
        assert "Realized P&L" in fill.splitlines()[-2] and fill.splitlines()[-1].strip() == "before the fee"
        assert not details.query("#order-cancel")  # a filled order has nothing to cancel

        # t: trade its asset, from the dialog
        await pilot.press("t")
        trade = await on_page(pilot, TradeScreen)
        ticket = trade.query_one(OrderTicket)
        await wait_until(pilot, lambda: ticket.symbol == "ETH" and ticket.side is Side.SELL)

        # the ticket's result for a sale says what it realized
        ticket = await open_ticket(pilot, "ETH")
        await pilot.press(*"0.1", "enter")
        await on_page(pilot, ConfirmDialog)
        await pilot.press("y")
        await wait_until(pilot, lambda: "Filled" in text(app, "#ticket-result"))
        [last, *_] = (await engine.orders(token, limit=1)).items
        assert last.side is Side.SELL and last.realized_pnl is not None
        assert f"\nRealized P&L {signed_usd(last.realized_pnl)} before the fee" in text(app, "#ticket-result")
