"""API keys for real: `orderproc serve`, the CLI against it makes keys (the secret printed once),
a program uses them over HTTP, the CLI revokes one; then the server's log, the audit log and
the ledger's files are searched for the secrets: none of them has one."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from serve_support import orderproc_env, run_orderproc
from server_helpers import PASSWORD, server  # noqa: F401 (fixture)

ORDER = {"symbol": "BTC", "side": "buy", "quantity": "0.001"}


def test_keys_made_with_the_cli_work_over_http_until_revoked_and_no_secret_is_kept(
        server: tuple[str, Path], tmp_path: Path) -> None:  # noqa: F811
    url, ledger = server
    env = orderproc_env(tmp_path / "client", ORDERPROC_PASSWORD=PASSWORD)

    def cli(*args: str, ok: bool = True) -> Any:
        done = run_orderproc("--server", url, *args, env=env)
        assert (done.returncode == 0) == ok, (args, done.stdout, done.stderr)
        return done

    cli("register", "alice")
    cli("deposit", "1000")
    trading = json.loads(cli("keys", "create", "--name", "bot", "--json").stdout)
    shown = cli("keys", "create", "--read-only").stdout
    reader_id = next(w for w in shown.split() if w.startswith("PK") and len(w) == 20)
    reader_secret = shown.split("secret", 1)[1].split()[0]
    assert "shown this once" in shown
    secrets = [trading["secret"], reader_secret]

    with httpx.Client(base_url=url) as http:
        def as_key(token: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}"}

        reader = f"{reader_id}.{reader_secret}"
        assert http.get("/v1/cash", headers=as_key(reader)).json()["cash"] == "1000.00"
        refused = http.post("/v1/orders", json=ORDER, headers=as_key(reader))
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "read_only_key")
        placed = http.post("/v1/orders", json=ORDER, headers=as_key(trading["token"]))
        assert placed.status_code == 201, placed.text

        listed = cli("keys", "list").stdout
        assert trading["key_id"] in listed and reader_id in listed
        assert not any(s in listed for s in secrets)
        listed_json = cli("keys", "list", "--json").stdout
        assert not any(s in listed_json for s in secrets)

        cli("keys", "revoke", trading["key_id"])
        gone = http.get("/v1/cash", headers=as_key(trading["token"]))
        assert (gone.status_code, gone.json()["error"]["code"]) == (401, "auth_required")
        assert http.get("/v1/orders", headers=as_key(reader)).json()["total"] == 1
        denied = cli("--server", url, "keys", "revoke", "PKNOSUCHKEY00000000", ok=False)
        assert denied.returncode == 1 and "error[not_found]" in denied.stderr

    # the server has stopped (the fixture checks its log for passwords and tokens too)
    log = (tmp_path / "server.log").read_text()
    assert '"route":"/v1/keys"' in log
    with sqlite3.connect(ledger) as db:
        actions = [r[0] for r in db.execute("SELECT action FROM audit WHERE action LIKE 'api_key%' ORDER BY id")]
        audit = json.dumps(db.execute("SELECT * FROM audit").fetchall())
        stored = db.execute("SELECT secret_hash, last_used_at FROM api_keys ORDER BY id").fetchall()
    assert actions == ["api_key_create", "api_key_create", "api_key_revoke"]
    assert all(len(h) == 64 for h, _ in stored) and all(used is not None for _, used in stored)
    files = b"".join(p.read_bytes() for p in ledger.parent.glob(ledger.name + "*") if p.is_file())
    for secret in secrets:
        assert secret not in log and secret not in audit
        assert secret.encode() not in files
