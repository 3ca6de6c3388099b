"""The config file: settings by name, the environment and options over it, and every mistake in it
reported with the file and the line (never a traceback)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from orderproc import formatting
from orderproc.config import ConfigFile, Settings, config_file
from orderproc.engine import errors


@pytest.fixture
def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The config file of these tests ($ORDERPROC_CONFIG), with no ORDERPROC_* setting around."""
    path = tmp_path / "config.toml"
    monkeypatch.setenv("ORDERPROC_CONFIG", str(path))
    for name in Settings.model_fields:
        monkeypatch.delenv(f"ORDERPROC_{name.upper()}", raising=False)
    yield path


def failure(path: Path, text: str) -> errors.ValidationError:
    path.write_text(text)
    with pytest.raises(errors.ValidationError) as caught:
        Settings.load()
    return caught.value


def test_the_file_is_read_and_the_environment_and_options_win_over_it(
    write: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write.write_text('# mine\ndb = "~/ledgers/main.db"\ntheme = "nord"\nnumber_format = "1.234,56"\n'
                     'account = "swing"\n\n[keys]\n"trade.buy" = "B"\n')
    settings, sources = Settings.load_with_sources()
    assert settings.db_path == Path.home() / "ledgers" / "main.db"
    assert (settings.theme, settings.number_format, settings.account) == ("nord", "1.234,56", "swing")
    assert settings.keys == {"trade.buy": "B"}
    assert sources == {"db": "file", "theme": "file", "number_format": "file", "account": "file", "keys": "file"}

    monkeypatch.setenv("ORDERPROC_THEME", "dracula")
    settings, sources = Settings.load_with_sources(db=str(tmp_path / "x.db"))
    assert settings.theme == "dracula" and sources["theme"] == "env"
    assert settings.db_path == tmp_path / "x.db" and sources["db"] == "option"


def test_a_server_in_the_environment_wins_over_a_ledger_file_in_the_config_and_the_other_way(
    write: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write.write_text('db = "/srv/ledger.db"\n')
    monkeypatch.setenv("ORDERPROC_SERVER", "http://127.0.0.1:8080")
    settings = Settings.load()
    assert settings.server == "http://127.0.0.1:8080" and settings.db is None
    monkeypatch.delenv("ORDERPROC_SERVER")
    write.write_text('server = "http://127.0.0.1:8080"\n')
    monkeypatch.setenv("ORDERPROC_DB", "/tmp/mine.db")
    settings = Settings.load()
    assert settings.server is None and settings.db == "/tmp/mine.db"


def test_no_file_is_all_defaults_and_the_path_is_in_the_config_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ORDERPROC_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_file() == tmp_path / "xdg" / "orderproc" / "config.toml"
    settings, sources = Settings.load_with_sources(config=ConfigFile.read())
    assert settings.number_format == "1,234.56" and settings.keys == {}


def test_an_unknown_setting_names_its_line_and_the_setting_it_was_probably_meant_to_be(write: Path) -> None:
    error = failure(write, 'theme = "nord"\n\nacount = "swing"\n')
    assert error.code == "validation_error"
    assert error.message.startswith(f"{write} line 3: unknown setting 'acount'")
    assert "account" in error.message
    assert error.details == {"file": str(write), "line": 3, "field": "acount"}


def test_an_unknown_table_is_named_with_its_line(write: Path) -> None:
    error = failure(write, 'theme = "nord"\n[colours]\nup = "green"\n')
    assert error.message.startswith(f"{write} line 2: unknown setting 'colours'")


@pytest.mark.parametrize(("text", "line", "says"), [
    ('theme = "nord"\nnumber_format = "euro"\n', 2, "number_format: Input should be '1,234.56'"),
    ('market_speed = "fast"\n', 1, "market_speed"),
    ('[keys]\n"trade.buy" = 3\n', 2, "keys.trade.buy: Input should be a valid string"),
    ('account = ""\n', 1, "account"),
    ('db = "a.db"\nserver = "http://h:1"\n', 2, "not both"),
])
def test_a_bad_value_names_its_line(write: Path, text: str, line: int, says: str) -> None:
    error = failure(write, text)
    assert error.message.startswith(f"{write} line {line}: ")
    assert says in error.message


def test_a_file_that_is_not_toml_names_the_line_of_the_mistake(write: Path) -> None:
    error = failure(write, '# ok\ntheme = "nord"\nnumber_format = 1.234,56\n')
    assert error.message.startswith(f"{write} line 3: ")
    assert error.details["line"] == 3


def test_a_number_format_writes_every_figure_for_people_and_reads_what_they_type() -> None:
    try:
        formatting.use_number_format("1.234,56")
        assert formatting.usd(Decimal("-1234567.891")) == "-$1.234.567,89"
        assert formatting.qty(Decimal("0.015")) == "0,015"
        assert formatting.pct(Decimal("6.1")) == "+6,10%"
        assert formatting.share(Decimal("12.5")) == "12,50%"
        assert formatting.typed_amount("1.234,56") == Decimal("1234.56")
        assert formatting.typed_amount("$0,5") == Decimal("0.5")
        formatting.use_number_format("1 234,56")
        assert formatting.usd(Decimal("1234.5")) == "$1\u00a0234,50"
        assert formatting.typed_amount("1 234,5") == Decimal("1234.5")
        formatting.use_number_format("1234.56")
        assert formatting.usd(Decimal("1234567.5")) == "$1234567.50"
        assert formatting.typed_amount("1,234.56") == Decimal("1234.56")
    finally:
        formatting.use_number_format("1,234.56")
    assert formatting.usd(Decimal("1234.5")) == "$1,234.50"
