"""The OpenAPI document and its pages: what generated clients and fuzzers read.

Every error answer has one shape, `ErrorEnvelope` (`{"error": {"code", "message", "details"}}`).
Which statuses an operation documents is decided in two places:

- `answers(...)`, on the routes: what depends on what the operation does (404 where it looks
  something up, 409 where a key, a name or an order's state can conflict);
- `document(app)`, for the statuses that follow from the operation's shape, the same rule for
  every route (and for FastAPI's own default, its `HTTPValidationError` 422, which it replaces):
  a bearer token: 401 (none, expired, revoked) and 403 (its user is disabled; not an admin);
  a body: 413 (over the limit), 415 (not said to be JSON) and 422; a constrained parameter:
  422; any path the rate limit covers: 429 with `Retry-After`.

`/docs` (Swagger UI) and `/redoc` are served from the assets fastapi-offline bundles: no CDN.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from orderproc.engine import errors
from orderproc.server.gateway import UNLIMITED_PATHS

DESCRIPTION = """\
Log in with `POST /v1/auth/login` and send its token as `Authorization: Bearer <token>`. A program
may send an API key instead (`POST /v1/keys` makes one: send its `token`, `<key_id>.<secret>`, the
same way): it reads and trades the one account it was made for (a read-only key only reads:
`read_only_key`); keys, the password, the profile, accounts and administration need a session
(`session_required`). An unknown, revoked or wrong key is `auth_required` (401).

**Numbers**: every money, quantity, price and basis-point field is a decimal string in plain
notation (`"0.5"`, `"250.00"`), in answers and in requests alike; a request that sends a JSON number
there is refused (`invalid_amount`). Each field's pattern says which strings it takes.

**Errors**: every error answer is `{"error": {"code", "message", "details"}}` with a stable `code`
(the same on every surface); `details.field` names the input at fault.

**Retries**: a POST that moves money takes an `Idempotency-Key`: the same key with the same request
has one effect and returns the first result; with another request it is a `conflict` (409).

**Alpaca**: programs written for Alpaca's API (alpaca-py's `TradingClient` and
`CryptoHistoricalDataClient` with `url_override`) use `/v2` and `/v1beta3` with an API key in
`APCA-API-KEY-ID` / `APCA-API-SECRET-KEY`. Those paths follow Alpaca's own documents (their
shapes, their errors) and are not in this one; the README lists what they cover.
"""
_REF = "#/components/schemas/"
DOCS_ASSETS = "/docs-assets"  # where the pages' scripts, styles and icon are served
_ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"


class ErrorDetail(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str = Field(pattern=r"^[a-z_]+$", description="Stable: the same code on every surface (CLI, terminal, API)",
                      examples=["validation_error"])
    message: str = Field(min_length=1, description="For people; may change", examples=["side must be buy or sell"])
    details: dict[str, Any] = Field(description="What the code says more precisely, e.g. `field` (the input at "
                                                "fault), `retry_after`, `limit`", examples=[{"field": "side"}])


class ErrorEnvelope(BaseModel):
    """Every error answer's body."""

    model_config = ConfigDict(frozen=True)

    error: ErrorDetail


# what each status means for this API; the codes are the errors registry's (errors.py)
_MEANING = {
    401: "No session: the token is missing, malformed, expired or revoked, or the API key unknown, revoked or "
         "wrong (a wrong password too, where one is sent)",
    403: "The caller may not do this: its user is disabled, not an admin, or an API key asks for what needs a "
         "session or (read-only) to move something",
    404: "What the request names does not exist (an asset, an order, an account, a user)",
    409: "The request conflicts with the ledger: an idempotency key used for another request, a name taken, an "
         "order no longer open, a price past the order's guard",
    413: "The body is over the server's limit (`max_body_bytes`)",
    415: "The body is not said to be JSON: send `Content-Type: application/json`",
    422: "The request breaks a rule: the schema's, or one that depends on the ledger (the asset's precision, the "
         "account's balance, the current price); `details.field` names the input",
    429: "Too many requests from this address (or login attempts for this name): wait `Retry-After` seconds",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer` when the token is missing or not valid",
                               "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait before trying again", "required": True,
                          "schema": {"type": "integer", "minimum": 1}}},
}


def _description(status: int) -> str:
    codes = sorted(code for code, cls in errors.ERRORS_BY_CODE.items() if cls.status == status and cls.code != "error")
    return f"{_MEANING[status]}. Codes: {', '.join(f'`{c}`' for c in codes)}" if codes else _MEANING[status]


def answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route for these error statuses, each with the error envelope."""
    return {status: {"model": ErrorEnvelope, "description": _description(status),
                     **({"headers": _HEADERS[status]} if status in _HEADERS else {})} for status in statuses}


def _doc(status: int) -> dict[str, Any]:
    """`answers` as it stands in the document."""
    found = {"description": _description(status),
             "content": {"application/json": {"schema": {"$ref": f"{_REF}ErrorEnvelope"}}}}
    if status in _HEADERS:
        found["headers"] = copy.deepcopy(_HEADERS[status])
    return found


def _can_fail_validation(parameter: dict[str, Any]) -> bool:
    """A parameter a request can get wrong: anything but an unconstrained string."""
    schema = {k: v for k, v in parameter.get("schema", {}).items() if k not in ("title", "description", "examples")}
    return schema != {"type": "string"}


def _shaped_statuses(path: str, operation: dict[str, Any]) -> set[int]:
    statuses: set[int] = set()
    if operation.get("security"):
        statuses |= {401, 403}
    if "requestBody" in operation:
        statuses |= {413, 415, 422}
    if any(_can_fail_validation(p) for p in operation.get("parameters", [])):
        statuses.add(422)
    if path not in UNLIMITED_PATHS:
        statuses.add(429)
    return statuses


def document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document (built once): FastAPI's, with every error status an operation
    can answer documented with the error envelope, and FastAPI's own 422 schema gone."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, summary=app.summary, description=app.description,
                      routes=app.routes, tags=app.openapi_tags, servers=app.servers)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorEnvelope" not in schemas:
        _, defs = models_json_schema([(ErrorEnvelope, "serialization")], ref_template=_REF + "{model}")
        schemas.update(defs["$defs"])
    for path, item in doc.get("paths", {}).items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            default = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if default.get("$ref") == f"{_REF}HTTPValidationError":
                del responses["422"]  # FastAPI's guess; the rule below says whether this one has a 422
            for status in sorted(_shaped_statuses(path, operation)):
                responses.setdefault(str(status), _doc(status))
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    app.openapi_schema = doc
    return doc


def serve_docs(app: FastAPI) -> None:
    """`/docs` and `/redoc` with their assets served by the app itself (fastapi-offline's copies
    of Swagger UI and ReDoc): the pages work without the internet, and name no other host."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=_ASSETS_DIR), name="docs-assets")
    title = app.title
    # Swagger UI asks validator.swagger.io about any document not on localhost: not here
    parameters = {"validatorUrl": None, "persistAuthorization": True}

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(openapi_url=f"{root}{app.openapi_url}", title=f"{title} - Swagger UI",
                                   swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
                                   swagger_ui_parameters=parameters)

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}{app.openapi_url}", title=f"{title} - ReDoc",
                              redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png", with_google_fonts=False)
