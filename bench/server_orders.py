"""HTTP market orders per second: `POST /v1/orders` against `GET /healthz` on the same server.

    python bench/server_orders.py [--clients C] [--seconds S] [--warmup W] [--rounds R]
                                  [--workers N] [--synchronous NORMAL|FULL] [--client raw|httpx]
                                  [--fail-below-target]

Starts the real server, `python -m orderproc --db LEDGER serve --host 127.0.0.1 --port PORT`,
as a subprocess (from this checkout, on a free port, a fresh ledger and its own data/config
dirs in a temp dir, `ORDERPROC_HASH_PROFILE=fast`, rate limits and the request log off), waits
for `/healthz`, registers C users over the API (register, login, deposit $10,000,000 with an
`Idempotency-Key`), then drives it from this process with C asyncio tasks, each
with its own keep-alive connection (C concurrent connections), each in a closed loop (send,
wait for the whole answer, send again) for W seconds of warm-up, not counted, then S seconds
measured. Per round, two phases:

- trivial: `GET /healthz` on the same server: the same uvicorn, FastAPI and middleware stack,
  no engine call. The baseline.
- orders: `POST /v1/orders` `{"symbol": "BTC", "side": ..., "quantity": "0.0001"}`, each with
  its own `Idempotency-Key`, with the bearer token of the task's own user; each task alternates
  buy and sell (it sells only what it bought), so no order can be rejected.

A request counts in a phase if it completes inside the measured S seconds: requests/s is that
count over S, latency (`time.perf_counter`, from sending to the whole answer read) its
p50/p90/p99. Non-2xx answers and transport errors are counted apart and printed (expected:
none). With R rounds the phases alternate (trivial, orders, trivial, ...) so that the noise of
the machine hits both alike; the table shows the median requests/s of the rounds and the
latency percentiles over all rounds' requests, and a line gives the per-round ratios. CPU
columns: the CPU time the load generator (this process) and the server (its process tree)
used during the measured seconds, as a share of one core.

Afterwards the server is stopped and `python -m orderproc --db LEDGER admin verify --json` is
run: the ledger must verify and hold exactly as many orders as there were 2xx order answers
(warm-up included); otherwise the script exits 1.

Target (PERFORMANCE.md): at 50 concurrent connections, HTTP market orders/s at least 60% of the
trivial endpoint's requests/s on the same server stack, and the orders' p99 at most 2x the
trivial endpoint's p99; and no order slower than 100 ms (a stall: a checkpoint or an fsync on
the event loop). `--fail-below-target` exits 1 if any is missed.

The load generator. By default each connection is a `RawClient`: HTTP/1.1 on asyncio streams,
request bytes written by hand, the answer's status line, headers and body read (about 0.1 ms
of CPU per request here). `--client httpx` uses one `httpx.AsyncClient` per task instead, but
httpx costs about 1.2-1.7 ms of CPU per request here (15x): it saturates at about 500-750
requests/s while the server uses 20-26% of a core, so the trivial phase measures httpx, not
the server, and the ratio comes out far too kind (69-93% against 23-31% with the raw client in
the same quarter of an hour). One `httpx.AsyncClient` with a pool of C connections shared by
all tasks was worse still in a trial (130 req/s trivial: the pool's bookkeeping). The script
warns when, in the trivial phase, the load generator uses 85% of a core or more, or more CPU
than the server. (Setup, a few requests per user, uses httpx.)

On a 2-core machine the load generator shares the CPUs with the server (see the CPU columns):
that hits both phases alike, the absolute requests/s are lower than the server alone could do,
and the ratio is what counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent

RATE_TARGET = 0.60  # orders/s at least this share of the trivial endpoint's requests/s
P99_TARGET = 2.0  # orders p99 at most this multiple of the trivial endpoint's p99
STALL_TARGET = 0.100  # no order slower than this (seconds)
PASSWORD = "bench password 1"
DEPOSIT = "10000000"
SYMBOL, QUANTITY = "BTC", "0.0001"
MARKET_SEED = "7"
TRIVIAL, ORDERS = "trivial", "orders"
LABELS = {
    TRIVIAL: "GET /healthz (trivial, baseline)",
    ORDERS: f"POST /v1/orders (market, {QUANTITY} {SYMBOL})",
}


# -- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(tmp: Path, synchronous: str) -> dict[str, str]:
    """The environment of the server and of `admin verify`: no inherited ORDERPROC_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERPROC_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(
        XDG_DATA_HOME=str(tmp / "data"),
        XDG_CONFIG_HOME=str(tmp / "config"),
        ORDERPROC_HASH_PROFILE="fast",
        ORDERPROC_RATE_LIMIT="0",
        ORDERPROC_LOGIN_LIMIT="0",
        ORDERPROC_LOG_REQUESTS="0",
        ORDERPROC_SYNCHRONOUS=synchronous,
        ORDERPROC_MARKET_SEED=MARKET_SEED,
        PYTHONUNBUFFERED="1",
    )
    return env


def serve_command(db: Path, port: int, workers: int | None) -> list[str]:
    # --db is the root option of the CLI (`orderproc --db PATH serve`), not an option of `serve`
    cmd = [sys.executable, "-m", "orderproc", "--db", str(db), "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    return cmd


class Server:
    """`orderproc serve` in a subprocess (its own process group), its output in a log file."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path, url: str) -> None:
        self.url = url
        self.log = log
        self.killed = False  # did not stop within the timeout after SIGTERM
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_healthy(self, timeout: float) -> float:
        t0 = time.perf_counter()
        deadline = t0 + timeout
        last: str = "no answer"
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited with status {self.proc.returncode} before answering /healthz")
            try:
                r = httpx.get(self.url + "/healthz", timeout=2.0)
                if r.status_code == 200 and r.json() == {"status": "ok"}:
                    return time.perf_counter() - t0
                last = f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise SystemExit(f"server not healthy after {timeout:.0f} s (last: {last})")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server and all its descendants (live ones), from /proc."""
        ticks = os.sysconf("SC_CLK_TCK")
        stats: dict[int, tuple[int, float]] = {}  # pid -> (ppid, cpu seconds)
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    data = f.read().decode()
            except OSError:
                continue
            rest = data[data.rindex(")") + 2:].split()  # after "pid (comm) "
            stats[int(entry.name)] = (int(rest[1]), (int(rest[11]) + int(rest[12])) / ticks)
        tree, total, grew = {self.proc.pid}, 0.0, True
        while grew:
            grew = False
            for pid, (ppid, _) in stats.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        for pid in tree:
            total += stats.get(pid, (0, 0.0))[1]
        return total

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (uvicorn shuts down gracefully), then SIGKILL to its process group after `timeout`."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"server did not stop within {timeout:.0f} s of SIGTERM; killing it", file=sys.stderr)
                self.killed = True
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        else:  # its workers may outlive it
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._log_file.close()
        return self.proc.returncode

    def log_tail(self, lines: int = 30) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join("  | " + line for line in text[-lines:]) or "  | (no output)"


# -- the load -----------------------------------------------------------------------------------


@dataclass
class Tally:
    """What a phase's tasks saw."""

    latencies: list[float] = field(default_factory=list)  # completed inside the measured window
    statuses: Counter[str] = field(default_factory=Counter)  # inside the window: "200", "429", "ReadTimeout", ...
    orders_2xx: int = 0  # 2xx order answers over the whole phase (warm-up and the tail included)
    first_errors: list[str] = field(default_factory=list)


@dataclass
class Phase:
    kind: str
    seconds: float
    tally: Tally
    client_cpu: float
    server_cpu: float

    @property
    def ok(self) -> int:
        return len(self.tally.latencies) - self.bad

    @property
    def bad(self) -> int:
        return sum(n for status, n in self.tally.statuses.items() if not status.startswith("2"))

    @property
    def rate(self) -> float:
        return len(self.tally.latencies) / self.seconds


@dataclass
class Trader:
    token: str
    holding: bool = False  # bought and not yet sold: the next order is a sell


def new_client(url: str, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=url,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=httpx.Timeout(60.0),
    )


async def setup_traders(url: str, n: int) -> list[Trader]:
    """n users over the API, each logged in with cash deposited."""
    run = uuid.uuid4().hex[:8]
    async with new_client(url, min(n, 10)) as client:
        sem = asyncio.Semaphore(10)

        async def one(i: int) -> Trader:
            async with sem:
                creds = {"username": f"bench{run}-{i}", "password": PASSWORD}
                r = await client.post("/v1/auth/register", json=creds)
                if r.status_code != 201:
                    raise SystemExit(f"register: {r.status_code} {r.text[:300]}")
                r = await client.post("/v1/auth/login", json=creds)
                if r.status_code != 200:
                    raise SystemExit(f"login: {r.status_code} {r.text[:300]}")
                token = r.json()["token"]
                r = await client.post("/v1/cash/deposit", json={"amount": DEPOSIT},
                                      headers={"Authorization": f"Bearer {token}",
                                               "Idempotency-Key": f"deposit-{uuid.uuid4().hex}"})
                if r.status_code != 201:
                    raise SystemExit(f"deposit: {r.status_code} {r.text[:300]}")
                return Trader(token)

        return list(await asyncio.gather(*(one(i) for i in range(n))))


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: one connection, one request at a time.

    Only what this benchmark needs (answers with Content-Length or chunked bodies); it costs the
    load generator a fraction of httpx's CPU per request, so that the server, not the client, is
    what saturates. `aclose()` closes the connection.
    """

    def __init__(self, url: str) -> None:
        host_port = url.split("://", 1)[1]
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                      body: bytes = b"") -> tuple[int, bytes]:
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Accept: */*"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body or method == "POST":
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self._writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        try:
            raw = await self._reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            fields = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    fields[name.strip().lower()] = value.strip()
            if "content-length" in fields:
                data = await self._reader.readexactly(int(fields["content-length"]))
            elif fields.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while size := int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16):
                    chunks.append(await self._reader.readexactly(size + 2))
                await self._reader.readuntil(b"\r\n")
                data = b"".join(c[:-2] for c in chunks)
            else:
                raise ConnectionError(f"answer without a length: {lines[0]}")
            if fields.get("connection", "").lower() == "close":
                await self.aclose()
        except BaseException:
            await self.aclose()
            raise
        return status, data

    async def aclose(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


Client = httpx.AsyncClient | RawClient
TRANSPORT_ERRORS = (httpx.HTTPError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


async def send(client: Client, method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, bytes]:
    if isinstance(client, RawClient):
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        return await client.request(method, path, headers, data)
    r = await client.request(method, path, json=body, headers=headers)
    return r.status_code, await r.aread()


async def worker(client: Client, kind: str, trader: Trader, start: float, end: float, tally: Tally) -> None:
    clock = time.perf_counter
    auth = f"Bearer {trader.token}"
    while clock() < end:
        t0 = clock()
        status: str
        try:
            if kind == TRIVIAL:
                code, data = await send(client, "GET", "/healthz", {})
            else:
                side = "sell" if trader.holding else "buy"
                code, data = await send(client, "POST", "/v1/orders",
                                        {"Authorization": auth, "Idempotency-Key": uuid.uuid4().hex},
                                        {"symbol": SYMBOL, "side": side, "quantity": QUANTITY})
            status = str(code)
            if 200 <= code < 300:
                if kind == ORDERS:
                    tally.orders_2xx += 1
                    trader.holding = not trader.holding
            elif len(tally.first_errors) < 5:
                tally.first_errors.append(f"{code} {data[:300].decode(errors='replace')}")
        except TRANSPORT_ERRORS as exc:
            status = type(exc).__name__
            if len(tally.first_errors) < 5:
                tally.first_errors.append(repr(exc))
        t1 = clock()
        if start <= t1 <= end:
            tally.latencies.append(t1 - t0)
            tally.statuses[status] += 1


async def run_phase(server: Server, clients: list[Client], kind: str, traders: list[Trader],
                    warmup: float, seconds: float) -> Phase:
    tally = Tally()
    begin = time.perf_counter()
    start, end = begin + warmup, begin + warmup + seconds
    tasks = [asyncio.create_task(worker(c, kind, t, start, end, tally)) for c, t in zip(clients, traders, strict=True)]
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    cpu0, srv0 = time.process_time(), server.cpu_seconds()
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    cpu1, srv1 = time.process_time(), server.cpu_seconds()
    await asyncio.gather(*tasks)  # the requests in flight at the end complete (not counted)
    return Phase(kind, seconds, tally, (cpu1 - cpu0) / seconds, (srv1 - srv0) / seconds)


async def drive(server: Server, args: argparse.Namespace) -> tuple[list[Phase], float]:
    t0 = time.perf_counter()
    traders = await setup_traders(server.url, args.clients)
    setup = time.perf_counter() - t0
    clients: list[Client] = [
        RawClient(server.url) if args.client == "raw" else new_client(server.url, 1) for _ in traders
    ]
    phases = []
    try:
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}", file=sys.stderr)
            for kind in (TRIVIAL, ORDERS):
                phase = await run_phase(server, clients, kind, traders, args.warmup, args.seconds)
                phases.append(phase)
                print(f"  {LABELS[kind]:<40} {phase.rate:8.0f} req/s  non-2xx {phase.bad}", file=sys.stderr)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return phases, setup


# -- report -------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def verify_ledger(db: Path, env: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "orderproc", "--db", str(db), "admin", "verify", "--json"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"admin verify exited {done.returncode} without a JSON report:\n"
                         f"{done.stdout[-2000:]}{done.stderr[-2000:]}") from None
    report["exit_status"] = done.returncode
    return dict(report)


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50,
                        help="concurrent connections, one task and one user each (default 50)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per phase (default 10)")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds of load before each phase's measurement, not counted (default 1)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of (trivial, orders); medians are reported (default 1)")
    parser.add_argument("--workers", type=int, default=None,
                        help="passed to `orderproc serve --workers` (default: not given, the server's default)")
    parser.add_argument("--synchronous", type=str.upper, choices=("NORMAL", "FULL"), default="NORMAL",
                        help="the server's SQLite synchronous setting, ORDERPROC_SYNCHRONOUS (default NORMAL)")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="load generator per connection: a minimal asyncio-streams HTTP/1.1 client "
                             "(default) or an httpx.AsyncClient (about 15x the CPU per request: it saturates "
                             "long before the server does)")
    parser.add_argument("--startup-timeout", type=float, default=60.0,
                        help="seconds to wait for /healthz after starting the server (default 60)")
    parser.add_argument("--fail-below-target", action="store_true",
                        help="exit 1 if orders/s is below 60%% of trivial or orders p99 above 2x trivial p99")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or args.warmup < 0 or args.rounds < 1:
        parser.error("clients and rounds >= 1, seconds > 0, warmup >= 0")
    if args.workers is not None and args.workers < 1:
        parser.error("workers >= 1")

    load_before = load_average()
    wall0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="orderproc-bench-") as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / "ledger.db"
        env = server_env(tmp, args.synchronous)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = Server(serve_command(db, port, args.workers), env, tmp / "server.log", url)
        status: int | None = None
        try:
            startup = server.wait_healthy(args.startup_timeout)
            phases, setup = asyncio.run(drive(server, args))
        except BaseException:
            status = server.stop()
            print(f"server log (exit status {status}):\n{server.log_tail()}", file=sys.stderr)
            raise
        status = server.stop()
        # uvicorn re-raises the SIGTERM it caught once it has shut down: -15 is its normal exit
        stopped_cleanly = not server.killed and status in (0, -signal.SIGTERM)
        log_tail = server.log_tail(12)
        report = verify_ledger(db, env)
    wall = time.perf_counter() - wall0

    by_kind = {k: [p for p in phases if p.kind == k] for k in (TRIVIAL, ORDERS)}
    rates = {k: statistics.median(p.rate for p in ps) for k, ps in by_kind.items()}
    lats = {k: sorted(x for p in ps for x in p.tally.latencies) for k, ps in by_kind.items()}
    pct = {k: {q: percentile(v, q) for q in (0.5, 0.9, 0.99)} for k, v in lats.items()}

    print(f"machine: Python {platform.python_version()}, httpx {httpx.__version__}, {os.cpu_count()} CPUs, "
          f"{platform.system()} {platform.machine()}, load average {load_before} before, {load_average()} after")
    workers = f"--workers {args.workers}" if args.workers is not None else "default workers"
    client = "httpx.AsyncClient" if args.client == "httpx" else "raw asyncio client"
    print(f"settings: {args.clients} connections (one task, one {client}, one user each), "
          f"{args.seconds:g} s measured after {args.warmup:g} s warm-up per phase, {args.rounds} round(s), "
          f"server {workers}, synchronous={args.synchronous}; server up in {startup:.2f} s, "
          f"setup of {args.clients} users {setup:.2f} s, whole run {wall:.0f} s")
    print()
    header = (f"{'phase':<40} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
              f"{'max ms':>7} {'non-2xx':>7} {'client CPU':>10} {'server CPU':>10}")
    print(header)
    print("-" * len(header))
    for kind in (TRIVIAL, ORDERS):
        ps = by_kind[kind]
        print(f"{LABELS[kind]:<40} {sum(len(p.tally.latencies) for p in ps):>8} {rates[kind]:>7.0f} "
              f"{pct[kind][0.5] * 1e3:>7.2f} {pct[kind][0.9] * 1e3:>7.2f} {pct[kind][0.99] * 1e3:>7.2f} "
              f"{lats[kind][-1] * 1e3:>7.1f} {sum(p.bad for p in ps):>7} {statistics.median(p.client_cpu for p in ps):>10.0%} "
              f"{statistics.median(p.server_cpu for p in ps):>10.0%}")
    bad = {kind: Counter() for kind in (TRIVIAL, ORDERS)}  # type: dict[str, Counter[str]]
    for p in phases:
        bad[p.kind].update({s: n for s, n in p.tally.statuses.items() if not s.startswith("2")})
    for kind, counts in bad.items():
        if counts:
            firsts = [e for p in by_kind[kind] for e in p.tally.first_errors][:3]
            print(f"  {kind} non-2xx: {dict(counts)}; first: {firsts}")
    if args.rounds > 1:
        per_round = [(o.rate / t.rate, percentile(sorted(o.tally.latencies), 0.99)
                      / percentile(sorted(t.tally.latencies), 0.99))
                     for t, o in zip(by_kind[TRIVIAL], by_kind[ORDERS], strict=True)]
        print("per-round ratios (orders against the trivial phase just before): rate "
              + " ".join(f"{r:.0%}" for r, _ in per_round) + "; p99 " + " ".join(f"{q:.2f}x" for _, q in per_round))
    print()

    client_cpu = statistics.median(p.client_cpu for p in by_kind[TRIVIAL])
    server_cpu = statistics.median(p.server_cpu for p in by_kind[TRIVIAL])
    if client_cpu >= 0.85 or client_cpu >= server_cpu:
        print(f"WARNING: in the trivial phase the load generator used {client_cpu:.0%} of a core, the server "
              f"{server_cpu:.0%}: the trivial req/s is the {args.client} client's limit more than the "
              f"server's, which overstates the ratio below{'; use --client raw' if args.client == 'httpx' else ''}")
        print()
    rate_ratio = rates[ORDERS] / rates[TRIVIAL]
    p99_ratio = pct[ORDERS][0.99] / pct[TRIVIAL][0.99]
    rate_ok, p99_ok = rate_ratio >= RATE_TARGET, p99_ratio <= P99_TARGET
    print(f"target: orders/s >= {RATE_TARGET:.0%} of the trivial endpoint's req/s: {rate_ratio:.0%} "
          f"{'meets' if rate_ok else 'is BELOW'} the target")
    print(f"target: orders p99 <= {P99_TARGET:g}x the trivial endpoint's p99: {p99_ratio:.2f}x "
          f"{'meets' if p99_ok else 'is ABOVE'} the target")
    stall_ok = lats[ORDERS][-1] <= STALL_TARGET
    print(f"target: no order over {STALL_TARGET * 1e3:.0f} ms: the slowest took {lats[ORDERS][-1] * 1e3:.1f} ms, "
          f"{'meets' if stall_ok else 'is ABOVE'} the target")
    # closed loop: each connection sends again once answered, so mean latency = connections / rate
    print(f"(with {args.clients} connections in a closed loop, mean latency is connections / rate, so the p99 "
          f"ratio follows the rate ratio: 1 / {rate_ratio:.0%} = {1 / rate_ratio:.2f}x)")
    print()

    sent_ok = sum(p.tally.orders_2xx for p in by_kind[ORDERS])
    verified = bool(report.get("ok")) and report["exit_status"] == 0
    orders_match = report.get("orders") == sent_ok
    print(f"server stopped on SIGTERM {'cleanly' if stopped_cleanly else 'NOT cleanly'} "
          f"(exit status {status}{', killed after the timeout' if server.killed else ''})")
    if not stopped_cleanly:
        print(log_tail)
    print(f"ledger (admin verify): {'verifies' if verified else 'does NOT verify'}; "
          f"{report.get('orders')} orders in the ledger, {sent_ok} 2xx order answers (warm-up included): "
          f"{'equal' if orders_match else 'MISMATCH'}")
    if not verified:
        print(f"  problems: {report.get('problems', [])[:5]}")

    failed = not verified or not orders_match or any(p.bad for p in phases)
    if failed:
        return 1
    return 1 if args.fail_below_target and not (rate_ok and p99_ok and stall_ok) else 0


if __name__ == "__main__":
    sys.exit(main())
