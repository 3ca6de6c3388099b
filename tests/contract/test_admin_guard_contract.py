"""An admin cannot disable or demote themself, so no admin can leave the ledger without an
enabled admin; the operator (the ledger file's owner) is never locked out and may. Run on the
ledger itself and through a RemoteEngine over the HTTP app."""

from __future__ import annotations

import pytest
from conftest import PASSWORD

from orderproc.engine import errors
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import Role
from orderproc.engine.service import LocalEngine
from contract_helpers import engine, ledger_checks_out, signed_up  # noqa: F401 - fixtures


async def admin(api: Engine, engine: LocalEngine, name: str) -> str:
    """`name` registered, made admin by the operator, logged in: the token."""
    await signed_up(api, name)
    await engine.admin_set_role(engine.operator_token, name, Role.ADMIN)
    return (await api.login(name, PASSWORD)).token


async def test_an_admin_cannot_disable_or_demote_themself_and_keeps_their_session(
    api: Engine, engine: LocalEngine
) -> None:
    eve = await admin(api, engine, "eve")
    before = (await engine.admin_audit(engine.operator_token)).total
    for change in (api.admin_set_disabled(eve, "eve", True), api.admin_set_role(eve, "EVE", Role.CUSTOMER)):
        with pytest.raises(errors.CannotChangeSelf) as refused:
            await change
        assert refused.value.code == "cannot_change_self" and refused.value.status == 403
        assert isinstance(refused.value, errors.Forbidden)
        assert refused.value.details == {"username": "eve"}
    me = await api.whoami(eve)  # the session holds: nothing was changed
    assert (me.role, me.disabled) == (Role.ADMIN, False)
    assert (await engine.admin_audit(engine.operator_token)).total == before


async def test_what_leaves_an_admin_in_place_is_allowed_on_oneself(api: Engine, engine: LocalEngine) -> None:
    eve = await admin(api, engine, "eve")
    assert (await api.admin_set_role(eve, "eve", Role.ADMIN)).role is Role.ADMIN
    assert (await api.admin_set_disabled(eve, "eve", False)).disabled is False
    assert (await api.whoami(eve)).role is Role.ADMIN


async def test_the_last_enabled_admin_stays_whatever_two_admins_do(api: Engine, engine: LocalEngine) -> None:
    eve = await admin(api, engine, "eve")
    mallory = await admin(api, engine, "mallory")
    # one admin may remove the other (who is then out)...
    assert (await api.admin_set_disabled(eve, "mallory", True)).disabled
    with pytest.raises((errors.AuthRequired, errors.Forbidden)):
        await api.admin_set_disabled(mallory, "eve", True)
    # ...and the one left, the last, cannot remove themself
    with pytest.raises(errors.CannotChangeSelf):
        await api.admin_set_role(eve, "eve", Role.CUSTOMER)
    enabled_admins = [u.username for u in await api.admin_users(eve) if u.role is Role.ADMIN and not u.disabled]
    assert enabled_admins == ["eve"]


async def test_the_operator_may_demote_or_disable_the_last_admin(api: Engine, engine: LocalEngine) -> None:
    eve = await admin(api, engine, "eve")
    assert (await engine.admin_set_role(engine.operator_token, "eve", Role.CUSTOMER)).role is Role.CUSTOMER
    with pytest.raises(errors.AuthRequired):
        await api.admin_users(eve)
    assert (await engine.admin_set_disabled(engine.operator_token, "eve", True)).disabled
