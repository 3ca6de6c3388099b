"""Settings come from ORDERPROC_* variables, options win, and a bad value is a clear validation_error."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderproc.config import Settings
from orderproc.engine import errors


def test_environment_is_read_and_converted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ORDERPROC_DB", str(tmp_path / "x.db"))
    monkeypatch.setenv("ORDERPROC_SYNCHRONOUS", "FULL")
    monkeypatch.setenv("ORDERPROC_MARKET_SEED", "42")
    monkeypatch.setenv("ORDERPROC_TOKEN_TTL_HOURS", "1.5")
    settings = Settings.load()
    assert settings.db_path == tmp_path / "x.db"
    assert settings.synchronous == "FULL"
    assert settings.market_seed == 42
    assert settings.token_ttl_hours == 1.5


def test_an_option_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ORDERPROC_DB", str(tmp_path / "env.db"))
    assert Settings.load(db=tmp_path / "option.db").db_path == tmp_path / "option.db"
    assert Settings.load(db=None).db_path == tmp_path / "env.db"


@pytest.mark.parametrize(("name", "value"), [("SYNCHRONOUS", "sometimes"), ("MARKET_SPEED", "fast"),
                                             ("MARKET_SEED", "1.5"), ("HASH_PROFILE", "md5")])
def test_a_bad_variable_is_named_in_a_validation_error(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(f"ORDERPROC_{name}", value)
    with pytest.raises(errors.ValidationError) as caught:
        Settings.load()
    assert caught.value.code == "validation_error"
    assert f"ORDERPROC_{name}" in caught.value.message
    assert caught.value.details == {"field": name.lower()}
