"""The session token cached per ledger (an `Engine.session_key`) in the user's config dir, readable
by its owner only.

A process started for a browser (`orderproc web` marks its terminals with WEB_SESSION) keeps no
cache: the config dir is the serving user's, and each browser logs in for itself. It reads no
token, writes none and forgets none (a browser's logout must not end the serving user's session).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from orderproc.config import sessions_dir

WEB_SESSION = "ORDERPROC_WEB_SESSION"  # set (to anything but empty): this process keeps no cache


def cached() -> bool:
    """Whether this process uses the session cache (not a browser's terminal)."""
    return not os.environ.get(WEB_SESSION)


def _cache_file(ledger: str) -> Path:
    return sessions_dir() / (hashlib.sha256(ledger.encode()).hexdigest()[:24] + ".json")


def load_token(ledger: str) -> str | None:
    if not cached():
        return None
    try:
        data = json.loads(_cache_file(ledger).read_text())
    except (OSError, ValueError):
        return None
    token = data.get("token") if isinstance(data, dict) else None
    return token if isinstance(token, str) and data.get("ledger") == ledger else None


def save_token(ledger: str, username: str, token: str) -> Path | None:
    """Cache `token` for `ledger`; the file, or None when this process keeps no cache."""
    if not cached():
        return None
    folder = sessions_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = _cache_file(ledger)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"ledger": ledger, "username": username, "token": token}, fh)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def forget_token(ledger: str) -> None:
    if cached():
        _cache_file(ledger).unlink(missing_ok=True)
