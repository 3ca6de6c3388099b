"""The real server and the real command line, as a user starts them: a free port of 127.0.0.1,
an environment that is only the test's (no ORDERPROC_ setting inherited; its own data and
config dirs), `python -m orderproc ...`, and `orderproc serve` until a block ends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def orderproc_env(home: Path, **extra: str) -> dict[str, str]:
    """This environment without any ORDERPROC_ setting, data and config under `home`, the fast
    password hash; `extra` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERPROC_")}
    env.update({"XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"),
                "ORDERPROC_HASH_PROFILE": "fast", **extra})
    return env


def run_orderproc(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orderproc", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=60)


@contextmanager
def serving(ledger: Path, port: int, home: Path, log_path: Path, **env: str) -> Iterator[str]:
    """`orderproc serve --db LEDGER --port PORT` until the block ends (stopped with Ctrl+C); its
    URL once it answers /healthz. The log goes to a file (appended), so a full pipe never stalls it.
    `env`: settings on top of orderproc_env(home)."""
    with log_path.open("a") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orderproc", "serve", "--db", str(ledger), "--port", str(port)],
            env=orderproc_env(home, **env), stdout=log, stderr=log, text=True,
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
                raise AssertionError(f"the server did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
