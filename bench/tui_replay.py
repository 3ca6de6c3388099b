"""orderproc's terminal over an engine that replays recorded answers from memory: the floor.

    (run by bench/tui.py as its third start row; BENCH_TUI_REPLAY names the recording)

The same app, pages, widgets and data as `python -m orderproc` on the prepared ledger, but
every engine call returns at once a result recorded beforehand (no SQLite, no pricing, no
password or token checks). Its start is what Textual needs to import, lay out and paint our
Dashboard: the floor any engine work adds to.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
import os
from pathlib import Path
from typing import Any

from orderproc.config import config_file
from orderproc.engine import schemas
from orderproc.engine.events import AccountEvent
from orderproc.tui.app import OrderprocApp, SessionStore

# the calls the Dashboard makes on start, and how to rebuild each recorded answer
RESULT_TYPES: dict[str, Any] = {
    "whoami": schemas.User,
    "accounts": list[schemas.AccountInfo],
    "quotes": list[schemas.Quote],
    "portfolio": schemas.Portfolio,
    "orders": schemas.Page[schemas.Order],
    "price_history": list[schemas.PricePoint],
}


class ReplayEngine:
    def __init__(self, recording: dict[str, Any]) -> None:
        from pydantic import TypeAdapter

        self.location = recording["ledger"]
        self.session_key = recording["session_key"]
        self._answers = {name: TypeAdapter(kind).validate_python(recording[name]) for name, kind in RESULT_TYPES.items()}

    async def stream_quotes(self, interval: float = 1.0) -> AsyncIterator[list[schemas.Quote]]:
        while True:
            yield self._answers["quotes"]
            await asyncio.sleep(interval)

    async def stream_account(self, token: str) -> AsyncIterator[AccountEvent]:
        """The marks at once, then nothing (an idle ledger: the pages load once and stay)."""
        yield AccountEvent()
        await asyncio.Event().wait()

    async def run_price_loop(self, interval: float = 1.0) -> None:
        """Nothing to match (as a remote engine's: its server runs the loop)."""

    def __getattr__(self, name: str) -> Any:
        if name not in self._answers:
            raise AttributeError(name)  # not an Engine call the terminal made when recorded
        answer = self._answers[name]

        async def call(*args: Any, **kwargs: Any) -> Any:
            return answer

        return call


def main() -> None:
    gc.set_threshold(10_000, 50, 100)  # as `orderproc.entry` starts the terminal
    recording = json.loads(Path(os.environ["BENCH_TUI_REPLAY"]).read_text())
    engine: Any = ReplayEngine(recording)
    OrderprocApp(engine, ledger_label=engine.location,
                 store=SessionStore(recording["session_key"], config_file())).run()


if __name__ == "__main__":
    main()
