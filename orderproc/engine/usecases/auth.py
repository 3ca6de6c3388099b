"""Users and sessions: register, log in and out, who am I, profile, password.

Password hashing runs on the context's hash pool, never on the event loop and never inside a
write transaction.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import secrets
import threading
from datetime import UTC, datetime
from collections.abc import Sequence
from typing import Any

from orderproc.engine import errors
from orderproc.engine import limits
from orderproc.engine.catalog import PASSWORD_MAX
from orderproc.engine.schemas import ProfileUpdate, Session, User
from orderproc.engine.security import (
    Access,
    Claims,
    KeyClaims,
    check_password,
    check_username,
    is_text,
    is_username,
    key_claims,
)
from orderproc.engine.store import keys, repo
from orderproc.engine.store.rows import UserRow
from orderproc.engine.usecases import actors, mapping
from orderproc.engine.usecases.actors import Credentials, OPERATOR
from orderproc.engine.usecases.checks import check_type, shown
from orderproc.engine.usecases.context import Context, iso

log = logging.getLogger(__name__)


class Gate:
    """Turns a token into claims: a session token (a signed JWT), an API key credential
    (`security.key_claims`: checked against the ledger by the call's own job), or this process's
    operator token (random, in memory only, made on first use: a server never makes one).

    `access` says what the call needs of a key: "read", "trade", or (the default, so that a
    call nobody classed refuses keys) "session". A key's `last_used_at` is written at most once
    a minute per key and process, after the call's job found the key good, as a write of its
    own that the call does not wait for."""

    TOUCH_SECONDS = 60.0

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._operator: bytes | None = None
        self._touched: dict[int, float] = {}
        self._touch_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def operator_token(self) -> str:
        if self._operator is None:
            self._operator = secrets.token_urlsafe(32).encode()
        return self._operator.decode()

    def claims(self, token: str, access: Access = "session") -> Credentials:
        if self._operator is not None and isinstance(token, str) and hmac.compare_digest(
                token.encode("utf-8", "surrogatepass"), self._operator):
            return OPERATOR
        key = key_claims(token, access, self._used)
        if key is not None:
            self._loop = asyncio.get_running_loop()
            return key
        return self._ctx.tokens.decode(token, self._ctx.clock())

    def _used(self, key_row_id: int) -> None:
        """Called from the job that found the key good (on a store thread)."""
        now = self._ctx.clock()
        with self._touch_lock:
            if now - self._touched.get(key_row_id, -math.inf) < self.TOUCH_SECONDS:
                return
            if len(self._touched) >= 10_000:
                self._touched.clear()
            self._touched[key_row_id] = now
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._touch, key_row_id, iso(now))

    def _touch(self, key_row_id: int, at: str) -> None:
        task = asyncio.get_running_loop().create_task(
            self._ctx.writer.run(lambda conn: keys.touch_key(conn, key_row_id, at)))
        self._tasks.add(task)
        task.add_done_callback(self._touched_done)

    def _touched_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("could not mark an API key used: %r", task.exception())

    async def close(self) -> None:
        """Wait for the marks of use still being written."""
        await asyncio.sleep(0)  # a mark scheduled from a store thread starts its task first
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def session(ctx: Context, row: UserRow, account_id: int | None = None, account: str = "main") -> Session:
    """A new session of the user of `row`, trading `account_id` (None: the user's first)."""
    token, expires = ctx.tokens.issue(row.id, row.token_version, ctx.clock(), account_id)
    return Session(token=token, user=mapping.user(row), expires_at=datetime.fromtimestamp(expires, UTC),
                   account=account)


async def register(ctx: Context, username: str, password: str, source: str | None) -> User:
    check_username(username)
    check_password(password)
    hashed = await ctx.hash(ctx.hasher.hash, password)

    def job(conn: repo.Conn) -> User:
        now = ctx.now()
        user_id = repo.insert_user(conn, username, hashed, now)
        repo.audit(conn, now, "register", actor_id=user_id, actor=username, target=username, source=source)
        return mapping.user(existing_user(conn, user_id))

    return await ctx.writer.run(job)


async def login(ctx: Context, username: str, password: str, source: str | None) -> Session:
    if not isinstance(username, str) or not isinstance(password, str):
        raise errors.InvalidCredentials("wrong username or password")
    name = shown(username[:64])  # as the audit log records it
    # a password no account can have is refused without hashing it (a 1 MiB one costs
    # nothing), but still counts as a failed login; a name no account can have (a
    # look-alike such as the Kelvin sign for K) is never looked up, but costs a hash
    plausible = len(password) <= PASSWORD_MAX and is_text(password)

    def lookup(conn: repo.Conn) -> tuple[UserRow | None, str | None]:
        found = repo.user_by_name(conn, username) if is_username(username) else None
        return found, (repo.password_hash(conn, found.id) if found else None)

    row, hashed = await ctx.readers.run(lookup)
    ok = plausible and await ctx.hash(ctx.hasher.verify, password, hashed)
    failure: errors.OrderprocError | None = None
    if ok and row is not None and row.disabled:
        failure = errors.Forbidden("this account is disabled")
    elif not ok or row is None:
        failure = errors.InvalidCredentials("wrong username or password")

    def job(conn: repo.Conn) -> None:
        detail = {} if failure is None else {"reason": failure.code}
        repo.audit(conn, ctx.now(), "login" if failure is None else "login_failed",
                   actor_id=row.id if row else None, actor=name, target=name, detail=detail, source=source)

    await ctx.writer.run(job)
    if failure is not None:
        raise failure
    assert row is not None
    return session(ctx, row)


async def throttle(ctx: Context, buckets: Sequence[limits.Bucket]) -> float:
    """Take a token from each bucket in turn, stopping at the first that has none: 0, or the
    seconds to wait. The buckets are rows of the ledger, so every server on it (every process,
    every machine) counts against the same ones; the clock is this machine's."""
    buckets = _checked_buckets(buckets)

    def job(conn: repo.Conn) -> float:
        now = ctx.clock()
        repo.forget_full_buckets(conn, now)
        for key, rate, burst in buckets:
            tokens, wait = limits.take(*(repo.rate_bucket(conn, key) or (burst, now)), now, rate, burst)
            repo.save_rate_bucket(conn, key, tokens, now, limits.full_at(tokens, now, rate, burst))
            if wait:
                return wait
        return 0.0

    return await ctx.writer.run(job)


def _checked_buckets(buckets: object) -> list[limits.Bucket]:
    """(key, rate, burst) triples: a printable key of at most 200 characters, a finite rate above
    zero (tokens a second), a finite burst of at least one token."""
    check_type(buckets, (list, tuple), "buckets")
    assert isinstance(buckets, list | tuple)
    checked: list[limits.Bucket] = []
    for bucket in buckets:
        check_type(bucket, (tuple, list), "buckets")
        if len(bucket) != 3:
            raise errors.ValidationError("a bucket is (key, rate, burst)", {"field": "buckets"})
        key, rate, burst = bucket
        check_type(key, str, "key")
        check_type(rate, (int, float), "rate")
        check_type(burst, (int, float), "burst")
        if not key or len(key) > 200 or not key.isprintable():
            raise errors.ValidationError(f"a bucket's key is 1-200 printable characters, not {shown(key)!r}",
                                         {"field": "key"})
        if not 0 < rate < math.inf or not 1 <= burst < math.inf:
            raise errors.ValidationError("a bucket's rate is above zero and its burst at least 1, both finite",
                                         {"field": "rate"})
        checked.append((key, float(rate), float(burst)))
    return checked


async def logout(ctx: Context, claims: Credentials) -> None:
    def job(conn: repo.Conn) -> None:
        who = actors.caller(conn, claims)
        if isinstance(claims, Claims):
            repo.revoke_token(conn, claims.jti, claims.expires_at, ctx.clock())
        repo.audit(conn, ctx.now(), "logout", actor_id=who.actor_id, actor=who.username)

    await ctx.writer.run(job)


async def whoami(ctx: Context, claims: Credentials) -> User:
    def job(conn: repo.Conn) -> User:
        return mapping.user(existing_user(conn, actors.customer(conn, claims).user_id))

    return await ctx.readers.run(job)


def _profile_fields(update: ProfileUpdate) -> dict[str, Any]:
    check_type(update, ProfileUpdate, "update")
    fields: dict[str, Any] = {}
    if update.display_name is not None:
        fields["display_name"] = _display_name(update.display_name.strip())
    if update.email is not None:
        fields["email"] = _email(update.email.strip())
    if not fields:
        raise errors.ValidationError("nothing to update: give a display name or an email")
    return fields


def _display_name(name: str) -> str | None:
    if len(name) > 64 or not name.isprintable():
        raise errors.ValidationError("display name is at most 64 printable characters", {"field": "display_name"})
    return name or None


def _email(email: str) -> str | None:
    """An email address as a person writes one (empty: none)."""
    if email and (len(email) > 254 or email.count("@") != 1 or " " in email or not email.isprintable()
                  or "." not in email.split("@")[1]):
        raise errors.ValidationError("that is not an email address", {"field": "email"})
    return email or None


async def update_profile(ctx: Context, claims: Credentials, update: ProfileUpdate) -> User:
    fields = _profile_fields(update)

    def job(conn: repo.Conn) -> User:
        who = actors.customer(conn, claims)
        repo.update_user(conn, who.user_id, **fields)
        repo.audit(conn, ctx.now(), "profile_update", actor_id=who.user_id, actor=who.username,
                   detail={"fields": sorted(fields)})
        return mapping.user(existing_user(conn, who.user_id))

    return await ctx.writer.run(job)


async def refuse_key(ctx: Context, claims: Credentials) -> None:
    """For a call only a session may make, before anything else: a key is refused as its job would
    refuse it (`auth_required` if the key is not good, else `session_required`)."""
    if isinstance(claims, KeyClaims):
        await ctx.readers.run(lambda conn: actors.caller(conn, claims))
        raise errors.SessionRequired("an API key cannot do this: log in")  # unreachable: caller refused it


async def change_password(ctx: Context, claims: Credentials, old_password: str, new_password: str) -> Session:
    await refuse_key(ctx, claims)
    check_password(new_password, "new password")
    if not isinstance(claims, Claims):
        raise errors.Forbidden("the operator has no password")
    stored = await ctx.readers.run(lambda conn: repo.password_hash(conn, claims.user_id))
    old_ok = is_text(old_password) and len(old_password) <= PASSWORD_MAX
    if not (old_ok and await ctx.hash(ctx.hasher.verify, old_password, stored)):
        raise errors.InvalidCredentials("the current password is wrong")
    hashed = await ctx.hash(ctx.hasher.hash, new_password)

    def job(conn: repo.Conn) -> tuple[UserRow, str]:
        who = actors.customer(conn, claims)
        row = existing_user(conn, who.user_id)
        repo.update_user(conn, row.id, password_hash=hashed, token_version=row.token_version + 1)
        repo.audit(conn, ctx.now(), "password_change", actor_id=row.id, actor=row.username)
        return existing_user(conn, row.id), repo.account_name(conn, who.account_id)

    row, account = await ctx.writer.run(job)
    return session(ctx, row, claims.account, account)  # the session keeps trading the same account


def existing_user(conn: repo.Conn, user_id: int) -> UserRow:
    """A user the transaction knows exists."""
    row = repo.user_by_id(conn, user_id)
    assert row is not None
    return row
