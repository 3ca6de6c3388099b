"""Remappable keys and the terminal's settings from the config file: every binding has an id, a
user's keymap moves a key (the footer and the Keys screen say so), a wrong id or key is reported
with its line before the terminal starts, the configured theme and account are used."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from orderproc.config import ConfigFile
from orderproc.engine import errors
from orderproc.engine.schemas import Side
from orderproc.engine.service import LocalEngine
from orderproc.tui.app import OrderprocApp, SessionStore
from orderproc.tui.keymap import all_bindings, checked_keymap
from orderproc.tui.screens.dashboard import DashboardScreen
from orderproc.tui.screens.help import HelpScreen, keys_of
from conftest import PASSWORD
from tui_helpers import MemoryStore, on_page, open_ticket, sign_up, wait_until

TUI = Path(__file__).parents[2] / "orderproc" / "tui"


def config(tmp_path: Path, text: str) -> ConfigFile:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return ConfigFile.read(path)


def test_every_binding_of_the_terminal_has_an_id_of_its_own_module() -> None:
    missing = []
    for source in TUI.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Binding":
                if not any(k.arg == "id" for k in node.keywords):
                    missing.append(f"{source.name}:{node.lineno}")
    assert missing == []
    ids = all_bindings()
    assert len(ids) > 60
    for binding_id in ids:
        scope = binding_id.partition(".")[0]
        assert scope == "app" or (TUI / "screens" / f"{scope}.py").exists(), binding_id
    assert ids["trade.buy"] == ("b", "Buy") and ids["app.quit"] == ("q", "Quit")


def test_a_keymap_of_known_ids_and_keys_is_taken(tmp_path: Path) -> None:
    keys = {"trade.buy": "B", "trade.sell": "S", "app.quit": "ctrl+q,f10", "markets.search": "?",
            "account.deposit": "plus"}
    assert checked_keymap(keys, config(tmp_path, "")) == keys


@pytest.mark.parametrize(("line", "says"), [
    ('"trade.biy" = "B"', "'trade.biy' is not a binding id; did you mean 'trade.buy'?"),
    ('"charts.zoom" = "z"', "'charts.zoom' is not a binding id"),
    ('"buy" = "z"', "'buy' is not a binding id"),
    ('"trade.buy" = "ctrl+shfit+b"', "'shfit' is not a modifier"),
    ('"trade.buy" = "escpae"', "'escpae' is not a key name"),
    ('"trade.buy" = "b,"', "an empty key"),
    ('"trade.buy" = "s"', "'s' is also the key of trade.sell on the same screen"),
])
def test_a_wrong_id_or_key_is_reported_with_its_line(tmp_path: Path, line: str, says: str) -> None:
    file = config(tmp_path, f'theme = "nord"\n\n[keys]\n"app.quit" = "q"\n{line}\n')
    with pytest.raises(errors.ValidationError) as caught:
        checked_keymap(file.data["keys"], file)
    assert caught.value.message.startswith(f"{file.path} line 5: ")
    assert says in caught.value.message


async def test_a_remapped_buy_key_works_shows_in_the_footer_and_the_keys_screen(engine: LocalEngine) -> None:
    await engine.register("alice", PASSWORD)
    token = (await engine.login("alice", PASSWORD)).token
    await engine.deposit(token, "1000")
    app = OrderprocApp(engine, ledger_label="ledger.db", store=MemoryStore(token), price_interval=0.05,
                       keymap={"trade.buy": "B", "trade.sell": "S"})
    async with app.run_test(size=(120, 40)) as pilot:
        await on_page(pilot, DashboardScreen)
        ticket = await open_ticket(pilot, "BTC")
        await pilot.press("escape")  # out of the amount field: the ticket's keys
        await pilot.press("s")  # the old key does nothing now
        assert ticket.side is Side.BUY
        await pilot.press("S")
        assert ticket.side is Side.SELL
        footer = {(k.key, k.description) for k in app.screen.query_one(Footer).query(FooterKey)}
        assert ("B", "Buy") in footer and ("b", "Buy") not in footer
        await pilot.press("B")
        assert ticket.side is Side.BUY
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        rows = {(keys, binding_id) for keys, _, _, _, binding_id in keys_of(app.screen_stack[-2])}
        assert ("S", "trade.sell") in rows and ("s", "trade.sell") not in rows


async def test_the_configured_theme_is_used_and_a_theme_picked_in_the_palette_is_written_to_the_config_file(
    engine: LocalEngine, tmp_path: Path
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('# my settings\ntheme = "nord"  # dark\n\n[keys]\n"trade.buy" = "B"\n')
    store = SessionStore(engine.session_key, path)
    app = OrderprocApp(engine, ledger_label="ledger.db", store=store, price_interval=0.05, theme="nord")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "nord"
        app.theme = "dracula"
        await pilot.pause()
    text = path.read_text()
    assert 'theme = "dracula"' in text and "# my settings" in text and '"trade.buy" = "B"' in text
    assert ConfigFile.read(path).data["theme"] == "dracula"
    # with no theme configured, the one in the file (the palette's last pick) is used
    again = OrderprocApp(engine, ledger_label="ledger.db", store=SessionStore(engine.session_key, path),
                         price_interval=0.05)
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert again.theme == "dracula"


async def test_a_login_trades_the_configured_account_or_says_it_does_not_exist(engine: LocalEngine) -> None:
    await engine.register("alice", PASSWORD)
    token = (await engine.login("alice", PASSWORD)).token
    await engine.create_account(token, "swing")
    app = OrderprocApp(engine, ledger_label="ledger.db", store=MemoryStore(), price_interval=0.05, account="swing")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.click("#username")
        await pilot.press(*"alice")
        await pilot.click("#password")
        await pilot.press(*PASSWORD, "enter")
        await wait_until(pilot, lambda: app.account is not None)
        assert app.account == "swing"
    other = OrderprocApp(engine, ledger_label="ledger.db", store=MemoryStore(), price_interval=0.05, account="nope")
    async with other.run_test(size=(120, 40)) as pilot:
        await sign_up(pilot, "bob")
        await wait_until(pilot, lambda: other.account is not None)
        assert other.account == "main"
        assert any("no paper account 'nope'" in n.message for n in other._notifications)


def test_the_terminal_does_not_start_on_a_wrong_key_and_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('theme = "nord"\n[keys]\n"trade.buy" = "ctrl+shfit+b"\n')
    env = {**os.environ, "ORDERPROC_CONFIG": str(path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "ORDERPROC_HASH_PROFILE": "fast"}
    env.pop("ORDERPROC_DB", None)
    done = subprocess.run([sys.executable, "-m", "orderproc"], env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"error[validation_error]: {path} line 3: trade.buy = 'ctrl+shfit+b': "
                                   "'shfit' is not a modifier (ctrl, shift, alt, meta, super, hyper)")
    assert not (tmp_path / "data").exists()  # no ledger was made
    path.write_text('theme = "nrod"\n')
    done = subprocess.run([sys.executable, "-m", "orderproc"], env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1 and f"{path} line 1: theme 'nrod' is not a theme" in done.stderr
    assert "Traceback" not in done.stderr
