"""The container files (Dockerfile, .dockerignore, compose.yaml, deploy/nginx.conf) agree with the
CLI and with each other; Docker itself is not needed.

- The image's command line (ENTRYPOINT + CMD) is run for real with the environment compose gives
  an api service (the ledger swapped for a SQLite file in tmp_path, the port for a free one): it
  serves the ledger ORDERPROC_DB names, the image's HEALTHCHECK command passes against it, it
  stops on SIGTERM with status 0 within a few seconds, and the HEALTHCHECK then fails.
- compose's api services run that image unchanged, on a postgresql:// URL naming the db service
  with its user, password and database, once the database is healthy.
- nginx's upstream names every api service on the port the image exposes, with no stickiness,
  and the quote stream's location has buffering off; the proxy publishes nginx's port.
- The build context (.dockerignore, an allow-list) holds every file `pip install .` needs.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml  # type: ignore[import-untyped]  # (no stubs installed; PyYAML comes with uvicorn[standard])
from serve_support import free_port, orderproc_env

from orderproc.config import ENV_PREFIX, Settings
from orderproc.engine import is_server_url

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
STREAM_PATH = "/v1/stream/quotes"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0  # `serve` gives running requests 3 s (SHUTDOWN_GRACE)
FORWARDED_CLIENT = "203.0.113.7"


# -- reading the files --------------------------------------------------------------------------


def dockerfile() -> dict[str, str]:
    """The Dockerfile's instructions (upper-cased name: its arguments, the last one of each name,
    as Docker keeps only the last CMD, ENTRYPOINT and HEALTHCHECK), continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, args = line.partition(" ")
            found[name.upper()] = args.strip()
    return found


def exec_form(args: str) -> list[str]:
    """An instruction's JSON array (exec form); shell form would make /bin/sh PID 1, and the
    server would never see the SIGTERM that stops the container."""
    value = json.loads(args)
    assert isinstance(value, list) and value and all(isinstance(v, str) for v in value), args
    return value


def command_line() -> list[str]:
    image = dockerfile()
    return exec_form(image["ENTRYPOINT"]) + exec_form(image["CMD"])


def exposed_port() -> int:
    ports = dockerfile()["EXPOSE"].split()
    assert len(ports) == 1, ports
    return int(ports[0].removesuffix("/tcp"))


def healthcheck() -> list[str]:
    options, found, command = dockerfile()["HEALTHCHECK"].partition(" CMD ")
    assert found, "HEALTHCHECK needs a CMD"
    assert all(o.startswith("--") for o in options.split()), options
    return exec_form(command)


def healthcheck_url() -> str:
    urls = re.findall(r"https?://[^\s'\"]+", " ".join(healthcheck()))
    assert len(urls) == 1, urls
    return str(urls[0])


def option(args: list[str], name: str) -> str:
    assert args.count(name) == 1, (name, args)
    return args[args.index(name) + 1]


def interpolate(text: str) -> str:
    """compose's `${NAME:-default}` with the defaults (what runs when nothing is set); a
    variable with no default is an error here (compose would run with an empty value)."""
    assert re.search(r"\$\{\w+\}|\$\w", re.sub(r"\$\{\w+:-[^}]*\}", "", text)) is None, text
    return re.sub(r"\$\{\w+:-([^}]*)\}", lambda m: m.group(1), text)


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text())["services"]
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {name: interpolate(str(value)) for name, value in env.items()}


def api_services() -> dict[str, dict[str, Any]]:
    """The services built from the Dockerfile."""
    built = {}
    for name, service in services().items():
        build = service.get("build")
        if build is None:
            continue
        context, file = (build, "Dockerfile") if isinstance(build, str) else \
            (build.get("context", "."), build.get("dockerfile", "Dockerfile"))
        if (COMPOSE.parent / context / file).resolve() == DOCKERFILE:
            built[name] = service
    return built


def db_service() -> tuple[str, dict[str, Any]]:
    found = [(name, s) for name, s in services().items() if str(s.get("image", "")).startswith("postgres:")]
    assert len(found) == 1, found
    return found[0]


def proxy_service() -> tuple[str, dict[str, Any], Path, str]:
    """The service mounting an nginx config from the checkout: name, service, file, target."""
    found = []
    for name, service in services().items():
        for volume in service.get("volumes") or []:
            source, _, target = str(volume).partition(":")
            if source.startswith((".", "/")) and source.endswith(".conf"):
                found.append((name, service, (COMPOSE.parent / source).resolve(), target.split(":")[0]))
    assert len(found) == 1, found
    return found[0]


Directive = tuple[str, list[str], list[Any] | None]  # name, arguments, block (None: ends with ';')


def nginx(text: str) -> list[Directive]:
    """nginx's configuration as nested directives (enough of its syntax for our file: comments,
    quoted strings, blocks)."""
    tokens = re.findall(r"#[^\n]*|\"[^\"]*\"|'[^']*'|[{};]|[^\s{};\"'#]+", text)
    tokens = [t.strip("\"'") for t in tokens if not t.startswith("#")]
    position = 0

    def block(inner: bool) -> list[Directive]:
        nonlocal position
        found: list[Directive] = []
        words: list[str] = []
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token == ";":
                found.append((words[0], words[1:], None))
                words = []
            elif token == "{":
                found.append((words[0], words[1:], block(True)))
                words = []
            elif token == "}":
                assert inner and not words, "unbalanced braces"
                return found
            else:
                words.append(token)
        assert not inner and not words, "unbalanced braces"
        return found

    return block(False)


def directives(block: list[Directive], name: str) -> list[Directive]:
    return [d for d in block if d[0] == name]


def location_for(server: list[Directive], path: str) -> list[Directive]:
    """The block of the `location` nginx picks for `path` (exact, else the longest prefix)."""
    locations = directives(server, "location")
    assert not [d for d in locations if d[1][0] in ("~", "~*")], "regex locations: not handled here"
    exact = [d for d in locations if d[1][0] == "=" and d[1][1] == path]
    if exact:
        return exact[0][2] or []
    prefixes = [(d[1][-1], d[2] or []) for d in locations if d[1][0] != "=" and path.startswith(d[1][-1])]
    assert prefixes, f"no location serves {path}"
    return max(prefixes, key=lambda p: len(p[0]))[1]


def setting(levels: list[list[Directive]], name: str, default: str) -> str:
    """A directive's value as nginx inherits it: the innermost level that sets it wins."""
    for level in levels:
        found = directives(level, name)
        if found:
            return " ".join(found[-1][1])
    return default


# -- the image's command line, for real -----------------------------------------------------------


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def run_healthcheck(port: int) -> int:
    """The image's HEALTHCHECK command here: this Python, the image's port replaced by `port`."""
    command = healthcheck()
    assert command[0] == "python", command
    exposed = f":{exposed_port()}/"
    assert sum(exposed in arg for arg in command) == 1, command
    command = [sys.executable, *(arg.replace(exposed, f":{port}/") for arg in command[1:])]
    return subprocess.run(command, capture_output=True, timeout=30).returncode


def test_the_images_command_line_serves_the_ledger_orderproc_db_names_and_stops_on_sigterm(tmp_path: Path) -> None:
    args = command_line()
    program = Path(sys.executable).with_name(args[0])  # the console script pip installs
    assert program.is_file(), f"{args[0]} is not the CLI's executable"
    port = free_port()  # the CLI has no ORDERPROC_PORT: the port argument is replaced
    args[args.index("--port") + 1] = str(port)
    api = next(iter(api_services().values()))
    ledger = tmp_path / "ledger.db"
    env = orderproc_env(tmp_path / "home", **{**environment(api), "ORDERPROC_DB": str(ledger)})
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([str(program), *args[1:]], env=env, stdout=log, stderr=log, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not healthy(url):
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-2000:]
            time.sleep(0.1)
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
        # the ledger ORDERPROC_DB names, not the default one in the data dir
        assert ledger.is_file()
        assert not list((tmp_path / "home").rglob("*.db"))
        # behind the proxy, the client is the address in X-Forwarded-For (the rate limit is per
        # client): asked from 127.0.0.2, which uvicorn does not trust unless told (FORWARDED_ALLOW_IPS)
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as proxy:
            assert proxy.get(f"{url}/healthz", headers={"X-Forwarded-For": FORWARDED_CLIENT}).status_code == 200
        assert run_healthcheck(port) == 0
        assert ledger.with_name(ledger.name + "-wal").exists()  # the ledger is open
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=STOP_TIMEOUT)  # TimeoutExpired fails the test
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # uvicorn shuts down, then raises the SIGTERM again so that a parent sees why it ended: -15
    # here; in a container orderproc is PID 1, which Linux does not end by a signal it sends
    # itself with the default action, so there it exits 0
    assert proc.returncode in (0, -signal.SIGTERM), log_path.read_text()[-2000:]
    # shut down, not killed: the ledger was closed (SQLite removes the WAL file on the last close)
    assert not ledger.with_name(ledger.name + "-wal").exists()
    clients = {json.loads(line).get("client") for line in log_path.read_text().splitlines() if line.startswith("{")}
    assert FORWARDED_CLIENT in clients and "127.0.0.2" not in clients
    assert run_healthcheck(port) != 0  # nothing answers any more: the check fails


# -- the Dockerfile -------------------------------------------------------------------------------


def test_the_image_listens_on_every_address_on_the_port_it_exposes_and_checks_that_port() -> None:
    args = command_line()
    assert args[:2] == ["orderproc", "serve"]
    assert option(args, "--host") == "0.0.0.0"  # 127.0.0.1 would be unreachable from the proxy
    assert int(option(args, "--port")) == exposed_port()
    assert "--db" not in args  # the ledger comes from ORDERPROC_DB
    url = urlsplit(healthcheck_url())
    assert (url.hostname, url.port, url.path) in [(h, exposed_port(), "/healthz") for h in ("127.0.0.1", "localhost")]


def test_the_image_runs_as_a_user_and_stops_with_sigterm() -> None:
    image = dockerfile()
    assert image["USER"].split(":")[0] not in ("", "root", "0")
    assert image.get("STOPSIGNAL", "SIGTERM") == "SIGTERM"


def test_the_build_context_holds_everything_pip_install_needs() -> None:
    """.dockerignore excludes everything (`*`) and lets through, by name, the package and each file
    pyproject.toml names; a file added there and not here would break the image's build."""
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = {"pyproject.toml", project["project"]["readme"], *wheel["packages"], *wheel.get("force-include", {})}
    assert needed <= allowed, needed - allowed
    assert all((ROOT / path).exists() for path in needed)


# -- compose.yaml ----------------------------------------------------------------------------------


def test_there_are_two_api_services_running_the_image_as_built() -> None:
    apis = api_services()
    assert len(apis) >= 2, apis
    cmd = exec_form(dockerfile()["CMD"])
    for name, service in apis.items():
        assert "entrypoint" not in service, name
        # the tested command line (and the HEALTHCHECK's port) is the one that runs
        assert service.get("command", cmd) == cmd, name
        assert "ports" not in service, f"{name}: reach the servers through the proxy"


def test_each_api_service_uses_the_db_services_database_once_it_is_healthy() -> None:
    db_name, db = db_service()
    db_env = environment(db)
    user = db_env.get("POSTGRES_USER", "postgres")
    test = db["healthcheck"]["test"]
    assert "pg_isready" in (test if isinstance(test, str) else " ".join(test))
    for name, service in api_services().items():
        env = environment(service)
        url = env["ORDERPROC_DB"]
        assert is_server_url(url) and url.startswith("postgresql://"), url
        parts = urlsplit(url)
        assert (parts.hostname, parts.port or 5432) == (db_name, 5432), name
        assert parts.username == user and parts.password == db_env["POSTGRES_PASSWORD"], name
        assert parts.path == "/" + db_env.get("POSTGRES_DB", user), name
        assert service["depends_on"][db_name]["condition"] == "service_healthy", name
        # every ORDERPROC_ variable is a setting (a misspelt one is silently ignored by the CLI)
        fields = {field.upper() for field in Settings.model_fields}
        assert {k.removeprefix(ENV_PREFIX) for k in env if k.startswith(ENV_PREFIX)} <= fields, name


def test_the_database_password_is_a_marked_development_default() -> None:
    _db_name, db = db_service()
    password = str(db["environment"]["POSTGRES_PASSWORD"])
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:-[^}]+\}", password), "let the environment override it"
    assert "DEVELOPMENT" in COMPOSE.read_text()


# -- the proxy -------------------------------------------------------------------------------------


def test_the_proxy_balances_every_api_service_on_the_exposed_port_without_stickiness() -> None:
    name, proxy, conf_path, target = proxy_service()
    assert str(proxy["image"]).startswith("nginx:")
    assert conf_path == ROOT / "deploy" / "nginx.conf"
    assert re.fullmatch(r"/etc/nginx/conf\.d/[^/]+\.conf", target), target  # inside nginx's http block
    apis = api_services()
    assert set(apis) <= set(proxy["depends_on"]), name
    config = nginx(conf_path.read_text())
    (server,) = [d[2] or [] for d in directives(config, "server")]
    location = location_for(server, "/")
    pass_to = setting([location], "proxy_pass", "")
    assert pass_to.startswith("http://"), pass_to
    upstreams = {d[1][0]: d[2] or [] for d in directives(config, "upstream")}
    upstream = upstreams[pass_to.removeprefix("http://")]
    assert {d[1][0] for d in directives(upstream, "server")} == {f"{api}:{exposed_port()}" for api in apis}
    assert not {d[0] for d in upstream} & {"ip_hash", "hash", "sticky"}
    # the proxy publishes the port nginx listens on
    (listen,) = directives(server, "listen")
    published = {str(p).rpartition(":")[2] for p in proxy["ports"]}
    assert published == {listen[1][0]}


def test_the_quote_stream_goes_through_the_proxy_unbuffered() -> None:
    _name, _proxy, conf_path, _target = proxy_service()
    config = nginx(conf_path.read_text())
    (server,) = [d[2] or [] for d in directives(config, "server")]
    location = location_for(server, STREAM_PATH)
    assert setting([location], "proxy_pass", "").startswith("http://")
    assert setting([location, server, config], "proxy_buffering", "on") == "off"
    # HTTP/1.1 to the servers (chunked streaming; 1.0 is nginx's default)
    assert setting([location, server, config], "proxy_http_version", "1.0") == "1.1"


def test_the_proxy_tells_the_servers_the_clients_address_and_the_servers_trust_it() -> None:
    """nginx replaces X-Forwarded-For with the address it sees (uvicorn trusting any proxy takes the
    header's first address: appending to a client's own header would let it choose its address)."""
    _name, _proxy, conf_path, _target = proxy_service()
    config = nginx(conf_path.read_text())
    (server,) = [d[2] or [] for d in directives(config, "server")]
    for path in ("/", STREAM_PATH):
        assert proxy_headers([location_for(server, path), server, config]).get("x-forwarded-for") == "$remote_addr"
    for name, service in api_services().items():
        assert environment(service).get("FORWARDED_ALLOW_IPS") == "*", name


def proxy_headers(levels: list[list[Directive]]) -> dict[str, str]:
    """The headers nginx sets towards the servers: those of the innermost level that sets any."""
    for level in levels:
        found = directives(level, "proxy_set_header")
        if found:
            return {d[1][0].lower(): " ".join(d[1][1:]) for d in found}
    return {}


def test_the_nginx_reader_sees_what_nginx_would() -> None:
    """The helpers above on a configuration whose stream location buffers: they must say so."""
    config = nginx("""
        upstream u { server a:1; }  # a comment { ; }
        server { proxy_buffering off; location / { proxy_pass http://u; }
                 location /v1/stream/ { proxy_pass http://u; proxy_buffering "on"; } }
    """)
    (server,) = [d[2] or [] for d in directives(config, "server")]
    assert setting([location_for(server, STREAM_PATH), server], "proxy_buffering", "on") == "on"
    assert setting([location_for(server, "/v1/cash"), server], "proxy_buffering", "on") == "off"
    for unbalanced in ("server { listen 1; ", "listen 1; }"):
        with pytest.raises(AssertionError):
            nginx(unbalanced)
