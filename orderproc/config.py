"""Settings (environment variables prefixed ORDERPROC_) and every path orderproc uses."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import platformdirs
import pydantic

from orderproc.engine import is_server_url
from orderproc.engine.errors import ValidationError

APP_NAME = "orderproc"


def data_dir() -> Path:
    return platformdirs.user_data_path(APP_NAME)


def config_dir() -> Path:
    return platformdirs.user_config_path(APP_NAME)


def default_db_path() -> Path:
    return data_dir() / "ledger.db"


def sessions_dir() -> Path:
    return config_dir() / "sessions"


ENV_PREFIX = "ORDERPROC_"


class Settings(pydantic.BaseModel):
    """How to reach the ledger and how to run it; every field can come from ORDERPROC_<NAME>.

    `Settings.load()` reads the environment (pydantic converts and checks the strings); a
    command-line option given to `load` wins over the environment.
    """

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    db: str | None = None  # a ledger file's path, or a postgresql:// URL

    @pydantic.field_validator("db", mode="before")
    @classmethod
    def _path_as_text(cls, value: object) -> object:
        return os.fspath(value) if isinstance(value, os.PathLike) else value
    hash_profile: Literal["strong", "fast"] = "strong"
    synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "NORMAL"
    token_ttl_hours: float = 24 * 7
    market_seed: int | None = None
    market_speed: float = 1.0
    # a server to use instead of a ledger file (ORDERPROC_SERVER / --server)
    server: str | None = None
    # `orderproc serve`: requests per second per client address (0: no limit) and the burst
    # allowed above it; login attempts per minute per account (0: no limit); CORS origins
    # (comma-separated, "*" for any); the largest request body; one JSON log line per request
    rate_limit: float = pydantic.Field(default=100.0, ge=0)
    rate_burst: int = pydantic.Field(default=200, ge=1)
    login_limit: float = pydantic.Field(default=10.0, ge=0)
    cors_origins: str = ""
    max_body_bytes: int = pydantic.Field(default=64 * 1024, ge=1024)
    log_requests: bool = True

    @classmethod
    def load(cls, **options: Any) -> Settings:
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            if (text := os.environ.get(ENV_PREFIX + name.upper())) is not None:
                values[name] = text
        options = {name: value for name, value in options.items() if value is not None}
        if "db" in options and "server" in options:
            raise ValidationError("give a ledger file or a server, not both", {"field": "server"})
        if "db" in options:
            values.pop("server", None)  # a ledger file named on the command line wins over ORDERPROC_SERVER
        values.update(options)
        try:
            return cls.model_validate(values)
        except pydantic.ValidationError as exc:
            problem = exc.errors()[0]
            name = str(problem["loc"][0]) if problem["loc"] else "?"
            source = "option" if name in options else f"environment variable {ENV_PREFIX}{name.upper()}"
            raise ValidationError(f"bad {source}: {problem['msg']}", {"field": name}) from None

    @property
    def db_path(self) -> Path | str:
        """The ledger: a PostgreSQL URL as given, or a file's path (`~` expanded)."""
        if is_server_url(self.db):
            return str(self.db)
        return (Path(self.db) if self.db else default_db_path()).expanduser()
