"""Market orders per second on PostgreSQL: the engine against bare psycopg, three ways to
serialize the writes, and HTTP orders/s with 1, 2 and 4 servers on one database (and on one
SQLite file, for comparison).

    python bench/pg_orders.py [--orders N] [--clients C] [--seconds S] [--servers 1,2,4]
                              [--only engine,locks,http-pg,http-sqlite] [--repeat R] [--rounds K]
                              [--users U] [--writers 8] [--warmup W]

Everything runs on one throwaway PostgreSQL 15 started for the run (`tests/pg_support.py`,
`running_server(DURABLE)`: fsync on, synchronous_commit on, full_page_writes on: every commit
is flushed, as in production), a fresh database per run.

1. engine vs bare psycopg, the median of R interleaved runs of N market orders each:
   - bare psycopg, sequential: the baseline. The statements `bench/engine_orders.py`'s `Bare`
     runs for one market order (the engine's, same SQL text, the placeholders turned into
     psycopg's once by the engine's own `translate()`), on a psycopg 3 autocommit connection
     with a `ClientCursor` as the engine's, one order per transaction, serialized the engine's
     way: `BEGIN; SELECT pg_advisory_xact_lock(LEDGER_LOCK); ...; COMMIT`. New rows' ids by
     `RETURNING id`, as the engine.
   - bare psycopg, C per commit: the orders in rounds of C, one transaction per round and a
     savepoint per order: what the engine's group commit can at most gain.
   - engine, sequential / concurrent (C clients): `LocalEngine(url)`, `await place_order` one
     after another, or from C tasks at once (its writer groups the waiting orders into one
     transaction, a savepoint each).
2. lock strategies, bare psycopg, the same statements, W writer threads (1 and 8 by
   default), each with its own connection and its own users (so only the house's rows are
   shared), one order per transaction:
   - advisory: `pg_advisory_xact_lock` right after BEGIN (the engine today);
   - for update: `SELECT 1 FROM balances WHERE (account_id, asset) IN (...the four balances the
     order touches...) ORDER BY account_id, asset FOR UPDATE` right after BEGIN, no global lock
     (READ COMMITTED; the fixed order means no deadlock);
   - serializable: `BEGIN ISOLATION LEVEL SERIALIZABLE`, the whole order retried on
     serialization_failure (40001) and deadlock_detected (40P01), the retries counted;
   - for update, striped house (a what-if, not the engine's schema): as "for update", but each
     writer books the house's side on a house account of its own (8 extra accounts of kind
     'house'), so that no row is shared between writers: what the hot house rows cost.
3. HTTP: 1, 2, 4 `orderproc serve` processes (`--servers`) on one PostgreSQL database, C
   keep-alive connections (`server_orders.RawClient`) dealt round-robin over the servers, each
   in a closed loop, S seconds measured after W seconds of warm-up: `GET /healthz` (the same
   servers' trivial endpoint) then `POST /v1/orders` (market, buy then sell), K rounds.
4. the same on one SQLite file (WAL, synchronous NORMAL, the servers' default).
5. where the time goes: the CPU seconds each kind of process used during each measured orders
   phase, from /proc/<pid>/stat (utime + stime): PostgreSQL's backends (the servers'
   connections), its other processes (WAL writer, checkpointer...), the orderproc servers (each
   with its children), this process (the load generator), and the whole machine (/proc/stat),
   as cores (1.00 = one core busy all the time) and as CPU ms per order.

Every ledger is verified at the end of its run: the engine's with `admin_verify` and the order
count, the bare ones with the engine's checker queries (`checks.ledger_problems`: balances
replay from the postings and sum to zero per asset, lots, ...) and the order count, the HTTP
ones with `orderproc admin verify --json` against the 2xx order answers; any failure, failed
order or non-2xx answer exits with status 1.

Target (issue 12): engine orders/s at least 60% of bare psycopg doing the same statements.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for extra in (ROOT, HERE, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import psycopg  # noqa: E402
from psycopg import ClientCursor, errors as pg_errors  # noqa: E402

from engine_orders import (  # noqa: E402
    HOUSE,
    TARGET,
    Bare,
    Run,
    Spec,
    engine_run,
    engine_setup,
    flatten,
    median_run,
    order_specs,
    per_client,
)
from pg_support import DURABLE, PgServer, drop_database, new_database, running_server  # noqa: E402
from server_orders import (  # noqa: E402
    ORDERS,
    TRIVIAL,
    RawClient,
    Server,
    Tally,
    free_port,
    load_average,
    percentile,
    serve_command,
    server_env,
    setup_traders,
    verify_ledger,
    worker,
)

from orderproc.engine.store.postgres import LEDGER_LOCK, PgDatabase, translate  # noqa: E402

ADVISORY, FOR_UPDATE, SERIALIZABLE, STRIPED = "advisory", "for update", "serializable", "for update, striped house"
STRATEGIES = (ADVISORY, FOR_UPDATE, SERIALIZABLE, STRIPED)
SECTIONS = ("engine", "locks", "http-pg", "http-sqlite")
LOCK_SQL = (
    "SELECT 1 FROM balances WHERE (account_id, asset) IN ((%s, %s), (%s, %s), (%s, %s), (%s, %s))"
    " ORDER BY account_id, asset FOR UPDATE"
)
STRIPES = 8
RETRYABLE = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)


# -- bare psycopg --------------------------------------------------------------------------------


class BareConn:
    """A raw psycopg connection taking the store's SQL: each statement text turned into
    psycopg's placeholders once (the engine's own `translate`, cached), nothing else."""

    def __init__(self, url: str) -> None:
        self.raw = psycopg.connect(url, autocommit=True, cursor_factory=ClientCursor)
        self._sql: dict[str, str] = {}

    def _pg(self, sql: str) -> str:
        text = self._sql.get(sql)
        if text is None:
            text = self._sql[sql] = translate(sql)
        return text

    def execute(self, sql: str, params: Any = None) -> psycopg.Cursor[Any]:
        if params is None:
            return self.raw.execute(sql)
        return self.raw.execute(self._pg(sql), params)

    def executemany(self, sql: str, seq: list[Any]) -> psycopg.Cursor[Any]:
        cur = self.raw.cursor()
        cur.executemany(self._pg(sql), seq)
        return cur

    def close(self) -> None:
        self.raw.close()


class PgBare(Bare):
    """`engine_orders.Bare`'s statements for one market order on bare psycopg, on a ledger the
    engine made (its tables, meta, system accounts and users), under one of the STRATEGIES."""

    def __init__(self, url: str, users: int, house: int = HOUSE) -> None:  # noqa: super not called: no file
        from decimal import Decimal

        self.bare = BareConn(url)
        self.conn = self.bare  # type: ignore[assignment]  # what Bare._order speaks to
        self.house = house
        rows = self.conn.execute("SELECT username, id, account_id FROM users").fetchall()
        by_name = {name: (uid, account) for name, uid, account in rows}
        self.users = [(*by_name[f"trader{u}"], os.urandom(16).hex()) for u in range(users)]
        self.prices = {symbol: Decimal("1234.56789") for symbol in ("BTC", "ETH", "SOL", "XRP")}
        self.precision = dict(self.conn.execute("SELECT symbol, precision FROM assets").fetchall())
        self.retries = 0  # serialization failures: the order ran again
        self.deadlocks = 0  # deadlocks detected (after deadlock_timeout): the order ran again

    def _insert(self, sql: str, params: tuple[Any, ...]) -> int:
        row_id: int = self.conn.execute(sql + " RETURNING id", params).fetchone()[0]
        return row_id

    def place_with(self, s: Spec, strategy: str) -> None:
        """One order, one transaction, serialized by `strategy`; serialization failures retried."""
        conn = self.conn
        while True:
            now = iso_now()
            try:
                if strategy == SERIALIZABLE:
                    conn.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
                else:
                    conn.execute("BEGIN")
                    if strategy == ADVISORY:
                        conn.execute(f"SELECT pg_advisory_xact_lock({LEDGER_LOCK})")
                    else:
                        self.bare.raw.execute(LOCK_SQL, self._touched(s))
                self._order(s, now)
                conn.execute("COMMIT")
                return
            except RETRYABLE as exc:
                conn.execute("ROLLBACK")  # a failed COMMIT has ended the transaction: a warning only
                if isinstance(exc, pg_errors.DeadlockDetected):
                    self.deadlocks += 1
                    if self.deadlocks == 1:  # PostgreSQL's detail names the statements in the cycle
                        print(f"    {strategy}: {exc} {exc.diag.message_detail}".replace("\n", " | "),
                              file=sys.stderr)
                else:
                    self.retries += 1
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _touched(self, s: Spec) -> tuple[Any, ...]:
        account = self.users[s.user][1]
        return (account, "USD", account, s.symbol, self.house, "USD", self.house, s.symbol)

    def _begin_write(self) -> None:
        """`Bare.place_group`'s transaction, as the engine opens one (its group commit)."""
        self.conn.execute("BEGIN")
        self.conn.execute(f"SELECT pg_advisory_xact_lock({LEDGER_LOCK})")

    def close(self) -> None:
        self.bare.close()


def iso_now() -> str:
    from engine_orders import iso

    return iso(time.time())


async def make_ledger(url: str, users: int, stripes: int = 0) -> list[int]:
    """The ledger, made by the engine: tables, meta, users trader0.. with cash; `stripes` extra
    house accounts (the striped what-if), their ids."""
    engine, _tokens = await engine_setup(url, users, "FULL")  # type: ignore[arg-type]
    await engine.close()
    houses = []
    if stripes:
        with psycopg.connect(url, autocommit=True) as conn:
            for k in range(stripes):
                houses.append(conn.execute("INSERT INTO accounts (kind, user_id, name) VALUES ('house', NULL, %s)"
                                           " RETURNING id", (f"house stripe {k}",)).fetchone()[0])
    return houses


def verify_bare(url: str, expected_orders: int) -> None:
    from orderproc.engine.store import checks

    conn = PgDatabase(url).connect()
    try:
        PgDatabase.begin_read(conn)
        problems, sums, counts = checks.ledger_problems(conn)  # type: ignore[arg-type]
        conn.execute("COMMIT")
    finally:
        conn.close()
    if problems or counts["orders"] != expected_orders or any(sums.values()):
        raise SystemExit(f"bare ledger does not verify: {problems[:5]}, sums {sums}, {counts}, "
                         f"expected {expected_orders} orders")


@dataclass(slots=True)
class LockRun(Run):
    retries: int = 0
    deadlocks: int = 0


def bare_seq_run(url: str, pairs: list[list[Spec]], warmup: list[list[Spec]], users: int) -> Run:
    asyncio.run(make_ledger(url, users))
    bare = PgBare(url, users)
    try:
        for s in flatten(warmup):
            bare.place_with(s, ADVISORY)
        clock = time.perf_counter
        latencies = []
        specs = flatten(pairs)
        t0 = clock()
        for s in specs:
            t1 = clock()
            bare.place_with(s, ADVISORY)
            latencies.append(clock() - t1)
        seconds = clock() - t0
    finally:
        bare.close()
    verify_bare(url, len(specs) + len(flatten(warmup)))
    return Run(seconds, latencies)


def bare_group_run(url: str, pairs: list[list[Spec]], warmup: list[list[Spec]], users: int, clients: int) -> Run:
    asyncio.run(make_ledger(url, users))
    bare = PgBare(url, users)
    try:
        for s in flatten(warmup):
            bare.place_with(s, ADVISORY)
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
    finally:
        bare.close()
    verify_bare(url, len(flatten(pairs)) + len(flatten(warmup)))
    return Run(seconds, latencies)


def lock_run(url: str, pairs: list[list[Spec]], warmup: list[list[Spec]], users: int, writers: int,
             strategy: str, cap: float) -> LockRun:
    """`writers` threads, each with its own connection and its own users' orders (a user's sell
    after its buy), one order per transaction under `strategy`; no order starts after `cap`
    seconds (a deadlock costs deadlock_timeout, 1 s: serializable with 8 writers ran for
    minutes), the rate is then the orders done over the time taken."""
    houses = asyncio.run(make_ledger(url, users, STRIPES if strategy == STRIPED else 0))
    bares = [PgBare(url, users, houses[w % STRIPES] if houses else HOUSE) for w in range(writers)]
    work = [flatten([p for p in pairs if p[0].user % writers == w]) for w in range(writers)]
    warm = [flatten([p for p in warmup if p[0].user % writers == w]) for w in range(writers)]
    latencies: list[list[float]] = [[] for _ in range(writers)]
    failures: list[BaseException] = []
    start = threading.Barrier(writers + 1)
    clock = time.perf_counter

    def body(w: int) -> None:
        bare = bares[w]
        try:
            for s in warm[w]:
                bare.place_with(s, strategy)
        except BaseException as exc:
            failures.append(exc)
        start.wait()
        if failures:
            return
        deadline = clock() + cap
        try:
            for s in work[w]:
                if clock() > deadline:
                    break
                t1 = clock()
                bare.place_with(s, strategy)
                latencies[w].append(clock() - t1)
        except BaseException as exc:  # reported; the run then fails
            failures.append(exc)

    threads = [threading.Thread(target=body, args=(w,), name=f"writer-{w}", daemon=True)
               for w in range(writers)]
    for t in threads:
        t.start()
    start.wait()
    for b in bares:
        b.retries = b.deadlocks = 0  # the warm-up's do not count
    t0 = clock()
    for t in threads:
        t.join()
    seconds = clock() - t0
    retries, deadlocks = sum(b.retries for b in bares), sum(b.deadlocks for b in bares)
    for b in bares:
        b.close()
    if failures:
        raise SystemExit(f"{strategy}, {writers} writers: {len(failures)} writers failed, first: {failures[0]!r}")
    verify_bare(url, sum(map(len, latencies)) + sum(map(len, warm)))
    return LockRun(seconds, [x for lat in latencies for x in lat], retries, deadlocks)


# -- CPU accounting -------------------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Proc:
    ppid: int
    cpu: float  # seconds, utime + stime
    cmd: str


def proc_table() -> dict[int, Proc]:
    """Every live process: parent, CPU seconds, command line."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                data = f.read().decode(errors="replace")
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        rest = data[data.rindex(")") + 2:].split()
        table[int(entry.name)] = Proc(int(rest[1]), (int(rest[11]) + int(rest[12])) / TICKS, cmd)
    return table


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / TICKS, sum(fields[:8]) / TICKS


def descendants(table: dict[int, Proc], roots: set[int]) -> set[int]:
    tree, grew = set(roots), True
    while grew:
        grew = False
        for pid, p in table.items():
            if p.ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return tree & set(table) | (roots & set(table))


@dataclass
class CpuSnapshot:
    table: dict[int, Proc]
    busy: float
    total: float
    at: float

    @classmethod
    def take(cls) -> CpuSnapshot:
        busy, total = machine_busy()
        return cls(proc_table(), busy, total, time.perf_counter())


def cpu_split(before: CpuSnapshot, after: CpuSnapshot, postmaster: int | None, servers: list[int]) -> dict[str, float]:
    """CPU seconds per kind of process between two snapshots (a process born meanwhile counts whole)."""

    def used(pids: set[int]) -> float:
        return sum(after.table[p].cpu - (before.table[p].cpu if p in before.table else 0.0)
                   for p in pids if p in after.table)

    out = {}
    if postmaster is not None:
        pg = descendants(after.table, {postmaster})
        backends = {p for p in pg if after.table[p].cmd.startswith("postgres: postgres ")}
        out["pg backends"] = used(backends)
        out["pg other"] = used(pg - backends)
    out["orderproc servers"] = used(descendants(after.table, set(servers)))
    out["load generator"] = used({os.getpid()})
    out["machine busy"] = after.busy - before.busy
    out["wall"] = after.at - before.at
    return out


# -- HTTP ----------------------------------------------------------------------------------------


@dataclass
class HttpPhase:
    kind: str
    seconds: float
    tally: Tally
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def bad(self) -> int:
        return sum(n for status, n in self.tally.statuses.items() if not status.startswith("2"))

    @property
    def rate(self) -> float:
        return len(self.tally.latencies) / self.seconds


@dataclass
class HttpResult:
    backend: str
    servers: int
    phases: list[HttpPhase]
    startup: float
    verified: bool
    ledger_orders: int | None
    sent_ok: int
    problems: list[str]

    def by_kind(self, kind: str) -> list[HttpPhase]:
        return [p for p in self.phases if p.kind == kind]

    def rate(self, kind: str) -> float:
        return statistics.median(p.rate for p in self.by_kind(kind))

    def p(self, kind: str, q: float) -> float:
        return percentile(sorted(x for p in self.by_kind(kind) for x in p.tally.latencies), q)


async def http_drive(servers: list[Server], clients: int, rounds: int, warmup: float, seconds: float,
                     postmaster: int | None) -> list[HttpPhase]:
    traders = await setup_traders(servers[0].url, clients)
    conns = [RawClient(servers[i % len(servers)].url) for i in range(clients)]
    pids = [s.proc.pid for s in servers]
    phases = []
    try:
        for _ in range(rounds):
            for kind in (TRIVIAL, ORDERS):
                tally = Tally()
                begin = time.perf_counter()
                start, end = begin + warmup, begin + warmup + seconds
                tasks = [asyncio.create_task(worker(c, kind, t, start, end, tally))
                         for c, t in zip(conns, traders, strict=True)]
                await asyncio.sleep(max(0.0, start - time.perf_counter()))
                before = CpuSnapshot.take()
                await asyncio.sleep(max(0.0, end - time.perf_counter()))
                after = CpuSnapshot.take()
                await asyncio.gather(*tasks)
                phase = HttpPhase(kind, seconds, tally, cpu_split(before, after, postmaster, pids))
                phases.append(phase)
                print(f"    {kind:<8} {phase.rate:8.0f} req/s  non-2xx {phase.bad}", file=sys.stderr)
    finally:
        await asyncio.gather(*(c.aclose() for c in conns))
    return phases


def http_run(backend: str, n: int, db: str, env: dict[str, str], tmp: Path, args: argparse.Namespace,
             postmaster: int | None) -> HttpResult:
    """n `orderproc serve` processes on one ledger (`db`: a URL or a file), driven together."""
    print(f"  http {backend}, {n} server(s)", file=sys.stderr)
    servers: list[Server] = []
    t0 = time.perf_counter()
    try:
        for i in range(n):
            port = free_port()
            servers.append(Server(serve_command(db, port, None), env, tmp / f"server-{backend}-{n}-{i}.log",  # type: ignore[arg-type]
                                  f"http://127.0.0.1:{port}"))
            if i == 0:  # the first one makes the ledger; the others then open it
                servers[0].wait_healthy(120.0)
        for s in servers:
            s.wait_healthy(120.0)
        startup = time.perf_counter() - t0
        phases = asyncio.run(http_drive(servers, args.clients, args.rounds, args.warmup, args.seconds, postmaster))
    except BaseException:
        for s in servers:
            status = s.stop()
            print(f"server log (exit status {status}):\n{s.log_tail()}", file=sys.stderr)
        raise
    for s in servers:
        s.stop()
    report = verify_ledger(db, env)  # type: ignore[arg-type]
    sent_ok = sum(p.tally.orders_2xx for p in phases if p.kind == ORDERS)
    verified = bool(report.get("ok")) and report["exit_status"] == 0
    return HttpResult(backend, n, phases, startup, verified, report.get("orders"), sent_ok,
                      list(report.get("problems", []))[:5])


# -- report --------------------------------------------------------------------------------------


def measure(label: str, fn: Callable[[], Run], runs: dict[str, list[Run]]) -> None:
    run = fn()
    runs.setdefault(label, []).append(run)
    extra = f"  retries {run.retries}, deadlocks {run.deadlocks}" if isinstance(run, LockRun) else ""
    print(f"  {label:<44} {run.seconds:7.3f} s{extra}", file=sys.stderr)


@contextmanager
def fresh_database(server: PgServer) -> Iterator[str]:
    url = new_database(server)
    try:
        yield url
    finally:
        drop_database(server, url)


def run_in_db(server: PgServer, fn: Callable[[str], Run]) -> Callable[[], Run]:
    def go() -> Run:
        with fresh_database(server) as url:
            return fn(url)
    return go


def print_table(runs: dict[str, list[Run]], labels: list[str], base: str, n: int, retries: bool = False) -> None:
    """Medians of the runs; with `retries` (the lock table, whose runs may stop at the cap) the
    orders done and orders/s are each run's, their medians shown."""
    def rate(r: Run) -> float:
        return len(r.latencies) / r.seconds

    base_seconds = median_run(runs[base])[0]
    base_rate = statistics.median(map(rate, runs[base]))
    header = (f"{'mode':<46} {'orders':>7} {'seconds':>8} {'orders/s':>9} {'vs base':>8} {'p50 ms':>7} {'p99 ms':>7}"
              + (f" {'retries':>8} {'deadlocks':>9}" if retries else ""))
    print(header)
    print("-" * len(header))
    for label in labels:
        seconds, p50, p99 = median_run(runs[label])
        done, per_s, ratio = n, n / seconds, base_seconds / seconds
        if retries:
            done = int(statistics.median(len(r.latencies) for r in runs[label]))
            per_s = statistics.median(map(rate, runs[label]))
            ratio = per_s / base_rate
        line = (f"{label:<46} {done:>7} {seconds:>8.3f} {per_s:>9.0f} {ratio:>7.0%} "
                f"{p50 * 1e3:>7.2f} {p99 * 1e3:>7.2f}")
        if retries:
            line += (f" {statistics.median(r.retries for r in runs[label]):>8.0f}"  # type: ignore[attr-defined]
                     f" {statistics.median(r.deadlocks for r in runs[label]):>9.0f}")  # type: ignore[attr-defined]
        print(line)


def print_http(results: list[HttpResult]) -> bool:
    header = (f"{'servers':>7} {'healthz/s':>10} {'orders/s':>9} {'orders/healthz':>14} {'orders x1':>9} "
              f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'non-2xx':>7} {'up s':>5}  ledger")
    print(header)
    print("-" * len(header))
    one = next((r for r in results if r.servers == 1), results[0]).rate(ORDERS)
    ok = True
    for r in results:
        bad = sum(p.bad for p in r.phases)
        match = r.ledger_orders == r.sent_ok
        ok = ok and r.verified and match and not bad
        ledger = (f"{'verifies' if r.verified else 'does NOT verify'}, {r.ledger_orders} orders = {r.sent_ok} 2xx"
                  if match else f"{r.ledger_orders} orders but {r.sent_ok} 2xx answers: MISMATCH")
        print(f"{r.servers:>7} {r.rate(TRIVIAL):>10.0f} {r.rate(ORDERS):>9.0f} "
              f"{r.rate(ORDERS) / r.rate(TRIVIAL):>14.0%} {r.rate(ORDERS) / one:>8.2f}x "
              f"{r.p(ORDERS, 0.5) * 1e3:>7.2f} {r.p(ORDERS, 0.99) * 1e3:>7.2f} "
              f"{max((x for p in r.by_kind(ORDERS) for x in p.tally.latencies), default=0) * 1e3:>7.1f} "
              f"{bad:>7} {r.startup:>5.1f}  {ledger}")
        if r.problems:
            print(f"        problems: {r.problems}")
        for p in r.phases:
            if p.tally.first_errors:
                print(f"        {p.kind} errors: {p.tally.first_errors[:3]}")
    return ok


def print_cpu(results: list[HttpResult]) -> None:
    kinds = ("pg backends", "pg other", "orderproc servers", "load generator", "machine busy")
    header = (f"{'ledger, servers, phase':<28} {'req/s':>6} " + " ".join(f"{k:>17}" for k in kinds)
              + f" {'others':>7}")
    print(header)
    print("-" * len(header))
    for r in results:
        for kind in (TRIVIAL, ORDERS):
            ps = r.by_kind(kind)
            cores = {k: statistics.median(p.cpu.get(k, float("nan")) / p.cpu["wall"] for p in ps) for k in kinds}
            rate = r.rate(kind)
            ms = {k: cores[k] / rate * 1e3 if rate else float("nan") for k in kinds}
            cells = " ".join(
                f"{'-':>17}" if cores[k] != cores[k] else f"{cores[k]:>5.2f} ({ms[k]:>5.2f} ms)" for k in kinds)
            known = sum(v for k, v in cores.items() if k != "machine busy" and v == v)
            label = f"{r.backend}, {r.servers}, {'orders' if kind == ORDERS else 'healthz'}"
            print(f"{label:<28} {rate:>6.0f} {cells} {cores['machine busy'] - known:>7.2f}")


def main(argv: list[str] | None = None) -> int:  # noqa: C901 - one section after another
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=600, help="market orders per timed run (default 600)")
    parser.add_argument("--clients", type=int, default=32,
                        help="engine concurrent client tasks, orders per group commit for bare, HTTP connections "
                             "(default 32)")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per HTTP phase (default 3)")
    parser.add_argument("--warmup", type=float, default=1.0, help="HTTP warm-up seconds per phase (default 1)")
    parser.add_argument("--servers", default="1,2,4", help="orderproc serve processes per HTTP run (default 1,2,4)")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"sections to run, comma-separated, of {','.join(SECTIONS)} (default all)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per mode in the engine and lock tables; medians are reported (default 3)")
    parser.add_argument("--rounds", type=int, default=1, help="HTTP rounds of (healthz, orders) (default 1)")
    parser.add_argument("--users", type=int, default=4, help="trading users of the engine table (default 4)")
    parser.add_argument("--writers", default="1,8", help="writer threads of the lock table (default 1,8)")
    parser.add_argument("--cap", type=float, default=8.0,
                        help="no order of a lock-table run starts after this many seconds (default 8)")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    if not set(only) <= set(SECTIONS):
        parser.error(f"--only takes {','.join(SECTIONS)}")
    servers_list = [int(x) for x in args.servers.split(",")]
    writers_list = [int(x) for x in args.writers.split(",")]
    if args.orders < 2 or args.clients < 1 or args.repeat < 1 or args.rounds < 1 or min(servers_list) < 1 \
            or min(writers_list) < 1:
        parser.error("orders >= 2, clients, repeat, rounds, servers and writers >= 1")

    wall0 = time.perf_counter()
    load_before = load_average()
    pairs = order_specs(args.orders, args.users)
    warmup = order_specs(max(2, min(200, args.orders // 10)), args.users)
    n = len(flatten(pairs))
    lock_users = max(args.users, *writers_list)
    lock_pairs = order_specs(args.orders, lock_users)
    lock_warmup = order_specs(max(2 * lock_users, min(200, args.orders // 10)), lock_users)
    engine_runs: dict[str, list[Run]] = {}
    lock_runs: dict[str, list[Run]] = {}
    http_results: list[HttpResult] = []
    bare_seq, bare_group = "bare psycopg, sequential", f"bare psycopg, {args.clients} per commit"
    eng_seq, eng_conc = "engine, sequential", f"engine, concurrent ({args.clients} clients)"
    lock_labels = [f"{s}, {w} writer{'s' if w > 1 else ''}" for s in STRATEGIES for w in writers_list]

    with running_server(DURABLE) as pg, tempfile.TemporaryDirectory(prefix="orderproc-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with psycopg.connect(pg.url(), autocommit=True) as c:
            pg_version = c.execute("SHOW server_version").fetchone()[0]
            durability = {k: c.execute(f"SHOW {k}").fetchone()[0]
                          for k in ("fsync", "synchronous_commit", "full_page_writes", "wal_sync_method")}
        if "engine" in only:
            for r in range(args.repeat):
                print(f"engine table, run {r + 1}/{args.repeat}", file=sys.stderr)
                measure(bare_seq, run_in_db(pg, lambda url: bare_seq_run(url, pairs, warmup, args.users)), engine_runs)
                measure(bare_group, run_in_db(pg, lambda url: bare_group_run(url, pairs, warmup, args.users,
                                                                             args.clients)), engine_runs)
                measure(eng_seq, run_in_db(pg, lambda url: asyncio.run(
                    engine_run(url, pairs, warmup, args.users, 1, "FULL"))), engine_runs)  # type: ignore[arg-type]
                measure(eng_conc, run_in_db(pg, lambda url: asyncio.run(
                    engine_run(url, pairs, warmup, args.users, args.clients, "FULL"))), engine_runs)  # type: ignore[arg-type]
        if "locks" in only:
            for r in range(args.repeat):
                print(f"lock table, run {r + 1}/{args.repeat}", file=sys.stderr)
                for strategy in STRATEGIES:
                    for w in writers_list:
                        label = f"{strategy}, {w} writer{'s' if w > 1 else ''}"
                        measure(label, run_in_db(pg, lambda url, s=strategy, w=w: lock_run(
                            url, lock_pairs, lock_warmup, lock_users, w, s, args.cap)), lock_runs)
        if "http-pg" in only:
            for k in servers_list:
                with fresh_database(pg) as url:
                    env = server_env(tmp / f"pg{k}", "NORMAL")
                    http_results.append(http_run("postgresql", k, url, env, tmp, args, pg.process.pid))
        if "http-sqlite" in only:
            for k in servers_list:
                env = server_env(tmp / f"sqlite{k}", "NORMAL")
                db = tmp / f"sqlite{k}" / "ledger.db"
                db.parent.mkdir(parents=True, exist_ok=True)
                http_results.append(http_run("sqlite", k, str(db), env, tmp, args, None))

    wall = time.perf_counter() - wall0
    print(f"machine: Python {platform.python_version()}, psycopg {psycopg.__version__}, PostgreSQL {pg_version}, "
          f"{os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, load average {load_before} before, "
          f"{load_average()} after, whole run {wall:.0f} s")
    print("server: " + ", ".join(f"{k}={v}" for k, v in durability.items())
          + f"; a fresh database per run; {n} market orders per timed run (buy/sell by quantity of BTC, ETH, SOL,"
            f" XRP), median of {args.repeat} runs, ledgers verified")
    ok = True
    if engine_runs:
        print()
        print(f"(1) engine vs bare psycopg ({args.users} users; bare: the engine's statements, advisory lock, "
              f"one order per transaction)")
        print_table(engine_runs, [bare_seq, bare_group, eng_seq, eng_conc], bare_seq, n)
        spread = "; ".join(
            label.split(",", 1)[1].strip() + " "
            + " ".join(f"{b.seconds / x.seconds:.0%}" for b, x in zip(engine_runs[bare_seq], engine_runs[label],
                                                                          strict=True))
            for label in (bare_group, eng_seq, eng_conc))
        print(f"per-run ratios (each run against the bare run just before it): {spread}")
        base = median_run(engine_runs[bare_seq])[0]
        seq_ratio, conc_ratio = base / median_run(engine_runs[eng_seq])[0], base / median_run(engine_runs[eng_conc])[0]
        print(f"target: engine >= {TARGET:.0%} of bare psycopg (same statements, same durability): engine sequential "
              f"at {seq_ratio:.0%} {'meets' if seq_ratio >= TARGET else 'is BELOW'} the target; engine concurrent at "
              f"{conc_ratio:.0%} {'meets' if conc_ratio >= TARGET else 'is BELOW'} it")
    if lock_runs:
        print()
        print(f"(2) lock strategies, bare psycopg, one order per transaction ({lock_users} users dealt to the "
              f"writers; the house is every order's counterparty)")
        print_table(lock_runs, lock_labels, lock_labels[0], len(flatten(lock_pairs)), retries=True)
        print("retries, deadlocks: whole orders rolled back and run again on serialization_failure (40001), "
              "on deadlock_detected (40P01, found after deadlock_timeout = 1 s); medians per run. "
              f"No order starts after {args.cap:g} s: orders is what was done (median), orders/s the median of "
              "each run's orders done / seconds")
    pg_results = [r for r in http_results if r.backend == "postgresql"]
    sqlite_results = [r for r in http_results if r.backend == "sqlite"]
    settings = (f"{args.clients} connections dealt round-robin to the servers, {args.seconds:g} s measured after "
                f"{args.warmup:g} s warm-up per phase, {args.rounds} round(s); orders x1: orders/s against 1 server")
    if pg_results:
        print()
        print(f"(3) HTTP on one PostgreSQL database: {settings}")
        ok = print_http(pg_results) and ok
    if sqlite_results:
        print()
        print(f"(4) HTTP on one SQLite file (WAL, synchronous NORMAL): {settings}")
        ok = print_http(sqlite_results) and ok
    if http_results:
        print()
        print("(5) where the time goes: CPU over each measured HTTP phase, in cores (1.00 = one core all the time) "
              f"and CPU ms per request; the machine has {os.cpu_count()} cores; others: the machine's busy CPU "
              "not accounted to these processes (other work on the machine, the kernel's softirqs)")
        print_cpu(http_results)
    print()
    print("every ledger verified" if ok else "FAILED: a ledger did not verify or requests failed (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
