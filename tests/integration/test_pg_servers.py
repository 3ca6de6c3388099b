"""N servers on one PostgreSQL ledger: two real `orderproc serve` processes, each on its own free
port of 127.0.0.1, both on the same database (`pg_url`), trading for the same users.

The servers run as bench/server_orders.py runs them: `python -m orderproc --db URL serve`, a clean
environment (no inherited ORDERPROC_* or PG* settings, data and config dirs in tmp_path, cheap
password hashing, rate limits and the request log off), each in a session of its own, ready once
`/healthz` answers. The `servers` fixture stops every server it started at the end of the test,
passed or failed (SIGTERM, then SIGKILL to its process group), before `pg_url` drops the database.

What a user relies on:
- a user trades through either server and sees the same account from both (and the ledger the
  servers share verifies);
- a resting limit order that the price reaches fills exactly once, though both servers run the
  price loop;
- a retried order or deposit (one idempotency key) sent to both servers at once has one effect;
- two servers started at the same moment on an empty database create the schema once.

The resting order is placed where the price is known to go: the market is a pure function of the
ledger's (seed, epoch, speed) and time, so the test rebuilds it from the ledger's meta row and
picks the limit price (and knows the tick and the price of the fill) from the coming seconds.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_support import free_port

from orderproc.engine import errors
from orderproc.engine.prices import Market, load_assets
from orderproc.engine.remote import RemoteEngine
from orderproc.engine.schemas import Order, OrderRequest, OrderStatus, TxKind

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


# -- the servers --------------------------------------------------------------------------------


def server_env(home: Path) -> dict[str, str]:
    """The environment of the servers and of `admin verify`: nothing inherited that configures
    orderproc or libpq; this checkout importable; limits and the request log off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORDERPROC_", "PG"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        ORDERPROC_HASH_PROFILE="fast",
        ORDERPROC_RATE_LIMIT="0",
        ORDERPROC_LOGIN_LIMIT="0",
        ORDERPROC_LOG_REQUESTS="0",
        ORDERPROC_MARKET_SEED="7",
        PYTHONUNBUFFERED="1",
    )
    return env


class Server:
    """`python -m orderproc --db LEDGER serve` in a session of its own, its output in a log file."""

    def __init__(self, name: str, db: str, env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log = folder / f"server-{name}.log"
        cmd = [sys.executable, "-m", "orderproc", "--db", db, "serve", "--host", HOST, "--port", str(self.port)]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> float:
        """Seconds until `/healthz` answered ok; fails with the server's log if it never does."""
        t0 = time.monotonic()
        last = "no answer"
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                pytest.fail(f"server {self.name} exited with status {self.proc.returncode} before answering"
                            f" /healthz:\n{self.log_tail()}")
            try:
                answer = httpx.get(self.url + "/healthz", timeout=2.0)
                if answer.status_code == 200 and answer.json() == {"status": "ok"}:
                    return time.monotonic() - t0
                last = f"{answer.status_code} {answer.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.05)
        pytest.fail(f"server {self.name} not healthy after {timeout:.0f} s (last: {last}):\n{self.log_tail()}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM (uvicorn shuts down gracefully), then SIGKILL to its process group."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:  # whatever is left of its group (it, or a worker outliving it)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()


class Servers:
    """Starts servers on the test's database; the fixture stops them all."""

    def __init__(self, db: str, folder: Path) -> None:
        self.db = db
        self.folder = folder
        self.env = server_env(folder)
        self.started: list[Server] = []

    def spawn(self, name: str) -> Server:
        server = Server(name, self.db, self.env, self.folder)
        self.started.append(server)
        return server

    def start(self, name: str) -> Server:
        server = self.spawn(name)
        server.wait_healthy()
        return server

    def start_two(self) -> tuple[Server, Server]:
        """A, ready (it creates the schema), then B on the same database."""
        return self.start("A"), self.start("B")

    def verify(self) -> dict[str, Any]:
        """`python -m orderproc --db URL admin verify --json`: exits 0 and reports the ledger ok."""
        done = subprocess.run([sys.executable, "-m", "orderproc", "--db", self.db, "admin", "verify", "--json"],
                              cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, f"admin verify exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        report: dict[str, Any] = json.loads(done.stdout)
        assert report["ok"] is True and report["problems"] == [], report
        assert all(Decimal(total) == 0 for total in report["sums"].values()), report["sums"]
        return report

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


@pytest.fixture
def servers(pg_url: str, tmp_path: Path) -> Iterator[Servers]:
    """Servers on this test's empty database; all stopped at the end (before the database is
    dropped), whatever the outcome."""
    group = Servers(pg_url, tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


# -- helpers ------------------------------------------------------------------------------------


async def signed_up(api: RemoteEngine, name: str, cash: str | None = None) -> str:
    await api.register(name, PASSWORD)
    token = (await api.login(name, PASSWORD)).token
    if cash is not None:
        await api.deposit(token, cash, key=f"{name}-first-deposit")
    return token


def order(symbol: str, side: str, **fields: Any) -> OrderRequest:
    return OrderRequest.model_validate({"symbol": symbol, "side": side, **fields})


def ledger_market(db: str) -> Market:
    """The market every server on this ledger prices with, rebuilt from its meta row."""
    import psycopg

    with psycopg.connect(db) as conn:
        meta: dict[str, str] = dict(conn.execute(
            "SELECT key, value FROM meta WHERE key IN ('market_seed', 'market_epoch', 'market_speed')").fetchall())
    return Market(int(meta["market_seed"]), float(meta["market_epoch"]), load_assets(), float(meta["market_speed"]))


def next_low(market: Market, symbol: str, now: int, earliest: int, latest: int) -> tuple[int, Decimal] | None:
    """The first tick in [now+earliest, now+latest] whose price is below every price from `now`
    on: a buy limited to it rests until then and fills at that tick, at that price."""
    low = min(market.price(symbol, t) for t in range(now, now + earliest))
    for tick in range(now + earliest, now + latest + 1):
        price = market.price(symbol, tick)
        if price < low:
            return tick, price
        low = min(low, price)
    return None


async def until(check: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    """Poll the async `check` every 0.2 s until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(0.2)


# -- the tests ------------------------------------------------------------------------------------


async def test_two_users_trade_through_different_servers_and_each_sees_one_account_from_both(
    servers: Servers,
) -> None:
    a, b = servers.start_two()
    async with RemoteEngine(a.url) as on_a, RemoteEngine(b.url) as on_b:
        alice = await signed_up(on_a, "alice", cash="10000")
        bought_a = await on_a.place_order(alice, order("BTC", "buy", quantity="0.01", client_order_id="alice-1"))
        bob = await signed_up(on_b, "bob", cash="5000")
        bought_b = await on_b.place_order(bob, order("ETH", "buy", notional="1200", client_order_id="bob-1"))
        assert bought_a.status is OrderStatus.FILLED and bought_b.status is OrderStatus.FILLED

        alice_cash = Decimal("10000") - bought_a.receipt.total  # type: ignore[union-attr]
        bob_cash = Decimal("5000") - bought_b.receipt.total  # type: ignore[union-attr]
        # the other server: a new login with the same password sees the same account
        alice_on_b = (await on_b.login("alice", PASSWORD)).token
        bob_on_a = (await on_a.login("bob", PASSWORD)).token
        for api, token, cash in ((on_a, alice, alice_cash), (on_b, alice_on_b, alice_cash),
                                 (on_b, bob, bob_cash), (on_a, bob_on_a, bob_cash)):
            balance = await api.balance(token)
            assert (balance.cash, balance.available, balance.reserved) == (cash, cash, Decimal("0.00"))
        # the same orders and position from both servers
        assert [o.id for o in (await on_b.orders(alice_on_b)).items] == [bought_a.id]
        assert await on_b.get_order(alice_on_b, bought_a.id) == bought_a
        assert [o.id for o in (await on_a.orders(bob_on_a)).items] == [bought_b.id]
        alice_positions = (await on_b.portfolio(alice_on_b)).positions
        assert [(p.symbol, p.quantity) for p in alice_positions] == [("BTC", Decimal("0.01"))]
        # the servers share the token key: a session opened on one is good on the other
        assert (await on_b.whoami(alice)).username == "alice"
        assert (await on_a.balance(bob)).cash == bob_cash

    report = servers.verify()
    assert report["orders"] == 2


async def test_a_resting_limit_order_fills_exactly_once_with_both_servers_running_the_price_loop(
    servers: Servers,
) -> None:
    a, b = servers.start_two()
    market = ledger_market(servers.db)
    async with RemoteEngine(a.url) as on_a, RemoteEngine(b.url) as on_b:
        quote = await on_a.quote("BTC")
        # the test's market is the servers' market (else its predictions mean nothing)
        assert quote.price == market.price("BTC", quote.at.timestamp())
        token = await signed_up(on_a, "alice", cash="10000")

        now = math.floor(time.time())
        candidates = {s: next_low(market, s, now, 3, 20) for s in ("BTC", "ETH", "SOL", "XRP", "DOGE", "ADA")}
        found = sorted((hit[0], s, hit[1]) for s, hit in candidates.items() if hit is not None)
        assert found, f"no asset makes a new low in 3-20 s from {now}: pick a wider window"
        tick, symbol, limit = found[0]
        precision = (await on_a.get_asset(symbol)).precision
        quantity = (Decimal(200) / limit).quantize(Decimal(1).scaleb(-precision), rounding=ROUND_DOWN)

        placed = await on_a.place_order(token, order(symbol, "buy", quantity=quantity, type="limit",
                                                     limit_price=limit, time_in_force="gtc",
                                                     client_order_id="rest-1"))
        assert math.floor(time.time()) < tick, "placing the order took too long for the chosen tick"
        assert (placed.status, placed.time_in_force.value, placed.price) == (OrderStatus.NEW, "gtc", None)
        assert placed.reserved > 0
        assert (await on_b.balance(token)).reserved == placed.reserved

        async def filled() -> Order | None:
            seen = await on_b.get_order(token, placed.id)  # read through the other server
            return seen if seen.status is not OrderStatus.NEW else None

        done: Order = await until(filled, max(25.0, tick - time.time() + 15.0), f"order {placed.id} filled")
        await asyncio.sleep(2.5)  # both price loops pass at least twice more: nothing fills it again

        for api in (on_a, on_b):
            again = await api.get_order(token, placed.id)
            assert again == done
            assert again.status is OrderStatus.FILLED
            assert again.closed_at is not None and math.floor(again.closed_at.timestamp()) == tick
            assert (again.price, again.quantity, again.reserved) == (limit, quantity, Decimal(0))
            assert again.receipt is not None and again.receipt.liquidity == "maker"
            cost = again.receipt.total  # notional + fee, as one fill
            balance = await api.balance(token)
            assert (balance.cash, balance.reserved) == (Decimal("10000") - cost, Decimal("0.00"))
            positions = (await api.portfolio(token)).positions
            assert [(p.symbol, p.quantity) for p in positions] == [(symbol, quantity)]
            lots = await api.lots(token)
            assert [(lot.order_id, lot.quantity) for lot in lots] == [(placed.id, quantity)]
            trades = [t for t in (await api.history(token, limit=100)).items if t.order_id == placed.id]
            assert [(t.kind, t.symbol, t.quantity, t.cash) for t in trades] == [(TxKind.BUY, symbol, quantity, -cost)]
            assert (await api.orders(token)).total == 1

    report = servers.verify()
    assert report["orders"] == 1


async def test_one_idempotency_key_sent_to_both_servers_at_once_has_one_effect(servers: Servers) -> None:
    a, b = servers.start_two()
    keys, copies = 8, 3  # each key sent `copies` times to each server, all at once
    # retries=0: each answer is the server's first, not a client retry's
    async with RemoteEngine(a.url, retries=0) as on_a, RemoteEngine(b.url, retries=0) as on_b:
        await on_a.register("alice", PASSWORD)
        token_a = (await on_a.login("alice", PASSWORD)).token
        token_b = (await on_b.login("alice", PASSWORD)).token
        both = ((on_a, token_a), (on_b, token_b)) * copies

        deposits = [await asyncio.gather(*(api.deposit(t, "100", key=f"dep-{k}") for api, t in both))
                    for k in range(keys)]
        for k, txs in enumerate(deposits):
            assert len({tx.id for tx in txs}) == 1, f"dep-{k}: {[tx.id for tx in txs]}"
            assert {(tx.kind, tx.cash, tx.client_key) for tx in txs} == {(TxKind.DEPOSIT, Decimal("100.00"),
                                                                              f"dep-{k}")}

        orders = [await asyncio.gather(*(api.place_order(t, order("SOL", "buy", notional="50",
                                                                  client_order_id=f"ord-{k}"))
                                         for api, t in both))
                  for k in range(keys)]
        for k, answers in enumerate(orders):
            assert len({o.id for o in answers}) == 1, f"ord-{k}: {[o.id for o in answers]}"
            assert all(o == answers[0] for o in answers), f"ord-{k}: the answers differ"
            assert answers[0].status is OrderStatus.FILLED

        # the ledger holds one deposit and one order per key, seen alike from both servers
        spent = sum((placed[0].receipt.total for placed in orders if placed[0].receipt), Decimal(0))
        for api, token in ((on_a, token_a), (on_b, token_b)):
            assert (await api.balance(token)).cash == Decimal(100 * keys) - spent
            page = await api.orders(token, limit=100)
            assert page.total == keys
            assert sorted(o.client_order_id or "" for o in page.items) == sorted(f"ord-{k}" for k in range(keys))
            assert (await api.history(token, kind=TxKind.DEPOSIT, limit=100)).total == keys
            assert (await api.history(token, kind=TxKind.BUY, limit=100)).total == keys

        # a key reused for another request is a conflict on the other server too, and moves nothing
        with pytest.raises(errors.Conflict):
            await on_b.deposit(token_b, "250", key="dep-0")
        with pytest.raises(errors.Conflict):
            await on_a.place_order(token_a, order("SOL", "buy", notional="75", client_order_id="ord-0"))
        assert (await on_a.balance(token_a)).cash == Decimal(100 * keys) - spent

    report = servers.verify()
    assert report["orders"] == keys


async def test_two_servers_started_at_once_on_an_empty_database_create_one_ledger(servers: Servers) -> None:
    a, b = servers.spawn("A"), servers.spawn("B")  # both create the schema at the same moment
    a.wait_healthy()
    b.wait_healthy()
    assert a.proc.poll() is None and b.proc.poll() is None
    async with RemoteEngine(a.url) as on_a, RemoteEngine(b.url) as on_b:
        # one ledger: a user registered on one logs in on the other; the other takes no second one
        await on_a.register("alice", PASSWORD)
        with pytest.raises(errors.UsernameTaken):
            await on_b.register("alice", PASSWORD)
        token = (await on_b.login("alice", PASSWORD)).token
        await on_b.deposit(token, "500", key="first")
        assert (await on_a.balance((await on_a.login("alice", PASSWORD)).token)).cash == Decimal("500.00")
        # and one market: both servers quote the same price in the same second
        for _ in range(5):
            qa, qb = await asyncio.gather(on_a.quote("ETH"), on_b.quote("ETH"))
            if math.floor(qa.at.timestamp()) == math.floor(qb.at.timestamp()):
                assert qa.price == qb.price
                break
        else:
            pytest.fail("the two quotes never fell in the same second")
    servers.verify()


@pytest.fixture(params=["postgresql", "sqlite"])
def shared_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Servers]:
    """Servers on one PostgreSQL database, or on one SQLite file (`--workers N` on one machine)."""
    db = request.getfixturevalue("pg_url") if request.param == "postgresql" else str(tmp_path / "ledger.db")
    group = Servers(db, tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


async def test_the_login_limit_counts_the_attempts_made_on_every_server(shared_ledger: Servers) -> None:
    """Three attempts a minute on one account: spread over two servers, the fourth is refused on
    both (per-process buckets would give each server three, an attacker six)."""
    shared_ledger.env["ORDERPROC_LOGIN_LIMIT"] = "3"
    a, b = shared_ledger.start_two()

    async def login(server: Server, username: str, password: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=server.url) as http:
            return await http.post("/v1/auth/login", json={"username": username, "password": password})

    async with RemoteEngine(a.url) as on_a:
        await on_a.register("alice", PASSWORD)
        await on_a.register("bob", PASSWORD)
    assert (await login(a, "alice", "wrong password 1")).status_code == 401
    assert (await login(b, "alice", "wrong password 2")).status_code == 401
    assert (await login(a, "alice", PASSWORD)).status_code == 200
    for server in (b, a):  # even with the right password, on either server
        refused = await login(server, "Alice", PASSWORD)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "rate_limited"
        # a token every 20 s, the last one taken a moment ago: the wait is nearly all of it
        assert 10 <= int(refused.headers["Retry-After"]) <= 20
    assert (await login(b, "bob", PASSWORD)).status_code == 200  # another account is not held up


async def test_the_quote_stream_runs_on_every_server_with_the_same_prices(servers: Servers) -> None:
    a, b = servers.start_two()

    async def first_events(server: Server, count: int) -> list[dict[str, str]]:
        """The first `count` quote events of the server's stream: {symbol: price} each."""
        events: list[dict[str, str]] = []
        async with httpx.AsyncClient(base_url=server.url, timeout=httpx.Timeout(10, read=10)) as http:
            async with http.stream("GET", "/v1/stream/quotes", params={"interval": 0.5}) as stream:
                assert stream.status_code == 200
                assert stream.headers["content-type"].startswith("text/event-stream")
                async for line in stream.aiter_lines():
                    if line.startswith("data: "):
                        events.append({q["symbol"]: q["price"] for q in json.loads(line[6:])})
                        if len(events) == count:
                            return events
        raise AssertionError(f"the stream of {server.name} ended after {len(events)} events")

    on_a, on_b = await asyncio.gather(first_events(a, 3), first_events(b, 3))
    assert all(len(event) >= 10 for event in on_a + on_b), "every enabled asset is quoted"
    assert set(on_a[0]) == set(on_b[0])
    # one market: the two servers' prices agree whenever their events fall in the same second
    assert any(ea == eb for ea in on_a for eb in on_b), (on_a, on_b)
