"""The real thing: `orderproc serve` on a free port of 127.0.0.1, several CLI clients trading on
it at once (each a user with its own config dir, as on separate machines), a RemoteEngine
streaming its quotes, then the ledger file checked by the operator."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from orderproc.engine import errors
from orderproc.engine.remote import RemoteEngine

PASSWORD = "correct horse battery"
CLIENTS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERPROC_")}
    env.update({"XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"),
                "ORDERPROC_HASH_PROFILE": "fast", **extra})
    return env


def _orderproc(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orderproc", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A running `orderproc serve --db shared.db`; its URL and ledger file."""
    ledger = tmp_path / "shared.db"
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "orderproc", "serve", "--db", str(ledger), "--port", str(port)],
        env=_env(tmp_path / "server"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).json() == {"status": "ok"}:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the server did not start: {proc.communicate(timeout=5)}")
            time.sleep(0.1)
        yield url, ledger
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
        for line in err.splitlines():  # one JSON object a line, never a password or a token
            assert PASSWORD not in line
            if line.startswith("{"):
                assert "Bearer" not in line and "eyJ" not in line


def _trader(url: str, home: Path, n: int) -> dict[str, Any]:
    """One client: register, deposit, buy, sell half; what it saw."""
    env = _env(home, ORDERPROC_PASSWORD=PASSWORD)
    name = f"trader{n}"

    def run(*args: str) -> str:
        done = _orderproc("--server", url, *args, env=env)
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

    board = _orderproc("--server", url, "leaderboard", "--json", env=traders[0]["env"])
    assert board.returncode == 0, board.stderr
    assert sorted(r["username"] for r in json.loads(board.stdout)) == [t["name"] for t in traders]

    forbidden = _orderproc("--server", url, "admin", "users", env=traders[0]["env"])
    assert forbidden.returncode == 1 and "error[forbidden]" in forbidden.stderr

    metrics = httpx.get(f"{url}/metrics").text
    assert f'orderproc_orders_total{{side="buy",status="filled"}} {CLIENTS}.0' in metrics
    assert f'orderproc_orders_total{{side="sell",status="filled"}} {CLIENTS}.0' in metrics

    verify = _orderproc("admin", "verify", "--db", str(ledger), "--json", env=_env(tmp_path / "operator"))
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
    remote = RemoteEngine(f"http://127.0.0.1:{_free_port()}", retries=1)
    try:
        with pytest.raises(errors.EngineUnavailable):
            await remote.quotes()
    finally:
        await remote.close()
