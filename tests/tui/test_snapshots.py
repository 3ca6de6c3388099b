"""Every page of the terminal at 80x24 and 160x50, on a prepared ledger (seed 7, fixed clock).

Regenerate after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the SVGs before committing them.

What keeps them stable: the market is a function of the fixed test clock, the price feed is
started with a long interval (one fetch at sign-in, then none while the shot is taken), each
`run_before` waits until the page shows its data (not a loading state), text cursors do not
blink, and the two things the product reads from the machine are pinned: the local time zone
(`when()` and the profile's "member since" use it) and the wall-clock "today" that `when()`
compares dates with (it writes only the time for today's dates).
"""

from __future__ import annotations

import time
import difflib
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Protocol

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static

import orderproc.formatting
from orderproc.engine.schemas import OrderRequest, OrderType, Role, SettingsUpdate, Side
from orderproc.engine.service import LocalEngine
from orderproc.tui.app import OrderprocApp
from orderproc.tui.screens.account import AccountScreen
from orderproc.tui.screens.admin import AdminScreen
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.leaderboard import LeaderboardScreen
from orderproc.tui.screens.login import LoginScreen
from orderproc.tui.screens.markets import MarketsScreen
from orderproc.tui.screens.order_details import OrderDetails
from orderproc.tui.screens.orders import OrdersScreen
from orderproc.tui.screens.portfolio import PortfolioScreen
from orderproc.tui.screens.profile import ProfileScreen
from orderproc.tui.screens.trade import TradeScreen
from orderproc.tui.widgets.asset_table import AssetTable
from orderproc.tui.widgets.candle_chart import CandleChart
from orderproc.tui.widgets.price_chart import PriceChart
from orderproc.tui.widgets.recent_orders import RecentOrders
from tui_helpers import MakeApp, MemoryStore, compared_screens, wait_until

PASSWORD = "correct horse battery"
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 50), id="160x50")]
QUIET_FEED = 3600.0  # seconds between price fetches: one at sign-in, none while the shot is taken
SnapCompare = Callable[..., bool]


class Clock(Protocol):
    def advance(self, seconds: float) -> None: ...


RunBefore = Callable[[Pilot[None]], Awaitable[None]]


class _NotToday(datetime):
    """`datetime.now()` for `when()`: a day far from the test clock's, whatever the real date."""

    @classmethod
    def now(cls, tz: Any = None) -> _NotToday:
        return cls(2031, 1, 1, 12, 0, tzinfo=timezone.utc).astimezone(tz) if tz else cls(2031, 1, 1, 12, 0)


@pytest.fixture(autouse=True)
def pinned_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(orderproc.formatting, "datetime", _NotToday)
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
async def ledger(engine: LocalEngine, clock: Clock) -> dict[str, str]:
    """alice: a deposit, three buys and a sell (the sell paying a 10 bps taker fee: the ledger
    charged one for that minute), a minute apart, then a limit buy and a stop sell resting far
    from the price, and a second account "scalping" with a deposit; bob: a deposit and a buy;
    root: an admin. Their tokens."""
    await engine.register("alice", PASSWORD)
    alice = (await engine.login("alice", PASSWORD)).token
    await engine.deposit(alice, Decimal("10000"))
    trades = [("BTC", Side.BUY, "0.02"), ("ETH", Side.BUY, "1.5"), ("SOL", Side.BUY, "8"), ("ETH", Side.SELL, "0.5")]
    for symbol, side, quantity in trades:
        clock.advance(60)
        fee = Decimal(10 if side is Side.SELL else 0)
        await engine.admin_update_settings(engine.operator_token, SettingsUpdate(taker_fee_bps=fee))
        await engine.place_order(alice, OrderRequest(symbol=symbol, side=side, quantity=Decimal(quantity)))
    await engine.admin_update_settings(engine.operator_token, SettingsUpdate(taker_fee_bps=Decimal(0)))
    clock.advance(60)
    resting = [
        OrderRequest(symbol="ETH", side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal("0.2"),
                     limit_price=Decimal("3000")),
        OrderRequest(symbol="SOL", side=Side.SELL, type=OrderType.STOP, quantity=Decimal("4"),
                     stop_price=Decimal("120")),
    ]
    for request in resting:
        await engine.place_order(alice, request)
    await engine.create_account(alice, "scalping")
    scalping = (await engine.switch_account(alice, "scalping")).token
    await engine.deposit(scalping, Decimal("2500"))
    await engine.register("bob", PASSWORD)
    bob = (await engine.login("bob", PASSWORD)).token
    await engine.deposit(bob, Decimal("5000"))
    clock.advance(60)
    await engine.place_order(bob, OrderRequest(symbol="DOGE", side=Side.BUY, notional=Decimal("2500")))
    await engine.register("root", PASSWORD)
    await engine.admin_set_role(engine.operator_token, "root", Role.ADMIN)
    root = (await engine.login("root", PASSWORD)).token
    clock.advance(60)
    return {"alice": alice, "root": root}


@pytest.fixture
def snap_compare(snap_compare: SnapCompare, request: pytest.FixtureRequest) -> SnapCompare:
    """pytest-textual-snapshot's comparison; a mismatch fails with the lines of the screen that
    differ, so a log (CI's) says what changed without the HTML report."""
    def compare(*args: Any, **kwargs: Any) -> bool:
        if snap_compare(*args, **kwargs):
            return True
        expected, actual = compared_screens(request.node)
        raise AssertionError("the screen differs from its snapshot:\n" + "\n".join(difflib.unified_diff(
            expected, actual, "snapshot", "this run", lineterm="", n=1)))

    return compare


def _still(pilot: Pilot[None]) -> None:
    """No blinking text cursor: the shot must not depend on when it is taken."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False


def _chart_loaded(pilot: Pilot[None], selector: str) -> bool:
    charts = [*pilot.app.screen.query(selector).results(PriceChart),
              *pilot.app.screen.query(selector).results(CandleChart)]
    return all(
        (caption := str(chart.query_one(".chart-caption", Static).render())) and "loading" not in caption
        for chart in charts
    )


def _rows(pilot: Pilot[None], selector: str) -> int:
    return pilot.app.screen.query_one(selector, DataTable).row_count


def _text(pilot: Pilot[None], selector: str) -> str:
    """What the widget and the Statics inside it say."""
    widget = pilot.app.screen.query_one(selector)
    parts = [widget, *widget.query(Static)]
    return " ".join(str(part.render()) for part in parts if isinstance(part, Static))


def _idle(pilot: Pilot[None], waiting: tuple[str, ...] = ()) -> bool:
    """Every engine call has come back (the price feed, the price loop and the account events
    never do: they sleep between passes or wait for the next event; the groups `waiting` wait
    for a dialog's answer)."""
    endless = ("prices", "price-loop", "account-events", *waiting)
    return all(worker.is_finished for worker in pilot.app.workers if worker.group not in endless)


async def _settle(pilot: Pilot[None], waiting: tuple[str, ...] = ()) -> None:
    await wait_until(pilot, lambda: _idle(pilot, waiting))
    _still(pilot)
    # Lay the page out again, as the next price tick would, until no filled table is 0 rows high:
    # a DataTable with `height: auto` filled after its first layout can be left so until
    # something re-lays out the screen (seen on the Dashboard's recent orders at 80x24).
    def collapsed() -> list[DataTable[Any]]:
        return [table for table in pilot.app.screen.query(DataTable)
                if all(node.display for node in table.ancestors_with_self if isinstance(node, Widget))
                and table.row_count and table.region.height == 0]

    for _ in range(20):
        pilot.app.screen.refresh(layout=True)
        await pilot.pause(0.1)
        if not collapsed():
            break
    assert _idle(pilot, waiting)
    assert not collapsed(), f"{collapsed()} stayed 0 rows high"


async def _open(pilot: Pilot[None], key: str, screen: type[Screen[Any]]) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen) and getattr(app, "quotes", None))
    if key:
        await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, screen))


async def at_login(pilot: Pilot[None]) -> None:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, LoginScreen))
    await _settle(pilot)


async def at_dashboard(pilot: Pilot[None]) -> None:
    await _open(pilot, "", DashboardScreen)
    # the first valuation races the first price fetch (today's change needs the quotes): once
    # the quotes are in, value again, as the next price tick would
    await wait_until(pilot, lambda: _idle(pilot))
    await pilot.press("r")
    await wait_until(
        pilot,
        lambda: "$" in _text(pilot, "#card-cash")
        and _rows(pilot, "#dash-movers") > 0
        and pilot.app.screen.query_one(RecentOrders).query_one(DataTable).row_count > 0
        and "Chart · " in str(pilot.app.screen.query_one("#dash-chart-box").border_title)
        and "loading" not in str(pilot.app.screen.query_one("#dash-chart-box").border_title),
    )
    await _settle(pilot)


async def at_markets(pilot: Pilot[None]) -> None:
    await _open(pilot, "m", MarketsScreen)
    await wait_until(
        pilot,
        lambda: pilot.app.screen.query_one(AssetTable).row_count > 0 and _chart_loaded(pilot, "#detail-chart"),
    )
    await _settle(pilot)


async def at_trade(pilot: Pilot[None]) -> None:
    await _open(pilot, "t", TradeScreen)
    await wait_until(pilot, lambda: "$" in _text(pilot, "#ticket-quote") and _rows(pilot, "#trade-orders") > 0)
    await pilot.press(*"0.01")
    await wait_until(
        pilot, lambda: "you pay" in _text(pilot, "#ticket-preview") and _chart_loaded(pilot, "#trade-chart")
    )
    await _settle(pilot)


async def at_trade_limit(pilot: Pilot[None]) -> None:
    """The ticket drafting a limit buy below the price: what it reserves and when it fills."""
    await _open(pilot, "t", TradeScreen)
    await wait_until(pilot, lambda: "$" in _text(pilot, "#ticket-quote") and _rows(pilot, "#trade-orders") > 0)
    await pilot.press(*"0.01", "k", "tab", *"100000")
    await wait_until(
        pilot, lambda: "Reserves" in _text(pilot, "#ticket-preview") and _chart_loaded(pilot, "#trade-chart")
    )
    await _settle(pilot)


async def at_orders(pilot: Pilot[None]) -> None:
    await _open(pilot, "o", OrdersScreen)
    await wait_until(pilot, lambda: _rows(pilot, "#open-orders") == 2 and _rows(pilot, "#order-history") == 4)
    await _settle(pilot)


async def at_order_receipt(pilot: Pilot[None]) -> None:
    """Enter on the sell in the history: the order and the receipt of its fill (with its fee)."""
    await at_orders(pilot)
    await pilot.press("tab")
    await wait_until(pilot, lambda: pilot.app.screen.query_one("#order-history").has_focus)
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, OrderDetails))
    await _settle(pilot, waiting=("orders-details",))


async def at_portfolio(pilot: Pilot[None]) -> None:
    await _open(pilot, "p", PortfolioScreen)
    await wait_until(pilot, lambda: _rows(pilot, "#positions-table") == 3)
    await _settle(pilot)


async def at_portfolio_pnl(pilot: Pilot[None]) -> None:
    await at_portfolio(pilot)
    await pilot.press("v")
    await wait_until(pilot, lambda: _rows(pilot, "#pnl-table") == 4)  # three assets and the totals
    await _settle(pilot)


async def at_portfolio_lots(pilot: Pilot[None]) -> None:
    await at_portfolio(pilot)
    await pilot.press("v", "v")
    await wait_until(pilot, lambda: _rows(pilot, "#lots-table") == 1 and "ETH:" in _text(pilot, "#portfolio-as-of"))
    await _settle(pilot)


async def at_account(pilot: Pilot[None]) -> None:
    await _open(pilot, "a", AccountScreen)
    await wait_until(
        pilot,
        lambda: "reserved" in _text(pilot, "#cash-reserved") and _rows(pilot, "#history-table") == 5,
    )
    await _settle(pilot)


async def at_accounts(pilot: Pilot[None]) -> None:
    await at_account(pilot)
    await pilot.press("v")
    await wait_until(pilot, lambda: _rows(pilot, "#accounts-table") == 2)
    await _settle(pilot)


async def at_profile(pilot: Pilot[None]) -> None:
    await _open(pilot, "u", ProfileScreen)
    await wait_until(pilot, lambda: "member since" in _text(pilot, "#profile-summary"))
    await _settle(pilot)


async def at_admin(pilot: Pilot[None]) -> None:
    await _open(pilot, "x", AdminScreen)
    await wait_until(pilot, lambda: _rows(pilot, "#users-table") == 3 and _rows(pilot, "#audit-table") > 0)
    await _settle(pilot)


async def at_leaderboard(pilot: Pilot[None]) -> None:
    await _open(pilot, "l", LeaderboardScreen)
    await wait_until(pilot, lambda: _rows(pilot, "#leaderboard-table") == 3)
    await _settle(pilot)


PAGES: list[Any] = [
    pytest.param(None, at_login, id="login"),
    pytest.param("alice", at_dashboard, id="dashboard"),
    pytest.param("alice", at_markets, id="markets"),
    pytest.param("alice", at_trade, id="trade"),
    pytest.param("alice", at_trade_limit, id="trade-limit"),
    pytest.param("alice", at_orders, id="orders"),
    pytest.param("alice", at_order_receipt, id="order-receipt"),
    pytest.param("alice", at_portfolio, id="portfolio"),
    pytest.param("alice", at_portfolio_pnl, id="portfolio-pnl"),
    pytest.param("alice", at_portfolio_lots, id="portfolio-lots"),
    pytest.param("alice", at_account, id="account"),
    pytest.param("alice", at_accounts, id="accounts"),
    pytest.param("alice", at_profile, id="profile"),
    pytest.param("alice", at_leaderboard, id="leaderboard"),
    pytest.param("root", at_admin, id="admin"),
]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("user", "run_before"), PAGES)
def test_page(
    snap_compare: SnapCompare,
    make_app: MakeApp,
    ledger: dict[str, str],
    user: str | None,
    run_before: RunBefore,
    size: tuple[int, int],
) -> None:
    app: OrderprocApp = make_app(MemoryStore(ledger[user] if user else None), price_interval=QUIET_FEED)
    assert snap_compare(app, terminal_size=size, run_before=run_before)
