"""Schemathesis against the real server, every check on: the OpenAPI document is the contract.

`orderproc serve` runs on a free port of 127.0.0.1 over a fresh ledger (rate and login limits
off, so that the run reaches the routes), with a customer and an admin; then `schemathesis run`
reads its `/openapi.json` and runs all its phases (examples, coverage, fuzzing, stateful
sequences through the document's links) with all its checks: no 5xx, only documented statuses
and content types, answers that match their schemas (the error envelope included), schema-valid
requests accepted and schema-invalid ones refused, authentication enforced where the document
says so, the Allow header of a 405. What the run needs (auth, a few listed symbols, cash, one
more check) is in schemathesis_hooks.py, and its per-operation settings in schemathesis.toml.

Derandomized (`--generation-deterministic`, one worker): the same requests every run, the
server's prices aside. About 6,000 cases in 40-60 s here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hostile_helpers import PASSWORD
from serve_support import free_port, orderproc_env, run_orderproc, serving

HERE = Path(__file__).parent
USER, ADMIN = "fuzz-user", "fuzz-admin"  # schemathesis_hooks.py logs in as them
RUN_TIMEOUT = 300  # seconds: a hang fails the test instead of stalling CI
LIMITS_OFF = {"ORDERPROC_RATE_LIMIT": "0", "ORDERPROC_LOGIN_LIMIT": "0", "ORDERPROC_LOG_REQUESTS": "0"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The server's URL and its ledger, with `fuzz-user` (cash deposited) and `fuzz-admin`."""
    ledger = tmp_path / "ledger.db"
    with serving(ledger, free_port(), tmp_path, tmp_path / "server.log", **LIMITS_OFF) as url:
        with httpx.Client(base_url=url, timeout=10) as http:
            for name in (USER, ADMIN):
                assert http.post("/v1/auth/register", json={"username": name, "password": PASSWORD}).status_code == 201
            granted = run_orderproc("--db", str(ledger), "admin", "grant", ADMIN, env=orderproc_env(tmp_path))
            assert granted.returncode == 0, granted.stderr
            token = http.post("/v1/auth/login", json={"username": USER, "password": PASSWORD}).json()["token"]
            deposit = http.post("/v1/cash/deposit", json={"amount": "999999999999.00"},
                                headers={"Authorization": f"Bearer {token}"})
            assert deposit.status_code == 201, deposit.text
        yield url, ledger


def test_schemathesis_with_every_check_finds_nothing_and_orders_reach_the_ledger(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, ledger = served
    env = {k: v for k, v in orderproc_env(tmp_path).items() if not k.startswith("SCHEMATHESIS_")}
    env.update({"SCHEMATHESIS_HOOKS": "schemathesis_hooks", "SCHEMATHESIS_ORDERPROC_URL": url,
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])})
    command = [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(HERE / "schemathesis.toml"),
               "--no-color", "run", f"{url}/openapi.json", "--checks", "all", "--workers", "1",
               "--seed", "1", "--generation-deterministic", "--request-timeout", "5",
               "--report", "junit", "--report-dir", str(tmp_path / "report")]
    # its working directory is the test's: schemathesis keeps a cache of failures in .schemathesis/
    run = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    summary = run.stdout[run.stdout.rfind("SUMMARY"):]
    print(summary)  # the figures, for the record (pytest -s)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]

    operations = len([m for item in httpx.get(f"{url}/openapi.json").json()["paths"].values() for m in item])
    assert re.search(rf"Tested: {operations}\b", summary), summary
    generated = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert generated is not None and int(generated[1]) == int(generated[2]) >= 3000, summary
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in summary, summary

    # the run traded, and left a ledger that balances
    checked = run_orderproc("--db", str(ledger), "admin", "verify", "--json", env=orderproc_env(tmp_path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert report["ok"] and report["orders"] >= 10, report
