"""Helpers for driving the terminal with Pilot (the `make_app` fixture is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

from textual.pilot import Pilot

from orderproc.tui.app import OrderprocApp

MakeApp = Callable[..., OrderprocApp]


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
