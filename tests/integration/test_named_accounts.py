"""Named paper accounts: a user opens several, each session (token) trades one, a switch gives
a new session on another, and a reset starts one again with a journal entry while its history
stays. Accounts belong to their user: another user's can never be reached."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from conftest import PASSWORD, Clock
from depth_helpers import assert_reconciles, buy, first_low, sell, trader

from orderproc.engine import errors
from orderproc.engine.schemas import OrderStatus, TxKind
from orderproc.engine.service import LocalEngine

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture(autouse=True)
async def _ledger_checks_out_after_each_test(engine: LocalEngine) -> AsyncIterator[None]:
    yield
    report = await engine.admin_verify(engine.operator_token)
    assert report.ok, report.problems


async def test_a_user_starts_with_main_and_opens_more_accounts(engine: LocalEngine) -> None:
    token = await trader(engine, "alice", "100")
    [main] = await engine.accounts(token)
    assert (main.name, main.current, main.cash, main.reserved_cash) == ("main", True, Decimal("100.00"), 0)
    made = await engine.create_account(token, "scalping")
    assert (made.name, made.current, made.cash) == ("scalping", False, 0)
    await engine.create_account(token, "long.term-2")
    assert [(a.name, a.current) for a in await engine.accounts(token)] == [
        ("main", True), ("scalping", False), ("long.term-2", False)]
    assert made.id == (await engine.accounts(token))[1].id


async def test_a_duplicate_account_name_is_a_conflict(engine: LocalEngine) -> None:
    token = await trader(engine, "alice")
    await engine.create_account(token, "swing")
    for name in ("swing", "main"):
        with pytest.raises(errors.Conflict) as caught:
            await engine.create_account(token, name)
        assert caught.value.code == "conflict"
    assert [a.name for a in await engine.accounts(token)] == ["main", "swing"]


@pytest.mark.parametrize("name", ["", "two words", "x" * 33, "naïve", "a/b", "tab\t", 7, None])
async def test_a_bad_account_name_is_a_validation_error(engine: LocalEngine, name: object) -> None:
    token = await trader(engine, "alice")
    with pytest.raises(errors.ValidationError) as caught:
        await engine.create_account(token, name)  # type: ignore[arg-type]
    assert caught.value.code == "validation_error"
    with pytest.raises(errors.ValidationError):
        await engine.switch_account(token, name)  # type: ignore[arg-type]
    assert [a.name for a in await engine.accounts(token)] == ["main"]


async def test_a_switched_session_trades_the_other_account_and_the_old_token_still_trades_its_own(
    engine: LocalEngine, clock: Clock
) -> None:
    main = await trader(engine, "alice", "10000")
    await engine.place_order(main, buy("ETH", "1"))
    await engine.create_account(main, "alt")
    session = await engine.switch_account(main, "alt")
    assert (session.account, session.user.username) == ("alt", "alice")
    alt = session.token
    assert alt != main

    assert (await engine.balance(alt)).cash == 0
    assert (await engine.portfolio(alt)).positions == []
    assert (await engine.orders(alt)).total == 0 and (await engine.history(alt)).total == 0
    assert await engine.lots(alt) == [] and (await engine.pnl(alt)).lines == []
    assert [(a.name, a.current) for a in await engine.accounts(alt)] == [("main", False), ("alt", True)]

    await engine.deposit(alt, "2500")
    tick, low = first_low(engine.market, "SOL", clock())
    resting = await engine.place_order(alt, buy("SOL", "2", type="limit", limit_price=str(low)))
    bought = await engine.place_order(alt, buy("BTC", "0.01"))
    with pytest.raises(errors.InsufficientFunds):  # alt holds no ETH, main does
        await engine.place_order(alt, sell("ETH", "0.1"))

    main_orders = (await engine.orders(main)).items
    alt_orders = (await engine.orders(alt)).items
    assert {o.id for o in alt_orders} == {resting.id, bought.id}
    assert not {o.id for o in main_orders} & {o.id for o in alt_orders}
    assert (await engine.balance(main)).cash == Decimal("10000") - main_orders[0].notional  # type: ignore[operator]
    assert (await engine.balance(alt)).reserved == resting.reserved
    assert [p.symbol for p in (await engine.portfolio(main)).positions] == ["ETH"]
    assert [p.symbol for p in (await engine.portfolio(alt)).positions] == ["BTC"]
    assert [lot.symbol for lot in await engine.lots(main)] == ["ETH"]
    assert [lot.symbol for lot in await engine.lots(alt)] == ["BTC"]
    assert [t.kind for t in (await engine.history(alt)).items] == [TxKind.BUY, TxKind.DEPOSIT]
    assert (await engine.pnl(main)).net_deposits == Decimal("10000.00")
    assert (await engine.pnl(alt)).net_deposits == Decimal("2500.00")
    for token in (main, alt):
        assert_reconciles(await engine.pnl(token), await engine.portfolio(token))
    # the matcher fills alt's resting order into alt
    clock.now = tick
    await engine.match()
    assert [p.symbol for p in (await engine.portfolio(alt)).positions] == ["BTC", "SOL"]
    assert [p.symbol for p in (await engine.portfolio(main)).positions] == ["ETH"]
    accounts = {a.name: a for a in await engine.accounts(main)}
    assert accounts["alt"].cash == (await engine.balance(alt)).cash
    assert accounts["main"].cash == (await engine.balance(main)).cash


async def test_an_order_of_another_account_reads_and_cancels_like_a_missing_one(engine: LocalEngine) -> None:
    main = await trader(engine, "alice", "10000")
    await engine.create_account(main, "alt")
    alt = (await engine.switch_account(main, "alt")).token
    resting = await engine.place_order(main, buy("ETH", "1", type="limit", limit_price="1"))
    for call in (engine.get_order, engine.cancel_order):
        with pytest.raises(errors.NotFound) as caught:
            await call(alt, resting.id)
        assert caught.value.code == "not_found"
    assert await engine.cancel_orders(alt) == []
    assert (await engine.get_order(main, resting.id)).status is OrderStatus.NEW


async def test_another_users_account_can_never_be_reached(engine: LocalEngine) -> None:
    alice = await trader(engine, "alice", "1000")
    bob = await trader(engine, "bob", "1000")
    await engine.create_account(bob, "bobs-fund")
    bob_fund = (await engine.switch_account(bob, "bobs-fund")).token
    await engine.deposit(bob_fund, "777")
    bob_order = await engine.place_order(bob_fund, buy("ETH", "0.1"))

    with pytest.raises(errors.NotFound) as caught:
        await engine.switch_account(alice, "bobs-fund")
    assert caught.value.code == "not_found"
    # names are per user: alice's own "bobs-fund" is hers, empty, and not bob's
    await engine.create_account(alice, "bobs-fund")
    alice_fund = (await engine.switch_account(alice, "bobs-fund")).token
    assert (await engine.balance(alice_fund)).cash == 0
    assert (await engine.orders(alice_fund)).total == 0
    with pytest.raises(errors.NotFound):
        await engine.get_order(alice_fund, bob_order.id)
    with pytest.raises(errors.NotFound):
        await engine.cancel_order(alice_fund, bob_order.id)
    assert [a.name for a in await engine.accounts(alice)] == ["main", "bobs-fund"]
    assert [a.name for a in await engine.accounts(bob)] == ["main", "bobs-fund"]
    assert (await engine.balance(bob_fund)).cash == Decimal("777") - bob_order.notional  # type: ignore[operator]


async def test_an_idempotency_key_used_on_one_account_is_a_conflict_on_another(engine: LocalEngine) -> None:
    main = await trader(engine, "alice", "5000")
    await engine.create_account(main, "alt")
    alt = (await engine.switch_account(main, "alt")).token
    await engine.deposit(alt, "5000")
    deposit = await engine.deposit(main, "100", key="dep-1")
    order = await engine.place_order(main, buy("ETH", "0.1", client_order_id="ord-1"))
    before = (await engine.balance(alt), (await engine.orders(alt)).total, (await engine.history(alt)).total)

    # the same request with the same key on the other account must not pass for done there
    with pytest.raises(errors.Conflict):
        await engine.deposit(alt, "100", key="dep-1")
    with pytest.raises(errors.Conflict):
        await engine.place_order(alt, buy("ETH", "0.1", client_order_id="ord-1"))
    assert (await engine.balance(alt), (await engine.orders(alt)).total, (await engine.history(alt)).total) == before
    # on its own account the key still replays the first result
    assert (await engine.deposit(main, "100", key="dep-1")).id == deposit.id
    assert (await engine.place_order(main, buy("ETH", "0.1", client_order_id="ord-1"))).id == order.id


async def _reset_scene(engine: LocalEngine, clock: Clock) -> tuple[str, dict[str, object]]:
    """alice's main account with cash, two positions, a resting buy and a resting sell."""
    token = await trader(engine, "alice", "20000")
    await engine.withdraw(token, "1000")
    eth = await engine.place_order(token, buy("ETH", "1"))
    btc = await engine.place_order(token, buy("BTC", "0.02"))
    clock.advance(600)
    partial = await engine.place_order(token, sell("ETH", "0.4"))
    tick, low = first_low(engine.market, "SOL", clock())
    rest_buy = await engine.place_order(token, buy("SOL", "5", type="limit", limit_price=str(low)))
    high = engine.market.price("BTC", clock()) * 2
    rest_sell = await engine.place_order(token, sell("BTC", "0.01", type="limit", limit_price=str(high.quantize(1))))
    assert (await engine.balance(token)).reserved > 0
    return token, {"orders": [eth, btc, partial, rest_buy, rest_sell], "tick": tick}


async def test_a_reset_cancels_open_orders_gives_everything_back_and_deposits_the_starting_cash(
    engine: LocalEngine, clock: Clock
) -> None:
    token, scene = await _reset_scene(engine, clock)
    orders = scene["orders"]
    assert isinstance(orders, list)
    history_before = (await engine.history(token, limit=500)).items
    cash_before = (await engine.balance(token)).cash
    clock.advance(5)

    deposit = await engine.reset_account(token, "5000")
    assert (deposit.kind, deposit.cash) == (TxKind.DEPOSIT, Decimal("5000.00"))
    balance = await engine.balance(token)
    assert (balance.cash, balance.reserved, balance.available) == (Decimal("5000.00"), 0, Decimal("5000.00"))
    portfolio = await engine.portfolio(token)
    assert (portfolio.positions, portfolio.equity) == ([], Decimal("5000.00"))

    history = (await engine.history(token, limit=500)).items
    assert [t.kind for t in history[:2]] == [TxKind.DEPOSIT, TxKind.RESET]
    assert history[0].id == deposit.id
    assert history[1].cash == -cash_before and history[1].id > history_before[0].id
    assert history[2:] == history_before  # the history before the reset stays
    statuses = {o.id: o.status for o in (await engine.orders(token)).items}
    assert [statuses[o.id] for o in orders] == [OrderStatus.FILLED] * 3 + [OrderStatus.CANCELED] * 2
    assert (await engine.orders(token, open=True)).total == 0
    assert await engine.lots(token) == []
    assert all(lot.remaining == 0 and lot.remaining_cost == 0 for lot in await engine.lots(token, closed=True))
    assert len(await engine.lots(token, closed=True)) == 2

    report = await engine.pnl(token)
    assert (report.lines, report.realized_pnl, report.fees, report.total_pnl) == ([], 0, 0, 0)
    assert (report.equity, report.net_deposits) == (Decimal("5000.00"), Decimal("5000.00"))
    # the canceled resting buy never fills, even when the price reaches it
    clock.now = scene["tick"]  # type: ignore[assignment]
    await engine.match()
    assert (await engine.portfolio(token)).positions == []
    assert (await engine.admin_verify(engine.operator_token)).ok


async def test_pnl_and_the_leaderboard_count_from_the_reset(engine: LocalEngine, clock: Clock) -> None:
    token, _ = await _reset_scene(engine, clock)
    bob = await trader(engine, "bob", "3000")
    await engine.create_account(token, "alt")
    alt = (await engine.switch_account(token, "alt")).token
    await engine.deposit(alt, "800")
    clock.advance(10)
    await engine.reset_account(token, "5000")
    reset_at = (await engine.history(token)).items[0].created_at
    bought = await engine.place_order(token, buy("ETH", "0.5"))
    clock.advance(300)
    sold = await engine.place_order(token, sell("ETH", "0.2"))

    report = await engine.pnl(token)
    assert_reconciles(report, await engine.portfolio(token))
    assert report.net_deposits == Decimal("5000.00")
    assert report.realized_pnl == sold.realized_pnl  # not the sale before the reset
    [line] = report.lines
    assert (line.symbol, line.quantity) == ("ETH", Decimal("0.3"))

    board = {(e.username, e.account): e for e in await engine.leaderboard(bob)}
    assert set(board) == {("alice", "main"), ("alice", "alt"), ("bob", "main")}
    main = board[("alice", "main")]
    assert (main.net_deposits, main.equity, main.first_deposit_at) == (
        Decimal("5000.00"), report.equity, reset_at)
    assert main.pnl == report.total_pnl
    assert main.return_pct == (main.pnl * 100 / Decimal(5000)).quantize(Decimal("0.01"))
    assert (board[("alice", "alt")].equity, board[("alice", "alt")].net_deposits) == (Decimal("800.00"),) * 2
    assert line.cost_basis == bought.notional - (sold.notional - sold.realized_pnl)  # type: ignore[operator]


async def test_resetting_an_empty_account_only_deposits_the_starting_cash(engine: LocalEngine) -> None:
    token = await trader(engine, "alice", "100")
    await engine.create_account(token, "fresh")
    fresh = (await engine.switch_account(token, "fresh")).token
    deposit = await engine.reset_account(fresh, "1234.56")
    assert [(t.kind, t.cash) for t in (await engine.history(fresh)).items] == [(deposit.kind, Decimal("1234.56"))]
    assert (await engine.pnl(fresh)).net_deposits == Decimal("1234.56")
    assert (await engine.balance(token)).cash == Decimal("100.00")  # main untouched


@pytest.mark.parametrize("cash", ["0", "-5", "1.001", "lots", "1e13"])
async def test_a_reset_to_a_bad_amount_is_refused_and_changes_nothing(engine: LocalEngine, clock: Clock, cash: str) -> None:
    token, _ = await _reset_scene(engine, clock)
    before = (await engine.balance(token), await engine.portfolio(token), (await engine.orders(token, open=True)).total,
              (await engine.history(token)).total)
    with pytest.raises(errors.InvalidAmount) as caught:
        await engine.reset_account(token, cash)
    assert caught.value.details["field"] == "cash"
    after = (await engine.balance(token), await engine.portfolio(token), (await engine.orders(token, open=True)).total,
             (await engine.history(token)).total)
    assert after == before


async def test_logging_out_one_session_leaves_the_other_accounts_session_working(engine: LocalEngine) -> None:
    main = await trader(engine, "alice", "100")
    await engine.create_account(main, "alt")
    alt = (await engine.switch_account(main, "alt")).token
    await engine.logout(alt)
    with pytest.raises(errors.AuthRequired):
        await engine.balance(alt)
    assert (await engine.balance(main)).cash == Decimal("100.00")
    alt = (await engine.switch_account(main, "alt")).token
    await engine.logout(main)
    with pytest.raises(errors.AuthRequired):
        await engine.balance(main)
    assert (await engine.balance(alt)).cash == 0
    with pytest.raises(errors.AuthRequired):  # a logged-out session cannot switch either
        await engine.switch_account(main, "alt")


async def test_a_password_change_keeps_the_session_on_its_account_and_ends_the_others(engine: LocalEngine) -> None:
    main = await trader(engine, "alice", "100")
    await engine.create_account(main, "alt")
    alt = (await engine.switch_account(main, "alt")).token
    await engine.deposit(alt, "42")
    session = await engine.change_password(alt, PASSWORD, NEW_PASSWORD)
    assert session.account == "alt"
    assert (await engine.balance(session.token)).cash == Decimal("42.00")
    assert [a.current for a in await engine.accounts(session.token)] == [False, True]
    for old in (main, alt):
        with pytest.raises(errors.AuthRequired):
            await engine.balance(old)
    login = await engine.login("alice", NEW_PASSWORD)
    assert login.account == "main"
    assert (await engine.balance(login.token)).cash == Decimal("100.00")
