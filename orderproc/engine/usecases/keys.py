"""API keys for programs: create (the secret shown once), list, revoke.

Keys are managed with a person's session only (a key cannot make, list or revoke keys). A key
is made for the session's current account and acts on that account alone; see `actors` for
what a key may do. The audit log records each key made and revoked by its id and name, never
its secret (which the ledger does not have: only its SHA-256).
"""

from __future__ import annotations

from orderproc.engine import errors
from orderproc.engine.apikeys import ApiKey, NewApiKey, is_key_id, key_credential, new_key_id, new_key_secret
from orderproc.engine.security import secret_digest
from orderproc.engine.store import keys, repo
from orderproc.engine.usecases import actors
from orderproc.engine.usecases.actors import Credentials
from orderproc.engine.usecases.checks import check_type, shown
from orderproc.engine.usecases.context import Context
from orderproc.engine.usecases.mapping import dt

NAME_MAX = 64
LIVE_KEYS_MAX = 100  # a user's keys not revoked


def check_key_name(name: object) -> str:
    check_type(name, str, "name")
    assert isinstance(name, str)
    if len(name) > NAME_MAX or not name.isprintable():
        raise errors.ValidationError(f"a key's name is at most {NAME_MAX} printable characters", {"field": "name"})
    return name.strip()


def api_key(row: keys.KeyRow) -> ApiKey:
    return ApiKey(key_id=row.key_id, name=row.name, account=row.account, read_only=row.read_only,
                  created_at=dt(row.created_at), last_used_at=dt(row.last_used_at) if row.last_used_at else None,
                  revoked_at=dt(row.revoked_at) if row.revoked_at else None)


async def create(ctx: Context, claims: Credentials, name: str | None, read_only: bool) -> NewApiKey:
    """A new key for the session's account; its secret is in the answer and nowhere else."""
    name = check_key_name("" if name is None else name)
    check_type(read_only, bool, "read_only")
    secret = new_key_secret()

    def job(conn: repo.Conn) -> NewApiKey:
        who = actors.customer(conn, claims)
        if keys.live_keys(conn, who.user_id) >= LIVE_KEYS_MAX:
            raise errors.Conflict(f"you have {LIVE_KEYS_MAX} keys: revoke one first", {"limit": LIVE_KEYS_MAX})
        now = ctx.now()
        key_id = new_key_id()
        keys.insert_key(conn, key_id, who.user_id, who.account_id, name, secret_digest(secret), read_only, now)
        row = keys.key_of(conn, who.user_id, key_id)
        assert row is not None
        repo.audit(conn, now, "api_key_create", actor_id=who.user_id, actor=who.username, target=key_id,
                   detail={"name": name, "account": row.account, "read_only": read_only})
        return NewApiKey(**api_key(row).model_dump(), secret=secret, token=key_credential(key_id, secret))

    return await ctx.writer.run(job)


async def listing(ctx: Context, claims: Credentials) -> list[ApiKey]:
    """The user's keys, oldest first, the revoked ones too."""

    def job(conn: repo.Conn) -> list[ApiKey]:
        who = actors.customer(conn, claims)
        return [api_key(row) for row in keys.keys_of(conn, who.user_id)]

    return await ctx.readers.run(job)


async def revoke(ctx: Context, claims: Credentials, key_id: str) -> ApiKey:
    """Revoke one of the user's keys: no request with it is taken from the moment this returns
    (revoking a revoked key changes nothing)."""
    check_type(key_id, str, "key_id")
    wanted = key_id.strip().upper()

    def job(conn: repo.Conn) -> ApiKey:
        who = actors.customer(conn, claims)
        row = keys.key_of(conn, who.user_id, wanted) if is_key_id(wanted) else None
        if row is None:
            raise errors.NotFound(f"you have no key {shown(key_id)!r}", {"key_id": shown(key_id)})
        now = ctx.now()
        if keys.revoke_key(conn, row.id, now):
            repo.audit(conn, now, "api_key_revoke", actor_id=who.user_id, actor=who.username, target=row.key_id,
                       detail={"name": row.name, "account": row.account})
        found = keys.key_of(conn, who.user_id, wanted)
        assert found is not None
        return api_key(found)

    return await ctx.writer.run(job)
