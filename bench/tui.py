"""The trading terminal's start and live CPU, against a minimal Textual app measured in the same run.

    python bench/tui.py [--repeat-start R] [--repeat-cpu C] [--repeat-switch W] [--pace P]
                        [--seconds S] [--settle T] [--size WxH] [--trace] [--timeout SECONDS]
                        [--fail-below-target]

Three figures, each next to a baseline measured in the same run, the runs interleaved
(baseline, orderproc, baseline, ...) so that the noise of a shared machine hits both alike:

- start: the time from `Popen` of a fresh interpreter (so every import counts) to the first
  frame that shows a usable screen. orderproc: `python -m orderproc --db LEDGER`, the real
  command, on a prepared ledger (a funded user with a few positions and orders) with a cached
  session, so it opens straight on the Dashboard; usable = the Dashboard is shown, its workers
  have finished, its tables have rows and its figures are filled. Baseline
  (`bench/tui_minimal.py`): Header, a 100-row DataTable and a Footer; usable = the frame that
  shows the rows. Median of R launches each, after one untimed launch of each (cold caches,
  bytecode compilation). Also shown: when the page was first shown (before its data) and the
  CPU used by then. `--trace` first prints, frame by frame, what one orderproc launch waits for.
- live CPU: the process CPU time (every thread: the engine computing quotes is in it) over S
  seconds, after T seconds to settle. orderproc: logged in as above, switched to the Markets
  page (`app.switch_mode("markets")`), its own 1 s price feed running. Baseline: the minimal
  app updating the price and 24 h change cells of all 100 rows 4 times a second. Median of C
  runs each.

- page switches: a launch of each app, then a key every `--pace` seconds. orderproc: the keys of
  every page a customer has but Trade (m d p a l u o, three rounds); baseline (`tui_minimal.py
  --pages`): two pages of a 100-row table, `a` and `b`, as many times. Each key is timed to the
  first frame showing the new page ("shown": the key acknowledged) and to its first frame ready
  (workers done, tables filled). First visits and visited pages apart, p50/p95 of R launches.

Both apps run on `tui_minimal.NullTerminal` (selected with TEXTUAL_DRIVER, so `orderproc` runs
unmodified): Textual composes, encodes and writes every frame as for a terminal, to /dev/null.
The terminal's own drawing is not included.

Targets (issue #13, replacing issue #3's 1.3x of the minimal app, below the floor of any app
that paints that Dashboard): start at most 1.1x the replayed-engine floor (the same UI, every
engine answer from memory), and the Dashboard's first frame (its placeholders) at most 1.3x the
minimal app's first frame; Markets CPU at most half of the baseline's (PERFORMANCE.md); a
visited page ready at p95 within 2x the minimal app's, and every key shown within 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from tui_minimal import MARKER, ROWS, TICK  # noqa: E402  (bench/ is on sys.path as the script's folder)

START_TARGET = 1.10  # start (usable) against the replayed-engine floor
FRAME_TARGET = 1.30  # the Dashboard's first frame against the minimal app's
CPU_TARGET = 0.50
USERNAME = "bench"
PASSWORD = "bench password 1"
DEPOSIT = "100000"
# (symbol, side, quantity): a few positions, one partly sold, so the dashboard has figures
ORDERS: tuple[tuple[str, str, str], ...] = (
    ("BTC", "buy", "0.25"), ("ETH", "buy", "3"), ("SOL", "buy", "40"), ("DOGE", "buy", "20000"),
    ("XRP", "buy", "1500"), ("ETH", "sell", "1"),
)
# What "usable" means on orderproc's pages (see tui_minimal.Probe): the screen class, and CSS
# selectors of widgets that must show a value. Empty selectors: the generic condition only
# (shown, workers finished, tables have rows).
DASHBOARD = ("DashboardScreen", ",".join(
    [f"#card-{card} .summary-value" for card in ("equity", "cash", "pnl", "today")] + ["#dash-chart .chart-caption"]
))
MARKETS = ("MarketsScreen", "")
# The page switches: every page a customer has (not Trade: its ticket takes the keys), in a
# round, PAGE_ROUNDS times; the baseline's two pages as often.
PAGE_ROUNDS = 3
PAGE_KEYS = tuple("mdpaluo") * PAGE_ROUNDS
BASE_KEYS = tuple("ba") * (len(PAGE_KEYS) // 2)
SWITCH_TARGET = 2.0
SHOWN_TARGET_MS = 100.0


@dataclass
class Child:
    label: str
    starts: list[dict[str, Any]] = field(default_factory=list)
    cpus: list[dict[str, Any]] = field(default_factory=list)
    switches: list[dict[str, Any]] = field(default_factory=list)


# -- the prepared ledger -------------------------------------------------------------------------


def prepare_ledger(folder: Path, env: dict[str, str]) -> Path:
    """A ledger with a funded user holding positions, that user's session cached, and the answers
    the Dashboard gets on start recorded in `replay.json` (for bench/tui_replay.py)."""
    saved = {k: os.environ.get(k) for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME")}
    os.environ.update({k: env[k] for k in saved})  # sessions_dir() follows XDG_CONFIG_HOME
    try:
        from pydantic import TypeAdapter

        from orderproc.engine.schemas import OrderRequest, Side
        from orderproc.engine.service import LocalEngine
        from orderproc.sessions import save_token

        path = folder / "ledger.db"

        async def setup() -> None:
            engine = LocalEngine(path, hash_profile="fast", market_seed=7)
            try:
                await engine.register(USERNAME, PASSWORD)
                session = await engine.login(USERNAME, PASSWORD)
                await engine.deposit(session.token, DEPOSIT)
                for symbol, side, quantity in ORDERS:
                    await engine.place_order(session.token,
                                             OrderRequest(symbol=symbol, side=Side(side), quantity=Decimal(quantity)))
                save_token(engine.session_key, USERNAME, session.token)
                token = session.token
                answers = {  # what the Dashboard asks on start, for bench/tui_replay.py
                    "whoami": await engine.whoami(token), "accounts": await engine.accounts(token),
                    "quotes": await engine.quotes(),
                    "portfolio": await engine.portfolio(token), "orders": await engine.orders(token, limit=5),
                    "price_history": await engine.price_history("ETH", hours=24, points=96),
                }
                recording = {name: TypeAdapter(type(value) if not isinstance(value, list) else list[type(value[0])])
                             .dump_python(value, mode="json") for name, value in answers.items()}
                (folder / "replay.json").write_text(json.dumps({"ledger": str(engine.path), "session_key": engine.session_key, **recording}))
            finally:
                await engine.close()

        asyncio.run(setup())
        return path
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# -- running a child -----------------------------------------------------------------------------


def child_env(folder: Path, size: tuple[int, int], probe: dict[str, str]) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE (set on some machines) would make every launch compile our modules
    # from source again: the warm-up launch writes their bytecode, as installing with pip does
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BENCH_TUI_", "TEXTUAL_", "ORDERPROC_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH)]),
        "TEXTUAL_DRIVER": "tui_minimal:NullTerminal",
        "COLUMNS": str(size[0]),
        "LINES": str(size[1]),
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "XDG_CONFIG_HOME": str(folder / "config"),
        "XDG_DATA_HOME": str(folder / "data"),
    })
    env.update(probe)
    return env


def run_child(argv: list[str], env: dict[str, str], timeout: float,
              trace: bool = False) -> tuple[float, dict[str, Any]]:
    """Start a child, return (time.time() before Popen, its BENCH_TUI report)."""
    env = dict(env)
    t0 = time.time()
    env["BENCH_TUI_T0"] = repr(t0)
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise SystemExit(f"{argv[1:]} did not finish in {timeout:.0f} s\n{err[-3000:]}") from None
    reports = [json.loads(line[len(MARKER):]) for line in out.splitlines() if line.startswith(MARKER)]
    if not reports:
        raise SystemExit(f"{argv[1:]} exited {proc.returncode} without a report\n{err[-3000:]}")
    if trace:
        print("\n".join(line for line in err.splitlines() if line.startswith("trace ")), file=sys.stderr)
    report = reports[0]
    if "error" in report:
        raise SystemExit(f"{argv[1:]}: {report}\n{err[-3000:]}")
    return t0, report


def probes(kind: str, args: argparse.Namespace) -> tuple[dict[str, str], dict[str, str]]:
    """The BENCH_TUI_* settings of the baseline and of orderproc for one kind of run."""
    common = {"BENCH_TUI_PROBE": kind, "BENCH_TUI_SECONDS": str(args.seconds),
              "BENCH_TUI_SETTLE": str(args.settle), "BENCH_TUI_TIMEOUT": str(args.timeout),
              "BENCH_TUI_TABLES": "1"}
    base = {**common, "BENCH_TUI_SCREEN": "Screen"}
    ours = {**common, "BENCH_TUI_SCREEN": DASHBOARD[0], "BENCH_TUI_FILLED": DASHBOARD[1]}
    if kind == "cpu":
        ours.update({"BENCH_TUI_MODE": "markets", "BENCH_TUI_SCREEN2": MARKETS[0], "BENCH_TUI_FILLED2": MARKETS[1]})
    if kind == "switch":  # a key every `pace` seconds, from the baseline's first page; a page is
        # ready when its loads are done (a table may rightly be empty: no lots sold yet)
        base.update({"BENCH_TUI_SETTLE": str(args.pace), "BENCH_TUI_SCREEN": "TableScreen"})
        ours["BENCH_TUI_SETTLE"] = str(args.pace)
        for probe in (base, ours):
            probe["BENCH_TUI_SWITCH_TABLES"] = "0"
    return base, ours


def machine() -> str:
    import textual.app  # noqa: F401  (the version as imported by the children)
    from importlib.metadata import version

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = ", " + line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"machine: Python {platform.python_version()}, Textual {version('textual')}, {os.cpu_count()} CPUs"
            f"{model}, {platform.system()} {platform.machine()}, load average {load}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat-start", type=int, default=5, help="launches of each app; median (default 5)")
    parser.add_argument("--repeat-cpu", type=int, default=3, help="live CPU runs of each app; median (default 3)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured live window in s (default 10)")
    parser.add_argument("--settle", type=float, default=1.0, help="wait before the live window in s (default 1)")
    parser.add_argument("--repeat-switch", type=int, default=3,
                        help="launches of each app switching pages (default 3)")
    parser.add_argument("--pace", type=float, default=0.6, help="seconds between page keys (default 0.6)")
    parser.add_argument("--size", default="160x50", help="terminal size WxH (default 160x50)")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up on a child after this many s")
    parser.add_argument("--trace", action="store_true",
                        help="first, one orderproc launch printing each frame and what it still waits for")
    parser.add_argument("--fail-below-target", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    try:
        width, height = (int(x) for x in args.size.lower().split("x"))
    except ValueError:
        parser.error("--size is WxH, e.g. 80x24")
    if args.repeat_start < 0 or args.repeat_cpu < 0 or args.seconds <= 0 or args.settle < 0:
        parser.error("repeats >= 0, seconds > 0, settle >= 0")
    size = (width, height)

    baseline_cmd = [sys.executable, str(BENCH / "tui_minimal.py")]
    ours, base, floor = Child("orderproc"), Child("minimal"), Child("replayed")
    child_timeout = args.timeout + args.seconds + args.settle + 30
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="orderproc-bench-tui-") as tmp:
        folder = Path(tmp)
        env0 = child_env(folder, size, {})
        ledger = prepare_ledger(folder, env0)
        ours_cmd = [sys.executable, "-m", "orderproc", "--db", str(ledger)]
        floor_cmd = [sys.executable, str(BENCH / "tui_replay.py")]

        base_probe, ours_probe = probes("start", args)
        base_env, ours_env = child_env(folder, size, base_probe), child_env(folder, size, ours_probe)
        if args.trace:
            print("traced orderproc launch: seconds since Popen, frame, its size, what is not ready yet",
                  file=sys.stderr)
            run_child(ours_cmd, {**ours_env, "BENCH_TUI_TRACE": "1"}, child_timeout, trace=True)
        print("warm-up launch of each app (untimed)", file=sys.stderr)
        run_child(baseline_cmd, base_env, child_timeout)
        run_child(ours_cmd, ours_env, child_timeout)
        floor_env = {**ours_env, "BENCH_TUI_REPLAY": str(folder / "replay.json")}
        run_child(floor_cmd, floor_env, child_timeout)
        for r in range(args.repeat_start):
            for child, cmd, env in ((base, baseline_cmd, base_env), (ours, ours_cmd, ours_env),
                                    (floor, floor_cmd, floor_env)):
                t0, rep = run_child(cmd, env, child_timeout)
                rep["start"] = rep["ready"] - t0
                rep["shown_s"] = (rep["shown"] or rep["ready"]) - t0
                rep["frame_s"] = (rep["first_frame"] or rep["ready"]) - t0
                child.starts.append(rep)
                print(f"  start {r + 1}/{args.repeat_start} {child.label:<10} {rep['start']:6.3f} s "
                      f"(page shown {rep['shown_s']:.3f} s, first frame {rep['frame_s']:.3f} s)",
                      file=sys.stderr)

        base_probe, ours_probe = probes("cpu", args)
        base_env, ours_env = child_env(folder, size, base_probe), child_env(folder, size, ours_probe)
        for r in range(args.repeat_cpu):
            for child, cmd, env in ((base, [*baseline_cmd, "--live"], base_env), (ours, ours_cmd, ours_env)):
                _t0, rep = run_child(cmd, env, child_timeout)
                child.cpus.append(rep)
                print(f"  live  {r + 1}/{args.repeat_cpu} {child.label:<10} {rep['cpu']:6.3f} s CPU "
                      f"in {rep['wall']:.1f} s, {rep['frames']} frames", file=sys.stderr)

        base_probe, ours_probe = probes("switch", args)
        base_env = child_env(folder, size, {**base_probe, "BENCH_TUI_KEYS": ",".join(BASE_KEYS)})
        ours_env = child_env(folder, size, {**ours_probe, "BENCH_TUI_KEYS": ",".join(PAGE_KEYS)})
        for r in range(args.repeat_switch):
            for child, cmd, env in ((base, [*baseline_cmd, "--pages"], base_env), (ours, ours_cmd, ours_env)):
                _t0, rep = run_child(cmd, env, child_timeout + len(PAGE_KEYS) * (args.pace + args.timeout))
                child.switches.extend(rep["switches"])
                slowest = max(rep["switches"], key=lambda x: x["ready_ms"])
                print(f"  pages {r + 1}/{args.repeat_switch} {child.label:<10} {len(rep['switches'])} switches, "
                      f"slowest {slowest['screen']} ({slowest['key']}): shown {slowest['shown_ms']:.0f} ms, "
                      f"ready {slowest['ready_ms']:.0f} ms", file=sys.stderr)
    elapsed = time.perf_counter() - t_all

    print(machine())
    print(f"settings: terminal {width}x{height} (NullTerminal driver: every frame composed, encoded and written "
          f"to /dev/null; the terminal's own drawing is not included); start: median of {args.repeat_start} "
          f"launches each; live: median of {args.repeat_cpu} runs each, {args.seconds:g} s after "
          f"{args.settle:g} s settle; whole run {elapsed:.0f} s")
    ok = True
    if args.repeat_start:
        b = statistics.median(x["start"] for x in base.starts)
        o = statistics.median(x["start"] for x in ours.starts)
        bf = statistics.median(x["shown_s"] for x in base.starts)
        of = statistics.median(x["shown_s"] for x in ours.starts)
        bc = statistics.median(x["cpu"] for x in base.starts)
        oc = statistics.median(x["cpu"] for x in ours.starts)
        print()
        bff = statistics.median(x["frame_s"] for x in base.starts)
        off = statistics.median(x["frame_s"] for x in ours.starts)
        rf = statistics.median(x["start"] for x in floor.starts)
        rff = statistics.median(x["frame_s"] for x in floor.starts)
        header = (f"{'start: Popen to the first usable frame':<50} {'1st frame':>9} {'page shown':>10} "
                  f"{'usable':>8} {'CPU used':>8} {'vs minimal':>10}")
        print(header)
        print("-" * len(header))
        print(f"{f'minimal: Header, {ROWS}-row DataTable, Footer':<50} {bff:>7.3f} s {bf:>8.3f} s {b:>6.3f} s "
              f"{bc:>6.3f} s {1:>9.2f}x")
        print(f"{'orderproc: Dashboard with data (cached session)':<50} {off:>7.3f} s {of:>8.3f} s {o:>6.3f} s "
              f"{oc:>6.3f} s {o / b:>9.2f}x")
        print(f"{'  same UI, engine answers replayed from memory':<50} {rff:>7.3f} s {'':>10} {rf:>6.3f} s "
              f"{statistics.median(x['cpu'] for x in floor.starts):>6.3f} s {rf / b:>9.2f}x")
        spread = " ".join(f"{y['start'] / x['start']:.2f}x" for x, y in zip(floor.starts, ours.starts, strict=True))
        print(f"per-run ratios (each launch against the replayed launch after it): {spread}")
        # the Dashboard's first frame is "page shown" (placeholders, before its data); the first
        # frame of all is the default screen, drawn before the engine is even opened
        met_start, met_frame = o / rf <= START_TARGET, of / bff <= FRAME_TARGET
        ok &= met_start and met_frame
        print(f"target: start <= {START_TARGET:.2f}x the replayed floor: {o / rf:.2f}x "
              f"{'meets' if met_start else 'is ABOVE'} the target; the Dashboard's first frame <= "
              f"{FRAME_TARGET:.2f}x the minimal app's first frame: {of / bff:.2f}x {'meets' if met_frame else 'is ABOVE'} "
              f"the target")
    if args.repeat_cpu:
        def row(reps: list[dict[str, Any]]) -> tuple[float, float, float, float]:
            cpu = statistics.median(x["cpu"] for x in reps)
            wall = statistics.median(x["wall"] for x in reps)
            frames = statistics.median(x["frames"] / x["wall"] for x in reps)
            kbs = statistics.median(x["bytes"] / x["wall"] / 1024 for x in reps)
            return cpu, cpu / wall, frames, kbs

        bc, bp, bfr, bkb = row(base.cpus)
        oc, op, ofr, okb = row(ours.cpus)
        rows = ours.cpus[-1].get("table_rows")
        print()
        header = (f"{f'live CPU over {args.seconds:g} s':<58} {'CPU s':>6} {'core':>6} {'frames/s':>8} "
                  f"{'KB/s out':>8} {'vs minimal':>10}")
        print(header)
        print("-" * len(header))
        print(f"{f'minimal: {ROWS} rows x 2 cells updated {1 / TICK:g}x/s':<58} {bc:>6.2f} {bp:>6.1%} {bfr:>8.1f} "
              f"{bkb:>8.0f} {1:>9.2f}x")
        print(f"{f'orderproc: Markets page, 1 s price feed (table rows {rows})':<58} {oc:>6.2f} {op:>6.1%} "
              f"{ofr:>8.1f} {okb:>8.0f} {oc / bc:>9.2f}x")
        if any(x["frames"] == 0 for x in ours.cpus):
            print("warning: in some orderproc runs no frame was written: the Markets table did not update")
        spread = " ".join(f"{y['cpu'] / x['cpu']:.2f}x" for x, y in zip(base.cpus, ours.cpus, strict=True))
        print(f"per-run ratios (each run against the baseline run just before it): {spread}")
        met = oc / bc <= CPU_TARGET
        ok &= met
        print(f"target: Markets CPU <= {CPU_TARGET:.2f}x the minimal app's: {oc / bc:.2f}x "
              f"{'meets' if met else 'is ABOVE'} the target")
    if args.repeat_switch:
        ok &= switch_table(base.switches, ours.switches, args)
    return 1 if args.fail_below_target and not ok else 0


def switch_table(base: list[dict[str, Any]], ours: list[dict[str, Any]], args: argparse.Namespace) -> bool:
    """The page-switch rows: key to the new page's first frame (shown) and to its first frame
    ready (data filled in), p50 and p95, first visits and visited pages apart."""

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(label: str, rows: list[dict[str, Any]], against: float | None) -> str:
        shown = [x["shown_ms"] for x in rows]
        ready = [x["ready_ms"] for x in rows]
        ratio = f"{pct(ready, 0.95) / against:>9.2f}x" if against else f"{'':>10}"
        return (f"{label:<46} {len(rows):>4} {pct(shown, 0.5):>7.0f} {pct(shown, 0.95):>7.0f} {max(shown):>7.0f} "
                f"{pct(ready, 0.5):>7.0f} {pct(ready, 0.95):>7.0f} {ratio}")

    base_again = [x for x in base if not x["first"]]
    ours_again = [x for x in ours if not x["first"]]
    ours_first = [x for x in ours if x["first"]]
    against = pct([x["ready_ms"] for x in base_again], 0.95)
    print()
    header = (f"{f'page switches, a key every {args.pace:g} s (ms)':<46} {'n':>4} {'shown':>7} {'p95':>7} "
              f"{'max':>7} {'ready':>7} {'p95':>7} {'vs minimal':>10}")
    print(header)
    print("-" * len(header))
    print(line(f"minimal: 2 pages of a {ROWS}-row table, visited", base_again, against))
    print(line("minimal: first visit", [x for x in base if x["first"]], None))
    print(line(f"orderproc: {len(PAGE_KEYS) // PAGE_ROUNDS} pages, visited", ours_again, against))
    print(line("orderproc: first visit", ours_first, None))
    for what, switches, field in (("visited, ready", ours_again, "ready_ms"), ("first visit, shown", ours_first,
                                                                               "shown_ms")):
        by_page: dict[str, list[float]] = {}
        for x in switches:
            by_page.setdefault(x["screen"].removesuffix("Screen"), []).append(x[field])
        print(f"orderproc {what} p50 by page: " + ", ".join(
            f"{page} {statistics.median(v):.0f}" for page, v in sorted(by_page.items())))
    slowest = max(x["shown_ms"] for x in ours)
    ratio = pct([x["ready_ms"] for x in ours_again], 0.95) / against
    met_ratio, met_shown = ratio <= SWITCH_TARGET, slowest <= SHOWN_TARGET_MS
    print(f"target: a visited page ready at p95 <= {SWITCH_TARGET:g}x the minimal app's: {ratio:.2f}x "
          f"{'meets' if met_ratio else 'is ABOVE'} the target; every key shown within {SHOWN_TARGET_MS:.0f} ms: "
          f"slowest {slowest:.0f} ms {'meets' if met_shown else 'is ABOVE'} the target")
    return met_ratio and met_shown


if __name__ == "__main__":
    sys.exit(main())
