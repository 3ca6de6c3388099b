"""Start the trading terminal on the ledger the settings point at."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from orderproc import collector
from orderproc.config import Settings, config_dir
from orderproc.engine import open_engine
from orderproc.tui.app import OrderprocApp, SessionStore


def short_path(path: Path) -> str:
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home):] if text.startswith(home + "/") else text


def open_terminal(db: str | None, server: str | None) -> None:
    """Run the terminal on `db`, on `server` or on the configured ledger; a domain error exits 1
    with its code."""
    from orderproc.engine.errors import OrderprocError

    try:
        run(Settings.load(db=db, server=server))
    except OrderprocError as exc:
        sys.stderr.write(f"error[{exc.code}]: {exc.message}\n")
        raise SystemExit(1) from None


def run(settings: Settings) -> None:
    engine = open_engine(settings)
    try:
        app = OrderprocApp(
            engine,
            ledger_label=short_path(Path(engine.location)) if isinstance(settings.db_path, Path) and not settings.server
            else engine.location,
            store=SessionStore(engine.session_key, config_dir() / "tui.json"),
            settled=collector.freeze,
        )
        app.run()
    finally:
        asyncio.run(engine.close())
