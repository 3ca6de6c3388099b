"""The Portfolio page's P&L and lots views (`v`), and the positions table marking what open sell
orders hold. Each test compares what the screen shows with the engine's own figures."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from orderproc.engine.schemas import OrderRequest, OrderType, Side
from orderproc.engine.service import LocalEngine
from orderproc.formatting import price, qty, signed_usd, usd
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.portfolio import PortfolioScreen
from orderproc.tui.widgets.lots_table import LotsTable
from orderproc.tui.widgets.pnl_table import TOTAL, PnlTable
from orderproc.tui.widgets.positions_table import PositionsTable
from tui_helpers import MakeApp, MemoryStore, cell, on_page, text, wait_until

PASSWORD = "hunter22"
SIZE = (80, 24)


class Clock(Protocol):
    def advance(self, seconds: float) -> None: ...


async def trader(engine: LocalEngine, clock: Clock, *trades: tuple[str, Side, str]) -> str:
    """alice with $10,000 and these market orders filled ten minutes apart (the price moves)."""
    await engine.register("alice", PASSWORD)
    token = (await engine.login("alice", PASSWORD)).token
    await engine.deposit(token, Decimal("10000"))
    for symbol, side, quantity in trades:
        clock.advance(600)
        await engine.place_order(token, OrderRequest(symbol=symbol, side=side, quantity=Decimal(quantity)))
    return token


async def test_the_pnl_view_shows_the_engines_pnl_after_a_buy_and_a_partial_sell(
    engine: LocalEngine, clock: Clock, make_app: MakeApp
) -> None:
    token = await trader(engine, clock, ("ETH", Side.BUY, "1.5"), ("BTC", Side.BUY, "0.01"), ("ETH", Side.SELL, "0.5"))
    report = await engine.pnl(token)
    assert report.realized_pnl != 0  # the sale realized something: the test compares a real figure
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        await pilot.press("p")
        page = await on_page(pilot, PortfolioScreen)
        await pilot.press("v")
        table = page.query_one(PnlTable)
        await wait_until(pilot, lambda: table.row_count == 3 and table.has_focus)
        assert "P&L" in text(app, "#portfolio-views")
        assert "FIFO cost basis" in text(app, "#portfolio-as-of")

        for line in report.lines:
            shown = {column: cell(table, line.symbol, column)
                     for column in ("quantity", "unrealized", "realized", "fees", "total")}
            assert shown == {
                "quantity": qty(line.quantity),
                "unrealized": signed_usd(line.unrealized_pnl),
                "realized": signed_usd(line.realized_pnl),
                "fees": usd(line.fees),
                "total": signed_usd(line.total_pnl),
            }
        assert table.keys == [line.symbol for line in report.lines] + [TOTAL]
        totals = [cell(table, TOTAL, c) for c in ("unrealized", "realized", "fees", "total")]
        assert totals == [signed_usd(report.unrealized_pnl), signed_usd(report.realized_pnl), usd(report.fees),
                          signed_usd(report.total_pnl)]
        # total = realized + unrealized - fees = equity - net deposits
        reconciled = text(app, "#pnl-reconcile").replace("\n", " ")
        assert f"Total {signed_usd(report.total_pnl)} = realized + unrealized − fees" in reconciled
        assert f"= equity {usd(report.equity)} − net deposits {usd(report.net_deposits)}" in reconciled
        assert report.total_pnl == report.equity - report.net_deposits

        # v again: the lots of the highlighted asset; v once more: the positions
        await pilot.press("v")
        await wait_until(pilot, lambda: page.query_one(LotsTable).row_count > 0)
        await pilot.press("v")
        await wait_until(pilot, lambda: page.query_one(PositionsTable).has_focus)
        assert "Positions" in text(app, "#portfolio-views")


async def test_the_lots_view_lists_the_open_lots_of_the_highlighted_position(
    engine: LocalEngine, clock: Clock, make_app: MakeApp
) -> None:
    token = await trader(engine, clock, ("ETH", Side.BUY, "1"), ("ETH", Side.BUY, "0.5"), ("BTC", Side.BUY, "0.01"),
                         ("ETH", Side.SELL, "0.25"))
    await engine.place_order(token, OrderRequest(symbol="ETH", side=Side.SELL, type=OrderType.STOP,
                                                 quantity=Decimal("0.2"), stop_price=Decimal("100")))
    app = make_app(MemoryStore(token))
    async with app.run_test(size=SIZE) as pilot:
        await on_page(pilot, DashboardScreen)
        await pilot.press("p")
        page = await on_page(pilot, PortfolioScreen)
        positions = page.query_one(PositionsTable)
        await wait_until(pilot, lambda: len(positions.symbols) == 2)
        # what the stop sell holds back is marked under the quantity
        assert cell(positions, "ETH", "quantity") == "1.25\n0.2 in orders"
        assert cell(positions, "BTC", "quantity") == "0.01"

        # highlight BTC; the P&L view keeps the cursor on it; up to ETH there, then its lots:
        # FIFO sold a quarter of the first lot
        assert positions.symbols == ["ETH", "BTC"]
        await pilot.press("down", "v")
        pnl = page.query_one(PnlTable)
        await wait_until(pilot, lambda: pnl.keys == ["ETH", "BTC", TOTAL] and pnl.selected_symbol == "BTC")
        await pilot.press("up", "v")
        lots = page.query_one(LotsTable)
        expected = await engine.lots(token, symbol="ETH")
        await wait_until(pilot, lambda: lots.row_count == len(expected) == 2)
        assert "ETH: 2 open lots" in text(app, "#portfolio-as-of")
        for lot in expected:
            row = str(lot.id)
            assert [cell(lots, row, c) for c in ("lot", "bought", "unit_cost", "remaining", "market_value", "pnl")] == [
                f"#{lot.id}", qty(lot.quantity), price(lot.unit_cost), qty(lot.remaining), usd(lot.market_value),
                signed_usd(lot.unrealized_pnl),
            ]
        assert [lot.remaining for lot in expected] == [Decimal("0.75"), Decimal("0.5")]

        # ] : the next position's lots
        await pilot.press("right_square_bracket")
        [btc] = await engine.lots(token, symbol="BTC")
        await wait_until(pilot, lambda: lots.keys == [str(btc.id)])
        assert "BTC: 1 open lot" in text(app, "#portfolio-as-of")
