"""The issue's "Done when", through the real `orderproc` executable in separate processes.

Each command is a fresh process started in an empty folder with the isolated environment of
`cli_env` (which the fixture puts into os.environ, so the children inherit it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import PASSWORD

CONSOLE_SCRIPT = Path(sys.executable).parent / "orderproc"


def orderproc(
    *args: str, cwd: Path, stdin: str | None = None, script: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `python -m orderproc ARGS` (or the installed console script) and wait for it."""
    argv = [str(CONSOLE_SCRIPT)] if script else [sys.executable, "-m", "orderproc"]
    return subprocess.run(
        [*argv, *args],
        cwd=cwd,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def doc(result: subprocess.CompletedProcess[str]) -> Any:
    """The one JSON document a successful `--json` command printed."""
    return json.loads(ok(result).stdout)


@pytest.fixture
def workdir(tmp_path: Path, cli_env: dict[str, str]) -> Path:
    """An empty folder to run in; the ledger itself is wherever ORDERPROC_DB says."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def test_the_done_when_journey_through_the_real_executable(workdir: Path, cli_env: dict[str, str]) -> None:
    ok(orderproc("register", "alice", "--password-stdin", cwd=workdir, stdin=PASSWORD + "\n", script=True))
    ok(orderproc("deposit", "10000", cwd=workdir))
    buy = doc(orderproc("buy", "BTC", "0.01", "--json", cwd=workdir))
    sell = doc(orderproc("sell", "BTC", "0.005", "--json", cwd=workdir, script=True))
    folio = doc(orderproc("portfolio", "--json", cwd=workdir))
    history = doc(orderproc("history", "--json", cwd=workdir))
    verify = ok(orderproc("admin", "verify", cwd=workdir))

    assert (buy["side"], buy["status"], buy["symbol"]) == ("buy", "filled", "BTC")
    assert (sell["side"], sell["status"], sell["symbol"]) == ("sell", "filled", "BTC")
    assert Decimal(buy["quantity"]) == Decimal("0.01")
    assert Decimal(sell["quantity"]) == Decimal("0.005")
    # every decimal travels as a string, so this arithmetic is exact
    expected_cash = Decimal(10000) - Decimal(buy["notional"]) + Decimal(sell["notional"])
    assert isinstance(folio["cash"], str)
    assert Decimal(folio["cash"]) == expected_cash
    assert [(p["symbol"], Decimal(p["quantity"])) for p in folio["positions"]] == [("BTC", Decimal("0.005"))]
    assert [t["kind"] for t in history["items"]] == ["sell", "buy", "deposit"]
    assert history["total"] == 3
    assert sum(Decimal(t["cash"]) for t in history["items"]) == expected_cash
    assert "ok" in verify.stdout
    assert os.listdir(workdir) == []  # nothing was written to the current folder

    # a withdrawal beyond the balance fails with its code and changes nothing
    refused = orderproc("withdraw", "999999999", cwd=workdir)
    assert refused.returncode == 1
    assert "error[insufficient_funds]" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert refused.stdout == ""
    cash = folio["cash"]
    assert doc(orderproc("balance", "--json", cwd=workdir)) == {"cash": cash, "available": cash, "reserved": "0.00",
                                                                "currency": "USD"}
    assert doc(orderproc("history", "--json", cwd=workdir)) == history

    # a retried order with the same key has one effect
    first = doc(orderproc("buy", "ETH", "0.1", "--key", "k1", "--json", cwd=workdir))
    again = doc(orderproc("buy", "ETH", "0.1", "--key", "k1", "--json", cwd=workdir, script=True))
    assert again["id"] == first["id"]
    assert again["client_order_id"] == "k1"
    final = doc(orderproc("portfolio", "--json", cwd=workdir))
    assert Decimal(final["cash"]) == expected_cash - Decimal(first["notional"])
    assert {p["symbol"]: Decimal(p["quantity"]) for p in final["positions"]} == {
        "BTC": Decimal("0.005"),
        "ETH": Decimal("0.1"),
    }
    assert doc(orderproc("admin", "verify", "--json", cwd=workdir))["ok"] is True


def test_a_journey_on_a_ledger_named_with_db_in_another_folder(
    workdir: Path, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    elsewhere = tmp_path / "ledgers"
    elsewhere.mkdir()
    ledger = elsewhere / "club.db"
    db = ("--db", str(ledger))
    ok(orderproc(*db, "register", "bob", "--password-stdin", cwd=workdir, stdin=PASSWORD + "\n"))
    ok(orderproc(*db, "deposit", "500", cwd=workdir, script=True))
    order = doc(orderproc(*db, "buy", "ETH", "--usd", "100", "--json", cwd=workdir))
    folio = doc(orderproc(*db, "portfolio", "--json", cwd=workdir))
    assert Decimal(folio["cash"]) == Decimal(500) - Decimal(order["notional"])
    assert [(p["symbol"], p["quantity"]) for p in folio["positions"]] == [("ETH", order["quantity"])]
    assert doc(orderproc(*db, "admin", "verify", "--json", cwd=workdir))["ok"] is True

    assert ledger.exists()
    assert not Path(cli_env["ORDERPROC_DB"]).exists()  # --db wins over ORDERPROC_DB
    assert os.listdir(workdir) == []
