"""Market orders per second: the engine against bare sqlite3 doing the same writes.

    python bench/engine_orders.py [--orders N] [--clients C] [--synchronous NORMAL|FULL]
                                  [--repeat R] [--users U] [--profile] [--fail-below-target]

Three figures, each the median of R runs on a fresh ledger file, the runs interleaved so that
the noise of a shared machine hits every mode alike:

- bare sqlite3, sequential: one order per transaction on a plain `sqlite3` connection with the
  engine's durability settings (WAL, the same `synchronous`, `BEGIN IMMEDIATE`) and the same
  statements the engine runs for a market order (`LocalEngine.place_order` and
  `repo.post_entry`): the session/user check, the position read (sells), the order row, the
  four guarded balance writes (user cash and position, the house's cash and asset), the journal
  entry and its four postings, the audit row, commit. The baseline.
- engine, sequential: `await engine.place_order(...)` one after another on one event loop.
- engine, concurrent: C client tasks on one event loop submitting together, which lets the
  writer thread group several orders into one commit (each still its own savepoint, each
  acknowledged only after its commit).

Every order is a market order by quantity, a buy followed later by a sell of the same quantity
by the same client, over a few users and assets, so no order can be rejected. Afterwards every
ledger is verified (the engine's with `admin_verify`, the bare file with the engine's checker
queries); a failed order or check exits with status 1.

Target (PERFORMANCE.md): engine orders/s >= 60% of bare sqlite3 with the same durability;
beyond: group commit above 100% of bare one-per-transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import platform
import pstats
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from orderproc.engine.schemas import OrderRequest, OrderStatus, Side  # noqa: E402
from orderproc.engine.service import LocalEngine  # noqa: E402

TARGET = 0.60
PASSWORD = "bench password 1"
MARKET_SEED = 7
DEPOSIT = "1000000"
# (symbol, quantity per order): a few assets of different precisions and prices
ASSETS: tuple[tuple[str, str], ...] = (("BTC", "0.001"), ("ETH", "0.01"), ("SOL", "0.1"), ("XRP", "10"))


@dataclass(frozen=True, slots=True)
class Spec:
    user: int  # index into the users
    symbol: str
    side: str  # "buy" | "sell"
    quantity: str


@dataclass(slots=True)
class Run:
    seconds: float
    latencies: list[float]


def order_specs(n: int, users: int) -> list[list[Spec]]:
    """n orders as n/2 (buy, sell) pairs of the same user, asset and quantity."""
    pairs = []
    for p in range(n // 2):
        symbol, qty = ASSETS[(p // users) % len(ASSETS)]
        pairs.append([Spec(p % users, symbol, "buy", qty), Spec(p % users, symbol, "sell", qty)])
    return pairs


def flatten(pairs: list[list[Spec]]) -> list[Spec]:
    return [s for pair in pairs for s in pair]


def per_client(pairs: list[list[Spec]], clients: int) -> list[list[Spec]]:
    """Deal the pairs to the clients; a client's sell always follows its own buy."""
    return [flatten(pairs[c::clients]) for c in range(clients)]


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- the engine ----------------------------------------------------------------------------------


async def engine_setup(path: Path, users: int, synchronous: str) -> tuple[LocalEngine, list[str]]:
    engine = LocalEngine(path, hash_profile="fast", synchronous=synchronous, market_seed=MARKET_SEED)
    tokens = []
    for u in range(users):
        name = f"trader{u}"
        await engine.register(name, PASSWORD)
        token = (await engine.login(name, PASSWORD)).token
        await engine.deposit(token, DEPOSIT)
        tokens.append(token)
    return engine, tokens


def requests_for(specs: list[Spec]) -> list[tuple[int, OrderRequest]]:
    return [(s.user, OrderRequest(symbol=s.symbol, side=Side(s.side), quantity=s.quantity)) for s in specs]


async def engine_client(engine: LocalEngine, tokens: list[str], work: list[tuple[int, OrderRequest]],
                        latencies: list[float], failures: list[BaseException]) -> None:
    clock = time.perf_counter
    for user, request in work:
        t0 = clock()
        try:
            order = await engine.place_order(tokens[user], request)
        except Exception as exc:  # counted and reported; the run then fails
            failures.append(exc)
            continue
        latencies.append(clock() - t0)
        if order.status is not OrderStatus.FILLED:
            failures.append(RuntimeError(f"order {order.id} is {order.status}"))


async def engine_run(path: Path, pairs: list[list[Spec]], warmup: list[list[Spec]], users: int,
                     clients: int, synchronous: str) -> Run:
    """One timed run on a fresh ledger: clients=1 is the sequential mode."""
    engine, tokens = await engine_setup(path, users, synchronous)
    try:
        failures: list[BaseException] = []
        await engine_client(engine, tokens, requests_for(flatten(warmup)), [], failures)
        work = [requests_for(w) for w in per_client(pairs, clients)]
        latencies: list[float] = []
        t0 = time.perf_counter()
        if clients == 1:
            await engine_client(engine, tokens, work[0], latencies, failures)
        else:
            await asyncio.gather(*(engine_client(engine, tokens, w, latencies, failures) for w in work))
        seconds = time.perf_counter() - t0
        if failures:
            raise SystemExit(f"engine: {len(failures)} orders failed, first: {failures[0]!r}")
        report = await engine.admin_verify(engine.operator_token)
        if not report.ok:
            raise SystemExit(f"engine ledger does not verify: {report.problems[:5]}")
        expected = len(flatten(pairs)) + len(flatten(warmup))
        if report.orders != expected:
            raise SystemExit(f"engine ledger has {report.orders} orders, expected {expected}")
        return Run(seconds, latencies)
    finally:
        await engine.close()


# -- bare sqlite3 --------------------------------------------------------------------------------

USER_COLUMNS = "id, username, role, display_name, email, disabled, token_version, account_id, created_at"
SESSION_SQL = (
    f"SELECT {USER_COLUMNS}, (SELECT 1 FROM revoked_tokens WHERE jti = ?),"
    " COALESCE((SELECT id FROM accounts WHERE id = ? AND user_id = users.id), CASE WHEN ? IS NULL THEN"
    " account_id END) FROM users WHERE id = ?"
)
POSITION_SQL = "SELECT amount, cost, reserved FROM balances WHERE account_id = ? AND asset = ?"
ORDER_SQL = (
    "INSERT INTO orders (user_id, account_id, symbol, side, type, time_in_force, status, quantity, limit_price,"
    " price, notional, lot_id, client_order_id, created_at, closed_at, liquidity, reference_price, spread, slippage,"
    " fee_bps, fee) VALUES (?, ?, ?, ?, 'market', 'ioc', 'filled', ?, NULL, ?, ?, NULL, ?, ?, ?, 'taker', ?, '0', '0',"
    " '0', 0)"
)
SETTINGS_SQL = (  # the ledger's cost method and friction profile, read by every order
    "SELECT key, value FROM meta WHERE key IN ('cost_method', 'fee_account', 'maker_fee_bps', 'taker_fee_bps',"
    " 'spread_bps', 'slippage_bps_per_1000_usd')"
)
LOT_SQL = (
    "INSERT INTO lots (account_id, symbol, order_id, opened_at, quantity, cost, remaining, remaining_cost)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
OPEN_LOTS_SQL = (
    "SELECT id, remaining, remaining_cost FROM lots WHERE account_id = ? AND symbol = ? AND remaining > 0 ORDER BY id"
)
TAKE_LOT_SQL = (
    "UPDATE lots SET remaining = remaining - :units,"
    " remaining_cost = CASE WHEN remaining = :units THEN 0 ELSE remaining_cost - :cost END WHERE id = :id"
)
CLOSE_SQL = "INSERT INTO lot_closes (order_id, lot_id, quantity, cost, proceeds) VALUES (?, ?, ?, ?, ?)"
REALIZED_SQL = "UPDATE orders SET realized = ? WHERE id = ?"
TAKE_SQL = (  # a customer's outgoing posting: guarded, never below what open orders hold
    "UPDATE balances SET amount = amount + :amount, cost = cost + :cost"
    " WHERE account_id = :account AND asset = :asset AND amount - reserved >= :need"
)
ADD_SQL = (
    "INSERT INTO balances (account_id, asset, amount, cost) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (account_id, asset) DO UPDATE"
    " SET amount = balances.amount + excluded.amount, cost = balances.cost + excluded.cost"
)
ENTRY_SQL = "INSERT INTO entries (kind, account_id, order_id, client_key, created_at) VALUES (?, ?, ?, ?, ?)"
POSTING_SQL = "INSERT INTO postings (entry_id, account_id, asset, amount) VALUES (?, ?, ?, ?)"
AUDIT_SQL = "INSERT INTO audit (at, actor_id, actor, action, target, detail, source) VALUES (?, ?, ?, ?, ?, ?, ?)"
EXTERNAL, HOUSE = 1, 2


class Bare:
    """The engine's writes for one market order, on a plain sqlite3 connection, nothing else."""

    house = HOUSE  # the counterparty account (bench/pg_orders.py's striped what-if gives each writer its own)

    def __init__(self, path: Path, users: int, synchronous: str) -> None:
        from orderproc.engine.prices import load_assets
        from orderproc.engine.store.tables import schema_ddl  # the same tables and indexes

        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            raise SystemExit("bare: could not enable WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        self.conn = conn
        conn.execute("BEGIN IMMEDIATE")
        for statement in schema_ddl():
            conn.execute(statement)
        conn.executemany("INSERT INTO accounts (id, kind, user_id, name) VALUES (?, ?, NULL, ?)",
                         [(EXTERNAL, "external", "outside world"), (HOUSE, "house", "house"), (3, "house", "fees")])
        conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                         [("schema_version", "2"), ("cost_method", "fifo"), ("fee_account", "3")])
        now = iso(time.time())
        cents = int(Decimal(DEPOSIT) * 100)
        self.users: list[tuple[int, int, str]] = []  # (user id, account id, jti)
        for u in range(users):
            account = conn.execute(
                "INSERT INTO accounts (kind, user_id, name) VALUES ('customer', NULL, 'main')"
            ).lastrowid
            user = conn.execute(
                "INSERT INTO users (username, username_key, password_hash, role, disabled, token_version,"
                " account_id, created_at) VALUES (?, ?, 'x', 'customer', 0, 0, ?, ?)",
                (f"trader{u}", f"trader{u}", account, now),
            ).lastrowid
            conn.execute("UPDATE accounts SET user_id = ? WHERE id = ?", (user, account))
            assert account is not None and user is not None
            conn.execute(ADD_SQL, (EXTERNAL, "USD", -cents, 0))
            conn.execute(ADD_SQL, (account, "USD", cents, 0))
            entry = conn.execute(ENTRY_SQL, ("deposit", account, None, None, now)).lastrowid
            conn.executemany(POSTING_SQL, [(entry, EXTERNAL, "USD", -cents), (entry, account, "USD", cents)])
            self.users.append((user, account, os.urandom(16).hex()))
        conn.executemany(
            "INSERT INTO assets (symbol, name, category, rank, peg, reference_price, reference_date, source,"
            " volatility, precision, history, enabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            [(a.symbol, a.name, a.category, a.rank, a.peg, str(a.reference_price), a.reference_date, a.source,
              str(a.volatility), a.precision, a.history) for a in load_assets()],
        )
        conn.execute("COMMIT")
        # a fixed price per asset (the engine computes a live one; see `--profile` for its cost)
        self.prices = {symbol: Decimal("1234.56789") for symbol, _ in ASSETS}
        self.precision = dict(conn.execute("SELECT symbol, precision FROM assets").fetchall())

    def place(self, s: Spec) -> None:
        """One order, one transaction: the baseline."""
        self.place_group([s], savepoints=False)

    def place_group(self, specs: list[Spec], *, savepoints: bool = True) -> None:
        """Orders in one commit, each in its own savepoint: what group commit can at most gain."""
        conn = self.conn
        now = iso(time.time())
        self._begin_write()
        try:
            for s in specs:
                if savepoints:
                    conn.execute("SAVEPOINT job")
                self._order(s, now)
                if savepoints:
                    conn.execute("RELEASE job")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _begin_write(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def _order(self, s: Spec, now: str) -> None:
        conn = self.conn
        user_id, account, jti = self.users[s.user]
        house = self.house
        price = self.prices[s.symbol]
        precision = self.precision[s.symbol]
        units = int(Decimal(s.quantity).scaleb(precision))
        exact = Decimal(units) * price / (Decimal(10) ** (precision - 2))
        cents = int(exact.to_integral_value(rounding=ROUND_CEILING if s.side == "buy" else ROUND_FLOOR))
        row = conn.execute(SESSION_SQL, (jti, None, None, user_id)).fetchone()
        if row is None or row[-2] is not None or row[5]:
            raise RuntimeError("session check failed")
        settings = dict(conn.execute(SETTINGS_SQL).fetchall())
        if s.side == "buy":
            cost = cents
            out = {"amount": -cents, "cost": 0, "account": account, "asset": "USD", "need": cents}
            adds = [(house, "USD", cents, 0), (house, s.symbol, -units, 0), (account, s.symbol, units, cents)]
            postings = [(account, "USD", -cents), (house, "USD", cents), (house, s.symbol, -units),
                        (account, s.symbol, units)]
        else:
            held, held_cost, _ = conn.execute(POSITION_SQL, (account, s.symbol)).fetchone() or (0, 0, 0)
            if held < units:
                raise RuntimeError("insufficient position")
            assert settings["cost_method"] == "fifo"
            takes, left = [], units  # FIFO: the oldest lots first
            for lot_id, remaining, remaining_cost in conn.execute(OPEN_LOTS_SQL, (account, s.symbol)).fetchall():
                n = min(left, remaining)
                takes.append((lot_id, n, remaining_cost if n == remaining else remaining_cost * n // remaining))
                left -= n
                if not left:
                    break
            cost = sum(t[2] for t in takes)
            out = {"amount": -units, "cost": -cost, "account": account, "asset": s.symbol, "need": units}
            adds = [(house, s.symbol, units, 0), (house, "USD", -cents, 0), (account, "USD", cents, 0)]
            postings = [(account, s.symbol, -units), (house, s.symbol, units), (house, "USD", -cents),
                        (account, "USD", cents)]
        order_id = self._insert(
            ORDER_SQL, (user_id, account, s.symbol, s.side, units, str(price), cents, None, now, now, str(price))
        )
        if conn.execute(TAKE_SQL, out).rowcount != 1:
            raise RuntimeError("insufficient funds")
        for add in adds:
            conn.execute(ADD_SQL, add)
        entry_id = self._insert(ENTRY_SQL, (s.side, account, order_id, None, now))
        conn.executemany(POSTING_SQL, [(entry_id, *p) for p in postings])
        if s.side == "buy":
            conn.execute(LOT_SQL, (account, s.symbol, order_id, now, units, cents, units, cents))
        else:
            conn.executemany(TAKE_LOT_SQL, [{"units": n, "cost": c, "id": i} for i, n, c in takes])
            conn.executemany(CLOSE_SQL, [(order_id, i, n, c, cents * n // units) for i, n, c in takes])
            conn.execute(REALIZED_SQL, (cents - cost, order_id))
        detail = json.dumps({"symbol": s.symbol, "side": s.side, "price": str(price)}, sort_keys=True)
        conn.execute(AUDIT_SQL, (now, user_id, f"trader{s.user}", "order_placed", str(order_id), detail, None))

    def _insert(self, sql: str, params: tuple[Any, ...]) -> int:
        """Insert one row; its id (sqlite3's `lastrowid`; bench/pg_orders.py says `RETURNING id`)."""
        row_id = self.conn.execute(sql, params).lastrowid
        assert row_id is not None
        return row_id

    def verify(self, expected_orders: int) -> None:
        from orderproc.engine.store import checks

        conn = self.conn
        conn.execute("BEGIN")
        try:
            problems, _sums, counts = checks.ledger_problems(conn)
        finally:
            conn.execute("COMMIT")
        if problems or counts["orders"] != expected_orders:
            raise SystemExit(f"bare ledger does not verify: {problems[:5]}, {counts}")

    def close(self) -> None:
        self.conn.close()


def bare_run(path: Path, pairs: list[list[Spec]], warmup: list[list[Spec]], users: int, synchronous: str) -> Run:
    bare = Bare(path, users, synchronous)
    try:
        for s in flatten(warmup):
            bare.place(s)
        clock = time.perf_counter
        latencies = []
        specs = flatten(pairs)
        t0 = clock()
        for s in specs:
            t1 = clock()
            bare.place(s)
            latencies.append(clock() - t1)
        seconds = clock() - t0
        bare.verify(len(specs) + len(flatten(warmup)))
        return Run(seconds, latencies)
    finally:
        bare.close()


def bare_group_run(path: Path, pairs: list[list[Spec]], warmup: list[list[Spec]], users: int, synchronous: str,
                   clients: int) -> Run:
    """The orders in the concurrent engine run's order (a round of one order per client), each
    round one commit with a savepoint per order: the ceiling of what group commit gains here."""
    bare = Bare(path, users, synchronous)
    try:
        for s in flatten(warmup):
            bare.place(s)
        work = per_client(pairs, clients)
        rounds = [[w[i] for w in work if i < len(w)] for i in range(max(len(w) for w in work))]
        clock = time.perf_counter
        latencies: list[float] = []
        t0 = clock()
        for group in rounds:
            t1 = clock()
            bare.place_group(group)
            latencies.extend([clock() - t1] * len(group))
        seconds = clock() - t0
        bare.verify(len(flatten(pairs)) + len(flatten(warmup)))
        return Run(seconds, latencies)
    finally:
        bare.close()


# -- profile ---------------------------------------------------------------------------------------


def profile_sequential(pairs: list[list[Spec]], warmup: list[list[Spec]], users: int, synchronous: str) -> None:
    """cProfile of the sequential engine run: the event loop thread and the writer thread."""
    if sys.version_info >= (3, 12):
        print("--profile needs per-thread cProfile (Python 3.11); skipped", file=sys.stderr)
        return
    profiles: dict[str, cProfile.Profile] = {}

    def boot(frame: Any, event: str, arg: Any) -> None:  # runs first in each new thread
        sys.setprofile(None)
        prof = cProfile.Profile()
        profiles[threading.current_thread().name] = prof
        prof.enable()

    async def main(path: Path) -> None:
        threading.setprofile(boot)  # catches the writer thread, started by LocalEngine()
        try:
            engine, tokens = await engine_setup(path, users, synchronous)
        finally:
            threading.setprofile(None)
        try:
            failures: list[BaseException] = []
            await engine_client(engine, tokens, requests_for(flatten(warmup)), [], failures)
            work = requests_for(flatten(pairs))
            loop_prof = cProfile.Profile()
            for prof in profiles.values():
                prof.clear()
            t0 = time.perf_counter()
            loop_prof.enable()
            await engine_client(engine, tokens, work, [], failures)
            loop_prof.disable()
            seconds = time.perf_counter() - t0
            for prof in profiles.values():
                prof.disable()  # only stops it if called from that thread; the stats are read after close
            profiles["event loop (main thread)"] = loop_prof
            if failures:
                raise SystemExit(f"engine: {len(failures)} orders failed under the profiler: {failures[0]!r}")
        finally:
            await engine.close()
        print(f"\nprofiled engine sequential: {len(work)} orders in {seconds:.3f} s under cProfile "
              f"({seconds / len(work) * 1e6:.0f} us/order; the profiler inflates Python-heavy code)")

    with tempfile.TemporaryDirectory(prefix="orderproc-bench-") as tmp:
        asyncio.run(main(Path(tmp) / "profile.db"))
    for name, prof in profiles.items():
        if not name.startswith("event loop") and not name.startswith("orderproc-writer"):
            continue
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats("tottime").print_stats(22)
        print(f"\n=== {name}: top functions by own time ===")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])


# -- main --------------------------------------------------------------------------------------------


def median_run(runs: list[Run]) -> tuple[float, float, float]:
    seconds = statistics.median(r.seconds for r in runs)
    lat = sorted(x for r in runs for x in r.latencies)
    p50 = lat[len(lat) // 2] if lat else 0.0
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else 0.0
    return seconds, p50, p99


def measure(label: str, fn: Callable[[], Run], runs: dict[str, list[Run]]) -> None:
    run = fn()
    runs.setdefault(label, []).append(run)
    print(f"  {label:<34} {run.seconds:7.3f} s", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=3000, help="market orders per timed run (default 3000)")
    parser.add_argument("--clients", type=int, default=32, help="client tasks in the concurrent mode (default 32)")
    parser.add_argument("--synchronous", type=str.upper, choices=("NORMAL", "FULL"), default="NORMAL",
                        help="SQLite synchronous setting for every mode (default NORMAL)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode; the median is reported (default 3)")
    parser.add_argument("--users", type=int, default=4, help="trading users (default 4)")
    parser.add_argument("--profile", action="store_true", help="also cProfile one sequential engine run")
    parser.add_argument("--fail-below-target", action="store_true",
                        help="exit 1 if engine sequential is below the target ratio")
    args = parser.parse_args(argv)
    if args.orders < 2 or args.clients < 1 or args.repeat < 1 or args.users < 1:
        parser.error("orders >= 2, clients, repeat and users >= 1")

    pairs = order_specs(args.orders, args.users)
    warmup = order_specs(max(2, min(200, args.orders // 10)), args.users)
    n = len(flatten(pairs))
    seq, conc = "engine, sequential", f"engine, concurrent ({args.clients} clients)"
    bare_label = "bare sqlite3, sequential"
    bare_group = f"bare sqlite3, {args.clients} per commit"
    runs: dict[str, list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="orderproc-bench-") as tmp:
        base = Path(tmp)
        for r in range(args.repeat):
            print(f"run {r + 1}/{args.repeat}", file=sys.stderr)
            measure(bare_label, lambda: bare_run(base / f"bare{r}.db", pairs, warmup, args.users,
                                                 args.synchronous), runs)
            measure(bare_group, lambda: bare_group_run(base / f"group{r}.db", pairs, warmup, args.users,
                                                       args.synchronous, args.clients), runs)
            measure(seq, lambda: asyncio.run(engine_run(base / f"seq{r}.db", pairs, warmup, args.users, 1,
                                                        args.synchronous)), runs)
            measure(conc, lambda: asyncio.run(engine_run(base / f"conc{r}.db", pairs, warmup, args.users,
                                                         args.clients, args.synchronous)), runs)

    print(f"machine: Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
          f"{os.cpu_count()} CPUs, {platform.system()} {platform.machine()}")
    print(f"settings: {n} market orders per run (buy/sell by quantity of {', '.join(a for a, _ in ASSETS)}, "
          f"{args.users} users), WAL, synchronous={args.synchronous}, one order per transaction for bare, "
          f"median of {args.repeat} runs, ledgers verified")
    print()
    base_seconds = median_run(runs[bare_label])[0]
    header = f"{'mode':<36} {'orders':>7} {'seconds':>8} {'orders/s':>9} {'vs bare':>8} {'p50 ms':>7} {'p99 ms':>7}"
    print(header)
    print("-" * len(header))
    ratios = {}
    for label in (bare_label, bare_group, seq, conc):
        seconds, p50, p99 = median_run(runs[label])
        ratios[label] = base_seconds / seconds
        print(f"{label:<36} {n:>7} {seconds:>8.3f} {n / seconds:>9.0f} {ratios[label]:>7.0%} "
              f"{p50 * 1e3:>7.2f} {p99 * 1e3:>7.2f}")
    spread = "; ".join(
        label.split(",")[1].strip() + " "
        + " ".join(f"{b.seconds / r.seconds:.0%}" for b, r in zip(runs[bare_label], runs[label], strict=True))
        for label in (bare_group, seq, conc)
    )
    print(f"per-run ratios (each run against the bare run just before it): {spread}")
    print()
    print(f"target: engine >= {TARGET:.0%} of bare sqlite3 (same writes, same durability); "
          f"beyond: group commit > 100% of bare")
    verdict = "meets" if ratios[seq] >= TARGET else "is BELOW"
    print(f"engine sequential at {ratios[seq]:.0%} of bare {verdict} the target; "
          f"engine concurrent at {ratios[conc]:.0%} of bare "
          f"{'meets' if ratios[conc] >= TARGET else 'is BELOW'} the target"
          f"{' and beats bare' if ratios[conc] > 1 else ''}")

    if args.profile:
        profile_sequential(pairs, warmup, args.users, args.synchronous)
    return 1 if args.fail_below_target and ratios[seq] < TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
