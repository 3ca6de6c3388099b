"""Arbitrary command-line arguments: `orderproc` exits 0, 1 with one `error[code]: message` line on
stderr (with --json the API's error envelope on stdout), or 2 (a usage error); never with a traceback; and a command that fails changes nothing in
the ledger (`ledger_snapshot`, less the audit rows a rejection writes on purpose).

Arguments are what a shell can pass: any text without NUL, including confusables, and the lone
surrogates \\udc80-\\udcff that Python makes of bytes that are not UTF-8 (`orderproc login $'\\xff'`).
Typer's CliRunner runs the commands in-process on the `cli_env` ledger; two real subprocesses show
the counterexamples found as a user would see them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hostile_helpers import CONFUSABLE_TEXT, NUMBER_TEXT, PASSWORD, amount_text, changed_tables, ledger_snapshot
from orderproc.cli.main import app
from orderproc.engine.catalog import ASSET_SORT_FIELDS, TX_KINDS
from orderproc.engine.errors import ERRORS_BY_CODE

runner = CliRunner()
ERROR_LINE = re.compile(r"error\[([a-z_]+)\]: .+")
EXAMPLES = 40

# -- what a shell can pass ------------------------------------------------------------------------------

ARGV_SURROGATES = ["\udcff", "\udc80abc", "BTC\udcff", "al\udcc3\udca9ce"]  # bytes 0xFF, 0x80; "é" read under LANG=C
shell_text = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20),
    st.sampled_from([t for t in CONFUSABLE_TEXT + NUMBER_TEXT if "\x00" not in t
                     and not any(0xD800 <= ord(c) <= 0xDFFF for c in t)]),
    st.sampled_from(ARGV_SURROGATES),
)
stdin_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\n\r"), max_size=40)


def usually(good: st.SearchStrategy[str], other: st.SearchStrategy[str] = shell_text) -> st.SearchStrategy[str]:
    """Plausible two times in three, anything else otherwise."""
    return st.sampled_from((True, True, False)).flatmap(lambda plausible: good if plausible else other)


amounts = usually(st.one_of(st.decimals(min_value=1, max_value=50, places=2).map(str), amount_text))
symbols = usually(st.sampled_from(["BTC", "eth", "DOGE", "USD", "SHIB"]))
numbers = usually(st.one_of(st.integers(-3, 600).map(str),
                            st.sampled_from(["9" * 20, str(2**63), "1" + "0" * 400, "\uff11", "\u0661", "1e3", "0x10",
                                             " 5", "", "-0", "+3", "5.0", "1_0"])))
keys = usually(st.text(st.characters(codec="ascii", min_codepoint=33), min_size=1, max_size=10))
names = usually(st.sampled_from(["alice", "ALICE", "carol", "nobody", "new.user-1"]))
passwords = usually(st.sampled_from([PASSWORD, "a wrong password", "short"]), stdin_text)


def option(flag: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """Absent, `--flag value` or `--flag=value`."""
    return st.one_of(st.just([]), values.map(lambda v: [flag, v]), values.map(lambda v: [f"{flag}={v}"]))


def flag(name: str) -> st.SearchStrategy[list[str]]:
    return st.sampled_from([[], [name]])


def command(*parts: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
    return st.tuples(*parts).map(lambda lists: [arg for part in lists for arg in part])


def word(value: str) -> st.SearchStrategy[list[str]]:
    return st.just([value])


def positional(values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """A positional argument, sometimes after `--` (so that "-5" is a value, not an option)."""
    return st.one_of(values.map(lambda v: [v]), values.map(lambda v: ["--", v]))


def one_of_words(*values: str) -> st.SearchStrategy[list[str]]:
    return st.sampled_from([[v] for v in values])


Invocation = tuple[list[str], str | None]  # arguments, standard input


def no_input(args: st.SearchStrategy[list[str]]) -> st.SearchStrategy[Invocation]:
    return args.map(lambda a: (a, None))


FAMILIES: dict[str, st.SearchStrategy[Invocation]] = {
    "cash": no_input(command(one_of_words("deposit", "withdraw"), option("--key", keys), flag("--json"),
                             positional(amounts))),
    "orders": no_input(st.one_of(
        command(word("buy"), option("--key", keys), option("--max-price", amounts), option("--usd", amounts),
                positional(symbols), st.one_of(st.just([]), positional(amounts))),
        command(word("sell"), option("--key", keys), option("--min-price", amounts), option("--usd", amounts),
                positional(symbols), st.one_of(st.just([]), positional(amounts))),
    )),
    "reads": no_input(st.one_of(
        command(word("quote"), flag("--json"), positional(symbols)),
        command(word("assets"), option("--search", shell_text), option("--category", usually(st.just("defi"))),
                option("--sort", usually(st.sampled_from(ASSET_SORT_FIELDS))), flag("--desc")),
        command(word("history"), option("--kind", usually(st.sampled_from(TX_KINDS))), option("--offset", numbers),
                option("--limit", numbers), flag("--json")),
        command(word("orders"), option("--symbol", symbols), option("--offset", numbers), option("--limit", numbers)),
        command(word("leaderboard"), option("--sort", usually(st.sampled_from(["equity", "return"]))),
                option("--limit", numbers)),
        command(one_of_words("admin"), word("audit"), option("--offset", numbers), option("--limit", numbers)),
    )),
    "users": st.one_of(
        st.tuples(command(one_of_words("login", "register"), positional(names), word("--password-stdin")),
                  passwords.map(lambda p: p + "\n")),
        st.tuples(command(word("passwd"), word("--password-stdin")),
                  st.tuples(passwords, passwords).map(lambda pair: f"{pair[0]}\n{pair[1]}\n")),
        no_input(command(word("profile"), option("--display-name", shell_text),
                         option("--email", usually(st.sampled_from(["a@b.co", ""]) | st.emails()))))),
    "admin": no_input(st.one_of(
        command(word("admin"), word("grant"), positional(usually(st.sampled_from(["carol", "nobody"]))),
                option("--role", usually(st.sampled_from(["admin", "customer"])))),
        command(word("admin"), one_of_words("disable", "enable"), positional(usually(st.sampled_from(["carol", "nobody"])))),
    )),
}


@pytest.fixture
def ledger(cli_env: dict[str, str]) -> Path:
    """carol registered; alice registered (the session the commands run as), with $1,000 and ETH."""
    for name in ("carol", "alice"):
        assert runner.invoke(app, ["register", name, "--password-stdin"], input=PASSWORD + "\n").exit_code == 0
    assert runner.invoke(app, ["deposit", "1000"]).exit_code == 0
    assert runner.invoke(app, ["buy", "ETH", "0.1"]).exit_code == 0
    return Path(cli_env["ORDERPROC_DB"])


def invoke(ledger: Path, args: list[str], stdin: str | None) -> None:
    """Run one command: exit 0, 1 with one error line, or 2; a failure changed nothing."""
    before = ledger_snapshot(ledger)
    result = runner.invoke(app, args, input=stdin)
    shown = f"orderproc {args!r}: exit {result.exit_code}, stderr {result.stderr[-500:]!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"{shown}: raised {type(result.exception).__name__}: {result.exception}"
    assert result.exit_code in (0, 1, 2), shown
    assert "Traceback" not in result.stdout + result.stderr, shown
    if result.exit_code == 1 and "--json" in args:  # the API's envelope on stdout, as one document
        assert set(json.loads(result.stdout)["error"]) == {"code", "message", "details"}, shown
        assert json.loads(result.stdout)["error"]["code"] in ERRORS_BY_CODE, shown
        assert result.stderr == "", shown
    elif result.exit_code == 1:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and ERROR_LINE.fullmatch(lines[0]), shown
        assert ERROR_LINE.fullmatch(lines[0]).group(1) in ERRORS_BY_CODE, shown  # type: ignore[union-attr]
        assert result.stdout == "", shown
    if result.exit_code == 2:
        assert "Error" in result.stderr or "Usage" in result.stderr, shown
    if result.exit_code != 0:
        assert changed_tables(before, ledger_snapshot(ledger)) == [], shown


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_any_arguments_exit_0_1_or_2_without_a_traceback_and_a_failure_changes_nothing(
    ledger: Path, family: str
) -> None:
    # no shrinking: the failure names the command line, and each shrink step is a whole command
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(invocation=FAMILIES[family])
    def one_command(invocation: Invocation) -> None:
        invoke(ledger, *invocation)

    one_command()
    result = runner.invoke(app, ["admin", "verify", "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr


# -- the counterexamples found so far, one case each ---------------------------------------------------------

FOUND: list[Any] = [
    pytest.param(["history", "--offset", "9" * 20], None, id="history-offset-over-int64"),
    pytest.param(["orders", "--offset", str(2**63)], None, id="orders-offset-over-int64"),
    pytest.param(["admin", "audit", "--offset", "9" * 20], None, id="admin-audit-offset-over-int64"),
    pytest.param(["login", "\udcff", "--password-stdin"], PASSWORD + "\n", id="login-a-name-that-is-not-utf8"),
    pytest.param(["admin", "grant", "\udcff"], None, id="admin-grant-a-name-that-is-not-utf8"),
    pytest.param(["admin", "disable", "car\udcc3\udca9"], None, id="admin-disable-a-name-that-is-not-utf8"),
]


@pytest.mark.parametrize(("args", "stdin"), FOUND)
def test_an_argument_found_before_fails_cleanly_and_changes_nothing(
    ledger: Path, args: list[str], stdin: str | None
) -> None:
    invoke(ledger, args, stdin)


def test_a_real_command_line_with_a_name_that_is_not_utf8_gets_an_error_line_not_a_traceback(
    ledger: Path, cli_env: dict[str, str]
) -> None:
    env = {**os.environ, **cli_env}
    done = subprocess.run([sys.executable.encode(), b"-m", b"orderproc", b"login", b"\xff", b"--password-stdin"],
                          env=env, input=PASSWORD + "\n", capture_output=True, text=True, errors="replace", timeout=60)
    assert done.returncode == 1, done.stderr[-1000:]
    assert "Traceback" not in done.stderr, done.stderr[-1000:]
    assert ERROR_LINE.fullmatch(done.stderr.strip()), done.stderr[-1000:]


def test_a_real_command_line_with_an_offset_beyond_any_ledger_is_a_usage_error(
    ledger: Path, cli_env: dict[str, str]
) -> None:
    env = {**os.environ, **cli_env}
    done = subprocess.run([sys.executable, "-m", "orderproc", "history", "--offset", "9" * 20], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr[-1000:]
    assert "Traceback" not in done.stderr and "--offset" in done.stderr, done.stderr[-1000:]

