"""Settings (the config file, then environment variables prefixed ORDERPROC_, then options) and
every path orderproc uses.

The config file is TOML, `config.toml` in the user's config dir (or $ORDERPROC_CONFIG): every
setting by its name (`db = "~/ledgers/main.db"`, `theme = "nord"`) and a `[keys]` table of
binding ids and keys (`"trade.buy" = "B"`). A wrong name or value is a validation_error that
names the file and the line.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
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
CONFIG_ENV = ENV_PREFIX + "CONFIG"


def config_file() -> Path:
    """The config file: $ORDERPROC_CONFIG, else config.toml in the user's config dir."""
    named = os.environ.get(CONFIG_ENV)
    return Path(named).expanduser() if named else config_dir() / "config.toml"


_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TABLE = re.compile(r"^\s*\[\s*([^\]]*?)\s*\]")
_KEY = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*=""")


@dataclass(frozen=True)
class ConfigFile:
    """The config file as read: its path, its text and what it says (empty when there is none)."""

    path: Path
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path | None = None) -> ConfigFile:
        path = path or config_file()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError(f"cannot read the config file {path}: {exc}", {"file": str(path)}) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            where = _TOML_WHERE.search(message)
            line = int(where.group(1)) if where else None
            raise cls(path, text).error(_TOML_WHERE.sub("", message).lower(), line=line) from None
        return cls(path, text, data)

    def line_of(self, name: str, table: str | None = None) -> int | None:
        """The line that sets `name` (in `[table]`, else at the top), if it can be found."""
        current: str | None = None
        for number, line in enumerate(self.text.splitlines(), 1):
            if header := _TABLE.match(line):
                current = header.group(1).strip('"\'')
                if table is None and current == name:
                    return number
            elif (key := _KEY.match(line)) and current == table and name in key.groups():
                return number
        return None

    def error(self, message: str, *, line: int | None = None, name: str | None = None,
              table: str | None = None) -> ValidationError:
        """A validation_error naming the file and the line (`line`, or the one that sets `name`)."""
        if line is None and name is not None:
            line = self.line_of(name, table)
        where = f"{self.path}" + (f" line {line}" if line else "")
        details: dict[str, Any] = {"file": str(self.path), "line": line}
        if name is not None:
            details["field"] = f"{table}.{name}" if table else name
        return ValidationError(f"{where}: {message}", details)


NUMBER_FORMATS = ("1,234.56", "1.234,56", "1 234,56", "1234.56")


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
    # the surfaces: the paper account a new session trades (else the user's first, "main"), the
    # terminal's theme (else the one last picked in its palette), how numbers are written for
    # people (thousands and decimal marks; JSON output is never affected), and the terminal's
    # keys: binding id -> keys (the config file's [keys] table only)
    account: str | None = pydantic.Field(default=None, min_length=1, max_length=32)
    theme: str | None = None
    number_format: Literal["1,234.56", "1.234,56", "1 234,56", "1234.56"] = "1,234.56"
    keys: dict[str, str] = pydantic.Field(default_factory=dict)

    @classmethod
    def load(cls, **options: Any) -> Settings:
        return cls.load_with_sources(**options)[0]

    @classmethod
    def load_with_sources(cls, *, config: ConfigFile | None = None, **options: Any) -> tuple[Settings, dict[str, str]]:
        """The settings, and where each one that is not a default came from ("file", "env",
        "option"): the config file, then the environment, then `options` (None: not given)."""
        config = config if config is not None else ConfigFile.read()
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for name, value in config.data.items():
            if name not in cls.model_fields:
                known = ", ".join(sorted(cls.model_fields))
                raise config.error(f"unknown setting {name!r} (the settings: {known})", name=name)
            values[name], sources[name] = value, "file"
        if "db" in config.data and "server" in config.data:
            raise config.error("give a ledger file (db) or a server, not both", name="server")
        for name in cls.model_fields:
            if name != "keys" and (text := os.environ.get(ENV_PREFIX + name.upper())) is not None:
                values[name], sources[name] = text, "env"
        options = {name: value for name, value in options.items() if value is not None}
        if "db" in options and "server" in options:
            raise ValidationError("give a ledger file or a server, not both", {"field": "server"})
        if "db" in options or (sources.get("db") == "env" and sources.get("server") == "file"):
            # a ledger file named on the command line wins over ORDERPROC_SERVER, one named in the
            # environment over the config file's server
            values.pop("server", None)
            sources.pop("server", None)
        elif sources.get("server") == "env" and sources.get("db") == "file":
            values.pop("db", None)
            sources.pop("db", None)
        values.update(options)
        sources.update(dict.fromkeys(options, "option"))
        try:
            return cls.model_validate(values), sources
        except pydantic.ValidationError as exc:
            problem = exc.errors()[0]
            loc = [str(part) for part in problem["loc"]]
            name = loc[0] if loc else "?"
            if sources.get(name) == "file":
                table, key = ("keys", loc[1]) if name == "keys" and len(loc) > 1 else (None, name)
                raise config.error(f"{'.'.join(loc)}: {problem['msg']}", name=key, table=table) from None
            source = "option" if name in options else f"environment variable {ENV_PREFIX}{name.upper()}"
            raise ValidationError(f"bad {source}: {problem['msg']}", {"field": name}) from None

    @property
    def db_path(self) -> Path | str:
        """The ledger: a PostgreSQL URL as given, or a file's path (`~` expanded)."""
        if is_server_url(self.db):
            return str(self.db)
        return (Path(self.db) if self.db else default_db_path()).expanduser()
