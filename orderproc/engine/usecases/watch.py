"""The account event stream of a LocalEngine: one watcher per engine looks at the ledger every
POLL_SECONDS and tells each stream of an account that changed.

The ledger is the only place every writer meets (a server's requests, another server or a
terminal on the same file or database, their price loops), so the watcher reads it rather than
hearing the writes of this process: one statement of three index lookups per tick, however many
streams are open (`store/changes.py`); only when a mark moved, a second read finds whose.

A stream checks its session when it opens and then every SESSION_CHECK_SECONDS (a token that
expired, was revoked or whose user was disabled ends it with that error).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from contextlib import suppress

from orderproc.engine import errors
from orderproc.engine.events import AccountEvent, changed
from orderproc.engine.security import Claims
from orderproc.engine.store import changes, repo
from orderproc.engine.usecases import actors
from orderproc.engine.usecases.actors import Credentials
from orderproc.engine.usecases.context import Context

POLL_SECONDS = 0.5
SESSION_CHECK_SECONDS = 30.0

_log = logging.getLogger("orderproc.events")


class _Stream:
    """One open stream: its account, its marks as the watcher last saw them, and a wake-up."""

    def __init__(self, account_id: int, event: AccountEvent) -> None:
        self.account_id = account_id
        self.now = event
        self.error: errors.OrderprocError | None = None
        self.woken = asyncio.Event()

    def advance(self, ledger: int, own: changes.Marks | None) -> None:
        entry, order, change, alert = own or (0, 0, 0, 0)
        now = self.now
        marks = AccountEvent(entry=max(now.entry, entry), order=max(now.order, order),
                             order_change=max(now.order_change, change), ledger=max(now.ledger, ledger),
                             alert=max(now.alert, alert))
        if marks.marks != now.marks:
            self.now = marks
            self.woken.set()

    def fail(self, error: errors.OrderprocError) -> None:
        self.error = error
        self.woken.set()


class AccountWatch:
    """The engine's watcher: polls while at least one stream is open."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._streams: set[_Stream] = set()
        self._marks: changes.Marks | None = None  # the ledger's, as of the last look
        self._task: asyncio.Task[None] | None = None

    async def stream(self, claims: Credentials) -> AsyncGenerator[AccountEvent, None]:
        """The account's events (see `orderproc.engine.events`), the first at once."""
        stream = self._open(claims)
        try:
            sent = stream.now
            yield sent
            checked = time.monotonic()
            while True:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stream.woken.wait(), SESSION_CHECK_SECONDS)
                stream.woken.clear()
                if stream.error is not None:
                    raise stream.error
                if time.monotonic() - checked >= SESSION_CHECK_SECONDS:
                    await self._check(claims)
                    checked = time.monotonic()
                event = changed(sent, stream.now)
                if event is not None:
                    sent = stream.now
                    yield event
        finally:
            self._close(stream)

    async def _check(self, claims: Credentials) -> None:
        """Raise what any call of this session would now: expired, revoked, disabled."""
        if isinstance(claims, Claims) and claims.expires_at <= self._ctx.clock():
            raise errors.AuthRequired("the session has expired; log in again", {"reason": "expired"})
        await self._ctx.readers.run(lambda conn: actors.customer(conn, claims))

    def _open(self, claims: Credentials) -> _Stream:
        """Check the session and read the account's marks, and join the watcher, with no await in
        between: a look of the watcher's cannot fall between the read and the joining."""

        def read(conn: repo.Conn) -> tuple[int, changes.Marks, changes.Marks]:
            who = actors.customer(conn, claims)
            return who.account_id, changes.account_marks(conn, who.user_id, who.account_id), changes.marks(conn)

        account_id, (entry, order, change, alert), ledger = self._ctx.readers.run_here(read)
        stream = _Stream(account_id, AccountEvent(entry=entry, order=order, order_change=change, ledger=ledger[0],
                                                  alert=alert))
        if self._marks is None:
            self._marks = ledger
        self._streams.add(stream)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch())
        return stream

    def _close(self, stream: _Stream) -> None:
        self._streams.discard(stream)
        if not self._streams and self._task is not None:
            self._task.cancel()
            self._task = None
            self._marks = None

    async def close(self) -> None:
        """Stop looking (the engine closes): open streams wait for nothing more."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                self._look()
            except errors.LedgerBusy:
                continue  # the next look sees what this one would have
            except errors.OrderprocError as exc:  # the ledger is gone: every stream says so
                for stream in list(self._streams):
                    stream.fail(exc)
            except Exception:  # a failed look must not stop the watcher: the next one retries
                _log.exception("a look at the ledger for account events failed")

    def _look(self) -> None:
        since = self._marks
        if since is None:
            return

        def read(conn: repo.Conn) -> tuple[changes.Marks, dict[int, changes.Marks]]:
            now = changes.marks(conn)
            return now, changes.moved_since(conn, since) if now != since else {}

        now, moved = self._ctx.readers.run_here(read)
        self._marks = now
        if now != since:
            for stream in self._streams:
                stream.advance(now[0], moved.get(stream.account_id))
