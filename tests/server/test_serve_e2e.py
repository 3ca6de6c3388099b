"""The real thing: `orderproc serve` on a free port of 127.0.0.1, several CLI clients trading on
it at once (each a user with its own config dir, as on separate machines), a RemoteEngine
streaming its quotes, then the ledger file checked by the operator."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_support import free_port, orderproc_env, run_orderproc
from server_helpers import PASSWORD, server  # noqa: F401 (fixture)

from orderproc.engine import errors
from orderproc.engine.remote import RemoteEngine

CLIENTS = 4


def _trader(url: str, home: Path, n: int) -> dict[str, Any]:
    """One client: register, deposit, buy, sell half; what it saw."""
    env = orderproc_env(home, ORDERPROC_PASSWORD=PASSWORD)
    name = f"trader{n}"

    def run(*args: str) -> str:
        done = run_orderproc("--server", url, *args, env=env)
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout

    run("register", name)
    run("deposit", "10000", "--key", f"{name}-deposit")
    bought = json.loads(run("buy", "BTC", "0.01", "--json", "--key", f"{name}-buy"))
    sold = json.loads(run("sell", "BTC", "0.005", "--json"))
    return {"name": name, "env": env, "bought": bought, "sold": sold,
            "portfolio": json.loads(run("portfolio", "--json")), "orders": json.loads(run("orders", "--json"))}


def test_many_cli_clients_trade_on_one_server_and_the_ledger_verifies(server: tuple[str, Path],
                                                                      tmp_path: Path) -> None:
    url, ledger = server
    with ThreadPoolExecutor(CLIENTS) as pool:
        traders = list(pool.map(lambda n: _trader(url, tmp_path / f"client{n}", n), range(CLIENTS)))

    for t in traders:
        cash = 10000 - Decimal(t["bought"]["notional"]) + Decimal(t["sold"]["notional"])
        assert Decimal(t["portfolio"]["cash"]) == cash
        # each sees their own two orders, nobody else's
        assert t["orders"]["total"] == 2
        assert {o["id"] for o in t["orders"]["items"]} == {t["bought"]["id"], t["sold"]["id"]}

    board = run_orderproc("--server", url, "leaderboard", "--json", env=traders[0]["env"])
    assert board.returncode == 0, board.stderr
    assert sorted(r["username"] for r in json.loads(board.stdout)["items"]) == [t["name"] for t in traders]

    forbidden = run_orderproc("--server", url, "admin", "users", env=traders[0]["env"])
    assert forbidden.returncode == 1 and "error[forbidden]" in forbidden.stderr

    metrics = httpx.get(f"{url}/metrics").text
    assert f'orderproc_orders_total{{side="buy",status="filled"}} {CLIENTS}.0' in metrics
    assert f'orderproc_orders_total{{side="sell",status="filled"}} {CLIENTS}.0' in metrics

    verify = run_orderproc("admin", "verify", "--db", str(ledger), "--json", env=orderproc_env(tmp_path / "operator"))
    assert verify.returncode == 0, verify.stderr
    report = json.loads(verify.stdout)
    assert report["ok"] and report["orders"] == 2 * CLIENTS
    assert all(Decimal(total) == 0 for total in report["sums"].values())


async def test_a_remote_engine_streams_quotes_from_a_real_server(server: tuple[str, Path]) -> None:
    url, _ledger = server
    remote = RemoteEngine(url)
    try:
        stream = remote.stream_quotes(interval=0.2)
        first = await anext(stream)
        second = await anext(stream)
        await stream.aclose()
    finally:
        await remote.close()
    assert len(first) == len(second) > 100
    assert {q.symbol for q in first} >= {"BTC", "ETH"}


async def test_a_remote_engine_says_the_server_is_down_when_it_is(tmp_path: Path) -> None:
    remote = RemoteEngine(f"http://127.0.0.1:{free_port()}", retries=1)
    try:
        with pytest.raises(errors.EngineUnavailable):
            await remote.quotes()
    finally:
        await remote.close()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl+C"])
def test_the_server_stops_at_once_with_quote_streams_open_and_ends_them_cleanly(
    tmp_path: Path, stop: signal.Signals
) -> None:
    """Terminals stay connected to the quote stream for hours: a stop must not wait for them,
    and their streams end as streams end (so a terminal shows offline and reconnects)."""
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "orderproc", "serve", "--db", str(tmp_path / "l.db"),
                                 "--port", str(port)], env=orderproc_env(tmp_path), stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(url):
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-2000:]
            time.sleep(0.1)
        streams = [httpx.Client(base_url=url, timeout=httpx.Timeout(10, read=None)) for _ in range(3)]
        opened = [s.stream("GET", "/v1/stream/quotes", params={"interval": 0.5}) for s in streams]
        responses = [o.__enter__() for o in opened]
        lines = [r.iter_lines() for r in responses]
        for it in lines:
            assert next(line for line in it if line.startswith("event:")) == "event: quotes"  # each stream is live
        t0 = time.monotonic()
        proc.send_signal(stop)
        proc.wait(timeout=10)
        stopped = time.monotonic() - t0
        rest = [list(it) for it in lines]  # the streams end: no error, no cut chunk
        for o, s in zip(opened, streams, strict=True):
            o.__exit__(None, None, None)
            s.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert stopped < 2.5  # it took as long as the streams stayed open (forever) before
    assert proc.returncode in (0, -stop)
    assert all(r.status_code == 200 for r in responses)
    assert all(isinstance(r, list) for r in rest)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_serve_on_a_port_another_program_holds_fails_with_one_error_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_orderproc("serve", "--db", str(tmp_path / "ledger.db"), "--port", str(port),
                             env=orderproc_env(tmp_path))
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error[address_in_use]: port {port} on 127.0.0.1 is in use by another program: "
        "stop it, or choose another port with --port"]
    assert done.stdout == ""
    assert not (tmp_path / "ledger.db").exists()  # nothing was made before the check


def test_a_command_without_a_session_on_a_server_that_is_down_says_it_cannot_reach_it(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    done = run_orderproc("--server", f"http://127.0.0.1:{port}", "balance", env=orderproc_env(tmp_path))
    assert done.returncode == 1
    assert done.stderr.startswith(f"error[engine_unavailable]: cannot reach the orderproc server at "
                                  f"http://127.0.0.1:{port}"), done.stderr


def test_a_command_without_a_session_on_a_running_server_says_to_log_in(server: tuple[str, Path],
                                                                       tmp_path: Path) -> None:
    url, _ = server
    done = run_orderproc("--server", url, "balance", env=orderproc_env(tmp_path / "newcomer"))
    assert done.returncode == 1
    assert done.stderr.startswith("error[auth_required]: not logged in to this ledger: run `orderproc login USER`"), \
        done.stderr
