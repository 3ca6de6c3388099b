"""What a rate limit kept in the ledger would cost each request: a bucket write against a read.

    python bench/shared_limits.py [--calls N]

The login limit is kept in the ledger (every server on it shares the buckets); the request
limit is kept per server process. This measures why: sequential `LocalEngine.throttle` calls (one
bucket write in a write transaction, as each login attempt makes) against sequential balance
reads (what most requests are), on a SQLite file (NORMAL) and on a throwaway PostgreSQL with
production durability (fsync and synchronous_commit on; tests/pg_support.py starts it). A
request limit in the ledger would add the write to every request: the ratio printed is how much
slower a read would get.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from orderproc.engine.service import LocalEngine  # noqa: E402
from pg_support import DURABLE, new_database, running_server  # noqa: E402

PASSWORD = "bench password 1"


async def per_call(calls: int, call: Callable[[int], Awaitable[object]]) -> float:
    """Microseconds a call, the better of two passes."""
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        for i in range(calls):
            await call(i)
        best = min(best, (time.perf_counter() - started) / calls * 1e6)
    return best


async def measure(location: str, label: str, calls: int) -> None:
    engine = LocalEngine(location, hash_profile="fast")
    try:
        await engine.register("alice", PASSWORD)
        token = (await engine.login("alice", PASSWORD)).token
        await engine.deposit(token, "1000", key="first")
        read = await per_call(calls, lambda i: engine.balance(token))
        write = await per_call(calls, lambda i: engine.throttle([(f"address:10.0.{i % 250}.1", 100.0, 200.0)]))
    finally:
        await engine.close()
    print(f"{label:<30} {read:>8.0f} us {write:>12.0f} us {(read + write) / read:>20.2f}x")


async def main(calls: int) -> None:
    print(f"{'ledger':<30} {'read':>11} {'bucket write':>15} {'read + write vs read':>21}")
    with tempfile.TemporaryDirectory() as folder:
        await measure(str(Path(folder) / "ledger.db"), "SQLite file, NORMAL", calls)
    with running_server(DURABLE) as server:
        await measure(new_database(server), "PostgreSQL 15, fsync on", calls)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per pass (default 2000)")
    asyncio.run(main(parser.parse_args().calls))
