"""The session token cached per ledger (an `Engine.session_key`) in the user's config dir, readable
by its owner only."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from orderproc.config import sessions_dir


def _cache_file(ledger: str) -> Path:
    return sessions_dir() / (hashlib.sha256(ledger.encode()).hexdigest()[:24] + ".json")


def load_token(ledger: str) -> str | None:
    try:
        data = json.loads(_cache_file(ledger).read_text())
    except (OSError, ValueError):
        return None
    token = data.get("token") if isinstance(data, dict) else None
    return token if isinstance(token, str) and data.get("ledger") == ledger else None


def save_token(ledger: str, username: str, token: str) -> Path:
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
    _cache_file(ledger).unlink(missing_ok=True)
