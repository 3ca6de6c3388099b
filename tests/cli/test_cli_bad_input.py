"""Bad input through the CLI: a clear `error[code]` (exit 1; with --json the API's error envelope)
or a usage error (exit 2), and no change.

"No change" is checked the way a user would: `balance --json`, the `history --json` total and
`admin verify` before and after.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from conftest import PASSWORD
from orderproc.cli.main import app

runner = CliRunner()

BAD_AMOUNTS = [
    pytest.param("0", id="zero"),
    pytest.param("-5", id="negative"),
    pytest.param("NaN", id="nan"),
    pytest.param("sNaN", id="signalling-nan"),
    pytest.param("Infinity", id="infinity"),
    pytest.param("1e400", id="1e400"),
    pytest.param("1e-400", id="1e-400"),
    pytest.param("1" + "0" * 30, id="10^30-as-digits"),
    pytest.param("1000000000000.01", id="over-the-maximum"),
    pytest.param("0.001", id="a-tenth-of-a-cent"),
    pytest.param("abc", id="letters"),
    pytest.param("1,00", id="badly-grouped-thousands"),
    pytest.param("1e3", id="scientific-notation"),
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
]


def cli(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def ok_json(*args: str) -> Any:
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def fails(result: Result, code: str) -> None:
    """A domain error: exit 1, `error[code]` first on stderr, nothing on stdout."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith(f"error[{code}]: "), result.stderr
    assert result.stdout == ""


def fails_json(result: Result, code: str) -> None:
    """A domain error under --json: exit 1, the API's envelope on stdout, nothing on stderr."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert json.loads(result.stdout)["error"]["code"] == code, result.stdout
    assert result.stderr == ""


def assert_unchanged(cash: str = "1000.00", transactions: int = 1) -> None:
    assert ok_json("balance", "--json")["cash"] == cash
    assert ok_json("history", "--json")["total"] == transactions
    report = ok_json("admin", "verify", "--json")
    assert report["ok"] is True, report["problems"]


@pytest.fixture
def funded(cli_env: dict[str, str]) -> dict[str, str]:
    """`alice` logged in with $1,000 and one transaction."""
    assert cli("register", "alice", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    assert cli("deposit", "1000").exit_code == 0
    return cli_env


# -- cash amounts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_a_bad_cash_amount_is_refused_with_invalid_amount_and_changes_nothing(
    funded: dict[str, str], amount: str
) -> None:
    # `--` ends the options: "-5" is the amount either way
    fails_json(cli("deposit", "--json", "--", amount), "invalid_amount")
    fails(cli("withdraw", "--", amount), "invalid_amount")
    assert_unchanged()


@pytest.mark.parametrize("command", ["deposit", "withdraw"])
def test_a_negative_amount_says_it_must_be_positive_and_changes_nothing(
    funded: dict[str, str], command: str
) -> None:
    for args in ((command, "-5"), (command, "-5", "--key", "k"), (command, "--key", "k", "-$5")):
        result = cli(*args)
        fails(result, "invalid_amount")
        assert result.stderr == "error[invalid_amount]: amount must be positive\n"
    assert_unchanged()


def test_a_negative_quantity_or_amount_of_an_order_says_it_must_be_positive(funded: dict[str, str]) -> None:
    result = cli("buy", "BTC", "-1")
    fails(result, "invalid_amount")
    assert result.stderr == "error[invalid_amount]: quantity must be positive\n"
    result = cli("sell", "BTC", "--usd", "-5")
    fails(result, "invalid_amount")
    assert result.stderr == "error[invalid_amount]: --usd must be positive\n"
    assert_unchanged()


def test_an_unknown_option_beside_a_negative_amount_is_still_a_usage_error(funded: dict[str, str]) -> None:
    result = cli("deposit", "-5", "--jsno")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "No such option: --jsno" in result.stderr
    assert_unchanged()


def test_a_bad_idempotency_key_is_refused_and_changes_nothing(funded: dict[str, str]) -> None:
    for key in ("", "x" * 129, "tab\there", "new\nline"):
        fails(cli("deposit", "5", "--key", key), "validation_error")
        fails(cli("buy", "BTC", "0.0001", "--key", key), "validation_error")
    assert_unchanged()


# -- orders ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        pytest.param(("buy", "BTC", "0.000000001"), "invalid_amount", id="more-decimals-than-btc-has"),
        pytest.param(("buy", "SHIB", "1.5"), "invalid_amount", id="fraction-of-a-whole-unit-asset"),
        pytest.param(("buy", "BTC", "0"), "invalid_amount", id="zero-quantity"),
        pytest.param(("buy", "BTC", "--", "-1"), "invalid_amount", id="negative-quantity"),
        pytest.param(("buy", "BTC", "NaN"), "invalid_amount", id="nan-quantity"),
        pytest.param(("buy", "BTC", "1e400"), "invalid_amount", id="huge-quantity"),
        pytest.param(("buy", "BTC", "1e20"), "invalid_amount", id="quantity-over-the-maximum"),
        pytest.param(("buy", "BTC", "abc"), "invalid_amount", id="letters-quantity"),
        pytest.param(("buy", "BTC", ""), "invalid_amount", id="empty-quantity"),
        pytest.param(("buy", "BTC", "--usd", "0.001"), "invalid_amount", id="usd-tenth-of-a-cent"),
        pytest.param(("buy", "BTC", "--usd", "-5"), "invalid_amount", id="usd-negative"),
        pytest.param(("buy", "BTC", "0.0001", "--max-price", "0"), "invalid_amount", id="zero-price-guard"),
        pytest.param(("buy", "NOPE", "1"), "unknown_asset", id="unknown-symbol"),
        pytest.param(("buy", "BTC'; DROP TABLE users;--", "1"), "unknown_asset", id="sql-in-symbol"),
        pytest.param(("buy", "БТЦ", "1"), "unknown_asset", id="cyrillic-symbol"),
        pytest.param(("buy", "₿", "1"), "unknown_asset", id="currency-sign-symbol"),
        pytest.param(("buy", "", "1"), "unknown_asset", id="empty-symbol"),
        pytest.param(("buy", "X" * 5000, "1"), "unknown_asset", id="very-long-symbol"),
        pytest.param(("buy", "USD", "1"), "unknown_asset", id="cash-is-not-an-asset"),
        pytest.param(("buy", "BTC", "1000"), "insufficient_funds", id="more-than-the-cash"),
        pytest.param(("sell", "BTC", "0.001"), "insufficient_funds", id="sell-what-is-not-held"),
    ],
)
def test_a_bad_order_is_refused_with_its_code_and_changes_nothing(
    funded: dict[str, str], args: tuple[str, ...], code: str
) -> None:
    command, *rest = args
    fails_json(cli(command, "--json", *rest), code)
    assert_unchanged()  # a filled order would show in the history


def test_sql_in_a_symbol_leaves_the_users_table_alone(funded: dict[str, str]) -> None:
    fails(cli("buy", "BTC'; DROP TABLE users;--", "1"), "unknown_asset")
    fails(cli("quote", "'; DELETE FROM users; --"), "unknown_asset")
    fails(cli("orders", "--symbol", "BTC' OR '1'='1"), "unknown_asset")
    assert [u["username"] for u in ok_json("admin", "users", "--json")["items"]] == ["alice"]
    assert ok_json("whoami", "--json")["username"] == "alice"
    assert_unchanged()


def test_an_error_about_a_tiny_holding_shows_a_plain_decimal(funded: dict[str, str]) -> None:
    assert cli("buy", "BTC", "0.00000009").exit_code == 0
    result = cli("sell", "BTC", "1")
    fails(result, "insufficient_funds")
    assert "0.00000009" in result.stderr, result.stderr  # not "9E-8"


# -- registration ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("", id="empty"),
        pytest.param("ab", id="two-chars"),
        pytest.param("a" * 33, id="33-chars"),
        pytest.param("bob'--", id="sql-quote"),
        pytest.param("ålice", id="non-ascii"),
        pytest.param("al ice", id="space"),
        pytest.param("al/ice", id="slash"),
        pytest.param("alice\n", id="newline"),
    ],
)
def test_a_bad_username_is_refused_with_validation_error_and_creates_nobody(
    cli_env: dict[str, str], username: str
) -> None:
    fails(cli("register", username, "--password-stdin", input=PASSWORD + "\n"), "validation_error")
    assert ok_json("admin", "users", "--json")["items"] == []
    assert ok_json("admin", "verify", "--json")["ok"] is True
    fails(cli("whoami"), "auth_required")


@pytest.mark.parametrize(
    "password",
    [pytest.param("1234567", id="seven-chars"), pytest.param("x" * 129, id="129-chars"),
     pytest.param("x" * (1 << 20), id="one-mebibyte")],
)
def test_a_bad_password_is_refused_with_validation_error_and_creates_nobody(
    cli_env: dict[str, str], password: str
) -> None:
    result = cli("register", "alice", "--password-stdin", input=password + "\n")
    fails(result, "validation_error")
    assert password not in result.stderr
    assert ok_json("admin", "users", "--json")["items"] == []


def test_the_username_length_limits_are_inclusive(cli_env: dict[str, str]) -> None:
    for username in ("abc", "a" * 32, "a.b-c_1"):
        assert cli("register", username, "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    assert len(ok_json("admin", "users", "--json")["items"]) == 3


def test_a_username_differing_only_in_case_is_taken(funded: dict[str, str]) -> None:
    fails(cli("register", "ALICE", "--password-stdin", input="another password\n"), "username_taken")
    assert [u["username"] for u in ok_json("admin", "users", "--json")["items"]] == ["alice"]
    assert_unchanged()


# -- the ledger path --------------------------------------------------------------------------------------


def test_a_sqlite_file_of_another_program_is_refused_and_left_untouched(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    other = tmp_path / "other-app.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.close()
    before = other.read_bytes()
    fails(cli("--db", str(other), "register", "alice", "--password-stdin", input=PASSWORD + "\n"), "schema_mismatch")
    fails(cli("--db", str(other), "assets"), "schema_mismatch")
    with sqlite3.connect(other) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # not switched to WAL
        assert conn.execute("SELECT body FROM notes").fetchall() == [("keep me",)]
    conn.close()
    assert other.read_bytes() == before


def test_a_file_that_is_not_a_database_is_refused_and_left_untouched(cli_env: dict[str, str], tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my shopping list\n" * 10)
    fails(cli("--db", str(notes), "assets"), "schema_mismatch")
    assert notes.read_text() == "my shopping list\n" * 10


@pytest.mark.parametrize("where", ["a-directory", "inside-a-file"])
def test_a_db_path_that_cannot_be_a_file_gets_a_clear_error_not_a_traceback(
    cli_env: dict[str, str], tmp_path: Path, where: str
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    db = folder if where == "a-directory" else plain / "ledger.db"
    result = runner.invoke(app, ["--db", str(db), "assets"])
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert result.stderr.startswith("error["), (result.stderr, repr(result.exception))
    assert result.stdout == ""
