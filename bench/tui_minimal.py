"""The baseline app of bench/tui.py, and the null terminal both apps run on in that benchmark.

    python bench/tui_minimal.py [--live | --pages]

The baseline is the smallest Textual app that looks like a trading table: a Header, a DataTable
of 100 rows (6 columns, filled in `on_mount`) and a Footer. With `--live` it also updates the
price and 24 h change cells of all 100 rows 4 times a second with `update_cell`: the "redraw a
100-row table 4 times a second" reference of PERFORMANCE.md. With `--pages` it is two such
pages (screens, as modes), switched with the keys `a` and `b`: the page-switch baseline.

`NullTerminal` is a Textual driver chosen with the environment variable
`TEXTUAL_DRIVER=tui_minimal:NullTerminal` (with this folder on `PYTHONPATH`), so the real
`orderproc` command runs unmodified on it. Unlike Textual's headless driver (which skips the
last step of a frame), it tells Textual it is a terminal: every frame is composed, encoded as
escape sequences and written (to /dev/null). What a real terminal then spends drawing is not
included. It also carries the probe that tells bench/tui.py when the app is ready and how much
CPU it used, configured by `BENCH_TUI_*` variables (see `Probe`) and reporting one line
`BENCH_TUI {json}` on file descriptor 1.

Top-level imports are only what any Textual app has already imported by the time its driver is
created, so the probe adds nothing measurable to either app's start.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from textual.drivers.headless_driver import HeadlessDriver

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen

MARKER = "BENCH_TUI "
ROWS = 100
TICK = 0.25  # seconds between live updates of the baseline (4 times a second)
BUSY = ("PENDING", "RUNNING")


def _text(widget: Any) -> str:
    """The plain text a widget shows (Static-like widgets; others: their render())."""
    try:
        rendered = widget.render()
    except Exception:  # a widget that cannot render outside a frame: not filled
        return ""
    plain = getattr(rendered, "plain", None)
    return plain if isinstance(plain, str) else str(rendered)


class Probe:
    """Watches the app from its driver. Settings come from the environment:

    BENCH_TUI_PROBE    "start": report the first frame written while the ready condition holds,
                       then exit. "cpu": once ready, optionally switch mode, settle, measure
                       process CPU time over a window, report, exit.
    BENCH_TUI_SCREEN   class name of the screen that must be active to be ready
    BENCH_TUI_FILLED   comma-separated CSS selectors: each must match a widget showing text
                       that is not empty nor a placeholder ("", "-", "—", "…", "...")
    BENCH_TUI_TABLES   "1": every DataTable on that screen must have rows
    BENCH_TUI_MODE     (cpu) the mode to switch to once ready, e.g. "markets"
    BENCH_TUI_SCREEN2  (cpu) class name of that mode's screen; BENCH_TUI_FILLED2 its selectors
    BENCH_TUI_SETTLE   (cpu) seconds to wait before measuring
    BENCH_TUI_SECONDS  (cpu) the measured window
    BENCH_TUI_TIMEOUT  give up (and report the error) after this many seconds
    BENCH_TUI_TRACE    "1": one line on stderr per frame: time since BENCH_TUI_T0 (the parent's
                       time.time() before Popen), size, the condition that does not hold yet
    BENCH_TUI_KEYS     (switch) comma-separated keys, each switching to another page: once ready
                       and settled, each is pressed in turn, BENCH_TUI_SETTLE seconds apart (a
                       person's pace), and timed to the first frame showing another screen
                       ("shown": the key acknowledged) and to the first frame where that screen
                       is ready by the generic condition ("ready": workers done, and tables
                       filled unless BENCH_TUI_SWITCH_TABLES is "0")

    Ready also means: the screen has been shown (ScreenResume handled, so the page's
    `refresh_data` ran) and no worker of the screen or of its widgets is pending or running.
    """

    PLACEHOLDERS = frozenset({"", "-", "—", "–", "…", "...", "loading", "loading..."})

    def __init__(self, driver: NullTerminal) -> None:
        env = os.environ
        self.driver = driver
        self.app: App[Any] = driver._app
        self.kind = env.get("BENCH_TUI_PROBE", "start")
        self.screen = env.get("BENCH_TUI_SCREEN", "Screen")
        self.filled = [s for s in env.get("BENCH_TUI_FILLED", "").split(",") if s.strip()]
        self.tables = env.get("BENCH_TUI_TABLES", "1") == "1"
        self.mode = env.get("BENCH_TUI_MODE", "")
        self.screen2 = env.get("BENCH_TUI_SCREEN2", "")
        self.filled2 = [s for s in env.get("BENCH_TUI_FILLED2", "").split(",") if s.strip()]
        self.settle = float(env.get("BENCH_TUI_SETTLE", "1"))
        self.seconds = float(env.get("BENCH_TUI_SECONDS", "10"))
        self.timeout = float(env.get("BENCH_TUI_TIMEOUT", "60"))
        self.trace = env.get("BENCH_TUI_TRACE") == "1"
        self.t0 = float(env.get("BENCH_TUI_T0", "0")) or time.time()
        self.shown: float | None = None  # the first frame showing the screen (its data may not be there yet)
        self.keys = [k for k in env.get("BENCH_TUI_KEYS", "").split(",") if k]
        self.switch_tables = env.get("BENCH_TUI_SWITCH_TABLES", "1") == "1"
        self.switch: dict[str, Any] | None = None  # the key being timed: the screen before, t0, shown, ready
        self.switched: asyncio.Event | None = None
        self.done = False
        self.task: asyncio.Task[None] | None = None

    # -- conditions --------------------------------------------------------------------------

    def _current(self) -> Screen[Any] | None:
        try:
            return self.app.screen
        except Exception:  # no screen yet
            return None

    def ready(self, screen_name: str, filled: list[str], *, tables: bool | None = None) -> bool:
        return self.why_not(screen_name, filled, tables=tables) is None

    def why_not(self, screen_name: str, filled: list[str], *, tables: bool | None = None) -> str | None:
        """None when the screen is ready, else the first condition that does not hold."""
        screen = self._current()
        if screen is None or type(screen).__name__ != screen_name:
            return f"screen is {type(screen).__name__}"
        if not screen.is_attached or screen.stack_updates < 1:
            return "screen not shown yet"
        if not getattr(screen, "built", True):  # an orderproc page shows its frame before its body
            return "page body not built yet"
        for worker in self.app.workers:
            if worker.state.name in BUSY:
                node = worker.node
                if node is screen or screen in node.ancestors:
                    return f"worker {worker.group}/{worker.name} {worker.state.name}"
        if self.tables if tables is None else tables:
            for table in screen.query("DataTable"):
                if getattr(table, "row_count", 0) == 0:
                    return f"table {type(table).__name__}#{table.id} empty"
        for selector in filled:
            widgets = list(screen.query(selector))
            if not widgets:
                return f"no {selector}"
            for widget in widgets:
                if _text(widget).strip().lower() in self.PLACEHOLDERS:
                    return f"{selector} shows {_text(widget)!r}"
        return None

    def state(self) -> dict[str, Any]:
        """What the app looks like, for a timeout report."""
        screen = self._current()
        return {
            "screen": type(screen).__name__ if screen is not None else None,
            "workers": [f"{w.name or w.group}:{w.state.name}@{type(w.node).__name__}" for w in self.app.workers],
        }

    # -- reporting ---------------------------------------------------------------------------

    def emit(self, **data: Any) -> None:
        if self.done:
            return
        self.done = True
        os.write(1, (MARKER + json.dumps(data) + "\n").encode())
        self.app.exit()

    # -- the two probes ----------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        runs = {"cpu": self.run_cpu, "switch": self.run_switch}
        self.task = loop.create_task(runs.get(self.kind, self.watchdog)())

    def on_frame(self) -> None:
        """Called after every frame written: the start probe's clock."""
        if self.trace:
            reason = self.why_not(self.screen, self.filled)
            os.write(2, f"trace {time.time() - self.t0:7.3f} s frame {self.driver.frames:3d} "
                        f"{self.driver.last:7d} B: {reason or 'ready'}\n".encode())
        if self.switch is not None:
            self.time_switch(self.switch)
        if self.kind != "start" or self.done:
            return
        if self.shown is None and type(self._current()).__name__ == self.screen:
            self.shown = time.time()
        if self.ready(self.screen, self.filled):
            self.emit(ready=time.time(), shown=self.shown, first_frame=self.driver.first_frame,
                      frames=self.driver.frames, cpu=time.process_time())

    async def watchdog(self) -> None:
        await asyncio.sleep(self.timeout)
        self.emit(error=f"not ready after {self.timeout:.0f} s: {self.why_not(self.screen, self.filled)}",
                  **self.state())

    async def wait_for(self, screen_name: str, filled: list[str], deadline: float) -> bool:
        while not self.ready(screen_name, filled):
            if time.monotonic() > deadline:
                self.emit(error=f"{screen_name} not ready after {self.timeout:.0f} s: "
                                f"{self.why_not(screen_name, filled)}", **self.state())
                return False
            await asyncio.sleep(0.01)
        return True

    async def run_cpu(self) -> None:
        deadline = time.monotonic() + self.timeout
        if not await self.wait_for(self.screen, self.filled, deadline):
            return
        if self.mode:
            self.app.call_later(self.app.switch_mode, self.mode)
            if not await self.wait_for(self.screen2 or self.screen, self.filled2, deadline):
                return
        await asyncio.sleep(self.settle)
        driver = self.driver
        frames, written = driver.frames, driver.bytes
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(self.seconds)
        cpu1, wall1 = time.process_time(), time.perf_counter()
        rows = [getattr(t, "row_count", 0) for t in self.app.screen.query("DataTable")]
        self.emit(cpu=cpu1 - cpu0, wall=wall1 - wall0, frames=driver.frames - frames,
                  bytes=driver.bytes - written, screen=type(self.app.screen).__name__, table_rows=rows,
                  threads=len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None)


    def page(self) -> str:
        """The page shown: its mode (two pages may be one class)."""
        return f"{self.app.current_mode}:{type(self._current()).__name__}"

    def time_switch(self, switch: dict[str, Any]) -> None:
        """After a frame written: note when another screen was first shown, then ready."""
        screen = self._current()
        if screen is None or screen is switch["before"]:
            return
        now = time.perf_counter()
        if switch["shown"] is None:
            switch["shown"] = now
        if self.ready(type(screen).__name__, [], tables=self.switch_tables):
            switch["ready"] = now
            switch["screen"] = type(screen).__name__
            switch["page"] = self.page()
            assert self.switched is not None
            self.switched.set()

    async def run_switch(self) -> None:
        deadline = time.monotonic() + self.timeout
        if not await self.wait_for(self.screen, self.filled, deadline):
            return
        seen = {self.page()}
        results = []
        for key in self.keys:
            await asyncio.sleep(self.settle)
            self.switched = asyncio.Event()
            switch: dict[str, Any] = {"before": self._current(), "shown": None, "ready": None,
                                      "t0": time.perf_counter()}
            self.switch = switch
            self.app.simulate_key(key)
            try:
                await asyncio.wait_for(self.switched.wait(), self.timeout)
            except TimeoutError:
                self.emit(error=f"key {key!r}: no other screen ready after {self.timeout:.0f} s "
                                f"(shown: {switch['shown'] is not None})", **self.state())
                return
            self.switch = None
            results.append({"key": key, "screen": switch["screen"], "first": switch["page"] not in seen,
                            "shown_ms": (switch["shown"] - switch["t0"]) * 1000,
                            "ready_ms": (switch["ready"] - switch["t0"]) * 1000})
            seen.add(switch["page"])
        self.emit(switches=results)


class NullTerminal(HeadlessDriver):
    """A terminal driver whose terminal is /dev/null: frames are fully rendered and written."""

    def __init__(self, app: App[Any], *, debug: bool = False, mouse: bool = True,
                 size: tuple[int, int] | None = None) -> None:
        super().__init__(app, debug=debug, mouse=mouse, size=size)
        self._null = os.open(os.devnull, os.O_WRONLY)
        self.frames = 0
        self.bytes = 0
        self.last = 0
        self.first_frame: float | None = None
        self.probe = Probe(self) if os.environ.get("BENCH_TUI_PROBE") else None

    @property
    def is_headless(self) -> bool:
        return False  # so that Textual encodes and writes every frame, as for a terminal

    def write(self, data: str) -> None:
        encoded = data.encode("utf-8", "replace")
        os.write(self._null, encoded)
        self.bytes += len(encoded)
        if data.startswith("\x1b]"):  # an OSC (pointer shape, title...), not a frame of the screen
            return
        self.frames += 1
        self.last = len(encoded)
        if self.first_frame is None:
            self.first_frame = time.time()
        if self.probe is not None:
            self.probe.on_frame()

    def start_application_mode(self) -> None:
        super().start_application_mode()  # sends the first Resize (size: run(size=) or COLUMNS/LINES)
        if self.probe is not None:
            self.probe.start()

    def close(self) -> None:
        try:
            os.close(self._null)
        except OSError:
            pass
        super().close()


# -- the baseline app ---------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    import random

    from textual.app import App, ComposeResult
    from textual.screen import Screen
    from textual.widgets import DataTable, Footer, Header

    def price_text(price: float) -> str:
        return f"{price:,.2f}"

    def change_text(change: float) -> str:
        return f"{change:+.2f}%"

    def fill(table: DataTable[str], rng: random.Random, prices: list[float] | None = None,
             changes: list[float] | None = None) -> None:
        """The baseline's 6 columns and 100 rows (of these prices and changes, else drawn)."""
        prices = prices or [rng.uniform(0.01, 60000.0) for _ in range(ROWS)]
        changes = changes or [rng.uniform(-10.0, 10.0) for _ in range(ROWS)]
        table.add_column("#", key="rank")
        table.add_column("Symbol", key="symbol")
        table.add_column("Name", key="name")
        table.add_column("Price", key="price", width=14)
        table.add_column("24h", key="change", width=8)
        table.add_column("Category", key="category")
        for i in range(ROWS):
            table.add_row(str(i + 1), f"A{i:03d}", f"Asset number {i}", price_text(prices[i]),
                          change_text(changes[i]), ("layer-1", "defi", "meme", "stablecoin")[i % 4], key=str(i))

    class MinimalApp(App[None]):
        """Header, a 100-row DataTable, Footer; with live=True, 200 cells updated 4 times a second."""

        BINDINGS = [("q", "quit", "Quit")]

        def __init__(self, live: bool) -> None:
            super().__init__()
            self.live = live
            self.rng = random.Random(7)
            self.prices = [self.rng.uniform(0.01, 60000.0) for _ in range(ROWS)]
            self.changes = [self.rng.uniform(-10.0, 10.0) for _ in range(ROWS)]

        def compose(self) -> ComposeResult:
            yield Header()
            yield DataTable(id="table", cursor_type="row", zebra_stripes=True)
            yield Footer()

        def on_mount(self) -> None:
            fill(self.query_one(DataTable), self.rng, self.prices, self.changes)
            if self.live:
                self.set_interval(TICK, self.tick)

        def price(self, i: int) -> str:
            return price_text(self.prices[i])

        def change(self, i: int) -> str:
            return change_text(self.changes[i])

        def tick(self) -> None:
            table = self.query_one(DataTable)
            rng = self.rng
            for i in range(ROWS):
                self.prices[i] *= 1.0 + rng.uniform(-0.001, 0.001)
                self.changes[i] += rng.uniform(-0.05, 0.05)
                table.update_cell(str(i), "price", self.price(i))
                table.update_cell(str(i), "change", self.change(i))

    class TableScreen(Screen[None]):
        """One page of the paged baseline: Header, a 100-row DataTable filled on mount, Footer."""

        def compose(self) -> ComposeResult:
            yield Header()
            yield DataTable(cursor_type="row", zebra_stripes=True)
            yield Footer()

        def on_mount(self) -> None:
            fill(self.query_one(DataTable), random.Random(7))

    class PagedApp(App[None]):
        """Two such pages as modes, switched with `a` and `b` (the page-switch baseline)."""

        MODES = {"a": TableScreen, "b": TableScreen}
        BINDINGS = [("a", "switch_mode('a')", "Page A"), ("b", "switch_mode('b')", "Page B"), ("q", "quit", "Quit")]

        def on_mount(self) -> None:
            self.switch_mode("a")

    if "--pages" in argv:
        PagedApp().run()
    else:
        MinimalApp(live="--live" in argv).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
