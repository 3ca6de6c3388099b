"""`orderproc keys` in a real subprocess on a ledger file: `create` prints the key id and the
secret once, with a note saying so; `list` (and `keys`) never shows a secret; `revoke` ends the
key; a key that is no one's is `error[not_found]`, exit 1; a bad option is a usage error, exit 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import PASSWORD
from serve_support import orderproc_env, run_orderproc

from orderproc.engine.apikeys import key_credential


def test_keys_are_made_listed_and_revoked_from_the_command_line(tmp_path: Path) -> None:
    env = orderproc_env(tmp_path, ORDERPROC_DB=str(tmp_path / "ledger.db"), ORDERPROC_PASSWORD=PASSWORD)

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = run_orderproc(*args, env=env)
        assert done.returncode == code, (args, done.stdout, done.stderr)
        return done

    run("register", "alice")
    run("deposit", "100")
    made = run("keys", "create", "--name", "my bot")
    words = made.stdout.split()
    key_id, secret = words[words.index("id") + 1], words[words.index("secret") + 1]
    assert key_id.startswith("PK") and len(key_id) == 20
    assert "shown this once" in made.stdout and "my bot" in made.stdout
    assert key_credential(key_id, secret) in made.stdout
    assert made.stdout.count(secret) == 2  # the secret, and the token that carries it

    reader = json.loads(run("keys", "create", "--read-only", "--json").stdout)
    assert set(reader) == {"key_id", "name", "account", "read_only", "created_at", "last_used_at", "revoked_at",
                           "secret", "token"}
    assert reader["read_only"] is True and reader["account"] == "main"

    for listing in (run("keys", "list"), run("keys"), run("keys", "list", "--json")):
        assert key_id in listing.stdout and reader["key_id"] in listing.stdout
        assert secret not in listing.stdout and reader["secret"] not in listing.stdout
    listed = json.loads(run("keys", "list", "--json").stdout)
    assert [(k["key_id"], k["name"], k["read_only"]) for k in listed["items"]] == [
        (key_id, "my bot", False), (reader["key_id"], "", True)]

    revoked = run("keys", "revoke", key_id)
    assert f"Revoked the API key {key_id}" in revoked.stdout
    listed = json.loads(run("keys", "list", "--json").stdout)
    assert [k["revoked_at"] is not None for k in listed["items"]] == [True, False]
    missing = run("keys", "revoke", "PKNOSUCHKEY", code=1)
    assert missing.stderr.startswith("error[not_found]: ")
    assert run("keys", "create", "--bogus", code=2).returncode == 2
