"""What the pages know of the app: the `Terminal` protocol.

The app imports its pages; a page sees the app only through this protocol (`Page.oapp`), so no
screen imports `orderproc.tui.app` and the import graph has no circle. `OrderprocApp` is the one
Terminal (mypy checks it in app.py).

Every private engine call goes through `Terminal.call` or `Terminal.attempt` with the session's
handle (`orderproc.engine.bound.Bound`): `await self.oapp.call(lambda me: me.balance())`. Both
deal with a missing or ended session in one place, the app: it signs out, says why, and
`attempt` raises `SessionEnded` so the page just stops.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, TypeVar

from orderproc.engine.bound import Bound
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import Order, Quote, Session, User

T = TypeVar("T")


class SessionEnded(Exception):
    """An engine call found no session, or the engine ended it: the terminal has signed out and
    said why; the page that made the call has nothing more to do than tidy its own state."""


class Terminal(Protocol):
    """The app as its pages use it: the engine, the session, the live quotes, navigation."""

    engine: Engine
    user: User | None
    account: str | None  # the name of the paper account the session trades
    default_account: str | None  # the one a login trades when the user has it (the `account` setting)
    quotes: dict[str, Quote]
    trade_symbol: str  # the asset the Trade ticket opens on
    trade_side: str

    @property
    def is_admin(self) -> bool: ...

    async def call(self, use: Callable[[Bound], Awaitable[T]], *, quiet: bool = False) -> T | None:
        """`use` the session's handle; a domain error is notified (unless `quiet`): None."""
        ...

    async def attempt(self, use: Callable[[Bound], Awaitable[T]]) -> T:
        """`use` the session's handle; raises SessionEnded (signed out) or the domain error."""
        ...

    def signed_in(self, session: Session) -> None: ...

    def signed_out(self) -> None: ...

    def use_session(self, session: Session) -> None:
        """Trade another of the user's accounts from now on (every page reloads)."""

    def renew_session(self, session: Session) -> None:
        """The same user and account under a new token (a password change)."""

    def track_orders(self, orders: Iterable[Order]) -> None: ...

    def open_trade(self, symbol: str, side: str = "buy") -> None: ...

    def action_goto(self, mode: str) -> None: ...
