"""A real, throwaway PostgreSQL server for the tests.

`pg_server` (session scope) runs initdb in a fresh temporary directory and starts `postgres` as
its child process on 127.0.0.1 and a free port, its unix socket in that directory; the server is
stopped (and reaped) and the directory deleted when the session ends. `pg_url` (function scope)
gives each test an empty database of its own, `postgresql://postgres@127.0.0.1:PORT/t_<random>`,
dropped after the test (WITH (FORCE): connections left open do not stop it). Trust auth and no
fsync: the cluster holds nothing worth keeping. `new_database(pg_server)` makes another one (the
caller drops it with `drop_database`).

PostgreSQL refuses to run as root: as root (CI), every server program runs as the `postgres`
system user (anyone else runs it as themselves). Without PostgreSQL the tests that ask for it are
skipped, saying why; with ORDERPROC_REQUIRE_PG or CI set (`.ci/run` sets the first) they fail
instead.

The fixtures are registered once, in tests/conftest.py (one server for the whole session:
imported into a test module, a fixture is that module's own, and each module started a server).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
from serve_support import free_port

REQUIRE_ENV = "ORDERPROC_REQUIRE_PG"
SUPERUSER = "postgres"
HOST = "127.0.0.1"
SETTINGS = {
    "listen_addresses": HOST,
    "max_connections": "200",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "32MB",
    "logging_collector": "off",
}


@dataclass(frozen=True)
class PgServer:
    """A running throwaway cluster."""

    bindir: Path
    root: Path  # the temporary directory: data/, the unix socket, the server's log
    port: int
    process: subprocess.Popen[bytes]  # the postmaster

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{dbname}"


def unavailable(reason: str) -> NoReturn:
    """Skip the test for want of PostgreSQL, or fail it when ORDERPROC_REQUIRE_PG is set."""
    required = [name for name in (REQUIRE_ENV, "CI") if os.environ.get(name)]
    if required:
        pytest.fail(f"PostgreSQL is required ({required[0]} is set) but unavailable: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable ({reason}); set {REQUIRE_ENV}=1 to fail instead")


def find_bindir() -> Path | None:
    """The directory of initdb and postgres: pg_config's, else the newest /usr/lib/postgresql/N/bin,
    else the one initdb on PATH lives in."""

    def usable(d: Path) -> bool:
        return all(os.access(d / name, os.X_OK) for name in ("initdb", "postgres"))

    if pg_config := shutil.which("pg_config"):
        try:
            out = subprocess.run([pg_config, "--bindir"], check=False, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None and out.returncode == 0 and usable(Path(out.stdout.strip())):
            return Path(out.stdout.strip())
    debian = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)],
    )
    for candidate in reversed(debian):
        if usable(candidate):
            return candidate
    if initdb := shutil.which("initdb"):
        candidate = Path(initdb).resolve().parent
        if usable(candidate):
            return candidate
    return None


def _run_as() -> dict[str, Any]:
    """subprocess arguments that drop root to the postgres user (nothing when not root)."""
    if os.geteuid() != 0:
        return {}
    try:
        user = pwd.getpwnam(SUPERUSER)
    except KeyError:
        unavailable(f"running as root and there is no {SUPERUSER!r} system user to run the server as")
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _start(bindir: Path, root: Path, overrides: dict[str, str] | None = None) -> PgServer:
    """initdb into root/data and start the server (SETTINGS, then `overrides`); raises
    RuntimeError with the reason on failure."""
    as_user = _run_as()
    if as_user:
        os.chown(root, as_user["user"], as_user["group"])
    # initdb and the server read PG* variables (PGDATA, PGPORT...): none of the caller's leak in
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"LC_ALL": "C"}
    datadir = root / "data"
    init = subprocess.run(
        [bindir / "initdb", "-D", datadir, "-U", SUPERUSER, "--auth=trust", "--no-sync",
         "--encoding=UTF8", "--locale=C"],
        check=False, cwd=root, env=env, capture_output=True, text=True, timeout=120, **as_user,
    )  # fmt: skip
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed ({init.returncode}): {init.stderr.strip() or init.stdout.strip()}")

    error = ""
    for attempt in range(3):  # the free port may be taken before the server binds it: try another
        port = free_port()
        settings = {**SETTINGS, **(overrides or {}), "port": str(port), "unix_socket_directories": str(root)}
        log = root / f"server-{attempt}.log"
        with open(log, "wb") as out:  # the server is our child: we stop it and reap it
            process = subprocess.Popen(
                [bindir / "postgres", "-D", datadir, *(a for k, v in settings.items() for a in ("-c", f"{k}={v}"))],
                cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, **as_user,
            )  # fmt: skip
        server = PgServer(bindir=bindir, root=root, port=port, process=process)
        try:
            error = _wait_ready(server, log)
        except BaseException:
            _stop(server)
            raise
        if not error:
            return server
        _stop(server)
        if "could not bind" not in error:
            break
    raise RuntimeError(error)


def _wait_ready(server: PgServer, log: Path, timeout: float = 60.0) -> str:
    """Wait until the server takes connections: "" when it does, else why not."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        if (code := server.process.poll()) is not None:
            return f"postgres exited with status {code}:\n{_tail(log)}"
        try:
            psycopg.connect(server.url(), connect_timeout=2).close()
            return ""
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                return f"postgres took no connection in {timeout:.0f} s ({exc}):\n{_tail(log)}"
        time.sleep(0.05)


def _stop(server: PgServer) -> None:
    """Stop the server: a fast shutdown (SIGINT), else an immediate one (SIGQUIT), else SIGKILL."""
    process = server.process
    for sig, wait in ((signal.SIGINT, 30.0), (signal.SIGQUIT, 10.0), (signal.SIGKILL, None)):
        if process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


@contextmanager
def running_server(overrides: dict[str, str] | None = None) -> Iterator[PgServer]:
    """A throwaway server outside pytest (the benchmarks): `overrides` of SETTINGS (DURABLE:
    every commit flushed, as in production); RuntimeError saying why when there is none to start."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("no initdb and postgres found (pg_config --bindir, /usr/lib/postgresql/*/bin, PATH)")
    root = Path(tempfile.mkdtemp(prefix="orderproc-pg-"))
    try:
        server = _start(bindir, root, overrides)
        try:
            yield server
        finally:
            _stop(server)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for the whole session (skips, or fails under ORDERPROC_REQUIRE_PG,
    when there is none to start)."""
    try:
        import psycopg  # noqa: F401 - checked here so that a missing driver skips, not errors
    except ImportError:
        unavailable("the psycopg package is not installed (pip install 'psycopg[binary]')")
    _run_as()  # root without a postgres user: say so before making anything
    servers = ExitStack()
    try:
        server = servers.enter_context(running_server())
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        unavailable(f"could not start PostgreSQL: {exc}")
    with servers:
        yield server


def new_database(server: PgServer) -> str:
    """Create an empty database on the server; its URL. The caller drops it (drop_database)."""
    import psycopg
    from psycopg import sql

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.url(name)


def drop_database(server: PgServer, url: str) -> None:
    """Drop a database made by new_database, disconnecting whoever is still on it."""
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty database for this test: postgresql://postgres@127.0.0.1:PORT/t_<random>."""
    url = new_database(pg_server)
    try:
        yield url
    finally:
        drop_database(pg_server, url)
