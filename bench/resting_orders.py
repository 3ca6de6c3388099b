"""Matching a price tick against many resting orders: the price loop's cost per tick.

    python bench/resting_orders.py [--sizes 10000,100000] [--symbols 100] [--ticks 20] [--fills 200]

For each size N, a fresh ledger gets N resting limit orders (placed through the engine, spread
over `--symbols` assets and 50 users, buys below and sells above the market so that they never
fill here), then a fake clock moves one second at a time and `LocalEngine.match()` runs:

- first pass: the matcher reads the open orders into its book (what a process pays once, when
  it starts its price loop on a ledger that already has N resting orders);
- steady tick: one new tick against the N orders (median and worst of `--ticks` ticks), the
  price loop's cost every second;
- fills: `--fills` more orders placed a hair from the market, then 60 ticks at once: the cost
  of each fill (release, journal entry, audit, all in the pass's one transaction).

The baseline, in the same run on the same file: bare sqlite3 reading every open order's
matching fields (what a matcher that rescans the ledger every tick would pay at least). The
target (issue 6): a tick well under the tick interval (1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from orderproc.engine.schemas import OrderRequest, OrderStatus  # noqa: E402
from orderproc.engine.service import LocalEngine  # noqa: E402

PASSWORD = "bench password 1"
USERS = 50
START = 1_900_000_000.0
TICK_INTERVAL = 1.0


class Clock:
    def __init__(self) -> None:
        self.now = START + 0.5

    def __call__(self) -> float:
        return self.now


async def _place_all(engine: LocalEngine, requests: list[tuple[str, OrderRequest]], clients: int = 32) -> None:
    queue = list(reversed(requests))

    failures: list[str] = []

    async def client() -> None:
        while queue and not failures:
            token, request = queue.pop()
            try:
                order = await engine.place_order(token, request)
            except Exception as exc:  # noqa: BLE001 - reported below
                failures.append(f"{request!r}: {exc!r}")
                return
            if order.status is not OrderStatus.NEW and request.type != "market":
                failures.append(f"order {order.id} did not rest: {order.status}")

    await asyncio.gather(*(client() for _ in range(clients)))
    if failures:
        raise SystemExit(f"{len(failures)} orders failed, first: {failures[0]}")


def _limit(price: Decimal, factor: str) -> Decimal:
    return (price * Decimal(factor)).quantize(Decimal(1).scaleb(price.adjusted() - 5))


def _bare_scan(path: Path) -> float:
    conn = sqlite3.connect(path)
    try:
        t0 = time.perf_counter()
        rows = conn.execute(
            "SELECT id, symbol, side, type, limit_price, stop_price, created_at, triggered_at FROM orders"
            " WHERE status = 'new'"
        ).fetchall()
        seconds = time.perf_counter() - t0
        assert rows
        return seconds
    finally:
        conn.close()


async def run(size: int, symbols_wanted: int, ticks: int, fills: int, folder: Path) -> dict[str, float]:
    clock = Clock()
    path = folder / f"resting-{size}.db"
    engine = LocalEngine(path, clock=clock, hash_profile="fast", market_seed=11)
    try:
        assets = [a for a in await engine.list_assets() if a.peg is None][:symbols_wanted]
        symbols = [a.symbol for a in assets]
        tokens = []
        for i in range(USERS):
            await engine.register(f"trader{i}", PASSWORD)
            token = (await engine.login(f"trader{i}", PASSWORD)).token
            await engine.deposit(token, "1000000000")
            tokens.append(token)
        prices = {s: engine.market.price(s, clock()) for s in symbols}
        # about $2 worth of each asset per order
        size_of = {a.symbol: max(Decimal(1).scaleb(-a.precision), (2 / prices[a.symbol]).quantize(
            Decimal(1).scaleb(-a.precision))) for a in assets}
        # every user holds some of every asset, so that half the orders can be resting sells
        await _place_all(engine, [
            (t, OrderRequest(symbol=s, side="buy", notional="100000")) for t in tokens for s in symbols])
        rng = random.Random(size)
        requests = []
        for i in range(size):
            s = symbols[i % len(symbols)]
            buy = i % 2 == 0
            factor = f"0.{rng.randint(50, 90)}" if buy else f"1.{rng.randint(10, 90)}"
            requests.append((tokens[i % USERS], OrderRequest(
                symbol=s, side="buy" if buy else "sell", type="limit", quantity=size_of[s],
                limit_price=_limit(prices[s], factor))))
        t0 = time.perf_counter()
        await _place_all(engine, requests)
        placing = time.perf_counter() - t0

        # a new engine on the file: its matcher starts with an empty book, like a new process
        await engine.close()
        engine = LocalEngine(path, clock=clock, hash_profile="fast")
        clock.now += TICK_INTERVAL
        t0 = time.perf_counter()
        changed = await engine.match()
        first = time.perf_counter() - t0
        steady = []
        for _ in range(ticks):
            clock.now += TICK_INTERVAL
            t0 = time.perf_counter()
            changed += await engine.match()
            steady.append(time.perf_counter() - t0)
        if changed:
            raise SystemExit(f"{changed} far-away orders changed: the bench's prices are wrong")
        bare = statistics.median(_bare_scan(path) for _ in range(5))

        # orders a hair from the market: most fill within the next 60 ticks
        now_prices = {s: engine.market.price(s, clock()) for s in symbols}
        near = [(tokens[i % USERS], OrderRequest(
            symbol=symbols[i % len(symbols)], side="buy", type="limit", quantity=size_of[symbols[i % len(symbols)]],
            limit_price=_limit(now_prices[symbols[i % len(symbols)]], "0.9999"))) for i in range(fills)]
        await _place_all(engine, near)
        clock.now += 60 * TICK_INTERVAL
        t0 = time.perf_counter()
        filled = await engine.match()
        fill_pass = time.perf_counter() - t0
        report = await engine.admin_verify(engine.operator_token)
        if not report.ok:
            raise SystemExit(f"the ledger does not verify: {report.problems[:5]}")
        return {
            "placed/s": size / placing, "first": first, "median": statistics.median(steady), "worst": max(steady),
            "bare": bare, "filled": filled, "fill_pass": fill_pass,
        }
    finally:
        await engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="resting orders per run, comma-separated")
    parser.add_argument("--symbols", type=int, default=100, help="assets the orders are spread over")
    parser.add_argument("--ticks", type=int, default=20, help="steady ticks measured per size")
    parser.add_argument("--fills", type=int, default=200, help="orders placed near the market to fill")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"machine: Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {platform.machine()}")
    print(f"settings: resting limit orders over {args.symbols} assets and {USERS} users; {args.ticks} steady ticks;"
          f" {args.fills} near-market orders then 60 ticks; tick interval {TICK_INTERVAL:g} s")
    print()
    header = (f"{'resting':>8} {'placed/s':>9} {'first pass':>11} {'tick p50':>9} {'tick max':>9} {'% of tick':>9}"
              f" {'bare scan':>10} {'vs scan':>8} {'fills':>6} {'60 ticks':>9} {'per fill':>9}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="orderproc-bench-") as folder:
        for size in sizes:
            r = asyncio.run(run(size, args.symbols, args.ticks, args.fills, Path(folder)))
            per_fill = r["fill_pass"] / r["filled"] if r["filled"] else float("nan")
            print(f"{size:>8} {r['placed/s']:>9.0f} {r['first'] * 1e3:>9.1f}ms {r['median'] * 1e3:>7.2f}ms"
                  f" {r['worst'] * 1e3:>7.2f}ms {r['median'] / TICK_INTERVAL:>9.2%} {r['bare'] * 1e3:>8.1f}ms"
                  f" {r['median'] / r['bare']:>8.2f}x {int(r['filled']):>6} {r['fill_pass'] * 1e3:>7.1f}ms"
                  f" {per_fill * 1e3:>7.2f}ms")
    print()
    print("tick p50/max: one new tick against every resting order (after the first pass read them);"
          " vs scan: that tick against bare sqlite3 merely reading the open orders once")


if __name__ == "__main__":
    main()
