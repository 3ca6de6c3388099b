"""The ledger's settings (read by anyone logged in, changed by an admin) and administration:
users, roles, disabling, the audit log, verification. An admin is a user with the admin role
or the ledger file's operator."""

from __future__ import annotations

from typing import Any

from orderproc.engine import errors
from orderproc.engine.domain.friction import MAX_BPS, SETTINGS
from orderproc.engine.domain.money import USD, cents_to_cash, from_units
from orderproc.engine.schemas import AuditEvent, LedgerSettings, Page, Role, SettingsUpdate, User, VerifyReport
from orderproc.engine.security import is_username
from orderproc.engine.store import checks, ledger, repo
from orderproc.engine.store.rows import UserRow
from orderproc.engine.usecases import actors, mapping
from orderproc.engine.usecases.actors import Credentials, Operator
from orderproc.engine.usecases.auth import existing_user
from orderproc.engine.usecases.checks import check_page, check_type, shown
from orderproc.engine.usecases.context import Context

Claimed = Credentials


async def settings(ctx: Context, claims: Claimed) -> LedgerSettings:
    """What the ledger's owner chose: every trader may read it (it prices their fills)."""

    def job(conn: repo.Conn) -> LedgerSettings:
        actors.caller(conn, claims)
        return mapping.settings(ledger.friction_meta(conn))

    return await ctx.readers.run(job)


async def update_settings(ctx: Context, claims: Claimed, update: SettingsUpdate) -> LedgerSettings:
    """Change the cost method (for sales from now on) or the friction profile (for fills
    from now on)."""
    check_type(update, SettingsUpdate, "update")
    changes = {name: value for name, value in update.model_dump().items() if value is not None}
    if not changes:
        raise errors.ValidationError("nothing to change: give a setting")
    for name in SETTINGS:
        if name in changes and not 0 <= changes[name] <= MAX_BPS:
            raise errors.InvalidAmount(f"{name} is 0 to {MAX_BPS} basis points", {"field": name})

    def job(conn: repo.Conn) -> LedgerSettings:
        who = actors.admin(conn, claims)
        for name, value in changes.items():
            ledger.set_meta(conn, name, str(value))
        repo.audit(conn, ctx.now(), "settings_change", actor_id=who.actor_id, actor=who.username,
                   detail={name: str(value) for name, value in changes.items()})
        return mapping.settings(ledger.friction_meta(conn))

    return await ctx.writer.run(job)


async def users(ctx: Context, claims: Claimed) -> list[User]:
    def job(conn: repo.Conn) -> list[User]:
        actors.admin(conn, claims)
        return [mapping.user(r) for r in repo.list_users(conn)]

    return await ctx.readers.run(job)


def check_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise errors.ValidationError("role is admin or customer", {"field": "role"}) from None


async def set_role(ctx: Context, claims: Claimed, username: str, role: Role) -> User:
    return await _change_user(ctx, claims, username, "role_change", role=check_role(role).value)


async def set_disabled(ctx: Context, claims: Claimed, username: str, disabled: bool) -> User:
    return await _change_user(ctx, claims, username, "disable" if disabled else "enable", disabled=bool(disabled))


async def _change_user(ctx: Context, claims: Claimed, username: str, action: str, **fields: Any) -> User:
    def job(conn: repo.Conn) -> User:
        who = actors.admin(conn, claims)
        row = repo.user_by_name(conn, username) if is_username(username) else None
        if row is None:
            raise errors.NotFound(f"no user named {shown(username)!r}", {"username": shown(username)})
        if fields.get("disabled") or fields.get("role") == Role.CUSTOMER.value:
            _check_not_self(who, row)
            # a disabled user's or a demoted admin's outstanding tokens stop working now
            fields["token_version"] = row.token_version + 1
        repo.update_user(conn, row.id, **fields)
        detail = {k: v for k, v in fields.items() if k != "token_version"}
        repo.audit(conn, ctx.now(), action, actor_id=who.actor_id, actor=who.username, target=row.username,
                   detail=detail)
        return mapping.user(existing_user(conn, row.id))

    return await ctx.writer.run(job)


def _check_not_self(who: actors.Admin | Operator, row: UserRow) -> None:
    """An admin cannot disable or demote themself: their session would end there, and so would
    the ledger's last admin. The last enabled admin therefore stays: whoever else disables or
    demotes an admin is an enabled admin too (writes are serialized on either store). The
    operator, on the ledger file, may do both (they are never locked out, and a ledger starts
    with no admin)."""
    if isinstance(who, actors.Admin) and row.id == who.user_id:
        raise errors.CannotChangeSelf("you cannot disable or demote yourself: ask another admin",
                                      {"username": row.username})


async def audit(ctx: Context, claims: Claimed, offset: int, limit: int) -> Page[AuditEvent]:
    check_page(offset, limit)

    def job(conn: repo.Conn) -> Page[AuditEvent]:
        actors.admin(conn, claims)
        total, rows = repo.audit_page(conn, offset, limit)
        return Page[AuditEvent](items=[mapping.audit_event(r) for r in rows], total=total, offset=offset,
                                limit=limit)

    return await ctx.readers.run(job)


async def verify(ctx: Context, claims: Claimed) -> VerifyReport:
    def job(conn: repo.Conn) -> VerifyReport:
        actors.admin(conn, claims)
        found = checks.ledger_problems(conn)
        problems = found.problems + ctx.db.integrity_problems(conn)
        fee_account = int(ledger.friction_meta(conn)["fee_account"])
        return VerifyReport(
            ok=not problems,
            problems=problems,
            sums={asset: from_units(total, ctx.precision(asset, unknown=0)) for asset, total in found.sums.items()},
            fees_collected=cents_to_cash(repo.balance(conn, fee_account, USD).amount),
            **found.counts,
        )

    return await ctx.readers.run(job)
