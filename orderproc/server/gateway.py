"""The gateway duties every request passes through, as one plain ASGI middleware.

Outside in: `GatewayMiddleware` gives the request an id (the client's `X-Request-ID` if it is
sane, else a new one) and, once answered, puts it on the answer and counts the request
(Prometheus counters and latency by route template) in one JSON log line; then gzip (Starlette's,
for GET answers of GZIP_MINIMUM bytes or more); then CORS, when configured; then `LimitsMiddleware`:
the per-client rate limit (429 with `Retry-After` before any work is done; `/healthz` and
`/metrics` are outside it, so a monitor is never refused), the body limit (413 from
`Content-Length` alone, or after reading at most the limit of a body without one) and the
body's type (415 unless it says JSON). Plain ASGI rather than Starlette's BaseHTTPMiddleware: it
adds no task or stream per request, which the order endpoint's throughput would feel.

The body limit stays ours rather than FastAPI's `max_body_size` (measured with FastAPI 0.165 on
uvicorn, a 2 KiB limit): FastAPI's counts a chunked body too, but answers outside the app's
middleware and handlers (text/plain "Content Too Large", no error envelope, no X-Request-ID) and
keeps the connection, reading and dropping the rest of the body: a client sent 32 MiB after its
413. Ours answers with the envelope and the id and closes the connection.

Logs never carry a header, a body or a query string: no password or token can reach them.
Every line on the server's stderr is one JSON object: the gateway's, and uvicorn's own (start,
"Uvicorn running on", errors, the access log if turned on) and any library's warnings through
`logging.json` beside this module, the `log_config` `orderproc serve` hands uvicorn (a file, so
that the CLI names it without importing the server, as it names the app).
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
)
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderproc.engine import errors
from orderproc.engine import limits
from orderproc.server.alpaca import common as alpaca

log = logging.getLogger("orderproc.server")

REQUEST_ID_HEADER = b"x-request-id"
_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_LIMITER_MAX_KEYS = 100_000
_METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"})
# Answers from this size are gzipped for a client that accepts it: below one TCP segment
# compressing saves no packet, and an order's answer (about 600 bytes) is not worth the CPU.
# Level 6 (zlib's default): /v1/assets, 85 KB, becomes 14 KB in about 1 ms; level 9 took 3.7 ms
# for 5% less.
GZIP_MINIMUM = 1400
UNLIMITED_PATHS = frozenset({"/healthz", "/metrics"})  # a monitor polls them: never rate limited
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # a body they carry must be JSON
_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})  # a body they carry is not read


class RateLimiter:
    """Token buckets by key: `rate` tokens a second up to `burst`; `take` says how long to wait.

    The clock is `time.monotonic`; memory stays bounded (a full sweep drops idle buckets, which
    are full again anyway, when there are too many keys).
    """

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str, now: float | None = None) -> float:
        """0 if the request may go ahead (one token taken), else the seconds until it may."""
        if not self.enabled:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens, wait = limits.take(*self._buckets.get(key, (self.burst, now)), now, self.rate, self.burst)
        if not wait and len(self._buckets) >= _LIMITER_MAX_KEYS and key not in self._buckets:
            self._sweep(now)
        self._buckets[key] = (tokens, now)
        return wait

    def _sweep(self, now: float) -> None:
        refill = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill}


@dataclass
class Metrics:
    """The server's Prometheus metrics, in a registry of its own (one per app)."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    orders: Counter

    @classmethod
    def create(cls) -> Metrics:
        registry = CollectorRegistry()
        # the process (CPU, memory, open files), the interpreter and its collector, as the default
        # registry has them; they are read when /metrics is, not on requests
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            registry.register(collector)
        return cls(
            registry=registry,
            requests=Counter("orderproc_http_requests", "HTTP requests by route template and status",
                             ["method", "route", "status"], registry=registry),
            latency=Histogram("orderproc_http_request_duration_seconds", "HTTP request latency by route template",
                              ["method", "route"], registry=registry,
                              buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)),
            orders=Counter("orderproc_orders", "Order requests by side and outcome (filled or an error code)",
                           ["side", "status"], registry=registry),
        )


def error_body(exc: errors.OrderprocError, path: str = "") -> bytes:
    """An error's JSON: our envelope, or Alpaca's shape on the Alpaca-compatible paths."""
    body = alpaca.alpaca_error(exc) if alpaca.is_alpaca(path) else {"error": exc.to_dict()}
    return json.dumps(body, separators=(",", ":")).encode()


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class GatewayMiddleware:
    """The outer half: request id, metrics and the log line, around everything else."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, log_requests: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id.decode()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or ("unmatched" if status == 404 else "other")
            method = scope["method"] if scope["method"] in _METHODS else "other"  # bounded label values
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(elapsed)
            if self.log_requests:
                log.info(json.dumps({
                    "ts": round(time.time(), 3), "level": "info", "event": "request", "request_id": request_id.decode(),
                    "method": method, "path": scope["path"][:256], "route": template, "status": status,
                    "ms": round(elapsed * 1000, 2), "client": client_address(scope),
                }, separators=(",", ":")))


class ReadGZipMiddleware(GZipMiddleware):
    """Starlette's GZipMiddleware (which leaves text/event-stream alone) on GET answers only: the
    large answers are reads, and the order path is spared its cost (about 10 us a request,
    measured in-process on /healthz: a tenth of that trivial request)."""

    def __init__(self, app: ASGIApp, minimum_size: int = GZIP_MINIMUM, compresslevel: int = 6) -> None:
        super().__init__(app, minimum_size=minimum_size, compresslevel=compresslevel)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            await super().__call__(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class LimitsMiddleware:
    """The inner half: the per-address rate limit, the body limit and the body's type, answered
    before any work (inside CORS, so that an allowed origin can read these answers too)."""

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, max_body: int) -> None:
        self.app = app
        self.limiter = limiter
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wait = self.limiter.take(client_address(scope)) if scope["path"] not in UNLIMITED_PATHS else 0.0
        if wait:
            limited = errors.RateLimited("too many requests: slow down", {"retry_after": math.ceil(wait)})
            await _send_error(scope, send, limited, [(b"retry-after", str(math.ceil(wait)).encode())])
            return
        length = content_type = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                content_type = value
            elif name == b"transfer-encoding":
                chunked = True
        if length is not None and not (length.isdigit() and int(length) <= self.max_body):
            await self._too_large(scope, send)
            return
        if scope["method"] in _BODY_METHODS and (chunked or (length is not None and int(length) > 0)) \
                and not _is_json(content_type):
            # the body goes unread: the connection is closed rather than drained
            await _send_error(scope, send, _not_json(content_type), [(b"connection", b"close")])
            return
        if length is None and scope["method"] not in _BODYLESS_METHODS:
            body = await self._read_body(receive)
            if body is None:
                await self._too_large(scope, send)
                return
            receive = body
        await self.app(scope, receive, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        too_large = errors.PayloadTooLarge(f"the request body is over {self.max_body} bytes", {"limit": self.max_body})
        await _send_error(scope, send, too_large, [(b"connection", b"close")])

    async def _read_body(self, receive: Receive) -> Receive | None:
        """A body sent without a length, read here up to the limit: None if it is over, else the
        `receive` the app reads it from (the client's own if the client left meanwhile)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return receive  # the client left; let the app see it
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> Message:
            return pending.pop() if pending else await receive()

        return replay


def _is_json(content_type: bytes | None) -> bool:
    """application/json or application/<something>+json, whatever its parameters."""
    if content_type is None:
        return False
    media = content_type.partition(b";")[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


def _not_json(content_type: bytes | None) -> errors.UnsupportedMediaType:
    sent = content_type.decode("latin-1")[:100] if content_type is not None else None
    said = f"the body was sent as {sent}" if sent else "the body came without a Content-Type"
    return errors.UnsupportedMediaType(f"{said}: send JSON with the header Content-Type: application/json",
                                       {"content_type": sent, "expected": "application/json"})


def _request_id(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            return value if _SANE_ID.fullmatch(value) else uuid.uuid4().hex.encode()
    return uuid.uuid4().hex.encode()


async def _send_error(scope: Scope, send: Send, exc: errors.OrderprocError,
                      headers: list[tuple[bytes, bytes]]) -> None:
    body = error_body(exc, scope["path"])
    status = alpaca.alpaca_status(exc) if alpaca.is_alpaca(scope["path"]) else exc.status
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


LOG_CONFIG = Path(__file__).with_name("logging.json")


def configure_logging(level: int = logging.INFO) -> None:
    """One JSON object a line on stderr for orderproc's server log (uvicorn's access log is off)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: a message that is one already as it is, any other as
    `{"ts", "level", "event", "logger"}` (and the exception's last line as `error`)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if message.startswith("{"):
            return message
        entry: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname.lower(), "event": message,
                                 "logger": record.name}
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry, separators=(",", ":"))
