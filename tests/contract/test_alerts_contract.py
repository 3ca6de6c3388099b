"""Price alerts: set above or below a price, fired once by the price loop at the first tick
after they were set at which the price reaches them (with that tick's time and price), listed
waiting or fired, removed. Bad input is a clear error
that changes nothing. On the ledger itself and through a RemoteEngine over the HTTP app, on
SQLite and PostgreSQL. (The account stream's part: test_account_events.py.)"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from conftest import Clock

from orderproc.engine import errors
from orderproc.engine.protocol import Engine
from orderproc.engine.rules import round_price
from orderproc.engine.service import LocalEngine
from orderproc.engine.watching import AlertDirection
from contract_helpers import engine, ledger_checks_out, signed_up  # noqa: F401 - fixtures

SYMBOL = "ETH"


def crossing(engine: LocalEngine, clock: Clock, direction: AlertDirection, within: int = 1800) -> tuple[Decimal, int]:
    """A level the price goes to in `direction` within `within` seconds, not reached now (halfway
    to the furthest it goes), and the first tick that reaches it; the clock moved on, by ten
    minutes at a time, to a moment when the price does go that way."""
    for _ in range(100):
        start = math.floor(clock())
        current = engine.market.price(SYMBOL, clock())
        path = [(t, engine.market.price(SYMBOL, t)) for t in range(start + 1, start + within + 1)]
        above = direction is AlertDirection.ABOVE
        furthest = max(p for _, p in path) if above else min(p for _, p in path)
        level = round_price((current + furthest) / 2)
        if (current < level <= furthest) if above else (furthest <= level < current):
            return level, next(t for t, price in path if (price >= level if above else price <= level))
        clock.advance(600)
    raise AssertionError("the price never went that way")


@pytest.mark.parametrize("direction", list(AlertDirection))
async def test_an_alert_fires_once_at_the_first_tick_that_reaches_it(
    api: Engine, engine: LocalEngine, clock: Clock, direction: AlertDirection
) -> None:
    token = await signed_up(api)
    level, first = crossing(engine, clock, direction)
    alert = await api.set_alert(token, SYMBOL.lower(), direction, str(level))
    assert (alert.symbol, alert.direction, alert.price, alert.fired_at) == (SYMBOL, direction, level, None)
    assert [a.id for a in await api.alerts(token, fired=False)] == [alert.id]

    clock.now = first - 0.5  # not yet
    assert await api.alerts(token, fired=True) == []
    clock.now = first + 30
    fired = await api.alerts(token, fired=True)
    assert [a.id for a in fired] == [alert.id]
    assert fired[0].fired_at == datetime.fromtimestamp(first, UTC)
    assert fired[0].fired_price == round_price(engine.market.price(SYMBOL, first))
    assert await api.alerts(token, fired=False) == []
    clock.advance(600)  # once: the price may come back, the alert stays as it fired
    assert (await api.alerts(token))[0].fired_at == datetime.fromtimestamp(first, UTC)


async def test_two_engines_on_the_ledger_fire_an_alert_once(api: Engine, engine: LocalEngine, clock: Clock) -> None:
    token = await signed_up(api)
    level, first = crossing(engine, clock, AlertDirection.ABOVE)
    alert = await api.set_alert(token, SYMBOL, "above", level)
    other = LocalEngine(engine.path, clock=clock, hash_profile="fast")
    try:
        clock.now = first + 5
        await other.alerts(token)  # its pass looks at the ticks first
        await engine.alerts(token)
        fired = await api.alerts(token, fired=True)
        assert [(a.id, a.fired_at) for a in fired] == [(alert.id, datetime.fromtimestamp(first, UTC))]
    finally:
        await other.close()


async def test_alerts_are_the_users_and_removed_one_by_one(api: Engine, engine: LocalEngine, clock: Clock) -> None:
    alice = await signed_up(api, "alice")
    bob = await signed_up(api, "bob")
    level, _ = crossing(engine, clock, AlertDirection.ABOVE)
    first = await api.set_alert(alice, SYMBOL, "above", level)
    second = await api.set_alert(alice, "BTC", "below", "1")
    assert [a.id for a in await api.alerts(alice)] == [first.id, second.id]
    assert await api.alerts(bob) == []
    with pytest.raises(errors.NotFound):
        await api.remove_alert(bob, first.id)
    removed = await api.remove_alert(alice, first.id)
    assert removed.id == first.id
    assert [a.id for a in await api.alerts(alice)] == [second.id]
    with pytest.raises(errors.NotFound):
        await api.remove_alert(alice, first.id)


async def test_bad_alerts_are_refused_and_change_nothing(api: Engine, engine: LocalEngine, clock: Clock) -> None:
    token = await signed_up(api)
    now = engine.market.price(SYMBOL, clock())
    with pytest.raises(errors.ValidationError) as already:  # it would fire at once
        await api.set_alert(token, SYMBOL, "above", round_price(now * Decimal("0.9")))
    assert "already" in already.value.message
    with pytest.raises(errors.UnknownAsset):
        await api.set_alert(token, "NOPE", "above", "10")
    for price in ("0", "-5", "abc"):
        with pytest.raises(errors.InvalidAmount):
            await api.set_alert(token, SYMBOL, "above", price)
    with pytest.raises(errors.ValidationError):
        await api.set_alert(token, SYMBOL, "sideways", "10")
    assert await api.alerts(token) == []
