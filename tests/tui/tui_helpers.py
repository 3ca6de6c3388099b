"""Helpers for driving the terminal with Pilot (the `make_app` fixture is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from orderproc.tui.app import OrderprocApp
from orderproc.tui.screens.trade import TradeScreen
from orderproc.tui.widgets.order_ticket import OrderTicket

MakeApp = Callable[..., OrderprocApp]
S = TypeVar("S", bound=Screen[Any])


class MemoryStore:
    """A SessionStore that keeps the token and theme in memory."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.saved_theme: str | None = None
        self.ledger = "memory"

    def load(self) -> str | None:
        return self.token

    def save(self, username: str, token: str) -> None:
        self.token = token

    def forget(self) -> None:
        self.token = None

    def theme(self) -> str | None:
        return self.saved_theme

    def save_theme(self, theme: str) -> None:
        self.saved_theme = theme


async def wait_until(pilot: Pilot[None], condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Let workers run until `condition()` holds (the price feed never completes, so poll)."""
    for _ in range(int(timeout / 0.02)):
        if condition():
            await pilot.pause()
            return
        await pilot.pause(0.02)
    raise AssertionError("timed out waiting for the terminal")


async def sign_up(pilot: Pilot[None], username: str = "alice", password: str = "correct horse battery") -> None:
    """Register on the login screen (ctrl+r) and wait for the dashboard."""
    await pilot.click("#username")
    await pilot.press(*username)
    await pilot.click("#password")
    await pilot.press(*password)
    await pilot.press("ctrl+r")
    await wait_until(pilot, lambda: getattr(pilot.app, "token", None))


def text(app: App[Any], selector: str) -> str:
    """What a Static of the current screen says."""
    return str(app.screen.query_one(selector, Static).render())


async def on_page(pilot: Pilot[None], kind: type[S]) -> S:
    """Wait for the screen of `kind` (a page: with its body built) and return it."""
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, kind) and getattr(app.screen, "built", True))
    screen = app.screen
    assert isinstance(screen, kind)
    return screen


async def open_ticket(pilot: Pilot[None], symbol: str = "BTC") -> OrderTicket:
    """From anywhere: Trade (t), `/` and the symbol if it is another; its quote shown, the amount
    focused."""
    await pilot.press("t")
    screen = await on_page(pilot, TradeScreen)
    ticket = screen.query_one(OrderTicket)
    amount = screen.query_one("#ticket-amount", Input)
    await wait_until(pilot, lambda: ticket.symbol and amount.has_focus)
    if ticket.symbol != symbol:
        await pilot.press("slash", *symbol, "enter")  # the symbol field selects all on focus
    await wait_until(pilot, lambda: ticket.symbol == symbol and ticket.quote is not None and amount.has_focus)
    return ticket


def cell(table: DataTable[Any], row: str, column: str) -> str:
    """What a table cell says, as plain text."""
    value = table.get_cell(row, column)
    return str(getattr(value, "plain", value))


def notified(app: App[Any], title: str) -> list[str]:
    """The messages of the notifications whose title starts with `title`."""
    return [n.message for n in app._notifications if (n.title or "").startswith(title)]
