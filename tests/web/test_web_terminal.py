"""`orderproc web` in a real browser: Debian's Chromium, headless, driven by Playwright.

The server runs as a user would start it (`python -m orderproc web --db FILE --port N`, its own
data and config dirs); each page it serves gets a terminal process of its own. The test types on
the page's keyboard and reads the screen from xterm.js itself: an init script catches the page's
`Terminal` as it is built (its constructor assigns `this._core`, which a setter on
Object.prototype sees once), and `buffer.active` gives each row as the browser shows it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import PASSWORD
from serve_support import free_port
from tool_support import require_tool

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = "ORDERPROC_ARTIFACTS"  # set: the screenshot is copied to test-artifacts/ in the checkout
ESCAPE_WAIT = 0.3  # seconds; Textual waits 0.1 s for an escape sequence to go on
SETTLE = 0.3  # seconds for a key that moves the focus to take effect
VIEWPORT = {"width": 1280, "height": 800}  # 140 x 37 cells of the page's 16 px font

# runs in the page before its scripts: keeps the first xterm.js Terminal (the public class: it has
# loadAddon) as window.__terminal, then takes the setter away again
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "_core", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "_core", {value, writable: true, configurable: true, enumerable: true});
    if (typeof this.loadAddon === "function") {
      window.__terminal = this;
      delete Object.prototype._core;
    }
  },
});
"""
SCREEN = """() => {
  const terminal = window.__terminal;
  if (!terminal) return null;
  const buffer = terminal.buffer.active, rows = [];
  for (let y = 0; y < terminal.rows; y++) rows.push(buffer.getLine(y).translateToString(true));
  return rows;
}"""


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """This environment without any ORDERPROC_ setting, with its own data and config dirs."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("ORDERPROC_")}
    env.update(XDG_DATA_HOME=str(tmp_path / "xdg-data"), XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
               ORDERPROC_HASH_PROFILE="fast")
    return env


def sessions_dir(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "orderproc" / "sessions"


def cached_sessions(env: dict[str, str]) -> dict[str, str]:
    folder = sessions_dir(env)
    return {p.name: p.read_text() for p in sorted(folder.iterdir())} if folder.exists() else {}


class WebServer:
    """`orderproc web` in a process group of its own (it and the terminals it starts)."""

    def __init__(self, ledger: Path, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "orderproc", "web", "--db", str(ledger), "--port", str(self.port)],
                env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"orderproc web exited ({self.process.returncode}):\n{log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"orderproc web did not listen within 20 s:\n{log.read_text()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Ctrl+C's signal, then whatever of the group is left."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class WebTerminal:
    """One browser page on the server: what its terminal shows, and its keyboard."""

    def __init__(self, page: Any, server: WebServer, shots: Path) -> None:
        self.page = page
        self.server = server
        self.shots = shots
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("websocket", lambda socket: self.requests.append(socket.url))
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        page.add_init_script(CATCH_TERMINAL)
        page.goto(server.url)

    def screen(self) -> str:
        rows = self.page.evaluate(SCREEN)
        return "\n".join(rows) if rows else ""

    def wait_for(self, *texts: str, timeout: float = 15.0) -> str:
        """The screen once it shows every one of `texts` (a failure shows the screen, the server's
        log and a screenshot)."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if all(text in screen for text in texts):
                return screen
            if time.monotonic() > deadline:
                shot = self.screenshot("failed.png")
                raise AssertionError(f"the page never showed {texts!r}; it shows ({shot}):\n{screen}\n"
                                     f"-- server log --\n{self.server.log.read_text()}")
            time.sleep(0.05)

    def focus(self) -> None:
        """Keys to the terminal (xterm.js reads them from its hidden text area)."""
        self.page.locator("textarea.xterm-helper-textarea").focus()

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)

    def escape(self) -> None:
        """Escape, alone: a key that reaches the terminal within Textual's wait for the rest of an
        escape sequence is read with it (Escape, t: alt+t)."""
        self.press("Escape")
        time.sleep(ESCAPE_WAIT)

    def screenshot(self, name: str) -> Path:
        path = self.shots / name
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_tool("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path)


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    return tmp_path / "web.db"


@pytest.fixture
def server(ledger: Path, env: dict[str, str], tmp_path: Path) -> Iterator[WebServer]:
    running = WebServer(ledger, env, tmp_path / "web.log")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def terminal(browser: Any, server: WebServer, tmp_path: Path) -> Iterator[WebTerminal]:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        web = WebTerminal(context.new_page(), server, tmp_path)
        web.wait_for("Welcome to orderproc", "not logged in")
        web.focus()
        yield web
    finally:
        context.close()  # the page's socket closes: its terminal process quits


def register(web: WebTerminal, username: str) -> None:
    """On the login screen: the username, Enter (to the password), the password, ctrl+r; then
    the Dashboard."""
    web.type(username)
    web.press("Enter")
    # the form moves the focus once it has handled Enter: keys sent at once would land before it
    # (and nothing on screen says when: the cursor is not in the text xterm.js gives)
    time.sleep(SETTLE)
    web.type(PASSWORD)
    web.wait_for("•" * len(PASSWORD))
    web.press("Control+r")
    web.wait_for(f"{username} · main")


def keep(shot: Path) -> None:
    """A copy in test-artifacts/ of the checkout when ORDERPROC_ARTIFACTS is set (CI sets it)."""
    if os.environ.get(ARTIFACTS):
        folder = ROOT / "test-artifacts"
        folder.mkdir(exist_ok=True)
        shutil.copyfile(shot, folder / shot.name)
        print(f"screenshot copied to {folder / shot.name}")


def cli(env: dict[str, str], *args: str, stdin: str = "") -> str:
    """Run `python -m orderproc ARGS` in `env`; its stdout (exit 0 asserted)."""
    done = subprocess.run([sys.executable, "-m", "orderproc", *args], input=stdin, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def test_a_browser_registers_deposits_buys_and_sees_the_position(
    terminal: WebTerminal, server: WebServer, ledger: Path, env: dict[str, str]
) -> None:
    register(terminal, "webtrader")

    # Account: + focuses the deposit amount, Enter deposits; Escape gives the page keys back
    terminal.press("a")
    terminal.wait_for("$0.00")
    terminal.type("+")
    terminal.wait_for("esc Back")  # the field has the focus: what is typed now goes there
    terminal.type("10000")
    terminal.press("Enter")
    terminal.wait_for("$10,000.00")
    terminal.escape()

    # Trade: the ticket opens on BTC with the amount focused; Enter reviews, y confirms
    terminal.press("t")
    terminal.wait_for("BTC · Bitcoin", "Review buy", "esc Leave field")
    terminal.type("0.01")
    terminal.wait_for("0.01 BTC at about", "you pay")
    terminal.press("Enter")
    terminal.wait_for("Confirm buy")
    terminal.press("y")
    terminal.wait_for("Bought 0.01 BTC")

    # Portfolio: the position
    terminal.escape()
    terminal.press("p")
    screen = terminal.wait_for("Portfolio", "0.01")
    assert any("BTC" in row and "0.01" in row for row in screen.splitlines()), screen

    shot = terminal.screenshot("web-terminal.png")
    print(f"screenshot: {shot}")
    keep(shot)

    # the page came from the server alone (no font or script host elsewhere) and logged no error
    assert terminal.requests and all(url.split("/")[2] == f"127.0.0.1:{server.port}" for url in terminal.requests), \
        terminal.requests
    assert terminal.console_errors == []
    # and the browser's session was kept nowhere on the serving machine
    assert cached_sessions(env) == {}

    # the same position in the ledger file, seen with the CLI
    cli(env, "--db", str(ledger), "login", "webtrader", "--password-stdin", stdin=PASSWORD + "\n")
    portfolio = json.loads(cli(env, "--db", str(ledger), "portfolio", "--json"))
    assert {p["symbol"]: Decimal(p["quantity"]) for p in portfolio["positions"]} == {"BTC": Decimal("0.01")}


@pytest.fixture
def cached_session(ledger: Path, env: dict[str, str]) -> dict[str, str]:
    """The serving user logged in on the ledger with the CLI (before `orderproc web` starts): the
    session cache as it is then."""
    cli(env, "--db", str(ledger), "register", "owner", "--password-stdin", stdin=PASSWORD + "\n")
    cache = cached_sessions(env)
    assert len(cache) == 1 and '"owner"' in next(iter(cache.values()))
    return cache


def test_a_browser_never_sees_nor_touches_the_serving_users_cached_session(
    cached_session: dict[str, str], env: dict[str, str], browser: Any, server: WebServer, tmp_path: Path
) -> None:
    # the fixture order matters: the session is cached before the server starts
    context = browser.new_context(viewport=VIEWPORT)
    try:
        web = WebTerminal(context.new_page(), server, tmp_path)
        screen = web.wait_for("Welcome to orderproc", "not logged in")
        assert "owner" not in screen
        web.focus()
        register(web, "visitor")
        web.press("u")  # Profile; its logout (ctrl+o) forgets no cache either
        web.wait_for("visitor", "Log out")
        web.press("Control+o")
        web.wait_for("Welcome to orderproc", "not logged in")
    finally:
        context.close()
    assert cached_sessions(env) == cached_session
    assert json.loads(next(iter(cached_session.values())))["username"] == "owner"
