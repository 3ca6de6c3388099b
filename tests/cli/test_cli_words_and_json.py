"""What a new user of the CLI reads and types (issue 13): one JSON shape for scripts, amounts as
people write them, one format for money in every message, status words, --help in words.

Typer's runner in this process (the `cli_env` fixture isolates each test); the password prompt
runs in a real terminal (a pty), since the CLI asks only a terminal for a password.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from conftest import PASSWORD
from orderproc.cli.main import app
from orderproc.engine.bound import Bound
from orderproc.engine.schemas import Portfolio, Position

runner = CliRunner()
PAGE_KEYS = {"items", "total", "offset", "limit"}


def cli(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input, catch_exceptions=False, terminal_width=80)


def ok(*args: str) -> str:
    result = cli(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def ok_json(*args: str) -> Any:
    return json.loads(ok(*args, "--json"))


def error_line(*args: str) -> str:
    """The one `error[code]: message` line of a command that must fail with a domain error."""
    result = cli(*args)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    return result.stderr.strip()


@pytest.fixture
def funded(cli_env: dict[str, str]) -> dict[str, str]:
    """`alice` logged in with $1,000."""
    assert cli("register", "alice", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    assert cli("deposit", "1000").exit_code == 0
    return cli_env


# -- 16: --json for scripts ------------------------------------------------------------------------


def test_a_domain_error_under_json_is_the_apis_error_envelope_on_stdout(funded: dict[str, str]) -> None:
    result = cli("withdraw", "5000", "--json")
    assert result.exit_code == 1
    assert result.stderr == ""
    assert json.loads(result.stdout) == {"error": {
        "code": "insufficient_funds", "message": "insufficient funds: $1,000.00 available",
        "details": {"asset": "USD", "available": "1000.00"}}}


def test_a_session_error_under_json_is_an_envelope_too(cli_env: dict[str, str]) -> None:
    result = cli("orders", "--json")
    assert result.exit_code == 1 and result.stderr == ""
    assert json.loads(result.stdout)["error"]["code"] == "auth_required"


def test_every_list_command_prints_one_page_object(funded: dict[str, str]) -> None:
    ok("buy", "ETH", "0.01")
    lists = {
        "history": ok_json("history"), "orders": ok_json("orders"), "lots": ok_json("lots"),
        "leaderboard": ok_json("leaderboard"), "accounts": ok_json("accounts"), "assets": ok_json("assets"),
        "admin users": ok_json("admin", "users"),
    }
    for name, doc in lists.items():
        assert isinstance(doc, dict) and set(doc) == PAGE_KEYS, (name, doc)
        assert doc["items"] and doc["total"] >= len(doc["items"]) and doc["offset"] == 0, (name, doc)
    assert [u["username"] for u in lists["admin users"]["items"]] == ["alice"]
    assert [a["name"] for a in lists["accounts"]["items"]] == ["main"]


def test_assets_limit_shows_the_first_of_them_and_the_total(cli_env: dict[str, str]) -> None:
    every = ok_json("assets")
    first = ok_json("assets", "--limit", "5")
    assert [a["symbol"] for a in first["items"]] == [a["symbol"] for a in every["items"][:5]]
    assert (first["total"], first["offset"], first["limit"]) == (every["total"], 0, 5)
    assert every["total"] >= 98
    assert f"5 of {every['total']} assets" in ok("assets", "--limit", "5")


def test_logout_and_passwd_answer_in_json(funded: dict[str, str]) -> None:
    changed = cli("passwd", "--password-stdin", "--json", input=f"{PASSWORD}\nanother good password\n")
    assert changed.exit_code == 0, changed.stderr
    assert json.loads(changed.stdout)["username"] == "alice"
    assert ok_json("logout") == {"logged_out": True}
    assert json.loads(cli("whoami", "--json").stdout)["error"]["code"] == "auth_required"


def test_the_24h_change_has_the_apis_name_in_json_and_in_words(cli_env: dict[str, str]) -> None:
    assert "change_24h" in ok_json("assets", "--limit", "1")["items"][0]
    assert "change_24h" in ok_json("quote", "BTC")
    assert "Change 24h" in ok("assets", "--limit", "1").splitlines()[0]
    assert "change 24h" in ok("quote", "BTC")


def test_a_loss_that_rounds_to_zero_is_never_written_minus_zero(funded: dict[str, str]) -> None:
    # a cent lost on 1,000 dollars: a return of -0.001%, which rounds to zero
    ok("buy", "ETH", "0.0001")
    ok("sell", "ETH", "0.0001")
    assert "-0.00" not in ok("leaderboard")
    entry = ok_json("leaderboard")["items"][0]
    assert Decimal(entry["pnl"]) < 0
    assert entry["return_pct"] == "0.00"


# -- 17: amounts as people type them --------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "moved"), [("$100", "100.00"), ("10,000", "10000.00"), ("1,234.56", "1234.56"),
                                              ("$1,000", "1000.00")])
def test_a_deposit_takes_dollar_signs_and_thousands_separators(
    funded: dict[str, str], typed: str, moved: str
) -> None:
    assert ok_json("deposit", typed)["cash"] == moved


@pytest.mark.parametrize("typed", ["1,00", "10,0000", "1,0000.5", ",100"])
def test_badly_grouped_thousands_are_refused(funded: dict[str, str], typed: str) -> None:
    assert error_line("deposit", typed).startswith("error[invalid_amount]: amount: write thousands as 1,000")
    assert ok_json("balance")["cash"] == "1000.00"


def test_scientific_notation_is_refused_with_the_plain_form(funded: dict[str, str]) -> None:
    assert error_line("deposit", "1e3") == "error[invalid_amount]: amount is in scientific notation: write 1000"
    assert error_line("buy", "ETH", "1.5E-2").endswith("quantity is in scientific notation: write 0.015")
    assert ok_json("balance")["cash"] == "1000.00"


def test_deposit_of_a_negative_amount_says_it_must_be_positive(funded: dict[str, str]) -> None:
    assert error_line("deposit", "-5") == "error[invalid_amount]: amount must be positive"
    assert error_line("withdraw", "-$5") == "error[invalid_amount]: amount must be positive"


def test_a_reset_and_an_order_take_amounts_as_people_type_them(funded: dict[str, str]) -> None:
    bought = ok_json("buy", "ETH", "--usd", "$100.50")
    assert Decimal(bought["notional"]) <= Decimal("100.50")
    resting = ok_json("buy", "ETH", "0.1", "--limit", "$1,000")
    assert resting["limit_price"] == "1000"
    assert ok_json("accounts", "reset", "--cash", "$2,500", "--yes")["cash"] == "2500.00"


# -- 18: the password's length before its confirmation ----------------------------------------------------


def _in_a_terminal(args: list[str], env: dict[str, str], answers: dict[str, str]) -> tuple[int, str]:
    """Run `orderproc ARGS` in a pty, answering each prompt in `answers` as it appears; its exit
    code and everything it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "orderproc", *args], stdin=slave, stdout=slave, stderr=slave,
                            env={**os.environ, **env}, close_fds=True)
    os.close(slave)
    seen, pending, deadline = b"", dict(answers), time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the child is gone (EIO)
                    break
                if not chunk:
                    break
                seen += chunk
                for prompt in list(pending):
                    # Click writes the prompt, then getpass flushes the input and writes ": "
                    if f"{prompt}: ".encode() in seen.rsplit(b"\n", 1)[-1]:
                        os.write(master, pending.pop(prompt).encode() + b"\n")
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=30), seen.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def test_register_refuses_a_short_password_before_asking_for_it_again(cli_env: dict[str, str]) -> None:
    code, seen = _in_a_terminal(["register", "alice"], cli_env, {"Choose a password": "short"})
    assert code == 1, seen
    assert "error[validation_error]: password must be 8-128 characters" in seen
    assert "Repeat" not in seen
    code, seen = _in_a_terminal(["register", "alice"], cli_env,
                                {"Choose a password": PASSWORD, "Repeat for confirmation": PASSWORD})
    assert code == 0, seen
    assert "Registered and logged in as \x1b[1malice" in seen  # alice in bold


# -- 19: one format for money and quantities in every message -------------------------------------------


def test_insufficient_funds_write_cash_as_dollars_and_quantities_plainly(funded: dict[str, str]) -> None:
    assert error_line("withdraw", "5000") == "error[insufficient_funds]: insufficient funds: $1,000.00 available"
    assert error_line("buy", "BTC", "1") == "error[insufficient_funds]: insufficient funds: $1,000.00 available"
    assert error_line("sell", "BTC", "1") == "error[insufficient_funds]: insufficient funds: you hold 0 BTC"
    ok("buy", "ETH", "0.01")
    ok("sell", "ETH", "0.005", "--limit", "999999")
    assert error_line("sell", "ETH", "0.01") == \
        "error[insufficient_funds]: insufficient funds: you hold 0.005 ETH not held by open orders"


def test_portfolio_signs_a_gain_as_every_other_pnl_and_shows_todays_change(funded: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    position = Position(symbol="ETH", name="Ethereum", quantity=Decimal("0.1"), average_cost=Decimal("3000"),
                        cost_basis=Decimal("300.00"), price=Decimal("3004.80"), market_value=Decimal("300.48"),
                        unrealized_pnl=Decimal("0.48"), allocation=Decimal("30.05"))
    held = Portfolio(cash=Decimal("700.00"), equity=Decimal("1000.48"), market_value=Decimal("300.48"),
                     unrealized_pnl=Decimal("0.48"), day_change=Decimal("-1.25"), positions=[position],
                     as_of=datetime.now(UTC))

    async def portfolio(self: Bound) -> Portfolio:
        return held

    monkeypatch.setattr(Bound, "portfolio", portfolio)
    shown = ok("portfolio")
    assert "+$0.48" in shown.splitlines()[2]  # the position's row
    assert " ".join(shown.split()).endswith("Unrealized P&L +$0.48 Today -$1.25")  # today's change, as the API's


def test_a_key_is_named_on_every_answer_to_a_keyed_request(funded: dict[str, str]) -> None:
    assert ok("deposit", "5", "--key", "cash-1").strip() == "deposit #2: $5.00 (key cash-1)"
    assert ok("buy", "ETH", "0.01", "--key", "order-1").rstrip().endswith("(order #1, key order-1)")


# -- 13: an open order's status --------------------------------------------------------------------------


def test_a_resting_order_reads_open_and_its_json_keeps_the_apis_new(funded: dict[str, str]) -> None:
    resting = ok_json("buy", "ETH", "0.01", "--limit", "1")
    assert resting["status"] == "new"
    assert ok_json("orders")["items"][0]["status"] == "new"
    row = ok("orders").splitlines()[2]
    assert row.split()[-1] == "open", row
    assert ["Status", "open"] in [line.split() for line in ok("orders", "show", str(resting["id"])).splitlines()]
    assert [o["id"] for o in ok_json("orders", "--status", "open")["items"]] == [resting["id"]]
    assert [o["id"] for o in ok_json("orders", "--status", "new")["items"]] == [resting["id"]]
    assert ok("orders", "cancel", str(resting["id"])).startswith("Limit buy of 0.01 ETH canceled")


# -- 21: --help in words -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["history"], ["orders"], ["orders", "show"], ["admin", "audit"], ["serve"],
                                     ["leaderboard"], ["assets"], ["sell"]])
def test_help_gives_numeric_limits_in_words(cli_env: dict[str, str], command: list[str]) -> None:
    shown = ok(*command, "--help")
    assert "<=x<=" not in shown and "x>=" not in shown, shown
    assert "9223372036854775807" not in shown and "9007199254740992" not in shown, shown


def test_help_says_a_page_is_1_to_500(cli_env: dict[str, str]) -> None:
    assert "How many to show (1 to 500)." in ok("history", "--help")
    assert "Port to listen on (0 to 65535)." in ok("serve", "--help")


@pytest.mark.parametrize("group", [[], ["orders"], ["accounts"], ["admin"]])
def test_help_lists_every_subcommand_with_a_whole_description(cli_env: dict[str, str], group: list[str]) -> None:
    commands = ok(*group, "--help").split("Commands:")[1]
    cut = [line for line in commands.splitlines() if line.rstrip().endswith("...")]
    assert cut == []
