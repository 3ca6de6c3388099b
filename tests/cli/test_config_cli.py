"""`orderproc config path|show`, and the config file as every command reads it: the default
account of a login, the number format, a mistake reported with its line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from orderproc.cli.main import app
from conftest import PASSWORD

runner = CliRunner()


def cli(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def config_path(cli_env: dict[str, str]) -> Path:
    return Path(cli_env["XDG_CONFIG_HOME"]) / "orderproc" / "config.toml"


def write_config(cli_env: dict[str, str], text: str) -> Path:
    path = config_path(cli_env)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_config_path_names_the_file_in_the_config_dir_and_creates_nothing(cli_env: dict[str, str]) -> None:
    done = cli("config", "path")
    assert done.exit_code == 0
    assert done.stdout.strip() == str(config_path(cli_env))
    assert not config_path(cli_env).exists()


def test_config_show_gives_each_setting_and_where_it_comes_from(cli_env: dict[str, str], monkeypatch) -> None:
    write_config(cli_env, 'theme = "nord"\nnumber_format = "1.234,56"\n[keys]\n"trade.buy" = "B"\n')
    monkeypatch.setenv("ORDERPROC_THEME", "dracula")
    doc = json.loads(cli("config", "show", "--json").stdout)
    assert doc["file"] == str(config_path(cli_env)) and doc["exists"] is True
    settings = doc["settings"]
    assert settings["theme"] == {"value": "dracula", "from": "env"}
    assert settings["number_format"] == {"value": "1.234,56", "from": "file"}
    assert settings["keys"] == {"value": {"trade.buy": "B"}, "from": "file"}
    assert settings["db"] == {"value": cli_env["ORDERPROC_DB"], "from": "env"}
    assert settings["market_speed"] == {"value": 1.0, "from": "default"}
    shown = cli("config", "show").stdout
    assert "trade.buy = B" in shown and "dracula" in shown


def test_a_mistake_in_the_config_file_stops_every_command_with_its_line_and_no_traceback(
    cli_env: dict[str, str]
) -> None:
    path = write_config(cli_env, 'theme = "nord"\nnumber_fromat = "1.234,56"\n')
    for args in (["balance"], ["config", "show"], ["quote", "BTC"]):
        done = cli(*args)
        assert done.exit_code == 1
        assert done.stderr.startswith(f"error[validation_error]: {path} line 2: unknown setting 'number_fromat'")
        assert "Traceback" not in done.output
    done = cli("config", "show", "--json")
    assert json.loads(done.stdout)["error"]["details"] == {"file": str(path), "line": 2, "field": "number_fromat"}


def test_a_login_trades_the_configured_account_and_figures_follow_the_number_format(cli_env: dict[str, str]) -> None:
    assert cli("register", "alice", "--password-stdin", input=PASSWORD).exit_code == 0
    assert cli("accounts", "create", "swing").exit_code == 0
    write_config(cli_env, 'account = "swing"\nnumber_format = "1.234,56"\n')
    done = cli("login", "alice", "--password-stdin", input=PASSWORD)
    assert done.exit_code == 0 and "trading swing" in done.stdout
    assert cli("deposit", "1234,5").stdout.strip() == "deposit #1: $1.234,50"
    assert json.loads(cli("balance", "--json").stdout)["cash"] == "1234.50"  # JSON is never localized
    write_config(cli_env, 'account = "nope"\n')
    done = cli("login", "alice", "--password-stdin", input=PASSWORD)
    assert done.exit_code == 0
    assert "warning: you have no paper account 'nope'" in done.stderr
