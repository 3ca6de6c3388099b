"""Bad input of any kind gets its stable error code from the engine and leaves the ledger exactly as it was.

Each test feeds one bad value to every engine call that takes it and records what each call
did ("accepted" when it went through), so a failure names every call that misbehaved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pydantic
import pytest
from conftest import PASSWORD

from orderproc.engine import errors
from orderproc.engine.schemas import OrderRequest, Side
from orderproc.engine.service import LocalEngine

Call = Callable[[LocalEngine, str, Any], Awaitable[object]]


async def outcome(call: Callable[[], Awaitable[object]]) -> str:
    """The stable error code a call raised, or "accepted" when it went through."""
    try:
        await call()
    except errors.OrderprocError as exc:
        return exc.code
    except pydantic.ValidationError:
        return "pydantic.ValidationError (no stable code)"
    return "accepted"


async def snapshot(engine: LocalEngine, token: str) -> tuple[object, ...]:
    """Everything a bad input must not change: cash, journal, orders, positions, users, the checker's report."""
    report = await engine.admin_verify(engine.operator_token)
    assert report.ok, report.problems
    return (
        await engine.balance(token),
        (await engine.history(token)).total,
        (await engine.orders(token)).total,
        await engine.portfolio(token),
        await engine.admin_users(engine.operator_token),
        report,
    )


@pytest.fixture
async def funded(engine: LocalEngine, token: str) -> str:
    """alice with cash and an ETH position, so that every bad request has something it could wrongly move."""
    await engine.deposit(token, "1000")
    await engine.place_order(token, OrderRequest(symbol="ETH", side=Side.BUY, quantity="0.1"))
    return token


def _order(side: Side, field: str, value: Any, symbol: str = "ETH", **extra: Any) -> OrderRequest:
    return OrderRequest(symbol=symbol, side=side, **{field: value}, **extra)


CASH_CALLS: dict[str, Call] = {
    "deposit": lambda e, t, v: e.deposit(t, v),
    "withdraw": lambda e, t, v: e.withdraw(t, v),
    "buy by USD amount": lambda e, t, v: e.place_order(t, _order(Side.BUY, "notional", v)),
    "sell by USD amount": lambda e, t, v: e.place_order(t, _order(Side.SELL, "notional", v)),
}
QUANTITY_CALLS: dict[str, Call] = {
    "buy by quantity": lambda e, t, v: e.place_order(t, _order(Side.BUY, "quantity", v)),
    "sell by quantity": lambda e, t, v: e.place_order(t, _order(Side.SELL, "quantity", v)),
}
PRICE_GUARD_CALLS: dict[str, Call] = {
    "buy price guard": lambda e, t, v: e.place_order(t, _order(Side.BUY, "quantity", "0.001", price_limit=v)),
    "sell price guard": lambda e, t, v: e.place_order(t, _order(Side.SELL, "quantity", "0.001", price_limit=v)),
}

# not a positive, finite, plain decimal number in any field
NOT_AN_AMOUNT = [
    pytest.param(0, id="zero"),
    pytest.param("0", id="zero-string"),
    pytest.param(-1, id="minus-one"),
    pytest.param("-1", id="minus-one-string"),
    pytest.param("NaN", id="NaN"),
    pytest.param("Infinity", id="Infinity"),
    pytest.param("-Infinity", id="-Infinity"),
    pytest.param("1e400", id="1e400"),
    pytest.param("", id="empty"),
    pytest.param(" ", id="blank"),
    pytest.param("abc", id="abc"),
    pytest.param("1,000", id="thousands-comma"),
    pytest.param("１０", id="full-width-digits"),
    pytest.param(0.1, id="float"),
    pytest.param(True, id="bool"),
    pytest.param(None, id="None"),
]
# a number, but too large to be an amount or a quantity (a price guard may be any positive price)
TOO_LARGE = [
    pytest.param("1" + "0" * 30, id="10^30"),
    pytest.param("10" * 30, id="60-digit-number"),
    pytest.param(str(2**63), id="2^63"),
]


@pytest.mark.parametrize("value", NOT_AN_AMOUNT + TOO_LARGE)
async def test_a_bad_amount_is_an_invalid_amount_for_every_cash_and_quantity_call_and_changes_nothing(
    engine: LocalEngine, funded: str, value: Any
) -> None:
    before = await snapshot(engine, funded)
    calls = {**CASH_CALLS, **QUANTITY_CALLS}
    seen = {name: await outcome(lambda c=call: c(engine, funded, value)) for name, call in calls.items()}  # type: ignore[misc]
    assert seen == dict.fromkeys(calls, "invalid_amount")
    assert await snapshot(engine, funded) == before


@pytest.mark.parametrize("value", [p for p in NOT_AN_AMOUNT if p.values[0] is not None])  # None: no guard
async def test_a_bad_price_guard_is_an_invalid_amount_and_changes_nothing(
    engine: LocalEngine, funded: str, value: Any
) -> None:
    before = await snapshot(engine, funded)
    seen = {name: await outcome(lambda c=call: c(engine, funded, value)) for name, call in PRICE_GUARD_CALLS.items()}  # type: ignore[misc]
    assert seen == dict.fromkeys(PRICE_GUARD_CALLS, "invalid_amount")
    assert await snapshot(engine, funded) == before


@pytest.mark.parametrize("value", ["0.001", "0.009", "12.345", "1000.001"])
async def test_cash_with_more_than_two_decimals_is_an_invalid_amount_and_changes_nothing(
    engine: LocalEngine, funded: str, value: str
) -> None:
    before = await snapshot(engine, funded)
    seen = {name: await outcome(lambda c=call: c(engine, funded, value)) for name, call in CASH_CALLS.items()}  # type: ignore[misc]
    assert seen == dict.fromkeys(CASH_CALLS, "invalid_amount")
    assert await snapshot(engine, funded) == before


@pytest.mark.parametrize(
    ("symbol", "value"),
    [("ETH", "0.000000001"), ("ETH", "0.05000000001"), ("BTC", "0.000000005"), ("DOGE", "1.123456789")],
)
async def test_a_quantity_finer_than_the_assets_precision_is_an_invalid_amount_and_changes_nothing(
    engine: LocalEngine, funded: str, symbol: str, value: str
) -> None:
    precision = (await engine.get_asset(symbol)).precision
    assert -Decimal(value).as_tuple().exponent > precision  # type: ignore[operator]
    before = await snapshot(engine, funded)
    seen = {
        side: await outcome(lambda s=side: engine.place_order(funded, _order(s, "quantity", value, symbol)))  # type: ignore[misc]
        for side in (Side.BUY, Side.SELL)
    }
    assert seen == dict.fromkeys((Side.BUY, Side.SELL), "invalid_amount")
    assert await snapshot(engine, funded) == before


SYMBOL_CALLS: dict[str, Call] = {
    "quote": lambda e, t, s: e.quote(s),
    "get_asset": lambda e, t, s: e.get_asset(s),
    "quotes": lambda e, t, s: e.quotes(["BTC", s]),
    "price_history": lambda e, t, s: e.price_history(s),
    "candles": lambda e, t, s: e.candles(s),
    "bars": lambda e, t, s: e.bars(s, interval=60),
    "buy": lambda e, t, s: e.place_order(t, _order(Side.BUY, "quantity", "0.01", s)),
    "sell": lambda e, t, s: e.place_order(t, _order(Side.SELL, "quantity", "0.01", s)),
    "orders filter": lambda e, t, s: e.orders(t, symbol=s),
}


@pytest.mark.parametrize(
    "symbol",
    [
        pytest.param("NOPE", id="unknown"),
        pytest.param("BTC'; DROP TABLE users;--", id="sql-injection"),
        pytest.param("ETH OR 1=1", id="sql-or"),
        pytest.param(" ", id="blank"),
        pytest.param("B TC", id="inner-space"),
        pytest.param("BTC\x00", id="nul"),
        pytest.param("БТЦ", id="cyrillic"),
        pytest.param("ＢＴＣ", id="full-width"),
        pytest.param("ſ", id="long-s-that-uppercases-to-S"),
        pytest.param("€", id="euro-sign"),
        pytest.param("X" * 10_000, id="10k-chars"),
    ],
)
async def test_an_unknown_or_malformed_symbol_is_unknown_asset_everywhere_and_changes_nothing(
    engine: LocalEngine, funded: str, symbol: str
) -> None:
    before = await snapshot(engine, funded)
    seen = {name: await outcome(lambda c=call: c(engine, funded, symbol)) for name, call in SYMBOL_CALLS.items()}  # type: ignore[misc]
    assert seen == dict.fromkeys(SYMBOL_CALLS, "unknown_asset")
    assert await snapshot(engine, funded) == before
    assert [u.username for u in await engine.admin_users(engine.operator_token)] == ["alice"]


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("", id="empty"),
        pytest.param("ab", id="two-chars"),
        pytest.param("a" * 33, id="33-chars"),
        pytest.param("al ice", id="space"),
        pytest.param(" alice2", id="leading-space"),
        pytest.param("bob\n", id="trailing-newline"),
        pytest.param("ålice", id="non-ascii-letter"),
        pytest.param("ａｌｉｃｅ", id="full-width"),
        pytest.param("bob'--", id="sql-quote"),
        pytest.param("a\x00b", id="nul"),
        pytest.param("al\u200bice", id="zero-width-space"),
        pytest.param("x" * 1_000_000, id="1M-chars"),
        pytest.param(None, id="None"),
        pytest.param(12345, id="int"),
    ],
)
async def test_a_bad_username_is_a_validation_error_and_creates_nobody(
    engine: LocalEngine, funded: str, username: Any
) -> None:
    before = await snapshot(engine, funded)
    assert await outcome(lambda: engine.register(username, PASSWORD)) == "validation_error"
    assert await snapshot(engine, funded) == before


@pytest.mark.parametrize("password", [None, 12345678, b"bytes password", "seven!!", "p" * 129])
async def test_a_bad_password_is_a_validation_error_and_creates_nobody(
    engine: LocalEngine, funded: str, password: Any
) -> None:
    before = await snapshot(engine, funded)
    assert await outcome(lambda: engine.register("newcomer", password)) == "validation_error"
    assert await snapshot(engine, funded) == before


@pytest.mark.parametrize(
    "key",
    [pytest.param("", id="empty"), pytest.param("k" * 129, id="129-chars"), pytest.param("a\nb", id="newline"),
     pytest.param("a\x00b", id="nul")],
)
async def test_a_malformed_idempotency_key_is_a_validation_error_and_changes_nothing(
    engine: LocalEngine, funded: str, key: Any
) -> None:
    before = await snapshot(engine, funded)
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "deposit": lambda: engine.deposit(funded, "10", key=key),
        "withdraw": lambda: engine.withdraw(funded, "10", key=key),
        "order": lambda: engine.place_order(funded, _order(Side.BUY, "notional", "10", client_order_id=key)),
    }
    seen = {name: await outcome(call) for name, call in calls.items()}
    assert seen == dict.fromkeys(calls, "validation_error")
    assert await snapshot(engine, funded) == before


@pytest.mark.parametrize(
    "bad_token",
    [pytest.param(None, id="None"), pytest.param("", id="empty"), pytest.param(42, id="int"),
     pytest.param("x" * 100_000, id="100k-chars"), pytest.param("a.b.c", id="three-dots")],
)
async def test_a_missing_or_malformed_token_is_auth_required_and_changes_nothing(
    engine: LocalEngine, funded: str, bad_token: Any
) -> None:
    before = await snapshot(engine, funded)
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "whoami": lambda: engine.whoami(bad_token),
        "deposit": lambda: engine.deposit(bad_token, "10"),
        "withdraw": lambda: engine.withdraw(bad_token, "10"),
        "order": lambda: engine.place_order(bad_token, _order(Side.BUY, "notional", "10")),
        "portfolio": lambda: engine.portfolio(bad_token),
        "logout": lambda: engine.logout(bad_token),
    }
    seen = {name: await outcome(call) for name, call in calls.items()}
    assert seen == dict.fromkeys(calls, "auth_required")
    assert await snapshot(engine, funded) == before
