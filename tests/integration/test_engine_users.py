"""Users, sessions, roles and the audit log, through the engine on a real ledger file."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest
from conftest import PASSWORD, Clock

from orderproc.engine import errors
from orderproc.engine.schemas import OrderRequest, ProfileUpdate, Role
from orderproc.engine.service import LocalEngine

WEEK = 7 * 86400  # the engine's default session lifetime
NEW_PASSWORD = "a brand new passphrase"
MIB = 1024 * 1024


@pytest.fixture(autouse=True)
async def _ledger_checks_out_after_each_test(engine: LocalEngine) -> AsyncIterator[None]:
    yield
    report = await engine.admin_verify(engine.operator_token)
    assert report.ok, report.problems


async def _user_token(engine: LocalEngine, name: str, password: str = PASSWORD) -> str:
    await engine.register(name, password)
    return (await engine.login(name, password)).token


def _claims(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


# -- register, login, whoami ------------------------------------------------------------------


async def test_a_registered_user_logs_in_and_whoami_names_them_as_a_customer(engine: LocalEngine, clock: Clock) -> None:
    user = await engine.register("alice", PASSWORD)
    assert (user.username, user.role, user.disabled) == ("alice", Role.CUSTOMER, False)

    session = await engine.login("alice", PASSWORD)
    assert session.user == user
    assert session.expires_at.timestamp() == pytest.approx(clock.now + WEEK, abs=1)
    assert await engine.whoami(session.token) == user


async def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(engine: LocalEngine) -> None:
    await engine.register("alice", PASSWORD)
    with pytest.raises(errors.InvalidCredentials) as wrong_password:
        await engine.login("alice", "not the password")
    with pytest.raises(errors.InvalidCredentials) as unknown_user:
        await engine.login("mallory", PASSWORD)
    assert wrong_password.value.code == unknown_user.value.code == "invalid_credentials"
    assert wrong_password.value.message == unknown_user.value.message
    assert wrong_password.value.details == unknown_user.value.details


@pytest.mark.parametrize("name", ["bob", "a" * 32, "Bob_the-2nd.x", "...", "0_0"])
async def test_usernames_of_3_to_32_letters_digits_and_underscore_dot_dash_are_accepted(
    engine: LocalEngine, name: str
) -> None:
    assert (await engine.register(name, PASSWORD)).username == name
    assert (await engine.login(name, PASSWORD)).user.username == name


@pytest.mark.parametrize("taken", ["alice", "ALICE", "Alice", "aLiCe"])
async def test_a_username_is_taken_whatever_its_case(engine: LocalEngine, taken: str) -> None:
    await engine.register("alice", PASSWORD)
    with pytest.raises(errors.UsernameTaken) as caught:
        await engine.register(taken, "another password")
    assert caught.value.code == "username_taken"
    assert len(await engine.admin_users(engine.operator_token)) == 1
    # the original account is untouched
    assert (await engine.login("alice", PASSWORD)).user.username == "alice"


@pytest.mark.parametrize("password", ["", "short", "7 chars", "x" * 129])
async def test_a_password_outside_8_to_128_characters_is_a_validation_error(engine: LocalEngine, password: str) -> None:
    with pytest.raises(errors.ValidationError) as caught:
        await engine.register("alice", password)
    assert caught.value.code == "validation_error"
    assert await engine.admin_users(engine.operator_token) == []


@pytest.mark.parametrize("password", ["8 chars!", "y" * 128])
async def test_passwords_of_exactly_8_and_128_characters_are_accepted(engine: LocalEngine, password: str) -> None:
    await engine.register("alice", password)
    assert (await engine.login("alice", password)).user.username == "alice"


async def test_a_one_mebibyte_password_is_rejected_without_hashing_it(
    engine: LocalEngine, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[int] = []

    def spy(*args: object) -> bool:
        hashed.append(len(str(args[0])))
        return False

    monkeypatch.setattr(engine._ctx.hasher, "hash", spy)
    monkeypatch.setattr(engine._ctx.hasher, "verify", spy)
    huge = "p" * MIB
    with pytest.raises(errors.ValidationError):
        await engine.register("bob", huge)
    with pytest.raises(errors.InvalidCredentials):
        await engine.login("alice", huge)
    with pytest.raises(errors.ValidationError):
        await engine.change_password(token, PASSWORD, huge)
    with pytest.raises(errors.InvalidCredentials):
        await engine.change_password(token, huge, NEW_PASSWORD)
    assert MIB not in hashed
    assert [u.username for u in await engine.admin_users(engine.operator_token)] == ["alice"]


# -- sessions: logout, password change, expiry, forged tokens ------------------------------------


async def test_a_token_stops_working_after_logout(engine: LocalEngine, token: str) -> None:
    await engine.logout(token)
    for call in (engine.whoami(token), engine.balance(token), engine.deposit(token, "10")):
        with pytest.raises(errors.AuthRequired):
            await call
    with pytest.raises(errors.AuthRequired):
        await engine.logout(token)
    assert (await engine.login("alice", PASSWORD)).user.username == "alice"


async def test_changing_the_password_needs_the_current_one(engine: LocalEngine, token: str) -> None:
    with pytest.raises(errors.InvalidCredentials):
        await engine.change_password(token, "not my password", NEW_PASSWORD)
    # nothing changed: the old password and the session still work
    assert (await engine.whoami(token)).username == "alice"
    assert (await engine.login("alice", PASSWORD)).user.username == "alice"
    with pytest.raises(errors.InvalidCredentials):
        await engine.login("alice", NEW_PASSWORD)


async def test_a_new_password_must_itself_be_valid(engine: LocalEngine, token: str) -> None:
    with pytest.raises(errors.ValidationError):
        await engine.change_password(token, PASSWORD, "short")
    assert (await engine.login("alice", PASSWORD)).user.username == "alice"


async def test_changing_the_password_ends_every_other_session_and_returns_a_working_one(
    engine: LocalEngine, token: str
) -> None:
    other_device = (await engine.login("alice", PASSWORD)).token
    session = await engine.change_password(token, PASSWORD, NEW_PASSWORD)

    assert (await engine.whoami(session.token)).username == "alice"
    await engine.deposit(session.token, "5")
    for stale in (token, other_device):
        with pytest.raises(errors.AuthRequired):
            await engine.whoami(stale)
    with pytest.raises(errors.InvalidCredentials):
        await engine.login("alice", PASSWORD)
    assert (await engine.login("alice", NEW_PASSWORD)).user.username == "alice"


async def test_a_session_works_until_its_lifetime_ends_and_then_requires_a_new_login(
    engine: LocalEngine, clock: Clock, token: str
) -> None:
    clock.advance(WEEK - 60)
    assert (await engine.whoami(token)).username == "alice"
    clock.advance(61)
    with pytest.raises(errors.AuthRequired) as caught:
        await engine.whoami(token)
    assert caught.value.details.get("reason") == "expired"
    with pytest.raises(errors.AuthRequired):
        await engine.deposit(token, "1")
    fresh = (await engine.login("alice", PASSWORD)).token
    assert (await engine.whoami(fresh)).username == "alice"


async def test_a_token_signed_with_another_key_is_refused(engine: LocalEngine, token: str) -> None:
    forged = jwt.encode(_claims(token), secrets.token_bytes(64), algorithm="HS256")
    with pytest.raises(errors.AuthRequired):
        await engine.whoami(forged)


async def test_an_unsigned_alg_none_token_is_refused(engine: LocalEngine, token: str) -> None:
    forged = jwt.encode(_claims(token), None, algorithm="none")
    with pytest.raises(errors.AuthRequired):
        await engine.whoami(forged)
    with pytest.raises(errors.AuthRequired):
        await engine.deposit(forged, "100")


async def test_a_token_whose_signature_was_cut_or_whose_claims_were_edited_is_refused(
    engine: LocalEngine, token: str
) -> None:
    bob = await engine.register("bob", PASSWORD)
    header, payload, signature = token.split(".")
    edited = jwt.encode({**_claims(token), "sub": str(bob.id)}, b"k" * 64, algorithm="HS256").split(".")[1]
    for bad in (f"{header}.{payload}.", f"{header}.{edited}.{signature}", token[:-4], "", "garbage"):
        with pytest.raises(errors.AuthRequired):
            await engine.whoami(bad)


async def test_a_token_from_another_ledger_is_refused_even_when_both_share_a_key(
    engine: LocalEngine, ledger_path: Path, clock: Clock, token: str
) -> None:
    other_path = ledger_path.with_name("other.db")
    other_secret = other_path.with_name("other.db.secret")
    other_secret.write_bytes(ledger_path.with_name(ledger_path.name + ".secret").read_bytes())
    other_secret.chmod(0o600)
    other = LocalEngine(other_path, clock=clock, hash_profile="fast", market_seed=7)
    try:
        await other.register("alice", PASSWORD)  # same username and user id as on our ledger
        foreign = (await other.login("alice", PASSWORD)).token
        assert (await other.whoami(foreign)).username == "alice"
    finally:
        await other.close()
    with pytest.raises(errors.AuthRequired):
        await engine.whoami(foreign)
    with pytest.raises(errors.AuthRequired):
        await engine.deposit(foreign, "10")
    assert (await engine.balance(token)).cash == 0


# -- profile ----------------------------------------------------------------------------------


async def test_a_user_sets_a_display_name_and_an_email_and_sees_them_in_whoami(engine: LocalEngine, token: str) -> None:
    update = ProfileUpdate(display_name="  Alice Liddell ", email="alice@example.org")
    updated = await engine.update_profile(token, update)
    assert (updated.display_name, updated.email) == ("Alice Liddell", "alice@example.org")
    assert await engine.whoami(token) == updated

    only_name = await engine.update_profile(token, ProfileUpdate(display_name="Al"))
    assert (only_name.display_name, only_name.email) == ("Al", "alice@example.org")

    cleared = await engine.update_profile(token, ProfileUpdate(email=""))
    assert (cleared.display_name, cleared.email) == ("Al", None)


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "alice@localhost", "a b@example.org", "a@@example.org", "@", "x@y@z.org", "a@exa\nmple.org"],
)
async def test_an_email_that_is_not_an_address_is_a_validation_error_and_changes_nothing(
    engine: LocalEngine, token: str, email: str
) -> None:
    await engine.update_profile(token, ProfileUpdate(email="alice@example.org"))
    with pytest.raises(errors.ValidationError) as caught:
        await engine.update_profile(token, ProfileUpdate(email=email, display_name="Changed"))
    assert caught.value.details.get("field") == "email"
    me = await engine.whoami(token)
    assert (me.email, me.display_name) == ("alice@example.org", None)


async def test_a_display_name_longer_than_64_characters_or_an_empty_update_is_refused(
    engine: LocalEngine, token: str
) -> None:
    with pytest.raises(errors.ValidationError):
        await engine.update_profile(token, ProfileUpdate(display_name="n" * 65))
    with pytest.raises(errors.ValidationError):
        await engine.update_profile(token, ProfileUpdate())
    assert (await engine.whoami(token)).display_name is None


async def test_a_profile_update_needs_a_valid_session(engine: LocalEngine, token: str) -> None:
    await engine.logout(token)
    with pytest.raises(errors.AuthRequired):
        await engine.update_profile(token, ProfileUpdate(display_name="Eve"))


# -- roles and administration ------------------------------------------------------------------


async def test_a_customer_is_forbidden_every_admin_call(engine: LocalEngine, token: str) -> None:
    await engine.register("bob", PASSWORD)
    calls = [
        engine.admin_users(token),
        engine.admin_audit(token),
        engine.admin_verify(token),
        engine.admin_set_role(token, "alice", Role.ADMIN),
        engine.admin_set_role(token, "bob", Role.ADMIN),
        engine.admin_set_disabled(token, "bob", True),
    ]
    for call in calls:
        with pytest.raises(errors.Forbidden) as caught:
            await call
        assert caught.value.code == "forbidden"
    users = {u.username: u for u in await engine.admin_users(engine.operator_token)}
    assert users["alice"].role is Role.CUSTOMER
    assert users["bob"].disabled is False


async def test_the_operator_grants_admin_and_the_new_admin_administers_with_their_own_token(
    engine: LocalEngine, token: str
) -> None:
    await engine.register("bob", PASSWORD)
    granted = await engine.admin_set_role(engine.operator_token, "alice", Role.ADMIN)
    assert granted.role is Role.ADMIN

    assert {u.username for u in await engine.admin_users(token)} == {"alice", "bob"}
    assert (await engine.admin_audit(token)).total > 0
    assert (await engine.admin_verify(token)).ok
    assert (await engine.admin_set_disabled(token, "bob", True)).disabled is True


async def test_demoting_an_admin_ends_their_admin_sessions(engine: LocalEngine, token: str) -> None:
    await engine.admin_set_role(engine.operator_token, "alice", Role.ADMIN)
    await engine.admin_set_role(engine.operator_token, "alice", Role.CUSTOMER)
    with pytest.raises(errors.AuthRequired):
        await engine.admin_users(token)
    fresh = (await engine.login("alice", PASSWORD)).token
    with pytest.raises(errors.Forbidden):
        await engine.admin_users(fresh)


async def test_an_admin_change_to_an_unknown_user_is_not_found(engine: LocalEngine) -> None:
    with pytest.raises(errors.NotFound):
        await engine.admin_set_role(engine.operator_token, "nobody", Role.ADMIN)
    with pytest.raises(errors.NotFound):
        await engine.admin_set_disabled(engine.operator_token, "nobody", True)


async def test_disabling_a_user_ends_their_sessions_and_blocks_their_login(engine: LocalEngine, token: str) -> None:
    await engine.deposit(token, "50")
    disabled = await engine.admin_set_disabled(engine.operator_token, "alice", True)
    assert disabled.disabled is True

    with pytest.raises(errors.AuthRequired):
        await engine.whoami(token)
    with pytest.raises(errors.AuthRequired):
        await engine.withdraw(token, "50")
    with pytest.raises(errors.Forbidden) as caught:
        await engine.login("alice", PASSWORD)
    assert caught.value.code == "forbidden"
    # a wrong password for a disabled account reveals nothing about the account
    with pytest.raises(errors.InvalidCredentials):
        await engine.login("alice", "not the password")

    await engine.admin_set_disabled(engine.operator_token, "alice", False)
    again = (await engine.login("alice", PASSWORD)).token
    assert (await engine.balance(again)).cash == 50


# -- the audit log ------------------------------------------------------------------------------


async def test_the_audit_log_records_every_security_and_money_event_and_never_a_secret(engine: LocalEngine) -> None:
    await engine.register("alice", PASSWORD, source="10.0.0.7")
    first = await engine.login("alice", PASSWORD, source="10.0.0.7")
    with pytest.raises(errors.InvalidCredentials):
        await engine.login("alice", "my wrong guess 123", source="10.0.0.8")
    await engine.deposit(first.token, "100")
    await engine.withdraw(first.token, "10")
    await engine.place_order(first.token, OrderRequest(symbol="ETH", side="buy", notional="20"))
    with pytest.raises(errors.InsufficientFunds):
        await engine.place_order(first.token, OrderRequest(symbol="BTC", side="sell", quantity="1"))
    second = await engine.change_password(first.token, PASSWORD, NEW_PASSWORD)
    await engine.logout(second.token)
    await engine.register("bob", PASSWORD)
    await engine.admin_set_role(engine.operator_token, "bob", Role.ADMIN)
    await engine.admin_set_disabled(engine.operator_token, "alice", True)

    page = await engine.admin_audit(engine.operator_token, limit=500)
    events = page.items
    assert page.total == len(events)
    actions = [e.action for e in events]
    for action in (
        "register", "login", "login_failed", "logout", "password_change", "role_change",
        "disable", "deposit", "withdrawal", "order_placed", "order_rejected",
    ):
        assert action in actions, action
    assert [e.id for e in events] == sorted((e.id for e in events), reverse=True)  # newest first

    by_action = {e.action: e for e in reversed(events)}  # the latest of each
    assert (by_action["login"].actor, by_action["login"].source) == ("alice", "10.0.0.7")
    assert by_action["login_failed"].source == "10.0.0.8"
    assert by_action["login_failed"].detail.get("reason") == "invalid_credentials"
    assert (by_action["role_change"].target, by_action["role_change"].actor) == ("bob", "operator")
    assert by_action["disable"].target == "alice"
    assert by_action["order_rejected"].detail.get("reason") == "insufficient_funds"
    assert all(e.at is not None for e in events)

    dumped = json.dumps([e.to_json_dict() for e in events])
    for secret in (PASSWORD, NEW_PASSWORD, "my wrong guess 123", first.token, second.token):
        assert secret not in dumped
    for token in (first.token, second.token):
        for part in token.split("."):
            assert part not in dumped
    assert "argon2" not in dumped
