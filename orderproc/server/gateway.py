"""The gateway duties every request passes through, as one plain ASGI middleware.

Outside in: `GatewayMiddleware` gives the request an id (the client's `X-Request-ID` if it is
sane, else a new one) and, once answered, puts it on the answer and counts the request
(Prometheus counters and latency by route template) in one JSON log line; then CORS, when
configured; then `LimitsMiddleware`: the per-client rate limit (429 with `Retry-After` before
any work is done) and the body limit (413 from `Content-Length` alone, or after reading at most
the limit of a body without one). Plain ASGI rather than Starlette's BaseHTTPMiddleware: it
adds no task or stream per request, which the order endpoint's throughput would feel.

Logs never carry a header, a body or a query string: no password or token can reach them.
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
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderproc.engine import errors
from orderproc.engine import limits

log = logging.getLogger("orderproc.server")

REQUEST_ID_HEADER = b"x-request-id"
_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_LIMITER_MAX_KEYS = 100_000
_METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"})


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


def error_body(exc: errors.OrderprocError) -> bytes:
    return json.dumps({"error": exc.to_dict()}, separators=(",", ":")).encode()


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
                    "ts": round(time.time(), 3), "event": "request", "request_id": request_id.decode(),
                    "method": method, "path": scope["path"][:256], "route": template, "status": status,
                    "ms": round(elapsed * 1000, 2), "client": client_address(scope),
                }, separators=(",", ":")))


class LimitsMiddleware:
    """The inner half: the per-address rate limit and the body limit, answered before any work
    (inside CORS, so that an allowed origin can read these answers too)."""

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, max_body: int) -> None:
        self.app = app
        self.limiter = limiter
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wait = self.limiter.take(client_address(scope))
        if wait:
            limited = errors.RateLimited("too many requests: slow down", {"retry_after": math.ceil(wait)})
            await _send_error(send, limited, [(b"retry-after", str(math.ceil(wait)).encode())])
        elif (body := await self._read_body(scope, receive)) is None:
            too_large = errors.PayloadTooLarge(f"the request body is over {self.max_body} bytes",
                                               {"limit": self.max_body})
            await _send_error(send, too_large, [(b"connection", b"close")])
        else:
            await self.app(scope, body, send)

    async def _read_body(self, scope: Scope, receive: Receive) -> Receive | None:
        """None if the body is over the limit; else the `receive` the app reads it from: the
        client's when its declared length is within the limit, or one replaying the body read
        here (no length given)."""
        length = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
                break
        if length is not None:
            return receive if length.isdigit() and int(length) <= self.max_body else None
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return receive
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


def _request_id(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            return value if _SANE_ID.fullmatch(value) else uuid.uuid4().hex.encode()
    return uuid.uuid4().hex.encode()


async def _send_error(send: Send, exc: errors.OrderprocError, headers: list[tuple[bytes, bytes]]) -> None:
    body = error_body(exc)
    await send({"type": "http.response.start", "status": exc.status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


def configure_logging(level: int = logging.INFO) -> None:
    """One JSON object a line on stderr for orderproc's server log (uvicorn's access log is off)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if message.startswith("{"):
            return message
        entry: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname.lower(), "event": message}
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry, separators=(",", ":"))
