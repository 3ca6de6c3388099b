"""`Idempotency-Key`: a retried request that moves money has one effect, over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from orderproc.engine.service import LocalEngine
from orderproc.server.app import create_app
from server_helpers import QUIET, bearer, cash, client, code, ledger_state, sign_up

ORDER = {"symbol": "BTC", "side": "buy", "notional": "25"}


@pytest.fixture
async def http(engine: LocalEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with client(create_app(engine, QUIET)) as c:
        yield c


def keyed(token: str, key: str) -> dict[str, str]:
    return {**bearer(token), "Idempotency-Key": key}


async def deposit(http: httpx.AsyncClient, token: str, amount: str, key: str | None = None) -> httpx.Response:
    headers = keyed(token, key) if key is not None else bearer(token)
    return await http.post("/v1/cash/deposit", json={"amount": amount}, headers=headers)


async def transactions(http: httpx.AsyncClient, token: str) -> int:
    total: int = (await http.get("/v1/transactions", headers=bearer(token))).json()["total"]
    return total


async def orders(http: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    page = (await http.get("/v1/orders", headers=bearer(token))).json()
    assert page["total"] == len(page["items"])
    items: list[dict[str, Any]] = page["items"]
    return items


# -- cash ---------------------------------------------------------------------------------------


async def test_a_repeated_deposit_with_the_same_key_moves_the_money_once(http: httpx.AsyncClient, token: str) -> None:
    first = await deposit(http, token, "100.00", "dep-1")
    again = await deposit(http, token, "100.00", "dep-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert first.json()["client_key"] == "dep-1"
    assert await cash(http, token) == Decimal("100")
    assert await transactions(http, token) == 1


async def test_the_same_amount_written_otherwise_is_the_same_request(http: httpx.AsyncClient, token: str) -> None:
    first = await deposit(http, token, "100", "dep-1")
    again = await deposit(http, token, "100.00", "dep-1")
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert await cash(http, token) == Decimal("100")


async def test_without_a_key_each_deposit_counts(http: httpx.AsyncClient, token: str) -> None:
    first = await deposit(http, token, "100")
    second = await deposit(http, token, "100")
    assert first.json()["id"] != second.json()["id"]
    assert await cash(http, token) == Decimal("200")


@pytest.mark.parametrize(("path", "amount"), [("/v1/cash/deposit", "250.00"), ("/v1/cash/withdraw", "100.00")])
async def test_the_same_key_for_a_different_request_answers_409_and_moves_nothing(
    engine: LocalEngine, http: httpx.AsyncClient, token: str, path: str, amount: str
) -> None:
    assert (await deposit(http, token, "100.00", "dep-1")).status_code == 201
    before = await ledger_state(engine)

    reused = await http.post(path, json={"amount": amount}, headers=keyed(token, "dep-1"))
    assert reused.status_code == 409
    assert code(reused) == "conflict"
    assert await ledger_state(engine) == before
    assert await cash(http, token) == Decimal("100")


async def test_a_repeated_withdrawal_with_the_same_key_takes_the_money_once(
    http: httpx.AsyncClient, token: str
) -> None:
    await deposit(http, token, "100")
    answers = [await http.post("/v1/cash/withdraw", json={"amount": "30"}, headers=keyed(token, "w-1"))
               for _ in range(3)]
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert await cash(http, token) == Decimal("70")


@pytest.mark.parametrize("key", ["k" * 129, "tab\there"])
async def test_an_unusable_key_answers_422_and_moves_nothing(
    http: httpx.AsyncClient, token: str, key: str
) -> None:
    answer = await deposit(http, token, "100", key)
    assert answer.status_code == 422
    assert code(answer) == "validation_error"
    assert await cash(http, token) == 0


async def test_ten_concurrent_deposits_with_one_key_have_one_effect(
    engine: LocalEngine, http: httpx.AsyncClient, token: str
) -> None:
    answers = await asyncio.gather(*(deposit(http, token, "100", "burst") for _ in range(10)))
    assert [a.status_code for a in answers] == [201] * 10
    assert len({a.json()["id"] for a in answers}) == 1
    assert await cash(http, token) == Decimal("100")
    assert await transactions(http, token) == 1
    await ledger_state(engine)  # and the journal still balances


async def test_two_users_with_the_same_key_each_get_their_own_result(http: httpx.AsyncClient, token: str) -> None:
    bob = await sign_up(http, "bob")
    alices = await deposit(http, token, "100", "shared-key")
    bobs = await deposit(http, bob, "40", "shared-key")  # another amount: no conflict across users
    assert alices.status_code == bobs.status_code == 201
    assert alices.json()["id"] != bobs.json()["id"]
    assert (await cash(http, token), await cash(http, bob)) == (Decimal("100"), Decimal("40"))

    alice_order = await http.post("/v1/orders", json=ORDER, headers=keyed(token, "shared-order"))
    bob_order = await http.post("/v1/orders", json={**ORDER, "notional": "10"}, headers=keyed(bob, "shared-order"))
    assert alice_order.status_code == bob_order.status_code == 201
    assert alice_order.json()["id"] != bob_order.json()["id"]
    assert [o["id"] for o in await orders(http, token)] == [alice_order.json()["id"]]
    assert [o["id"] for o in await orders(http, bob)] == [bob_order.json()["id"]]


# -- orders ---------------------------------------------------------------------------------------


async def test_a_repeated_order_with_the_same_key_fills_once(http: httpx.AsyncClient, token: str) -> None:
    await deposit(http, token, "100")
    first = await http.post("/v1/orders", json=ORDER, headers=keyed(token, "ord-1"))
    again = await http.post("/v1/orders", json=ORDER, headers=keyed(token, "ord-1"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert first.json()["client_order_id"] == "ord-1"
    assert len(await orders(http, token)) == 1
    assert await cash(http, token) == Decimal("75")


async def test_the_key_and_the_same_client_order_id_are_one_request(http: httpx.AsyncClient, token: str) -> None:
    await deposit(http, token, "100")
    by_header = await http.post("/v1/orders", json=ORDER, headers=keyed(token, "ord-1"))
    by_body = await http.post("/v1/orders", json={**ORDER, "client_order_id": "ord-1"}, headers=bearer(token))
    both = await http.post("/v1/orders", json={**ORDER, "client_order_id": "ord-1"}, headers=keyed(token, "ord-1"))
    assert by_header.json()["id"] == by_body.json()["id"] == both.json()["id"]
    assert len(await orders(http, token)) == 1


async def test_a_key_and_a_different_client_order_id_answer_422_and_place_nothing(
    engine: LocalEngine, http: httpx.AsyncClient, token: str
) -> None:
    await deposit(http, token, "100")
    before = await ledger_state(engine)
    answer = await http.post("/v1/orders", json={**ORDER, "client_order_id": "ord-2"}, headers=keyed(token, "ord-1"))
    assert answer.status_code == 422
    assert code(answer) == "validation_error"
    assert await ledger_state(engine) == before
    assert await orders(http, token) == []


async def test_an_order_key_reused_for_another_order_answers_409(http: httpx.AsyncClient, token: str) -> None:
    await deposit(http, token, "100")
    await http.post("/v1/orders", json=ORDER, headers=keyed(token, "ord-1"))
    reused = await http.post("/v1/orders", json={**ORDER, "notional": "30"}, headers=keyed(token, "ord-1"))
    assert reused.status_code == 409
    assert code(reused) == "conflict"
    assert len(await orders(http, token)) == 1
    assert await cash(http, token) == Decimal("75")


async def test_ten_concurrent_orders_with_one_key_fill_once(http: httpx.AsyncClient, token: str) -> None:
    await deposit(http, token, "100")
    answers = await asyncio.gather(
        *(http.post("/v1/orders", json=ORDER, headers=keyed(token, "ord-burst")) for _ in range(10))
    )
    assert [a.status_code for a in answers] == [201] * 10
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(await orders(http, token)) == 1
    assert await cash(http, token) == Decimal("75")
