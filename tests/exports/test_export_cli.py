"""`orderproc export` end to end: through Typer's runner and as a real process, its files pass
`bean-check` and `hledger check` with the balances `orderproc portfolio` and `pnl` print; CSV
files have headers and ISO 8601 times; usage errors exit 2, domain errors 1."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import PASSWORD
from export_helpers import (
    bean_check,
    beancount_books,
    hledger_books,
    hledger_check,
    passes,
)
from typer.testing import CliRunner, Result

from orderproc import exports
from orderproc.cli.main import app
from orderproc.engine.schemas import Journal

runner = CliRunner()


def cli(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def ok(*args: str, input: str | None = None) -> Result:
    result = cli(*args, input=input)
    assert result.exit_code == 0, result.stderr
    return result


def ok_json(*args: str) -> Any:
    return json.loads(ok(*args, "--json").stdout)


@pytest.fixture
def trader(cli_env: dict[str, str]) -> None:
    """alice, logged in, who deposited, bought three assets (one that beancount renames), sold,
    paid fees and withdrew; and bob, who only deposited."""
    ok("register", "bob", "--password-stdin", input=PASSWORD + "\n")
    ok("deposit", "700")
    ok("admin", "settings", "--taker-fee-bps", "20", "--spread-bps", "30")  # a sale at once still realizes a loss
    ok("register", "alice", "--password-stdin", input=PASSWORD + "\n")
    ok("deposit", "10000")
    ok("buy", "BTC", "--usd", "2500")
    ok("buy", "1INCH", "800")
    ok("buy", "BTC", "--usd", "1000")
    ok("sell", "BTC", "--usd", "3000")
    ok("buy", "ETH", "0.25")
    ok("withdraw", "123.45")


def alice_figures() -> tuple[Any, Any]:
    return ok_json("portfolio"), ok_json("pnl")


def assert_alice_balances(cash: Decimal, units: dict[str, Decimal], cost: dict[str, Decimal], realized: Decimal,
                          fees: Decimal) -> None:
    portfolio, pnl = alice_figures()
    assert cash == Decimal(portfolio["cash"])
    assert units == {p["symbol"]: Decimal(p["quantity"]) for p in portfolio["positions"]}
    assert cost == {p["symbol"]: Decimal(p["cost_basis"]) for p in portfolio["positions"]}
    assert realized == Decimal(pnl["realized_pnl"]) != 0
    assert fees == Decimal(pnl["fees"]) != 0


def journal_of(text: str) -> Journal:
    """A journal with just what reading the tools' books needs: the assets (for beancount's names)."""
    from orderproc.engine.schemas import JournalAsset

    return Journal(as_of=datetime.now(), whole_ledger=False, cost_method="fifo", accounts=[], entries=[],
                   assets=[JournalAsset(symbol=s, name=s, precision=8) for s in ("BTC", "ETH", "1INCH")])


def test_export_beancount_to_a_file_passes_bean_check_with_the_portfolios_figures(trader: None,
                                                                                  tmp_path: Path) -> None:
    path = tmp_path / "x.beancount"
    result = ok("export", "--format", "beancount", "-o", str(path))
    assert result.stdout == "" and "wrote" in result.stderr
    assert passes(bean_check(path)), bean_check(path).stderr
    text = path.read_text()
    assert "alice/main" in text and "bob" not in text
    assert "X-1INCH is 1INCH" in text  # the renamed symbol, documented in the file
    books = beancount_books(path, journal_of(text))
    held = ("BTC", "1INCH", "ETH")
    assert_alice_balances(
        books.amount("Assets:Alice:Main:Cash"), {s: books.amount(f"Assets:Alice:Main:{s}", s) for s in held},
        {s: books.cost_of(f"Assets:Alice:Main:{s}").quantize(Decimal("0.01")) for s in held},
        -books.amount("Income:Alice:Main:Realized"), books.amount("Expenses:Alice:Main:Fees"))


def test_export_hledger_to_stdout_passes_hledger_check_with_the_portfolios_figures(trader: None,
                                                                                  tmp_path: Path) -> None:
    result = ok("export", "-f", "hledger")
    path = tmp_path / "x.journal"
    path.write_text(result.stdout)
    assert passes(hledger_check(path)), hledger_check(path).stderr
    books = hledger_books(path)
    held = ("BTC", "1INCH", "ETH")
    assert_alice_balances(
        books.amount("Assets:Alice:Main:Cash"), {s: books.amount(f"Assets:Alice:Main:{s}", s) for s in held},
        {s: books.cost_of(f"Assets:Alice:Main:{s}") for s in held},
        -books.amount("Income:Alice:Main:Realized"), books.amount("Expenses:Alice:Main:Fees"))


def test_csv_writes_orders_transactions_and_lots_with_headers_and_iso_times(trader: None, tmp_path: Path) -> None:
    folder = tmp_path / "out" / "csv"
    ok("export", "--format", "csv", "--output", str(folder))
    assert sorted(p.name for p in folder.iterdir()) == sorted(exports.CSV_FILES)
    tables = {name: list(csv.DictReader(io.StringIO((folder / name).read_text(), newline="")))
              for name in exports.CSV_FILES}
    with open(folder / "orders.csv", newline="") as f:
        assert tuple(next(csv.reader(f))) == exports.ORDER_COLUMNS
    with open(folder / "transactions.csv", newline="") as f:
        assert tuple(next(csv.reader(f))) == exports.TRANSACTION_COLUMNS
    with open(folder / "lots.csv", newline="") as f:
        assert tuple(next(csv.reader(f))) == exports.LOT_COLUMNS
    orders, moves, lots = tables["orders.csv"], tables["transactions.csv"], tables["lots.csv"]
    assert len(orders) == 5 and len(lots) == 4
    assert {m["kind"] for m in moves} == {"deposit", "buy", "sell", "withdrawal"}
    for row in orders + moves + lots:
        for column in ("created_at", "closed_at", "opened_at"):
            if row.get(column):
                assert datetime.fromisoformat(row[column]).utcoffset() is not None, row[column]
                assert row[column][:10].count("-") == 2 and "T" in row[column]
    portfolio, pnl = alice_figures()
    cash = sum((Decimal(m["amount"]) for m in moves if m["asset"] == "USD"), Decimal(0))
    assert cash == Decimal(portfolio["cash"])
    assert sum((Decimal(o["fee"]) for o in orders), Decimal(0)) == Decimal(pnl["fees"])
    assert sum((Decimal(o["realized_pnl"] or 0) for o in orders), Decimal(0)) == Decimal(pnl["realized_pnl"])
    open_cost = {s: sum((Decimal(lot["remaining_cost"]) for lot in lots if lot["symbol"] == s), Decimal(0))
                 for s in ("BTC", "1INCH", "ETH")}
    assert open_cost == {p["symbol"]: Decimal(p["cost_basis"]) for p in portfolio["positions"]}


def test_usage_errors_exit_2(trader: None, tmp_path: Path) -> None:
    assert cli("export", "-f", "csv").exit_code == 2  # csv needs a directory
    assert cli("export", "-f", "beancount", "-o", str(tmp_path)).exit_code == 2  # a directory, not a file
    assert cli("export", "-f", "ledger").exit_code == 2
    assert cli("export").exit_code == 2
    assert cli("export", "-f", "hledger", "--since", "yesterday").exit_code == 2


def test_domain_errors_exit_1(trader: None) -> None:
    result = cli("export", "-f", "beancount", "--account", "bob/main")
    assert result.exit_code == 1 and "error[forbidden]" in result.stderr
    result = cli("export", "-f", "beancount", "--account", "savings")
    assert result.exit_code == 1 and "error[not_found]" in result.stderr


def test_since_and_account_narrow_the_export(trader: None) -> None:
    everything = ok("export", "-f", "beancount").stdout
    text = ok("export", "-f", "beancount", "--account", "main", "--since", "2000-01-01").stdout
    assert "entries: from 2000-01-01" in text and '"opening balances"' not in text  # nothing was held then
    assert text.count("\n  entry: ") == everything.count("\n  entry: ") > 0


def test_without_a_session_on_a_ledger_file_the_operator_exports_the_whole_ledger(trader: None) -> None:
    ok("logout")
    text = ok("export", "-f", "hledger").stdout
    assert "every customer account of the ledger" in text
    assert "alice/main" in text and "bob/main" in text


def test_the_real_command_writes_a_file_bean_check_and_hledger_accept(trader: None, tmp_path: Path) -> None:
    for form, check in (("beancount", bean_check), ("hledger", hledger_check)):
        path = tmp_path / f"real.{form}"
        done = subprocess.run([sys.executable, "-m", "orderproc", "export", "--format", form, "-o", str(path)],
                              capture_output=True, text=True, env=dict(os.environ), timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert passes(check(path)), check(path).stderr
