"""What the embedded engine adds to the terminal's start: the gap between `bench/tui.py`'s
orderproc row and its replayed-engine floor, piece by piece.

    python bench/tui_engine_start.py [--repeat R]

On bench/tui.py's prepared ledger (a temp dir), each of R fresh interpreters (bytecode written
by a first, untimed one) imports what the terminal imports before its engine, then times:
importing and opening the engine (`open_engine`, as `orderproc.tui.launch` does), and each call
the Dashboard makes at start (the session check, the accounts, the first quotes, the portfolio,
the recent orders, the chart's history). Medians in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import tui

CHILD = r"""
import asyncio, json, sys, time
import orderproc.config, orderproc.tui.app  # what the terminal has imported before its engine
t = time.perf_counter()
from orderproc.config import Settings
from orderproc.engine import open_engine
engine = open_engine(Settings.load(db=sys.argv[1], server=None))
times = {"engine import and open": time.perf_counter() - t}
from orderproc.sessions import load_token
token = load_token(engine.session_key)

async def calls():
    for name, call in [
        ("whoami", lambda: engine.whoami(token)), ("accounts", lambda: engine.accounts(token)),
        ("first quotes", engine.quotes), ("portfolio", lambda: engine.portfolio(token)),
        ("recent orders", lambda: engine.orders(token, limit=5)),
        ("chart history", lambda: engine.price_history("ETH", hours=24, points=96)),
    ]:
        t = time.perf_counter()
        await call()
        times[name] = time.perf_counter() - t
    await engine.close()

asyncio.run(calls())
print(json.dumps(times))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orderproc-bench-engine-start-") as tmp:
        folder = Path(tmp)
        env = tui.child_env(folder, (120, 40), {})
        ledger = tui.prepare_ledger(folder, env)
        runs = []
        for i in range(args.repeat + 1):
            out = subprocess.run([sys.executable, "-c", CHILD, str(ledger)], env=env, check=True,
                                 capture_output=True, text=True).stdout
            if i:  # the first wrote the bytecode
                runs.append(json.loads(out.strip().splitlines()[-1]))
    print(f"the engine's part of the terminal's start, median of {args.repeat} interpreters (ms)")
    total = 0.0
    for name in runs[0]:
        ms = statistics.median(r[name] for r in runs) * 1000
        total += ms
        print(f"  {name:<24} {ms:6.1f}")
    print(f"  {'total':<24} {total:6.1f}")


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parent.parent)
    main()
