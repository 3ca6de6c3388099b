"""`orderproc web` without a browser: what it serves, where, and what a web session leaves alone.

The command runs through Typer's runner with textual-serve replaced (`web._server`), so nothing
listens; the browser itself is test_web_terminal.py's.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from orderproc import sessions
from orderproc.cli import web
from orderproc.cli.main import app


class Served:
    """What `orderproc web` would have served: textual-serve's arguments, and the web-session
    mark its terminals would inherit."""

    def __init__(self) -> None:
        self.command: str | None = None
        self.options: dict[str, Any] = {}
        self.marked: str | None = None

    def __call__(self, command: str, host: str, port: int, url: str) -> Served:
        self.command, self.options = command, {"host": host, "port": port, "url": url}
        self.marked = os.environ.get(sessions.WEB_SESSION)
        return self

    def serve(self) -> None:
        pass


@pytest.fixture
def served(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    record = Served()
    monkeypatch.setattr(web, "_server", record)
    # the command marks this process's environment (for its terminals): put it back after the test
    monkeypatch.setenv(sessions.WEB_SESSION, "")
    monkeypatch.delenv(sessions.WEB_SESSION)
    yield record


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_web_serves_terminals_of_this_python_on_the_ledger_file_marked_as_web_sessions(
    served: Served, tmp_path: Path
) -> None:
    ledger = tmp_path / "shared.db"
    result = run("--db", str(ledger), "web")
    assert result.exit_code == 0, result.stderr
    assert served.command == shlex.join([sys.executable, "-m", "orderproc", "--db", str(ledger.resolve())])
    assert served.marked == "1"
    assert served.options == {"host": "127.0.0.1", "port": 8765, "url": "http://127.0.0.1:8765"}
    assert ledger.exists()  # created (or checked) once before serving: a bad one fails here
    assert f"the terminal on {ledger} at http://127.0.0.1:8765" in result.stderr
    assert "warning" not in result.stderr


def test_web_on_the_default_ledger_names_its_file(served: Served, cli_env: dict[str, str]) -> None:
    assert run("web").exit_code == 0
    assert served.command is not None and shlex.split(served.command)[-2:] == ["--db", cli_env["ORDERPROC_DB"]]


def test_web_on_a_server_serves_terminals_that_are_its_clients(served: Served) -> None:
    result = run("--server", "http://127.0.0.1:8080", "web", "--port", "9000")
    assert result.exit_code == 0, result.stderr
    assert served.command == shlex.join([sys.executable, "-m", "orderproc", "--server", "http://127.0.0.1:8080"])
    assert served.options["port"] == 9000


def test_web_beyond_this_machine_warns_and_prints_an_address_a_browser_can_open(served: Served) -> None:
    result = run("web", "--host", "0.0.0.0")
    assert result.exit_code == 0, result.stderr
    assert served.options["url"] == f"http://{socket.gethostname()}:8765"
    assert "warning: listening beyond this machine without TLS" in result.stderr


def test_web_on_a_port_in_use_says_so_and_serves_nothing(served: Served) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("web", "--port", str(port))
    assert result.exit_code == 1
    assert f"error[address_in_use]: port {port} on 127.0.0.1 is in use" in result.stderr
    assert served.command is None


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_web_refuses_a_port_out_of_range(served: Served, port: str) -> None:
    result = run("web", "--port", port)
    assert result.exit_code == 2
    assert served.command is None


def test_the_page_loads_nothing_from_another_host() -> None:
    page = (web.PAGE / "app_index.html").read_text()
    assert "https://" not in page and "{{ config" not in page and "app_websocket_url" not in page
    assert 'href="static/css/xterm.css"' in page and 'src="static/js/textual.js"' in page


# -- a web session's process keeps no session cache -------------------------------------------


@pytest.fixture
def cached(cli_env: dict[str, str]) -> Path:
    """The serving user's session for a ledger, cached before the web session starts."""
    path = sessions.save_token("ledger-key", "owner", "owner-token")
    assert path is not None
    return path


def test_a_web_session_reads_no_cached_token(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sessions.load_token("ledger-key") == "owner-token"
    monkeypatch.setenv(sessions.WEB_SESSION, "1")
    assert sessions.load_token("ledger-key") is None


def test_a_web_session_writes_and_forgets_nothing(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = cached.read_text()
    monkeypatch.setenv(sessions.WEB_SESSION, "1")
    assert sessions.save_token("ledger-key", "visitor", "visitor-token") is None
    assert sessions.save_token("other-ledger", "visitor", "visitor-token") is None
    sessions.forget_token("ledger-key")  # a browser's logout
    assert [p.name for p in cached.parent.iterdir()] == [cached.name]
    assert cached.read_text() == before


def test_an_empty_mark_is_no_web_session(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sessions.WEB_SESSION, "")
    assert sessions.load_token("ledger-key") == "owner-token"
