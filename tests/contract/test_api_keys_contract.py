"""API keys for programs, the same for the ledger itself and for a RemoteEngine over the HTTP
app, on SQLite and on PostgreSQL: a key made with a session reads (and unless read-only, trades)
the one account it was made for, wherever a session token is taken; it cannot manage keys or
anything else a person does; revoked, unknown or wrong it gets one answer; its secret is shown
once and kept nowhere (the audit log names the key, never the secret)."""

from __future__ import annotations

import asyncio
import json
import re
from contextlib import aclosing
from decimal import Decimal

import pytest
from conftest import PASSWORD, Clock
from contract_helpers import engine, ledger_checks_out, signed_up  # noqa: F401 - fixtures

from orderproc.engine import errors
from orderproc.engine.apikeys import key_credential
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import OrderRequest
from orderproc.engine.service import LocalEngine

BUY = OrderRequest(symbol="BTC", side="buy", quantity=Decimal("0.001"))


async def _refused(call: object, error: type[errors.OrderprocError]) -> errors.OrderprocError:
    with pytest.raises(error) as caught:
        await call  # type: ignore[misc]
    assert type(caught.value) is error, caught.value
    return caught.value


async def test_a_key_is_made_with_its_secret_once_and_listed_without_it(api: Engine) -> None:
    token = await signed_up(api)
    made = await api.create_api_key(token, name="rebalancer")
    assert re.fullmatch(r"PK[A-Z0-9]{18}", made.key_id)
    assert len(made.secret) >= 43 and made.token == key_credential(made.key_id, made.secret)
    assert (made.name, made.account, made.read_only, made.revoked_at, made.last_used_at) == (
        "rebalancer", "main", False, None, None)

    listed = await api.api_keys(token)
    assert [k.key_id for k in listed] == [made.key_id]
    assert listed[0].name == "rebalancer" and not listed[0].read_only
    assert made.secret not in json.dumps([k.model_dump(mode="json") for k in listed])
    other = await api.create_api_key(token, read_only=True)
    assert other.key_id != made.key_id and other.secret != made.secret
    assert [(k.key_id, k.read_only, k.name) for k in await api.api_keys(token)] == [
        (made.key_id, False, "rebalancer"), (other.key_id, True, "")]


async def test_a_key_reads_and_trades_its_account_where_a_session_token_is_taken(api: Engine) -> None:
    token = await signed_up(api, cash="1000")
    key = (await api.create_api_key(token, name="bot")).token
    assert (await api.whoami(key)).username == "alice"
    assert (await api.balance(key)).cash == Decimal("1000.00")
    order = await api.place_order(key, BUY)
    assert order.status == "filled"
    assert (await api.get_order(key, order.id)).id == order.id
    assert [o.id for o in (await api.orders(key)).items] == [order.id]
    assert [p.symbol for p in (await api.portfolio(key)).positions] == ["BTC"]
    await api.deposit(key, "5", key="bot-deposit")
    assert (await api.balance(token)).cash == (await api.balance(key)).cash
    assert (await api.history(key)).total == 3


async def test_a_read_only_key_reads_but_moves_nothing(api: Engine) -> None:
    token = await signed_up(api, cash="1000")
    resting = await api.place_order(token, OrderRequest(symbol="BTC", side="buy", quantity=Decimal("0.001"),
                                                        type="limit", limit_price=Decimal("1")))
    key = (await api.create_api_key(token, read_only=True)).token
    before = (await api.balance(token), await api.orders(token), await api.history(token))

    assert (await api.balance(key)).cash == Decimal("1000.00")
    assert (await api.get_order(key, resting.id)).status == resting.status
    await api.portfolio(key)
    await api.preview_order(key, BUY)
    refused = await _refused(api.place_order(key, BUY), errors.ReadOnlyKey)
    assert refused.code == "read_only_key" and refused.status == 403
    await _refused(api.deposit(key, "10"), errors.ReadOnlyKey)
    await _refused(api.withdraw(key, "10"), errors.ReadOnlyKey)
    await _refused(api.cancel_order(key, resting.id), errors.ReadOnlyKey)
    await _refused(api.cancel_orders(key), errors.ReadOnlyKey)
    assert (await api.balance(token), await api.orders(token), await api.history(token)) == before


async def test_a_key_cannot_do_what_needs_a_session(api: Engine) -> None:
    token = await signed_up(api, cash="100")
    key = (await api.create_api_key(token)).token
    made = await api.create_api_key(token)
    for call in (api.create_api_key(key), api.api_keys(key), api.revoke_api_key(key, made.key_id),
                 api.change_password(key, PASSWORD, "another password"), api.switch_account(key, "main"),
                 api.create_account(key, "second"), api.reset_account(key, "10"), api.logout(key),
                 api.admin_users(key), api.admin_verify(key)):
        refused = await _refused(call, errors.SessionRequired)
        assert refused.status == 403
    assert [k.revoked_at for k in await api.api_keys(token)] == [None, None]
    assert [a.name for a in await api.accounts(token)] == ["main"]
    assert (await api.balance(key)).cash == Decimal("100.00")  # the key still works, the session too


async def test_revoked_unknown_and_wrong_keys_get_one_answer(api: Engine) -> None:
    token = await signed_up(api, cash="100")
    made = await api.create_api_key(token)
    revoked = await api.create_api_key(token)
    assert (await api.revoke_api_key(token, revoked.key_id)).revoked_at is not None
    answers = []
    for bad in (revoked.token, key_credential(made.key_id, made.secret[:-1] + ("A" if made.secret[-1] != "A" else "B")),
                key_credential("PK" + "0" * 18, made.secret)):
        for call in (api.balance(bad), api.place_order(bad, BUY), api.api_keys(bad),
                     api.change_password(bad, PASSWORD, "x" * 9)):
            refused = await _refused(call, errors.AuthRequired)
            answers.append((refused.code, refused.message, refused.details))
    assert len(set(map(str, answers))) == 1 and answers[0][0] == "auth_required"
    assert (await api.balance(made.token)).cash == Decimal("100.00")


async def test_revoking_is_once_and_only_ones_own_keys(api: Engine) -> None:
    alice = await signed_up(api)
    bob = await signed_up(api, "bob", cash="50")
    bobs = await api.create_api_key(bob, name="bobs")
    await _refused(api.revoke_api_key(alice, bobs.key_id), errors.NotFound)
    for nobodys in ("PKNOSUCHKEY", "", "PK/../../orders", " "):
        await _refused(api.revoke_api_key(alice, nobodys), errors.NotFound)
    assert await api.api_keys(alice) == []
    assert (await api.balance(bobs.token)).cash == Decimal("50.00")
    first = await api.revoke_api_key(bob, bobs.key_id.lower())
    again = await api.revoke_api_key(bob, bobs.key_id)
    assert first.revoked_at is not None and again.revoked_at == first.revoked_at
    await _refused(api.balance(bobs.token), errors.AuthRequired)


async def test_a_key_acts_on_the_account_it_was_made_for_only(api: Engine) -> None:
    token = await signed_up(api, cash="100")
    await api.create_account(token, "second")
    second = (await api.switch_account(token, "second")).token
    await api.deposit(second, "7", key="second-deposit")
    key = await api.create_api_key(second, name="on-second")
    assert key.account == "second"
    assert (await api.balance(key.token)).cash == Decimal("7.00")
    assert [(a.name, a.current) for a in await api.accounts(key.token)] == [("second", True)]
    await api.place_order(key.token, OrderRequest(symbol="BTC", side="buy", notional=Decimal("5")))
    assert (await api.balance(token)).cash == Decimal("100.00")  # main untouched
    assert len((await api.journal(key.token)).accounts) == 1
    with pytest.raises(errors.Forbidden):
        await api.journal(key.token, account="main")
    assert [k.account for k in await api.api_keys(token)] == ["second"]  # listed with any session


async def test_a_disabled_users_keys_stop_working(api: Engine, engine: LocalEngine) -> None:  # noqa: F811
    token = await signed_up(api, cash="100")
    key = (await api.create_api_key(token)).token
    await engine.admin_set_disabled(engine.operator_token, "alice", True)
    await _refused(api.balance(key), errors.Forbidden)
    await engine.admin_set_disabled(engine.operator_token, "alice", False)
    assert (await api.balance(key)).cash == Decimal("100.00")


async def test_a_revoked_key_is_refused_by_every_request_after_the_revocation(api: Engine) -> None:
    token = await signed_up(api, cash="1000")
    made = await api.create_api_key(token)

    async def reads() -> list[object]:
        return await asyncio.gather(*(api.balance(made.token) for _ in range(20)), return_exceptions=True)

    during, revoked = await asyncio.gather(reads(), api.revoke_api_key(token, made.key_id))
    assert all(not isinstance(r, Exception) or isinstance(r, errors.AuthRequired) for r in during)
    after = await asyncio.gather(*(api.place_order(made.token, BUY) for _ in range(5)),
                                 *(api.balance(made.token) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, errors.AuthRequired) for r in after), after
    assert (await api.orders(token)).total == 0


async def test_the_audit_names_each_key_made_and_revoked_never_its_secret(api: Engine, engine: LocalEngine) -> None:  # noqa: F811
    token = await signed_up(api, cash="100")
    made = await api.create_api_key(token, name="audited", read_only=True)
    await api.balance(made.token)
    await api.revoke_api_key(token, made.key_id)
    await api.revoke_api_key(token, made.key_id)  # no second record
    events = (await engine.admin_audit(engine.operator_token, limit=100)).items
    keyed = [(e.action, e.actor, e.target, e.detail.get("name")) for e in events if e.action.startswith("api_key")]
    assert keyed == [("api_key_revoke", "alice", made.key_id, "audited"),
                     ("api_key_create", "alice", made.key_id, "audited")]
    text = json.dumps([e.model_dump(mode="json") for e in events])
    assert made.secret not in text and made.token not in text


async def test_a_keys_last_use_is_marked_at_most_once_a_minute(api: Engine, clock: Clock) -> None:
    token = await signed_up(api)
    made = await api.create_api_key(token)

    async def last_used() -> object:
        for _ in range(100):  # the mark is written after the call, by a write of its own
            used = (await api.api_keys(token))[0].last_used_at
            if used is not None:
                return used
            await asyncio.sleep(0.02)
        return None

    await api.balance(made.token)
    first = await last_used()
    assert first is not None
    clock.advance(30)
    await api.balance(made.token)
    await asyncio.sleep(0.1)
    assert await last_used() == first
    clock.advance(31)
    await api.balance(made.token)
    for _ in range(100):
        if await last_used() != first:
            break
        await asyncio.sleep(0.02)
    assert await last_used() != first


@pytest.mark.parametrize("name", ["x" * 65, "tab\there", 7])
async def test_a_bad_key_name_is_refused_and_makes_no_key(api: Engine, name: object) -> None:
    token = await signed_up(api)
    with pytest.raises(errors.ValidationError):
        await api.create_api_key(token, name=name)  # type: ignore[arg-type]
    assert await api.api_keys(token) == []


async def test_a_key_follows_its_accounts_event_stream(engine: LocalEngine) -> None:  # noqa: F811
    token = await signed_up(engine, cash="100")
    key = (await engine.create_api_key(token, read_only=True)).token
    async with aclosing(engine.stream_account(key)) as events:
        first = await asyncio.wait_for(anext(events), 5)
    assert first.entry is not None
    with pytest.raises(errors.AuthRequired):
        async with aclosing(engine.stream_account(key[:-2] + "xx")) as events:
            await asyncio.wait_for(anext(events), 5)
