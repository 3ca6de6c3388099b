"""`create_app(engine)`: the HTTP API over one engine, with the gateway in front of it.

Tests build the app around an engine they opened (httpx's ASGI transport runs no lifespan);
`orderproc serve` builds it with `app_from_env`, which opens the ledger the `ORDERPROC_*`
settings name and closes it when the server stops (each worker process opens its own engine on
the same file: the ledger is safe for several processes).
"""

from __future__ import annotations

import asyncio
import functools
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route
from starlette.types import Scope

from orderproc import collector, package_version
from orderproc.config import Settings
from orderproc.engine import errors
from orderproc.engine.protocol import Engine
from orderproc.server import openapi
from orderproc.server.deps import LoginLimits
from orderproc.server.gateway import GatewayMiddleware, LimitsMiddleware, Metrics, RateLimiter, ReadGZipMiddleware, log
from orderproc.server.alpaca import common as alpaca
from orderproc.server.alpaca import market_data
from orderproc.server.alpaca import trading as alpaca_trading
from orderproc.server.routes import account, accounts, admin, alerts, assets, auth, journal, keys, orders, watchlist

_HTTP_CODES = {404: ("not_found", "no such route"), 405: ("method_not_allowed", "method not allowed here")}


class _PlainRoute(Route):
    """A Starlette route that, like FastAPI's, leaves itself in the scope (the gateway labels
    metrics and logs with its path template)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


def _allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route of this request's path takes (several routes share a path)."""
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(scope)[0] is not Match.NONE:
            methods |= route.methods
    return sorted(methods)


def create_app(engine: Engine, settings: Settings | None = None, *, owns_engine: bool = False) -> FastAPI:
    """The API over `engine`; with `owns_engine` the app closes it when it shuts down."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # the server's engine runs the price loop (each worker: every tick is matched once)
        prices = asyncio.create_task(engine.run_price_loop()) if owns_engine else None
        restore = _on_stop_signal(app.state.stopping.set)
        try:
            yield
        finally:
            restore()
            if prices is not None:
                prices.cancel()
                with suppress(asyncio.CancelledError):
                    await prices
            if owns_engine:
                await engine.close()

    app = FastAPI(
        title="orderproc",
        version=package_version(),
        summary="A paper-trading crypto exchange: one shared ledger, many terminals",
        description=openapi.DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # openapi.serve_docs: the pages without a CDN
        redoc_url=None,
        # no 307 to the path without its trailing slash: `/v1/assets/` (an empty symbol) is no
        # route, answered 404 in the error envelope, never a redirect an API client cannot follow
        redirect_slashes=False,
    )
    app.openapi = functools.partial(openapi.document, app)  # type: ignore[method-assign]
    app.state.engine = engine
    app.state.metrics = metrics = Metrics.create()
    app.state.login_limits = LoginLimits(settings.login_limit, engine)
    app.state.quote_feed = assets.QuoteFeed(engine)
    app.state.stopping = asyncio.Event()  # set on SIGTERM / Ctrl+C: the quote streams end

    # The routes themselves, not `include_router`: this FastAPI matches an included router's
    # routes through a wrapper per router, which cost more than the order itself. Routes are
    # tried in turn: the busiest first, before the documentation's.
    # The order endpoint is served by a plain Starlette route in front of FastAPI's: the same
    # function and answers, without FastAPI's request handler around it (about a fifth of an
    # order's server time, measured with bench/server_orders.py); FastAPI's route documents it.
    app.router.routes[:0] = [_PlainRoute("/v1/orders", orders.place_order, methods=["POST"])] + [
        route for module in (orders, account, assets, auth, accounts, keys, admin, journal, watchlist, alerts,
                             alpaca_trading, market_data)
        for route in module.router.routes]

    openapi.serve_docs(app)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(errors.OrderprocError)
    async def domain_error(request: Request, exc: errors.OrderprocError) -> JSONResponse:
        headers = {}
        if isinstance(exc, errors.RateLimited) and "retry_after" in exc.details:
            headers["Retry-After"] = str(exc.details["retry_after"])
        if isinstance(exc, errors.AuthRequired):
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # the offending input is never echoed back: it may be a password
        problems = [{"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", "")),
                     "type": str(e.get("type", ""))} for e in exc.errors()[:10]]
        first = problems[0] if problems else {"loc": [], "msg": "invalid request", "type": ""}
        if first["type"] == "json_invalid":
            message, field = "the request body is not valid JSON", None
        else:
            where = [part for part in first["loc"][1:] if not part.isdigit()] or first["loc"][:1]
            field = where[-1] if where else None
            message = f"{'.'.join(where) or 'request'}: {first['msg']}"
        error = errors.ValidationError(message, {"field": field, "problems": problems})
        return JSONResponse({"error": error.to_dict()}, status_code=error.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 400:  # a body FastAPI could not decode (bad UTF-8, nested too deep)
            error = errors.ValidationError("the request body could not be read as JSON")
            return JSONResponse({"error": error.to_dict()}, status_code=error.status)
        code, message = _HTTP_CODES.get(exc.status_code, ("http_error", str(exc.detail)))
        headers = exc.headers
        if exc.status_code == 405:  # Starlette names the methods of the first route of the path only
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(app, request.scope))}
        if alpaca.is_alpaca(request.url.path):
            return JSONResponse(alpaca.alpaca_body(exc.status_code, message, code), status_code=exc.status_code,
                                headers=headers)
        body = {"code": code, "message": message, "details": {}}
        return JSONResponse({"error": body}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
        body = {"code": "internal_error", "message": "internal error; the request id is in X-Request-ID",
                "details": {}}
        # this answer is sent outside the gateway (by Starlette's outermost middleware): the id
        # is added here
        request_id = getattr(request.state, "request_id", None)
        headers = {"X-Request-ID": request_id} if request_id else None
        return JSONResponse({"error": body}, status_code=500, headers=headers)

    # the last added is the outermost: gateway (request id, metrics, log), gzip, CORS, limits, app
    app.add_middleware(LimitsMiddleware, limiter=RateLimiter(settings.rate_limit, settings.rate_burst),
                       max_body=settings.max_body_bytes)
    if settings.cors_origins.strip():
        origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"],
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
                           expose_headers=["X-Request-ID", "Retry-After"])
    app.add_middleware(ReadGZipMiddleware)
    app.add_middleware(GatewayMiddleware, metrics=metrics, log_requests=settings.log_requests)
    return app


def app_from_env() -> FastAPI:
    """The uvicorn factory of `orderproc serve`: the ledger and limits from ORDERPROC_* settings."""
    from orderproc.engine import open_local_engine
    from orderproc.server.gateway import configure_logging

    configure_logging()
    settings = Settings.load()
    engine = open_local_engine(settings)
    log.info("serving ledger %s", engine.location)
    app = create_app(engine, settings, owns_engine=True)
    # measured with bench/server_orders.py: with the default thresholds the collector ran every
    # few requests and made the orders' p99 4-6x the trivial endpoint's; frozen, 1.3-1.6x
    collector.freeze(collect=True)
    return app


def _on_stop_signal(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` on the loop when SIGTERM or SIGINT arrives, then the server's own handler
    (uvicorn's, which stops taking connections and waits for the running requests): the quote
    streams end at once, cleanly, instead of holding the stop. Returns what undoes it."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals reach the main thread only (a server run in a thread by a test)
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: object) -> None:
        loop.call_soon_threadsafe(callback)
        before = previous[signal.Signals(signum)]
        if callable(before):
            before(signum, frame)  # type: ignore[arg-type]  # a FrameType, passed on as received

    for sig in previous:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, before in previous.items():
            signal.signal(sig, before)

    return restore
