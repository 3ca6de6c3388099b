"""Helpers for driving the terminal with Pilot (the `make_app` fixture is in tests/conftest.py)."""

from __future__ import annotations

import html
import pickle
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from pytest_textual_snapshot import node_to_report_path
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


_SVG_TEXT = re.compile(r'<text [^>]*?x="([\d.]+)"[^>]*?clip-path="url\(#[\w-]*?line-(\d+)\)"[^>]*>([^<]*)</text>')
_SVG_STYLED_TEXT = re.compile(
    r'<text class="([\w-]+)" x="([\d.]+)"[^>]*?clip-path="url\(#[\w-]*?line-(\d+)\)"[^>]*>([^<]*)</text>')
_SVG_STYLE = re.compile(r'\.([\w-]+) \{ ([^}]*) \}')
_SVG_RECT = re.compile(r'<rect fill="(#\w+)" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="[\d.]+" shape-rendering')
CELL_WIDTH, CELL_HEIGHT, RECT_TOP = 12.2, 24.4, 1.5  # Rich's SVG geometry


def screen_lines(svg: str) -> list[str]:
    """The text of a Textual SVG screenshot, line by line (styles left out)."""
    lines: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for x, line, text in _SVG_TEXT.findall(svg):
        lines[int(line)].append((float(x), html.unescape(text)))
    out = []
    for n in range(max(lines, default=-1) + 1):
        line = ""
        for x, text in sorted(lines[n]):  # a cell is 12.2 units wide; what is not drawn is blank
            line = line.ljust(round(x / CELL_WIDTH)) + text
        out.append(line.rstrip())
    return out


def screen_styles(svg: str) -> list[str]:
    """The colours of a Textual SVG screenshot, line by line: each background run and each text
    run as `column+cells:style` (what differs when the text does not)."""
    styles = dict(_SVG_STYLE.findall(svg))
    backgrounds: dict[int, list[str]] = defaultdict(list)
    for fill, x, y, width in _SVG_RECT.findall(svg):
        row = round((float(y) - RECT_TOP) / CELL_HEIGHT)
        backgrounds[row].append(f"{round(float(x) / CELL_WIDTH)}+{round(float(width) / CELL_WIDTH)}:{fill}")
    texts: dict[int, list[str]] = defaultdict(list)
    for name, x, line, text in _SVG_STYLED_TEXT.findall(svg):
        texts[int(line)].append(f"{round(float(x) / CELL_WIDTH)}+{len(html.unescape(text))}:{styles.get(name, name)}")
    rows = max([*backgrounds, *texts], default=-1) + 1
    return [f"line {n}: background {' '.join(backgrounds[n])} | text {' '.join(texts[n])}" for n in range(rows)]


def compared_screens(node: pytest.Item) -> tuple[list[str], list[str]]:
    """The snapshot's lines and this run's, as pytest-textual-snapshot recorded them for its report;
    when only colours differ, their colours line by line."""
    recorded = pickle.loads(node_to_report_path(node).read_bytes())
    expected, actual = str(recorded[1]), str(recorded[2])
    if screen_lines(expected) != screen_lines(actual):
        return screen_lines(expected), screen_lines(actual)
    return screen_styles(expected), screen_styles(actual)

