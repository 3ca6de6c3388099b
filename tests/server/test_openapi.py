"""The OpenAPI document as generated clients read it, and the documentation pages without the
internet. (What the server answers against the document: tests/hostile/test_api_schemathesis.py.)"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from orderproc.engine.protocol import Engine
from orderproc.engine.service import LocalEngine
from orderproc.server import openapi
from orderproc.server.app import create_app
from orderproc.server.gateway import UNLIMITED_PATHS
from server_helpers import QUIET, bearer, client, code, sign_up

DOCUMENT = create_app(cast(Engine, None), QUIET).openapi()
OPERATIONS = [(method.upper(), path, op) for path, item in DOCUMENT["paths"].items() for method, op in item.items()]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


@pytest.fixture
async def http(engine: LocalEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with client(create_app(engine, QUIET)) as c:
        yield c


def test_every_reference_in_the_document_resolves_to_one_of_its_components() -> None:
    components = set(DOCUMENT["components"]["schemas"])
    refs = set(_refs(DOCUMENT))
    assert refs and all(ref.startswith("#/components/schemas/") for ref in refs), refs
    assert {ref.removeprefix("#/components/schemas/") for ref in refs} <= components
    assert "$defs" not in json.dumps(DOCUMENT)


def test_the_order_body_is_fastapis_own_component_with_its_enums_resolvable() -> None:
    body = DOCUMENT["paths"]["/v1/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/OrderRequest"}
    order = DOCUMENT["components"]["schemas"]["OrderRequest"]
    assert order["properties"]["side"] == {"$ref": "#/components/schemas/Side"}
    assert DOCUMENT["components"]["schemas"]["Side"]["enum"] == ["buy", "sell"]


def test_every_error_status_of_every_operation_is_the_error_envelope_and_fastapis_own_422_is_gone() -> None:
    assert not {"HTTPValidationError", "ValidationError"} & set(DOCUMENT["components"]["schemas"])
    for method, path, op in OPERATIONS:
        for status, answer in op["responses"].items():
            if int(status) >= 400:
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path, status)


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_an_operation_documents_the_statuses_its_shape_can_answer(method: str, path: str, op: dict[str, Any]) -> None:
    statuses = set(op["responses"])
    assert ("429" in statuses) == (path not in UNLIMITED_PATHS)
    if op.get("security"):
        assert {"401", "403"} <= statuses
    if "requestBody" in op:
        assert {"413", "415", "422"} <= statuses
    if path.startswith("/v1/admin/"):
        assert "403" in statuses
    if "{" in path:  # a thing looked up by its path
        assert "404" in statuses
    if "429" in statuses:
        assert op["responses"]["429"]["headers"]["Retry-After"]["required"] is True


def test_the_schema_states_the_rules_the_server_enforces() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assets = next(p for p in DOCUMENT["paths"]["/v1/assets"]["get"]["parameters"] if p["name"] == "sort")
    assert assets["schema"]["enum"] == ["rank", "symbol", "name", "price", "change", "category"]
    history = {p["name"]: p["schema"] for p in DOCUMENT["paths"]["/v1/assets/{symbol}/history"]["get"]["parameters"]}
    assert history["points"]["maximum"] == 1000
    candles = {p["name"]: p["schema"] for p in DOCUMENT["paths"]["/v1/assets/{symbol}/candles"]["get"]["parameters"]}
    assert candles["range"]["enum"] == ["1h", "1d", "1w", "1m", "1y"] and candles["range"]["default"] == "1d"
    assert (candles["limit"]["minimum"], candles["limit"]["maximum"]) == (1, 500)
    candle = schemas["PricePoint"]["properties"]
    assert all(candle[name]["type"] == "string" for name in ("open", "high", "low", "close"))  # exact decimals
    registration = schemas["Registration"]["properties"]
    assert (registration["password"]["minLength"], registration["password"]["maxLength"]) == (8, 128)
    assert registration["username"]["pattern"] == r"^[A-Za-z0-9_.\-]{3,32}$"
    for patch in ("ProfileUpdate", "UserChange", "SettingsUpdate"):  # a patch changes something
        assert all(option["required"] and "not" in next(iter(option["properties"].values()))
                   for option in schemas[patch]["anyOf"]), patch
    shapes = schemas["OrderRequest"]["allOf"][0]["anyOf"]  # quantity or notional, not both
    by_quantity, by_notional = shapes[0], shapes[1]
    assert by_quantity["required"] == ["quantity"] and by_quantity["properties"]["notional"] == {"type": "null"}
    assert by_notional["required"] == ["notional"] and by_notional["properties"]["quantity"] == {"type": "null"}


def test_every_decimal_of_every_body_is_a_string_with_a_pattern_never_a_number() -> None:
    decimals = 0
    for name, schema in DOCUMENT["components"]["schemas"].items():
        for field, prop in schema.get("properties", {}).items():
            options = prop.get("anyOf", [prop])
            assert not any(o.get("type") == "number" for o in options), (name, field)
            decimals += any(o.get("type") == "string" and "[0-9]" in o.get("pattern", "") for o in options)
    assert decimals > 40  # answers' and requests' money, quantities, prices, basis points


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/orders", {"symbol": "BTC", "side": "buy", "quantity": 1}),
    ("/v1/orders/preview", {"symbol": "BTC", "side": "buy", "notional": 250}),
    ("/v1/orders", {"symbol": "BTC", "side": "buy", "quantity": "0.1", "price_limit": 1e6}),
    ("/v1/cash/deposit", {"amount": 100}),
    ("/v1/accounts/reset", {"cash": 10.5}),
])
async def test_a_json_number_where_the_schema_says_decimal_string_is_refused(
    http: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> None:
    token = await sign_up(http, "alice")
    answer = await http.post(path, json=body, headers=bearer(token))
    assert (answer.status_code, code(answer)) == (422, "invalid_amount")


async def test_the_schemas_order_examples_are_orders_the_server_takes(http: httpx.AsyncClient) -> None:
    token = await sign_up(http, "alice")
    assert (await http.post("/v1/cash/deposit", json={"amount": "100000.00"}, headers=bearer(token))).status_code == 201
    for example in DOCUMENT["components"]["schemas"]["OrderRequest"]["examples"]:
        answer = await http.post("/v1/orders", json=example, headers=bearer(token))
        assert answer.status_code == 201, (example, answer.text)
        assert Decimal(answer.json()["quantity"]) > 0


async def test_fastapis_documented_order_route_answers_as_the_plain_route_in_front_of_it(engine: LocalEngine) -> None:
    plain, documented = create_app(engine, QUIET), create_app(engine, QUIET)
    first = plain.router.routes[0]
    assert isinstance(first, Route) and not isinstance(first, APIRoute) and first.path == "/v1/orders"
    del documented.router.routes[0]  # FastAPI's own route answers
    order = {"symbol": "BTC", "side": "buy", "quantity": "0.001"}
    async with client(plain) as p, client(documented) as d:
        token = await sign_up(p, "alice")
        await p.post("/v1/cash/deposit", json={"amount": "1000.00"}, headers=bearer(token))
        for app_client, key in ((p, "k1"), (d, "k2")):
            placed = await app_client.post("/v1/orders", json=order, headers={**bearer(token), "Idempotency-Key": key})
            assert placed.status_code == 201, placed.text
            assert set(placed.json()) == set(DOCUMENT["components"]["schemas"]["Order"]["properties"])
            assert placed.json()["client_order_id"] == key
        for app_client in (p, d):  # the same refusals, in the same words
            refused = await app_client.post("/v1/orders", json={**order, "quantity": 5}, headers=bearer(token))
            assert (refused.status_code, refused.json()["error"]["details"]) == (422, {"field": "quantity"})
            differing = await app_client.post("/v1/orders", json={**order, "client_order_id": "a"},
                                              headers={**bearer(token), "Idempotency-Key": "b"})
            assert (differing.status_code, code(differing)) == (422, "validation_error")
            nobody = await app_client.post("/v1/orders", json=order)
            assert (nobody.status_code, code(nobody)) == (401, "auth_required")


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("GET", "/v1/orders/preview", "POST"),  # not read as the order "preview"
    ("OPTIONS", "/v1/orders", "DELETE, GET, POST"),
    ("PUT", "/v1/orders/7", "DELETE, GET"),
    ("POST", "/v1/me", "GET, PATCH"),
])
async def test_a_method_a_path_does_not_take_is_405_naming_every_method_it_takes(
    http: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    answer = await http.request(method, path)
    assert (answer.status_code, code(answer), answer.headers["allow"]) == (405, "method_not_allowed", allowed)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_documentation_pages_name_no_other_host_and_their_assets_are_served(
    http: httpx.AsyncClient, page: str
) -> None:
    html = (await http.get(page)).text
    assert "//" not in re.sub(r"<!--.*?-->", "", html, flags=re.DOTALL).replace("://test", "")  # no URL with a host
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) >= 2 and all(a.startswith(openapi.DOCS_ASSETS + "/") for a in assets), assets
    for asset in assets:
        answer = await http.get(asset)
        assert answer.status_code == 200 and len(answer.content) > 0, asset
    assert "/openapi.json" in html
    assert (await http.get("/openapi.json")).json() == DOCUMENT
