"""Start the trading terminal on the ledger the settings point at."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from orderproc import collector
from orderproc.config import ConfigFile, Settings, config_file
from orderproc.engine import open_engine
from orderproc.formatting import use_number_format
from orderproc.tui.app import OrderprocApp, SessionStore
from orderproc.tui.keymap import checked_keymap


def short_path(path: Path) -> str:
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home):] if text.startswith(home + "/") else text


def open_terminal(db: str | None, server: str | None) -> None:
    """Run the terminal on `db`, on `server` or on the configured ledger; a domain error (a bad
    setting among them, with its line in the config file) exits 1 with its code."""
    from orderproc.engine.errors import OrderprocError

    try:
        config = ConfigFile.read()
        settings, sources = Settings.load_with_sources(config=config, db=db, server=server)
        checked_keymap(settings.keys, config)
        _check_theme(settings.theme, sources.get("theme"), config)
        run(settings)
    except OrderprocError as exc:
        sys.stderr.write(f"error[{exc.code}]: {exc.message}\n")
        raise SystemExit(1) from None


def _check_theme(theme: str | None, source: str | None, config: ConfigFile) -> None:
    from textual.theme import BUILTIN_THEMES

    from orderproc.engine.errors import ValidationError

    if theme is None or theme in BUILTIN_THEMES:
        return
    message = f"theme {theme!r} is not a theme; the themes: {', '.join(sorted(BUILTIN_THEMES))}"
    if source == "file":
        raise config.error(message, name="theme")
    raise ValidationError(f"bad {'option' if source == 'option' else 'environment variable ORDERPROC_THEME'}: "
                          f"{message}", {"field": "theme"})


def run(settings: Settings) -> None:
    """Run the terminal on the settings' ledger; the engine is closed on the app's own loop (a
    server's connections belong to it)."""
    from orderproc.sessions import cached

    use_number_format(settings.number_format)
    engine = open_engine(settings)

    async def main() -> None:
        try:
            app = OrderprocApp(
                engine,
                ledger_label=short_path(Path(engine.location))
                if isinstance(settings.db_path, Path) and not settings.server else engine.location,
                # a browser's terminal (orderproc web) writes nothing into the serving user's config
                store=SessionStore(engine.session_key, config_file() if cached() else None),
                settled=collector.freeze,
                keymap=settings.keys,
                theme=settings.theme,
                account=settings.account,
            )
            await app.run_async()
        finally:
            await engine.close()

    asyncio.run(main())
