"""The watchlist: per user (the same on each of their accounts, and for any engine on the
ledger), in the order added or the sort the user chose, with live quotes; bad input is a clear
error that changes nothing. Run on the ledger itself and through a RemoteEngine over the HTTP app,
on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import Clock

from orderproc.engine import errors
from orderproc.engine.watching import WatchSort
from orderproc.engine.protocol import Engine
from orderproc.engine.service import LocalEngine
from orderproc.engine.usecases.watchlist import MAX_SYMBOLS
from contract_helpers import engine, ledger_checks_out, signed_up  # noqa: F401 - fixtures


def symbols(watchlist: object) -> list[str]:
    return [item.symbol for item in watchlist.items]  # type: ignore[attr-defined]


async def test_a_new_user_has_an_empty_watchlist_sorted_in_the_order_added(api: Engine) -> None:
    token = await signed_up(api)
    empty = await api.watchlist(token)
    assert empty.items == [] and empty.sort is WatchSort.ADDED


async def test_symbols_are_added_in_order_with_their_quotes_and_once(api: Engine, engine: LocalEngine) -> None:
    token = await signed_up(api)
    await api.watch(token, "ETH")
    await api.watch(token, " sol ")  # any case, spaces around ignored
    after = await api.watch(token, "BTC")
    assert symbols(after) == ["ETH", "SOL", "BTC"]
    again = await api.watch(token, "eth")  # already there: stays where it is
    assert symbols(again) == ["ETH", "SOL", "BTC"]
    quotes = {q.symbol: q for q in await engine.quotes(["ETH", "SOL", "BTC"])}
    for item in again.items:
        assert item.price == quotes[item.symbol].price and item.change_24h == quotes[item.symbol].change_24h
        assert isinstance(item.price, Decimal) and item.name
    assert symbols(await api.watchlist(token)) == ["ETH", "SOL", "BTC"]


async def test_the_sort_chosen_is_kept_and_applied(api: Engine, clock: Clock) -> None:
    token = await signed_up(api)
    for symbol in ("DOGE", "BTC", "ETH", "SOL", "ADA"):
        await api.watch(token, symbol)
    by_symbol = await api.sort_watchlist(token, WatchSort.SYMBOL)
    assert by_symbol.sort is WatchSort.SYMBOL and symbols(by_symbol) == ["ADA", "BTC", "DOGE", "ETH", "SOL"]
    by_price = await api.sort_watchlist(token, "price")
    assert [i.price for i in by_price.items] == sorted((i.price for i in by_price.items), reverse=True)
    assert symbols(by_price)[0] == "BTC"
    by_change = await api.sort_watchlist(token, WatchSort.CHANGE)
    assert [i.change_24h for i in by_change.items] == sorted((i.change_24h for i in by_change.items), reverse=True)
    clock.advance(3600)
    later = await api.watchlist(token)  # the choice holds; the order follows the prices of now
    assert later.sort is WatchSort.CHANGE
    assert [i.change_24h for i in later.items] == sorted((i.change_24h for i in later.items), reverse=True)
    added = await api.sort_watchlist(token, WatchSort.ADDED)
    assert symbols(added) == ["DOGE", "BTC", "ETH", "SOL", "ADA"]


async def test_removing_a_symbol_keeps_the_order_of_the_rest(api: Engine) -> None:
    token = await signed_up(api)
    for symbol in ("ETH", "SOL", "BTC"):
        await api.watch(token, symbol)
    assert symbols(await api.unwatch(token, "sol")) == ["ETH", "BTC"]
    assert symbols(await api.watch(token, "SOL")) == ["ETH", "BTC", "SOL"]  # back, last
    with pytest.raises(errors.NotFound) as missing:
        await api.unwatch(token, "DOGE")
    assert missing.value.code == "not_found" and missing.value.details == {"symbol": "DOGE"}
    assert symbols(await api.watchlist(token)) == ["ETH", "BTC", "SOL"]


async def test_the_watchlist_is_the_users_on_each_account_and_nobody_elses(api: Engine) -> None:
    alice = await signed_up(api, "alice")
    bob = await signed_up(api, "bob")
    await api.watch(alice, "ETH")
    await api.create_account(alice, "swing")
    swing = (await api.switch_account(alice, "swing")).token
    assert symbols(await api.watchlist(swing)) == ["ETH"]
    await api.watch(swing, "BTC")
    assert symbols(await api.watchlist(alice)) == ["ETH", "BTC"]
    assert symbols(await api.watchlist(bob)) == []
    with pytest.raises(errors.NotFound):
        await api.unwatch(bob, "ETH")
    assert symbols(await api.watchlist(alice)) == ["ETH", "BTC"]


async def test_another_engine_on_the_ledger_sees_the_same_watchlist(
    api: Engine, engine: LocalEngine, clock: Clock
) -> None:
    token = await signed_up(api)
    await api.watch(token, "ETH")
    await api.sort_watchlist(token, WatchSort.SYMBOL)
    other = LocalEngine(engine.path, clock=clock, hash_profile="fast")  # another process or server, later
    try:
        seen = await other.watchlist(token)
        assert symbols(seen) == ["ETH"] and seen.sort is WatchSort.SYMBOL
    finally:
        await other.close()


async def test_bad_input_is_a_clear_error_and_changes_nothing(api: Engine) -> None:
    token = await signed_up(api)
    await api.watch(token, "ETH")
    for bad in ("NOPE", "", "x" * 40):
        with pytest.raises(errors.OrderprocError) as refused:
            await api.watch(token, bad)
        assert refused.value.code in ("unknown_asset", "not_found") and refused.value.status == 404
    with pytest.raises(errors.ValidationError) as wrong_sort:
        await api.sort_watchlist(token, "volume")
    assert wrong_sort.value.status == 422
    with pytest.raises(errors.AuthRequired):
        await api.watchlist("not-a-token")
    listed = await api.watchlist(token)
    assert symbols(listed) == ["ETH"] and listed.sort is WatchSort.ADDED


async def test_a_watchlist_holds_a_hundred_symbols(api: Engine, engine: LocalEngine) -> None:
    token = await signed_up(api)
    listed = [a.symbol for a in await engine.list_assets()][:MAX_SYMBOLS + 1]
    for symbol in listed[:MAX_SYMBOLS]:
        await api.watch(token, symbol)
    with pytest.raises(errors.WatchlistFull) as full:
        await api.watch(token, listed[MAX_SYMBOLS])
    assert full.value.code == "watchlist_full" and full.value.status == 409
    assert len((await api.watchlist(token)).items) == MAX_SYMBOLS
    await api.watch(token, listed[0])  # one already there is no addition


async def test_an_empty_symbol_is_not_found_on_every_route_that_takes_one(api: Engine) -> None:
    token = await signed_up(api)
    for call in (api.get_asset(""), api.quote(""), api.price_history(""), api.watch(token, ""),
                 api.unwatch(token, "")):
        with pytest.raises(errors.NotFound) as missing:
            await call
        assert missing.value.status == 404
