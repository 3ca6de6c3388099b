"""The shell's TAB: the installed `orderproc` answers the completion protocol (Typer's) through
the CLI, never by opening the terminal, and creates no ledger (issue 14, item 1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ORDERPROC = Path(sys.executable).parent / "orderproc"  # the console script pip installed


def complete(tmp_path: Path, shell: str, env: dict[str, str]) -> str:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ORDERPROC_", "XDG_"))}
    env = {**clean, "HOME": str(home), "_ORDERPROC_COMPLETE": f"complete_{shell}", **env}
    done = subprocess.run([str(ORDERPROC)], env=env, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert [p for p in home.rglob("*") if p.is_file()] == []  # no ledger, no session, no settings
    return done.stdout


@pytest.mark.parametrize(("shell", "env", "expected"), [
    ("bash", {"COMP_WORDS": "orderproc bu", "COMP_CWORD": "1"}, "buy"),
    ("zsh", {"_TYPER_COMPLETE_ARGS": "orderproc bu"}, '"buy":"Buy SYMBOL'),
    ("fish", {"_TYPER_COMPLETE_ARGS": "orderproc bu", "_TYPER_COMPLETE_FISH_ACTION": "get-args"}, "buy\tBuy SYMBOL"),
])
def test_tab_completes_a_command_through_the_cli(tmp_path: Path, shell: str, env: dict[str, str], expected: str) -> None:
    out = complete(tmp_path, shell, env)
    assert expected in out
    assert "sell" not in out


def test_tab_completes_an_option_of_a_command(tmp_path: Path) -> None:
    out = complete(tmp_path, "bash", {"COMP_WORDS": "orderproc buy BTC 1 --li", "COMP_CWORD": "4"})
    assert out.split() == ["--limit"]


@pytest.mark.parametrize(("words", "expected"), [
    ("orderproc buy ET", ["ETH", "ETC", "ETHFI"]),  # largest first
    ("orderproc quote BT", ["BTC", "BTT"]),
    ("orderproc lots SO", ["SOL", "SOON", "SOSO"]),
    ("orderproc orders --symbol DOG", ["DOGE", "DOG"]),
    ("orderproc buy NOSUCH", []),
])
def test_tab_completes_asset_symbols(tmp_path: Path, words: str, expected: list[str]) -> None:
    out = complete(tmp_path, "bash", {"COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)})
    assert out.split() == expected


def test_zsh_shows_each_symbol_with_its_name(tmp_path: Path) -> None:
    out = complete(tmp_path, "zsh", {"_TYPER_COMPLETE_ARGS": "orderproc sell ET"})
    assert '"ETH":"Ethereum"' in out and '"ETC":"Ethereum Classic"' in out
