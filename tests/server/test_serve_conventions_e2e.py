"""`orderproc serve` for real: every line it writes on stderr is a JSON object (its own, uvicorn's,
the request log), `curl -d` without a Content-Type is told which header to send, the asset list
crosses the wire gzipped while the quote stream still streams, and a chunked body over the limit
gets 413 with the error envelope."""

from __future__ import annotations

import json
import select
import shutil
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from serve_support import free_port, serving
from server_helpers import PASSWORD


def test_the_real_server_logs_json_lines_only_and_keeps_the_conventions(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    with serving(tmp_path / "ledger.db", free_port(), tmp_path / "home", log_path) as url:
        if shutil.which("curl"):
            curl = subprocess.run(["curl", "-s", "-d", json.dumps({"username": "alice", "password": PASSWORD}),
                                   f"{url}/v1/auth/register"], capture_output=True, text=True, timeout=30)
            refused = json.loads(curl.stdout)["error"]
            assert refused["code"] == "unsupported_media_type"
            assert "Content-Type: application/json" in refused["message"]
            assert refused["details"]["content_type"] == "application/x-www-form-urlencoded"

        with httpx.Client(base_url=url, timeout=httpx.Timeout(10, read=None)) as http:
            assets = http.get("/v1/assets", headers={"Accept-Encoding": "gzip"})
            assert assets.headers["content-encoding"] == "gzip"
            assert int(assets.headers["content-length"]) < len(assets.content) / 4  # httpx decoded it
            with http.stream("GET", "/v1/stream/quotes", params={"interval": 0.2, "symbols": "BTC"},
                             headers={"Accept-Encoding": "gzip"}) as stream:
                assert "content-encoding" not in stream.headers
                data = []
                for line in stream.iter_lines():  # the events come as they are sent
                    if line.startswith("data: ") and len(data := [*data, line]) == 2:
                        break
            assert [[q["symbol"] for q in json.loads(d.removeprefix("data: "))] for d in data] == [["BTC"], ["BTC"]]

        status, body = _chunked_post(url, "/v1/auth/register", 1 << 20)
        assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"

    lines = log_path.read_text().splitlines()
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a line of the server's stderr is not JSON: {line!r}")
    assert all({"ts", "level", "event"} <= set(e) for e in entries), entries
    said = [str(e["event"]) for e in entries]
    for expected in ("orderproc serving", "serving ledger", "Started server process", "Application startup complete",
                     "Uvicorn running on", "Shutting down"):
        assert any(expected in event for event in said), (expected, said)
    requests = [e for e in entries if e.get("event") == "request"]
    assert {(e["path"], e["status"]) for e in requests} >= {("/v1/assets", 200), ("/v1/auth/register", 415),
                                                            ("/v1/auth/register", 413)}
    assert all(PASSWORD not in line for line in lines)


def _chunked_post(url: str, path: str, size: int) -> tuple[int, bytes]:
    """POST up to `size` bytes chunked (no Content-Length) on a raw socket, a chunk at a time
    until the server answers; the status and body of the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b"%x\r\n%s\r\n" % (4096, b"x" * 4096)
        for _ in range(size // 4096):
            if select.select([sock], [], [], 0.01)[0]:
                break  # it answered: it took no more than it read
            sock.sendall(chunk)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"connection: close" in head.lower()
    return int(head.split()[1]), body
