"""The bank workload and the crash nemesis of tests/reliability at larger sizes, on demand.

    python bench/reliability.py [--clients C] [--ops N] [--processes P] [--kills K] [--seconds S]
                                [--servers N] [--seed SEED] [--synchronous NORMAL|FULL]
                                [--only NAME,...] [--keep]

Runs, each on a fresh ledger in a temp dir: the bank workload on one LocalEngine (asyncio tasks),
in P processes on one file, on `orderproc serve` (every client its own RemoteEngine); then the
same workload while the server is SIGKILLed K times (and restarted), and while P worker
processes are SIGKILLed K times in all (and restarted); then on N servers on one PostgreSQL
database (a throwaway server with fsync on, started by tests/pg_support.py), the clients spread
over them, and again while a random one of the N is SIGKILLed K times (its clients fail over to
the others). Prints one line per run: operations
(acknowledged / rejected / in doubt), crashes survived, invariant checks passed (during the run
and after each crash and at the end), acknowledged ops lost, ops invented, keys with two
effects, unexpected errors. Exit status 1 if any of the last four (or an invariant check) is
not zero. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "reliability"), str(ROOT / "tests")]

from bank import Run, Workload, run_processes, run_server, run_tasks  # noqa: E402
from crash import run_process_crash, run_server_crash  # noqa: E402
from pg_support import DURABLE, PgServer, new_database, running_server  # noqa: E402

SCENARIOS = ("tasks", "processes", "server", "server-crash", "process-crash", "pg-servers", "pg-servers-crash")
DURABILITY = {
    "NORMAL": "synchronous=NORMAL in WAL (the default): survives a killed process; the last commits"
              " may be lost on power loss",
    "FULL": "synchronous=FULL in WAL: every commit fsynced before it is acknowledged; survives power loss",
}


def machine() -> list[str]:
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or "?"
    except OSError:
        commit = "?"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return [
        f"machine: {platform.platform()}, {cores} usable cores (cpu_count {os.cpu_count()}), load {load}",
        f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, orderproc at {commit}",
    ]


async def scenario(name: str, folder: Path, args: argparse.Namespace, pg: PgServer | None) -> Run:
    workload = Workload(seed=args.seed, clients=args.clients, ops=args.ops, shared=args.shared,
                        synchronous=args.synchronous)
    folder.mkdir(parents=True)
    if name == "tasks":
        return await run_tasks(folder / "ledger.db", workload)
    if name == "processes":
        return await run_processes(folder, workload, processes=args.processes)
    if name == "server":
        return await run_server(folder, workload)
    if name == "server-crash":
        return await run_server_crash(folder, workload, args.kills)
    if name == "process-crash":
        return await run_process_crash(folder, workload, args.kills, processes=args.processes)
    assert pg is not None
    if name == "pg-servers":
        return await run_server(folder, workload, ledger=new_database(pg), servers=args.servers)
    return await run_server_crash(folder, workload, args.kills, ledger=new_database(pg), servers=args.servers)


HEADER = ("run", "acked", "rejected", "in doubt", "crashes", "failovers", "checks during", "checks after", "lost", "invented",
          "duplicates", "unexpected", "seconds")


def row(run: Run) -> tuple[str, ...]:
    v = run.verdict
    return (run.name, str(v.acked), str(v.rejected), str(v.in_doubt), str(v.crashes), str(v.failovers),
            f"{v.checks_during}" + (f" ({len(v.invariant)} failed)" if v.invariant else ""), str(v.checks_after),
            str(len(v.lost)), str(len(v.invented)), str(len(v.duplicates)), str(len(v.unexpected)),
            f"{run.seconds:.1f}")


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(HEADER), "-" * len(line(HEADER)), *(line(r) for r in rows)])


async def main(args: argparse.Namespace) -> int:
    chosen = [s.strip() for s in args.only.split(",")] if args.only else list(SCENARIOS)
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown run(s): {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    for line in machine():
        print(line)
    print(f"durability: {DURABILITY.get(args.synchronous, args.synchronous)}")
    print(f"sizes: {args.clients} clients x {args.ops} ops (users: one each + {args.shared} shared), "
          f"{args.processes} processes, {args.kills} kills per crash run, seed {args.seed}, "
          f"budget {args.seconds:.0f} s", flush=True)
    root = Path(tempfile.mkdtemp(prefix="orderproc-reliability-"))
    started = time.monotonic()
    runs: list[Run] = []
    skipped: list[str] = []
    with ExitStack() as stack:
        pg = stack.enter_context(running_server(DURABLE)) if any(n.startswith("pg-") for n in chosen) else None
        if pg is not None:
            print(f"PostgreSQL: {pg.bindir.parent.name}, fsync and synchronous_commit on", flush=True)
        try:
            for name in chosen:
                if time.monotonic() - started > args.seconds:
                    skipped.append(name)
                    continue
                run = await scenario(name, root / name, args, pg)
                runs.append(run)
                print(f"  {name}: {run.verdict.report(limit=3)}", flush=True)
        finally:
            if args.keep:
                print(f"ledgers and journals kept in {root} (the PostgreSQL databases are gone with it)")
            else:
                shutil.rmtree(root, ignore_errors=True)
    print()
    print(table([row(r) for r in runs]))
    total = time.monotonic() - started
    bad = [r for r in runs if not r.verdict.ok]
    short = [r for r in runs if r.verdict.crashes < args.kills and "SIGKILL" in r.name]
    print(f"\n{sum(r.verdict.acked for r in runs)} ops acknowledged, {sum(r.verdict.crashes for r in runs)} crashes "
          f"survived, {sum(r.verdict.checks_during + r.verdict.checks_after for r in runs)} invariant checks passed, "
          f"in {total:.0f} s")
    if skipped:
        print(f"not run (time budget of {args.seconds:.0f} s spent): {', '.join(skipped)}")
    if short:
        print(f"fewer kills than asked in: {', '.join(r.name for r in short)} (the workload ended first: raise --ops)")
    if bad:
        print(f"FAILED: {', '.join(r.name for r in bad)}")
        return 1
    print("lost, invented, duplicates, unexpected errors and invariant failures: all 0")
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="clients per run (default 16)")
    parser.add_argument("--ops", type=int, default=500, help="ops per client (default 500)")
    parser.add_argument("--shared", type=int, default=3, help="users shared by several clients (default 3)")
    parser.add_argument("--processes", type=int, default=4, help="OS processes in the process runs (default 4)")
    parser.add_argument("--kills", type=int, default=25, help="SIGKILLs per crash run (default 25)")
    parser.add_argument("--servers", type=int, default=2, help="servers on PostgreSQL in the pg- runs (default 2)")
    parser.add_argument("--seconds", type=float, default=540, help="time budget; later runs are skipped (default 540)")
    parser.add_argument("--seed", type=int, default=1, help="workload and nemesis seed (default 1)")
    parser.add_argument("--synchronous", choices=["NORMAL", "FULL"], default="NORMAL",
                        help="the ledger's durability setting (default NORMAL)")
    parser.add_argument("--only", help=f"comma-separated runs out of {','.join(SCENARIOS)}")
    parser.add_argument("--keep", action="store_true", help="keep the ledgers, journals and logs")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
