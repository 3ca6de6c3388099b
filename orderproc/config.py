"""Settings (environment variables prefixed ORDERPROC_) and every path orderproc uses."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_NAME = "orderproc"


def data_dir() -> Path:
    return platformdirs.user_data_path(APP_NAME)


def config_dir() -> Path:
    return platformdirs.user_config_path(APP_NAME)


def default_db_path() -> Path:
    return data_dir() / "ledger.db"


def sessions_dir() -> Path:
    return config_dir() / "sessions"


class Settings(BaseSettings):
    """How to reach the ledger and how to run it; every field can come from ORDERPROC_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="ORDERPROC_", extra="ignore")

    db: Path | None = None
    hash_profile: Literal["strong", "fast"] = "strong"
    synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "NORMAL"
    token_ttl_hours: float = 24 * 7
    market_seed: int | None = None
    market_speed: float = 1.0

    @property
    def db_path(self) -> Path:
        return (self.db or default_db_path()).expanduser()
