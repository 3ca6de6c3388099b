"""How long the shell waits on TAB: `orderproc` answering the completion protocol, against a bare
interpreter start measured in the same run.

    python bench/completion.py [--repeat R]

Each figure is the median of R runs (interleaved: bare, command, symbol, bare, ...) of a fresh
process, from spawn to exit, as bash's completion function runs it: the installed `orderproc`
script with `_ORDERPROC_COMPLETE=complete_bash` and `COMP_WORDS`. Rows: a command (`orderproc
bu`), an asset symbol (`orderproc buy ET`). Baseline: `python -c pass` with the same
interpreter. Target (issue 14): every answer within 300 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ORDERPROC = Path(sys.executable).parent / "orderproc"
TARGET_S = 0.3


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=11)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orderproc-bench-completion-") as home:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"HOME": home}
        rows = {
            "bare interpreter (python -c pass)": ([sys.executable, "-c", "pass"], env),
            "command: orderproc bu<TAB>": ([str(ORDERPROC)], env | {
                "_ORDERPROC_COMPLETE": "complete_bash", "COMP_WORDS": "orderproc bu", "COMP_CWORD": "1"}),
            "symbol: orderproc buy ET<TAB>": ([str(ORDERPROC)], env | {
                "_ORDERPROC_COMPLETE": "complete_bash", "COMP_WORDS": "orderproc buy ET", "COMP_CWORD": "2"}),
        }
        for cmd, run_env in rows.values():  # untimed: bytecode written, files cached
            timed(cmd, run_env)
        times: dict[str, list[float]] = {name: [] for name in rows}
        for _ in range(args.repeat):
            for name, (cmd, run_env) in rows.items():
                times[name].append(timed(cmd, run_env))
    base = statistics.median(times[next(iter(rows))])
    print(f"{'spawn to exit, median of ' + str(args.repeat):<40} {'ms':>6} {'max ms':>7} {'vs bare':>8}")
    worst = 0.0
    for name, values in times.items():
        median = statistics.median(values)
        worst = max(worst, median)
        print(f"{name:<40} {median * 1000:6.0f} {max(values) * 1000:7.0f} {median / base:7.1f}x")
    verdict = "meets" if worst <= TARGET_S else "is ABOVE"
    print(f"target: every answer within {TARGET_S * 1000:.0f} ms: the slowest median {worst * 1000:.0f} ms {verdict} it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
