"""`--db` and `--server` choose the ledger wherever they appear on the command line."""

from __future__ import annotations

import pytest

from orderproc.entry import hoist_global_options


@pytest.mark.parametrize(("given", "expected"), [
    (["serve", "--db", "x.db", "--port", "9"], ["--db", "x.db", "serve", "--port", "9"]),
    (["admin", "verify", "--db=x.db", "--json"], ["--db", "x.db", "admin", "verify", "--json"]),
    (["leaderboard", "--server", "http://h:1"], ["--server", "http://h:1", "leaderboard"]),
    (["--db", "x.db"], ["--db", "x.db"]),
    (["buy", "BTC", "1", "--", "--db"], ["buy", "BTC", "1", "--", "--db"]),
    (["balance", "--db"], ["balance", "--db"]),  # no value: Typer reports the usage error
])
def test_global_options_move_before_the_command(given: list[str], expected: list[str]) -> None:
    assert hoist_global_options(given) == expected
