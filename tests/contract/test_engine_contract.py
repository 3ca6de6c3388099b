"""One suite for the Engine protocol, run against LocalEngine and against RemoteEngine talking to
the HTTP app in-process (httpx's ASGI transport): whatever a terminal or a script does, the
ledger file and the server answer alike, down to the error classes and the last decimal.

Set-up that is not part of the protocol (granting the admin role, moving the clock) goes
through the ledger's LocalEngine as its operator.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_CEILING, Decimal
from typing import Any

import pytest
from conftest import PASSWORD, Clock

from orderproc.engine import errors
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import OrderRequest, OrderStatus, ProfileUpdate, Role, Side, TxKind
from orderproc.engine.service import LocalEngine
from contract_helpers import engine, ledger_checks_out, signed_up  # noqa: F401 - fixtures

NEW_PASSWORD = "a brand new passphrase"


def _buy(symbol: str, **amount: Any) -> OrderRequest:
    return OrderRequest.model_validate({"symbol": symbol, "side": "buy", **amount})


def _sell(symbol: str, **amount: Any) -> OrderRequest:
    return OrderRequest.model_validate({"symbol": symbol, "side": "sell", **amount})


# -- users and sessions ------------------------------------------------------------------------


async def test_a_registered_user_logs_in_and_is_who_the_token_says(api: Engine) -> None:
    user = await api.register("alice", PASSWORD)
    session = await api.login("alice", PASSWORD)
    assert (user.username, user.role) == ("alice", Role.CUSTOMER)
    assert session.user.id == user.id
    assert (await api.whoami(session.token)).username == "alice"


async def test_a_wrong_password_and_an_unknown_user_are_the_same_error(api: Engine) -> None:
    await api.register("alice", PASSWORD)
    with pytest.raises(errors.InvalidCredentials) as wrong:
        await api.login("alice", "not the password")
    with pytest.raises(errors.InvalidCredentials) as unknown:
        await api.login("nobody", PASSWORD)
    assert wrong.value.message == unknown.value.message


async def test_a_taken_username_is_refused(api: Engine) -> None:
    await api.register("alice", PASSWORD)
    with pytest.raises(errors.UsernameTaken):
        await api.register("ALICE", PASSWORD)


async def test_a_bad_username_is_a_validation_error(api: Engine) -> None:
    with pytest.raises(errors.ValidationError):
        await api.register("a b", PASSWORD)


async def test_a_token_stops_working_after_logout(api: Engine) -> None:
    token = await signed_up(api)
    await api.logout(token)
    with pytest.raises(errors.AuthRequired):
        await api.whoami(token)


async def test_a_garbage_token_is_auth_required(api: Engine) -> None:
    with pytest.raises(errors.AuthRequired):
        await api.balance("not.a.token")


async def test_the_profile_is_updated_and_read_back(api: Engine) -> None:
    token = await signed_up(api)
    user = await api.update_profile(token, ProfileUpdate(display_name="Alice A.", email="alice@example.com"))
    assert (user.display_name, user.email) == ("Alice A.", "alice@example.com")
    assert (await api.whoami(token)).display_name == "Alice A."


async def test_a_password_change_ends_the_old_session_and_opens_a_new_one(api: Engine) -> None:
    token = await signed_up(api)
    with pytest.raises(errors.InvalidCredentials):
        await api.change_password(token, "not the password", NEW_PASSWORD)
    session = await api.change_password(token, PASSWORD, NEW_PASSWORD)
    with pytest.raises(errors.AuthRequired):
        await api.whoami(token)
    assert (await api.whoami(session.token)).username == "alice"
    assert (await api.login("alice", NEW_PASSWORD)).user.username == "alice"


# -- cash --------------------------------------------------------------------------------------


async def test_deposits_and_withdrawals_move_cash_to_the_cent(api: Engine) -> None:
    token = await signed_up(api)
    await api.deposit(token, "100.10")
    await api.deposit(token, Decimal("0.20"))
    tx = await api.withdraw(token, "50.05")
    assert tx.kind is TxKind.WITHDRAWAL and tx.cash == Decimal("-50.05")
    assert (await api.balance(token)).cash == Decimal("50.25")


@pytest.mark.parametrize("amount", ["abc", "-5", "0", "0.001", "1.2.3", "NaN", "１０"])
async def test_a_bad_amount_is_refused_with_a_stable_code_and_moves_nothing(api: Engine, amount: str) -> None:
    token = await signed_up(api, cash="10")
    with pytest.raises(errors.InvalidAmount):
        await api.deposit(token, amount)
    assert (await api.balance(token)).cash == Decimal("10.00")


async def test_withdrawing_more_than_the_balance_is_insufficient_funds(api: Engine) -> None:
    token = await signed_up(api, cash="10")
    with pytest.raises(errors.InsufficientFunds):
        await api.withdraw(token, "10.01")
    assert (await api.balance(token)).cash == Decimal("10.00")


async def test_a_repeated_key_has_one_effect_and_another_request_with_it_conflicts(api: Engine) -> None:
    token = await signed_up(api)
    first = await api.deposit(token, "25", key="pay-1")
    again = await api.deposit(token, "25.00", key="pay-1")
    assert again.id == first.id
    with pytest.raises(errors.Conflict):
        await api.deposit(token, "26", key="pay-1")
    assert (await api.balance(token)).cash == Decimal("25.00")


async def test_history_pages_newest_first_and_filters_by_kind(api: Engine) -> None:
    token = await signed_up(api)
    for amount in ("1", "2", "3"):
        await api.deposit(token, amount)
    await api.withdraw(token, "1")
    page = await api.history(token, limit=2)
    assert (page.total, [t.cash for t in page.items]) == (4, [Decimal("-1.00"), Decimal("3.00")])
    deposits = await api.history(token, kind=TxKind.DEPOSIT, offset=1, limit=10)
    assert [t.cash for t in deposits.items] == [Decimal("2.00"), Decimal("1.00")]


async def test_a_bad_page_is_a_validation_error(api: Engine) -> None:
    token = await signed_up(api)
    with pytest.raises(errors.ValidationError):
        await api.history(token, limit=0)


# -- assets and prices ---------------------------------------------------------------------------


async def test_assets_are_searched_filtered_and_sorted(api: Engine) -> None:
    found = await api.list_assets(search="bitcoin")
    assert "BTC" in [a.symbol for a in found]
    stable = await api.list_assets(category="stablecoin")
    assert stable and all(a.category == "stablecoin" for a in stable)
    by_rank = await api.list_assets(sort="rank")
    ranks = [a.rank for a in by_rank if a.rank is not None]
    assert ranks == sorted(ranks)


async def test_an_unknown_asset_is_unknown_asset(api: Engine) -> None:
    with pytest.raises(errors.UnknownAsset):
        await api.get_asset("NOPE")
    with pytest.raises(errors.UnknownAsset):
        await api.quote("NOPE")


async def test_quotes_and_history_agree_with_the_ledgers_prices(api: Engine, engine: LocalEngine) -> None:
    quote = await api.quote("ETH")
    assert quote == await engine.quote("ETH")
    some = await api.quotes(["BTC", "ETH"])
    assert [q.symbol for q in some] == ["BTC", "ETH"]
    assert len(await api.quotes()) == len(await engine.quotes())
    points = await api.price_history("BTC", hours=24, points=48)
    assert points == await engine.price_history("BTC", hours=24, points=48)


@pytest.mark.parametrize(("chart_range", "limit", "interval", "count"), [
    ("1h", 120, 60, 60), ("1d", 120, 900, 96), ("1w", 120, 7200, 84), ("1m", 120, 21600, 120),
    ("1y", 120, 604800, 53), ("1y", 400, 86400, 365), ("1d", 30, 3600, 24), ("1y", 10, 604800, 10),
])
async def test_candles_cover_the_range_in_at_most_limit_candles_ending_at_the_current_price(
    api: Engine, engine: LocalEngine, chart_range: str, limit: int, interval: int, count: int
) -> None:
    series = await api.candles("btc", range=chart_range, limit=limit)
    assert series == await engine.candles("BTC", range=chart_range, limit=limit)
    assert (series.symbol, series.range, series.interval, len(series.candles)) == ("BTC", chart_range, interval, count)
    starts = [c.at.timestamp() for c in series.candles]
    assert all(b - a == interval for a, b in zip(starts, starts[1:]))
    assert all(c.low <= min(c.open, c.close) and max(c.open, c.close) <= c.high for c in series.candles)
    assert series.candles[-1].close == (await api.quote("BTC")).price
    if interval == 604800:
        assert series.candles[0].at.weekday() == 0  # weeks start on Mondays


@pytest.mark.parametrize(("chart_range", "limit"), [("2d", 120), ("", 120), ("1d", 0), ("1d", 501)])
async def test_a_bad_candle_range_or_limit_is_a_validation_error(api: Engine, chart_range: str, limit: int) -> None:
    with pytest.raises(errors.ValidationError) as caught:
        await api.candles("BTC", range=chart_range, limit=limit)
    assert caught.value.code == "validation_error"
    with pytest.raises(errors.UnknownAsset):
        await api.candles("NOPE")


@pytest.mark.parametrize(("interval", "limit"), [(60, 120), (300, 7), (3600, 24), (420, 50), (86400, 500),
                                               (604800, 30)])
async def test_bars_are_the_last_limit_candles_of_the_interval_starting_on_its_multiples(
    api: Engine, engine: LocalEngine, clock: Clock, interval: int, limit: int
) -> None:
    bars = await api.bars("btc", interval=interval, limit=limit)
    assert bars == await engine.bars("BTC", interval=interval, limit=limit)
    starts = [b.at.timestamp() for b in bars]
    assert len(bars) == limit and all(b - a == interval for a, b in zip(starts, starts[1:]))
    assert starts[-1] <= clock.now < starts[-1] + interval  # the last one is forming now
    monday = 4 * 86400  # weeks start on Mondays, the rest on multiples since the unix epoch
    assert all((t - (monday if interval == 604800 else 0)) % interval == 0 for t in starts)
    assert all(b.low <= min(b.open, b.close) and max(b.open, b.close) <= b.high for b in bars)
    assert bars[-1].close == (await api.quote("BTC")).price


async def test_bars_up_to_a_past_end_are_whole_and_the_same_as_those_of_a_later_end(
    api: Engine, clock: Clock
) -> None:
    now = datetime.fromtimestamp(clock.now, UTC)
    latest = await api.bars("ETH", interval=3600, limit=10)
    earlier = await api.bars("ETH", interval=3600, end=now - timedelta(hours=4, minutes=30), limit=10)
    assert earlier[-1].at == latest[-6].at  # the last bar starting at or before the end, whole
    assert earlier[5:] == latest[:5]
    assert earlier[-1].at <= now - timedelta(hours=4, minutes=30) < earlier[-1].at + timedelta(hours=1)
    assert await api.bars("ETH", interval=3600, end=now + timedelta(days=3), limit=10) == latest  # future: now
    in_tokyo = (now - timedelta(hours=4, minutes=30)).astimezone(timezone(timedelta(hours=9)))
    assert await api.bars("ETH", interval=3600, end=in_tokyo, limit=10) == earlier


@pytest.mark.parametrize("interval", [60, 900, 86400])
async def test_a_bar_is_the_same_however_many_bars_a_request_asks_for(api: Engine, interval: int) -> None:
    many = await api.bars("ETH", interval=interval, limit=500)
    assert many[-3:] == await api.bars("ETH", interval=interval, limit=3)


async def test_there_are_no_bars_before_1970(api: Engine) -> None:
    assert await api.bars("BTC", interval=86400, end=datetime(1969, 7, 20, 20, 17, tzinfo=UTC)) == []
    days = await api.bars("BTC", interval=86400, end=datetime(1970, 1, 3, 12, tzinfo=UTC), limit=10)
    assert [d.at.day for d in days] == [1, 2, 3]
    weeks = await api.bars("BTC", interval=604800, end=datetime(1970, 1, 12, tzinfo=UTC), limit=10)
    assert [w.at.isoformat() for w in weeks] == ["1970-01-05T00:00:00+00:00", "1970-01-12T00:00:00+00:00"]


async def test_a_charts_candles_are_the_bars_of_their_interval(api: Engine) -> None:
    series = await api.candles("BTC", range="1d", limit=120)
    assert series.candles == await api.bars("BTC", interval=series.interval, limit=len(series.candles))


@pytest.mark.parametrize(("field", "arguments"), [
    ("interval", {"interval": 0}), ("interval", {"interval": 59}), ("interval", {"interval": 90}),
    ("interval", {"interval": 604860}), ("limit", {"limit": 0}), ("limit", {"limit": 501}),
    ("end", {"end": datetime(2026, 1, 1)}), ("end", {"end": "2026-01-01T00:00:00Z"}),
])
async def test_a_bad_bar_interval_limit_or_end_is_a_validation_error_naming_the_field(
    api: Engine, field: str, arguments: dict[str, Any]
) -> None:
    with pytest.raises(errors.ValidationError) as caught:
        await api.bars("BTC", **{"interval": 60, **arguments})
    assert caught.value.details["field"] == field
    with pytest.raises(errors.UnknownAsset):
        await api.bars("NOPE", interval=60)


async def test_quotes_stream_from_the_engine(engine: LocalEngine) -> None:
    # the remote stream needs a real server: tests/server/test_serve_e2e.py
    stream = engine.stream_quotes(interval=0.01)
    first = await anext(stream)
    await stream.aclose()
    assert len(first) > 100


# -- orders and portfolio ----------------------------------------------------------------------------


async def test_a_buy_by_quantity_and_a_sell_by_usd_fill_at_the_ledger_price(api: Engine, clock: Clock) -> None:
    token = await signed_up(api, cash="10000")
    price = (await api.quote("ETH")).price
    bought = await api.place_order(token, _buy("ETH", quantity="1.5", client_order_id="b1"))
    assert (bought.price, bought.quantity) == (price, Decimal("1.5"))
    sold = await api.place_order(token, _sell("ETH", notional="100", client_order_id="s1"))
    assert sold.side is Side.SELL and sold.notional <= Decimal("100.00")
    portfolio = await api.portfolio(token)
    [eth] = portfolio.positions
    assert eth.quantity == Decimal("1.5") - sold.quantity
    assert portfolio.cash == Decimal("10000") - bought.notional + sold.notional


async def test_a_price_guard_refuses_a_fill_past_it(api: Engine) -> None:
    token = await signed_up(api, cash="1000")
    price = (await api.quote("BTC")).price
    with pytest.raises(errors.PriceMoved):
        await api.place_order(token, _buy("BTC", quantity="0.001", price_limit=str(price / 2)))
    assert (await api.orders(token)).total == 0


async def test_an_order_beyond_the_cash_or_the_holding_is_insufficient_funds(api: Engine) -> None:
    token = await signed_up(api, cash="10")
    with pytest.raises(errors.InsufficientFunds):
        await api.place_order(token, _buy("BTC", quantity="1"))
    with pytest.raises(errors.InsufficientFunds):
        await api.place_order(token, _sell("BTC", quantity="1"))
    assert (await api.balance(token)).cash == Decimal("10.00")


async def test_a_repeated_order_key_fills_once(api: Engine) -> None:
    token = await signed_up(api, cash="1000")
    first = await api.place_order(token, _buy("SOL", quantity="1", client_order_id="o-1"))
    again = await api.place_order(token, _buy("SOL", quantity="1", client_order_id="o-1"))
    assert again.id == first.id
    assert (await api.orders(token)).total == 1


async def test_orders_page_and_read_one_but_never_another_users(api: Engine) -> None:
    alice = await signed_up(api, "alice", cash="1000")
    bob = await signed_up(api, "bob", cash="1000")
    mine = [await api.place_order(alice, _buy(s, quantity="1", client_order_id=s)) for s in ("XRP", "DOGE", "ADA")]
    theirs = await api.place_order(bob, _buy("XRP", quantity="1", client_order_id="x"))
    page = await api.orders(alice, limit=2)
    assert page.total == 3 and [o.id for o in page.items] == [mine[2].id, mine[1].id]
    assert [o.symbol for o in (await api.orders(alice, symbol="DOGE")).items] == ["DOGE"]
    # by the client_order_id it was placed with: the user's own only
    assert [o.id for o in (await api.orders(alice, client_order_id="DOGE")).items] == [mine[1].id]
    assert (await api.orders(alice, client_order_id="x")).total == 0
    with pytest.raises(errors.ValidationError):
        await api.orders(alice, client_order_id="")
    assert await api.get_order(alice, mine[0].id) == mine[0]
    with pytest.raises(errors.NotFound):
        await api.get_order(alice, theirs.id)


async def test_the_leaderboard_ranks_traders_by_equity_or_return(api: Engine) -> None:
    alice = await signed_up(api, "alice", cash="1000")
    await signed_up(api, "bob", cash="5000")
    await signed_up(api, "carol")  # no deposit: not ranked
    by_equity = await api.leaderboard(alice)
    assert [(r.rank, r.username) for r in by_equity] == [(1, "bob"), (2, "alice")]
    assert by_equity[0].equity == Decimal("5000.00") and by_equity[0].return_pct == Decimal("0.00")
    assert len(await api.leaderboard(alice, sort="return")) == 2
    with pytest.raises(errors.ValidationError):
        await api.leaderboard(alice, sort="luck")


# -- administration -------------------------------------------------------------------------------


async def test_a_customer_gets_forbidden_from_every_admin_call(api: Engine) -> None:
    token = await signed_up(api)
    calls = [api.admin_users(token), api.admin_audit(token), api.admin_verify(token),
             api.admin_set_role(token, "alice", Role.ADMIN), api.admin_set_disabled(token, "alice", True)]
    for call in calls:
        with pytest.raises(errors.Forbidden):
            await call
    assert (await api.whoami(token)).role is Role.CUSTOMER


async def test_an_admin_lists_disables_audits_and_verifies(api: Engine, engine: LocalEngine) -> None:
    await signed_up(api, "root")
    await engine.admin_set_role(engine.operator_token, "root", Role.ADMIN)
    root = (await api.login("root", PASSWORD)).token
    bob = await signed_up(api, "bob", cash="10")
    assert {u.username for u in await api.admin_users(root)} == {"root", "bob"}
    assert (await api.admin_set_disabled(root, "bob", True)).disabled
    with pytest.raises((errors.Forbidden, errors.AuthRequired)):
        await api.balance(bob)
    assert (await api.admin_audit(root, limit=5)).items[0].action == "disable"
    report = await api.admin_verify(root)
    assert report.ok and all(total == 0 for total in report.sums.values())


async def test_concurrent_clients_each_see_their_own_effects_once(api: Engine) -> None:
    tokens = [await signed_up(api, f"trader{i}", cash="1000") for i in range(4)]
    await asyncio.gather(*[api.place_order(t, _buy("ETH", notional="100", client_order_id=f"k{n}"))
                           for t in tokens for n in range(3)])
    for t in tokens:
        assert (await api.orders(t)).total == 3


# -- resting orders ----------------------------------------------------------------------------------


def _limit(symbol: str, side: str, quantity: str, price: Decimal, **fields: Any) -> OrderRequest:
    return OrderRequest.model_validate({"symbol": symbol, "side": side, "quantity": quantity, "type": "limit",
                                        "limit_price": price, **fields})


def _first_low(engine: LocalEngine, symbol: str, now: float) -> tuple[int, Decimal]:
    """The first tick after `now` whose price is below every price since: a limit buy there fills then."""
    low = engine.market.price(symbol, now)
    for tick in range(int(now) + 1, int(now) + 1800):
        price = engine.market.price(symbol, tick)
        if price < low:
            return tick, price
    raise AssertionError(f"{symbol} makes no new low")


async def test_a_limit_order_rests_and_reads_back_as_the_same_order_on_both(api: Engine, engine: LocalEngine) -> None:
    token = await signed_up(api, cash="1000")
    price = (await api.quote("DOGE")).price
    placed = await api.place_order(token, _limit("DOGE", "buy", "1000", price / 2, client_order_id="rest-1"))
    assert (placed.status.value, placed.type.value, placed.time_in_force.value) == ("new", "limit", "gtc")
    assert (placed.limit_price, placed.price, placed.notional) == (price / 2, None, None)
    assert placed.reserved == (1000 * price / 2).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    assert await api.get_order(token, placed.id) == placed == await engine.get_order(token, placed.id)
    assert await api.place_order(token, _limit("DOGE", "buy", "1000", price / 2, client_order_id="rest-1")) == placed
    balance = await api.balance(token)
    assert (balance.reserved, balance.available) == (placed.reserved, Decimal("1000.00") - placed.reserved)
    assert (await api.portfolio(token)).reserved_cash == placed.reserved
    with pytest.raises(errors.InsufficientFunds):
        await api.withdraw(token, "1000")


async def test_open_orders_are_listed_apart_from_closed_ones(api: Engine) -> None:
    token = await signed_up(api, cash="1000")
    price = (await api.quote("SOL")).price
    market = await api.place_order(token, _buy("SOL", quantity="1"))
    resting = await api.place_order(token, _limit("SOL", "buy", "1", price / 2))
    expired = await api.place_order(token, _limit("SOL", "buy", "1", price / 2, time_in_force="ioc"))
    assert expired.status.value == "expired"
    assert [o.id for o in (await api.orders(token, open=True)).items] == [resting.id]
    assert [o.id for o in (await api.orders(token, open=False)).items] == [expired.id, market.id]
    assert [o.id for o in (await api.orders(token, status=OrderStatus.EXPIRED)).items] == [expired.id]
    assert (await api.orders(token, status=OrderStatus.NEW, open=False)).total == 0


async def test_a_resting_order_fills_when_the_price_reaches_it_and_reads_so_on_both(
    api: Engine, engine: LocalEngine, clock: Clock
) -> None:
    token = await signed_up(api, cash="1000")
    tick, low = _first_low(engine, "DOGE", clock())
    placed = await api.place_order(token, _limit("DOGE", "buy", "100", low))
    clock.now = tick + 0.5
    filled = await api.get_order(token, placed.id)
    assert (filled.status.value, filled.price, filled.reserved) == ("filled", low, 0)
    assert filled == await engine.get_order(token, placed.id)
    assert (await api.balance(token)).cash == Decimal("1000.00") - filled.notional  # type: ignore[operator]


async def test_cancel_one_and_cancel_all_release_what_the_orders_held(api: Engine) -> None:
    token = await signed_up(api, cash="1000")
    await api.place_order(token, _buy("ETH", quantity="0.1"))
    doge, eth = (await api.quote("DOGE")).price, (await api.quote("ETH")).price
    first = await api.place_order(token, _limit("DOGE", "buy", "100", doge / 2))
    second = await api.place_order(token, _limit("DOGE", "buy", "200", doge / 2))
    sell = await api.place_order(token, _limit("ETH", "sell", "0.1", eth * 2))

    canceled = await api.cancel_order(token, first.id)
    assert (canceled.id, canceled.status.value, canceled.reserved) == (first.id, "canceled", 0)
    by_symbol = await api.cancel_orders(token, symbol="DOGE")
    assert [(o.id, o.status.value) for o in by_symbol] == [(second.id, "canceled")]
    rest = await api.cancel_orders(token)
    assert [(o.id, o.status.value) for o in rest] == [(sell.id, "canceled")]
    assert await api.cancel_orders(token) == []
    assert (await api.balance(token)).reserved == 0
    assert [p.reserved for p in (await api.portfolio(token)).positions] == [0]


async def test_an_order_that_is_not_open_or_not_yours_cannot_be_canceled_alike_on_both(api: Engine) -> None:
    alice = await signed_up(api, "alice", cash="1000")
    bob = await signed_up(api, "bob", cash="1000")
    price = (await api.quote("DOGE")).price
    filled = await api.place_order(alice, _buy("DOGE", quantity="10"))
    resting = await api.place_order(alice, _limit("DOGE", "buy", "10", price / 2))
    await api.cancel_order(alice, resting.id)
    for done in (filled, resting):
        with pytest.raises(errors.OrderNotOpen) as refused:
            await api.cancel_order(alice, done.id)
        assert refused.value.details["order_id"] == done.id
    theirs = await api.place_order(bob, _limit("DOGE", "buy", "10", price / 2))
    with pytest.raises(errors.NotFound):
        await api.cancel_order(alice, theirs.id)
    with pytest.raises(errors.UnknownAsset):
        await api.cancel_orders(alice, symbol="NOPE")
    with pytest.raises(errors.InvalidAmount):  # a buy stop at or below the price
        await api.place_order(alice, OrderRequest.model_validate(
            {"symbol": "DOGE", "side": "buy", "quantity": "10", "type": "stop", "stop_price": price / 2}))
    assert (await api.get_order(bob, theirs.id)).status.value == "new"
