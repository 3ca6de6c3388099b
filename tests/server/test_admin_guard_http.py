"""Over HTTP: an admin's PATCH of their own user that would disable or demote them is refused
with the error envelope, and their session goes on."""

from __future__ import annotations

import pytest

from orderproc.engine.schemas import Role
from orderproc.engine.service import LocalEngine
from orderproc.server.app import create_app
from server_helpers import QUIET, bearer, client, code, error, log_in, sign_up


@pytest.mark.parametrize("change", [{"disabled": True}, {"role": "customer"}, {"role": "customer", "disabled": True}])
async def test_an_admin_patching_themself_out_gets_403_cannot_change_self_and_stays_logged_in(
    engine: LocalEngine, change: dict[str, object]
) -> None:
    async with client(create_app(engine, QUIET)) as http:
        await sign_up(http, "eve")
        await engine.admin_set_role(engine.operator_token, "eve", Role.ADMIN)
        eve = await log_in(http, "eve")
        refused = await http.patch("/v1/admin/users/eve", json=change, headers=bearer(eve))
        assert refused.status_code == 403, refused.text
        assert code(refused) == "cannot_change_self"
        assert "yourself" in error(refused)["message"]
        me = await http.get("/v1/me", headers=bearer(eve))
        assert me.status_code == 200 and me.json()["role"] == "admin" and me.json()["disabled"] is False


async def test_an_admin_still_disables_another_admin(engine: LocalEngine) -> None:
    async with client(create_app(engine, QUIET)) as http:
        for name in ("eve", "bob"):
            await sign_up(http, name)
            await engine.admin_set_role(engine.operator_token, name, Role.ADMIN)
        eve = await log_in(http, "eve")
        answer = await http.patch("/v1/admin/users/bob", json={"disabled": True}, headers=bearer(eve))
        assert answer.status_code == 200 and answer.json()["disabled"] is True

