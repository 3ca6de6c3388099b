"""`orderproc web`: the trading terminal served to browsers with textual-serve.

textual-serve runs a command per browser connection and relays its screen and keys: here a
terminal (`python -m orderproc --db FILE` or `--server URL`) of this installation. On a ledger file
each of them opens its own embedded engine on it (several processes share a ledger file safely);
on a server each is a client of it. They run marked as web sessions (`sessions.WEB_SESSION`):
the config dir is the serving user's, so they read, write and forget no cached session, and
each browser logs in for itself.

The page is ours (web_page/app_index.html), not textual-serve's: that one fetches its font from
Google Fonts, which a machine offline cannot reach, and builds its URLs from the address the
server binds to (`ws://0.0.0.0:...` when bound to every address). Ours takes the font from
textual-serve's own static files and uses URLs relative to the page, so it loads from this
server alone, at whatever address the browser used.

The CLI never imports the terminal (the surfaces are independent): this module only builds the
command that starts one.
"""

from __future__ import annotations

import logging
import os
import shlex
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from aiohttp import web as aiohttp_web
    from textual_serve.server import Server

PAGE = Path(__file__).parent / "web_page"
DEFAULT_PORT = 8765  # `serve` has 8080, and the Compose proxy 8000
LOOPBACK = ("127.0.0.1", "localhost", "::1")
EVERY_ADDRESS = ("0.0.0.0", "::", "")


def _port(value: str) -> int:
    from orderproc.cli.main import _Whole  # the CLI's rule and words for whole numbers

    return _Whole(1, 65535)(value)


def web(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on. Any other than this machine's (0.0.0.0: every address) "
        "lets other machines open the terminal, register and trade on this ledger.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", parser=_port, help="Port to listen on (1 to 65535).")] = DEFAULT_PORT,
) -> None:
    """Serve the trading terminal to web browsers.

    Each browser gets a terminal of its own on this ledger (--db) or server (--server) and logs
    in for itself: your cached session is not used. Open the address it prints.
    """
    from orderproc.cli import render
    from orderproc.cli.main import _cannot_listen, _reported
    from orderproc.sessions import WEB_SESSION

    root = ctx.find_root().params
    if (problem := _cannot_listen(host, port)) is not None:
        render.err.print(problem, markup=False)
        raise typer.Exit(1)
    with _reported(False):
        ledger, option = _ledger(root.get("db"), root.get("server"))
    url = _address(host, port)
    render.err.print(f"orderproc web: the terminal on {ledger} at {url} (each browser logs in for itself); "
                     "Ctrl+C stops", markup=False)
    if host not in LOOPBACK:
        render.err.print("warning: listening beyond this machine without TLS: passwords cross the network "
                         "in clear (put a TLS proxy in front)", markup=False)
    # textual-serve gives each terminal a copy of this environment
    os.environ[WEB_SESSION] = "1"
    _server(shlex.join([sys.executable, "-m", "orderproc", *option]), host, port, url).serve()


def _ledger(db: str | None, server: str | None) -> tuple[str, list[str]]:
    """What the terminals open, in words and as their option: the server, or the ledger file,
    created or checked once here (as by `serve`) so that a bad one is reported before serving."""
    import asyncio

    from orderproc.config import Settings
    from orderproc.engine import open_local_engine

    settings = Settings.load(db=db, server=server)
    if settings.server:
        return settings.server, ["--server", settings.server]
    engine = open_local_engine(settings)
    asyncio.run(engine.close())
    path = settings.db_path
    return engine.location, ["--db", str(path.resolve() if isinstance(path, Path) else path)]


def _address(host: str, port: int) -> str:
    """The address to open in a browser (bound to every address: this machine's name)."""
    name = socket.gethostname() if host in EVERY_ADDRESS else host
    return f"http://[{name}]:{port}" if ":" in name else f"http://{name}:{port}"


def _server(command: str, host: str, port: int, url: str) -> Server:
    from textual_serve.server import Server

    class WebServer(Server):
        def initialize_logging(self) -> None:
            # warnings and errors (a terminal that failed to start), as `serve`: no line per request
            logging.basicConfig(level=logging.WARNING, format="%(message)s")

        async def on_startup(self, app: aiohttp_web.Application) -> None:
            pass  # our line is printed already (textual-serve's banner names the command)

    return WebServer(command, host=host, port=port, title="orderproc", public_url=url, templates_path=PAGE)
