"""Whose journal an export holds, through the engine (`journal`) and through the HTTP API alike:
a customer's own accounts, an admin's or the operator's every customer account, one account
by name; nobody reads another customer's journal; bad input is a clear error."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from conftest import PASSWORD, Clock
from export_helpers import bean_check, hledger_check, passes

from orderproc import exports
from orderproc.engine import errors
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import Journal, OrderRequest, Role
from orderproc.engine.service import LocalEngine


async def trader(api: Engine, name: str, *buys: str) -> str:
    await api.register(name, PASSWORD)
    token = (await api.login(name, PASSWORD)).token
    await api.deposit(token, "10000")
    for symbol in buys:
        await api.place_order(token, OrderRequest(symbol=symbol, side="buy", notional="1000"))
    return token


@pytest.fixture
async def ledger(api: Engine, engine: LocalEngine, clock: Clock) -> dict[str, str]:
    """alice (accounts main and swing), bob, and carol, an admin: each has traded."""
    tokens = {"alice": await trader(api, "alice", "BTC"), "bob": await trader(api, "bob", "ETH")}
    await api.create_account(tokens["alice"], "swing")
    swing = (await api.switch_account(tokens["alice"], "swing")).token
    await api.deposit(swing, "500")
    await api.place_order(swing, OrderRequest(symbol="1INCH", side="buy", notional="100"))
    clock.advance(86400)
    await api.place_order(tokens["bob"], OrderRequest(symbol="ETH", side="sell", notional="400"))
    tokens["carol"] = await trader(api, "carol")
    await engine.admin_set_role(engine.operator_token, "carol", Role.ADMIN)
    tokens["carol"] = (await api.login("carol", PASSWORD)).token
    return tokens


def day_of(clock: Clock) -> date:
    return datetime.fromtimestamp(clock.now, UTC).date()


def owners(journal: Journal) -> set[str]:
    return {f"{a.username}/{a.name}" for a in journal.accounts}


def entry_owners(journal: Journal) -> set[str]:
    names = {a.id: f"{a.username}/{a.name}" for a in journal.accounts}
    return {names[e.account_id] for e in journal.entries}


async def test_a_customer_exports_their_own_accounts_and_nobody_elses(api: Engine, ledger: dict[str, str]) -> None:
    journal = await api.journal(ledger["alice"])
    assert not journal.whole_ledger
    assert owners(journal) == entry_owners(journal) == {"alice/main", "alice/swing"}
    assert {o.symbol for a in journal.accounts for o in a.orders} == {"BTC", "1INCH"}
    assert "bob" not in exports.beancount(journal) + exports.hledger(journal)
    bob = await api.journal(ledger["bob"])
    assert owners(bob) == entry_owners(bob) == {"bob/main"}
    assert [e.kind.value for e in bob.entries] == ["deposit", "buy", "sell"]


async def test_an_admin_and_the_operator_export_every_customer_account(
    api: Engine, engine: LocalEngine, ledger: dict[str, str], tmp_path: object,
) -> None:
    everyone = {"alice/main", "alice/swing", "bob/main", "carol/main"}
    for journal in (await api.journal(ledger["carol"]), await engine.journal(engine.operator_token)):
        assert journal.whole_ledger
        assert owners(journal) == everyone
        assert entry_owners(journal) == everyone
        assert "every customer account of the ledger" in exports.beancount(journal)


async def test_an_account_narrows_the_journal_to_that_account(api: Engine, ledger: dict[str, str]) -> None:
    assert owners(await api.journal(ledger["alice"], account="swing")) == {"alice/swing"}
    assert owners(await api.journal(ledger["alice"], account="alice/main")) == {"alice/main"}
    assert owners(await api.journal(ledger["carol"], account="alice/swing")) == {"alice/swing"}
    assert owners(await api.journal(ledger["carol"], account="main")) == {"carol/main"}
    with pytest.raises(errors.NotFound):
        await api.journal(ledger["carol"], account="swing")  # carol has no account of that name
    with pytest.raises(errors.NotFound):
        await api.journal(ledger["carol"], account="nobody/main")


async def test_a_customer_cannot_export_another_customers_account(api: Engine, ledger: dict[str, str]) -> None:
    for account in ("bob/main", "carol/main", "nobody/main"):
        with pytest.raises(errors.Forbidden):
            await api.journal(ledger["alice"], account=account)


async def test_the_operator_names_an_account_with_its_user(engine: LocalEngine, ledger: dict[str, str]) -> None:
    assert owners(await engine.journal(engine.operator_token, account="bob/main")) == {"bob/main"}
    with pytest.raises(errors.Forbidden):
        await engine.journal(engine.operator_token, account="main")


@pytest.mark.parametrize("account", ["", "two words", "a/b/c", "x" * 33, "/main", "ab/"])
async def test_a_bad_account_name_is_a_validation_error(api: Engine, ledger: dict[str, str], account: str) -> None:
    with pytest.raises(errors.ValidationError):
        await api.journal(ledger["alice"], account=account)


async def test_a_bad_day_is_a_validation_error_and_no_session_is_auth_required(api: Engine,
                                                                                ledger: dict[str, str]) -> None:
    with pytest.raises(errors.ValidationError):
        await api.journal(ledger["alice"], since="yesterday")  # type: ignore[arg-type]
    with pytest.raises(errors.AuthRequired):
        await api.journal("not-a-token")


async def test_the_remote_journal_is_the_local_one(api: Engine, engine: LocalEngine, ledger: dict[str, str],
                                                   clock: Clock) -> None:
    since = day_of(clock)
    for token in (ledger["alice"], ledger["carol"]):
        for kwargs in ({}, {"since": since}, {"account": "main"}):
            assert await api.journal(token, **kwargs) == await engine.journal(token, **kwargs)  # type: ignore[arg-type]


async def test_since_a_day_the_journal_opens_with_what_each_account_held(api: Engine, ledger: dict[str, str],
                                                                        clock: Clock, tmp_path: object) -> None:
    from pathlib import Path

    journal = await api.journal(ledger["carol"], since=day_of(clock))  # the second day
    assert [e.kind.value for e in journal.entries] == ["sell", "deposit"]  # bob's sale, carol's deposit
    bob = next(a for a in journal.accounts if a.username == "bob")
    assert [h.asset for h in bob.opening] == ["ETH", "USD"] and bob.opening_lots
    folder = Path(str(tmp_path))
    (folder / "s.beancount").write_text(exports.beancount(journal))
    (folder / "s.journal").write_text(exports.hledger(journal))
    assert passes(bean_check(folder / "s.beancount"))
    assert passes(hledger_check(folder / "s.journal"))


async def test_on_postgresql_the_journal_is_the_same_and_checks_out(
    pg_url: str, ledger_path: object, clock: Clock, tmp_path: object,
) -> None:
    from pathlib import Path

    journals = []
    for location in (pg_url, Path(str(tmp_path)) / "same.db"):
        engine = LocalEngine(location, clock=Clock(clock.now), hash_profile="fast", market_seed=7)
        try:
            alice = await trader(engine, "alice", "BTC", "1INCH")
            await engine.place_order(alice, OrderRequest(symbol="BTC", side="sell", notional="300"))
            journals.append(await engine.journal(engine.operator_token))
        finally:
            await engine.close()
    on_pg, on_sqlite = journals
    assert on_pg.model_dump(exclude={"as_of"}) == on_sqlite.model_dump(exclude={"as_of"})
    path = Path(str(tmp_path)) / "pg.beancount"
    path.write_text(exports.beancount(on_pg))
    assert passes(bean_check(path))
