"""The account event stream (`Engine.stream_account`), the same for the ledger itself and for a
RemoteEngine over the HTTP app, on SQLite and on PostgreSQL: what changes an account, done by
another session on another engine on the same ledger (as another process or server would),
reaches that account's stream, and of it another account's stream sees only the leaderboard."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, suppress
from decimal import Decimal

import pytest
from conftest import PASSWORD, Clock
from contract_helpers import engine, ledger_checks_out, signed_up  # noqa: F401 - fixtures
from streaming_asgi import StreamingASGITransport

from orderproc.config import Settings
from orderproc.engine import errors
from orderproc.engine.events import AccountEvent, EventKind
from orderproc.engine.protocol import Engine
from orderproc.engine.remote import RemoteEngine
from orderproc.engine.schemas import OrderRequest, OrderStatus
from orderproc.engine.rules import round_price
from orderproc.engine.service import LocalEngine
from orderproc.engine.usecases import watch
from orderproc.engine.watching import AlertDirection
from orderproc.server.app import create_app
from test_alerts_contract import SYMBOL, crossing

BALANCES, ORDERS, LEADERBOARD = EventKind.BALANCES, EventKind.ORDERS, EventKind.LEADERBOARD
QUIET = 4 * watch.POLL_SECONDS  # long enough for the watcher to have looked twice


@pytest.fixture(params=["local", "remote"])
async def api(request: pytest.FixtureRequest, engine: LocalEngine) -> AsyncIterator[Engine]:  # noqa: F811
    """The engine under test: the ledger itself, or a RemoteEngine streaming from the HTTP app."""
    if request.param == "local":
        yield engine
        return
    app = create_app(engine, Settings(rate_limit=0, login_limit=0, log_requests=False))
    remote = RemoteEngine("http://orderproc.test", transport=StreamingASGITransport(app))
    try:
        yield remote
    finally:
        await remote.close()


@pytest.fixture
async def other(engine: LocalEngine, clock: Clock) -> AsyncIterator[LocalEngine]:  # noqa: F811
    """Another engine on the same ledger: what another process or server does."""
    eng = LocalEngine(engine.path, clock=clock, hash_profile="fast")
    try:
        yield eng
    finally:
        await eng.close()


class Events:
    """Every event of a stream, collected as they come."""

    def __init__(self, stream: AsyncIterator[AccountEvent]) -> None:
        self.got: list[AccountEvent] = []
        self.error: BaseException | None = None
        self._task = asyncio.create_task(self._read(stream))

    async def _read(self, stream: AsyncIterator[AccountEvent]) -> None:
        try:
            async with aclosing(stream):  # type: ignore[type-var]  # an async generator
                async for event in stream:
                    self.got.append(event)
        except errors.OrderprocError as exc:
            self.error = exc

    async def until(self, condition: Callable[[list[AccountEvent]], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self.got):
            assert self.error is None, self.error
            assert time.monotonic() < deadline, f"no such event: {self.got}"
            await asyncio.sleep(0.02)

    def kinds(self) -> list[set[EventKind]]:
        """The kinds of each event after the first."""
        return [set(e.kinds) for e in self.got[1:]]

    async def close(self) -> None:
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task


@pytest.fixture
async def streams() -> AsyncIterator[Callable[[AsyncIterator[AccountEvent]], Events]]:
    opened: list[Events] = []

    def open_(stream: AsyncIterator[AccountEvent]) -> Events:
        opened.append(Events(stream))
        return opened[-1]

    yield open_
    for events in opened:
        await events.close()


async def started(events: Events) -> AccountEvent:
    await events.until(lambda got: len(got) >= 1)
    return events.got[0]


async def test_a_deposit_from_another_session_reaches_its_account_and_only_the_leaderboard_of_others(
    api: Engine, other: LocalEngine, streams: Callable[..., Events]
) -> None:
    alice, bob = await signed_up(api, "alice", cash="100"), await signed_up(api, "bob")
    mine, theirs = streams(api.stream_account(alice)), streams(api.stream_account(bob))
    first = await started(mine)
    assert first.kinds == [] and first.entry > 0 and first.ledger == first.entry
    await started(theirs)

    elsewhere = (await other.login("alice", PASSWORD)).token  # another session, on another engine
    await other.deposit(elsewhere, "250")

    await mine.until(lambda got: len(got) >= 2)
    event = mine.got[1]
    assert set(event.kinds) == {BALANCES, LEADERBOARD}
    assert event.entry > first.entry and event.ledger == event.entry
    await theirs.until(lambda got: len(got) >= 2)
    await asyncio.sleep(QUIET)
    assert theirs.kinds() == [{LEADERBOARD}]
    assert theirs.got[1].entry == 0 and theirs.got[1].ledger == event.ledger
    assert mine.kinds() == [{BALANCES, LEADERBOARD}]


async def test_a_resting_order_placed_and_canceled_elsewhere_reaches_its_account_only(
    api: Engine, other: LocalEngine, streams: Callable[..., Events]
) -> None:
    alice, bob = await signed_up(api, "alice", cash="1000"), await signed_up(api, "bob", cash="10")
    mine, theirs = streams(api.stream_account(alice)), streams(api.stream_account(bob))
    first = await started(mine)
    await started(theirs)

    elsewhere = (await other.login("alice", PASSWORD)).token
    order = await other.place_order(elsewhere, OrderRequest.model_validate(
        {"symbol": "ETH", "side": "buy", "quantity": "0.1", "type": "limit", "limit_price": "1"}))
    await mine.until(lambda got: len(got) >= 2)
    placed = mine.got[1]
    assert placed.kinds == [ORDERS] and placed.order == order.id and placed.entry == first.entry

    canceled = await other.cancel_order(elsewhere, order.id)
    assert canceled.status is OrderStatus.CANCELED
    await mine.until(lambda got: len(got) >= 3)
    assert mine.got[2].kinds == [ORDERS] and mine.got[2].order_change > placed.order_change
    await asyncio.sleep(QUIET)
    assert theirs.got[1:] == []  # no journal entry: nothing on the leaderboard moved either


async def test_an_order_the_price_loop_fills_in_another_process_reaches_its_account(
    api: Engine, engine: LocalEngine, other: LocalEngine, clock: Clock,  # noqa: F811
    streams: Callable[..., Events],
) -> None:
    alice, bob = await signed_up(api, "alice", cash="10000"), await signed_up(api, "bob", cash="10")
    symbol, tick, limit = next_low(engine, clock.now)
    quantity = (500 / limit).quantize(Decimal("0.01"))
    order = await api.place_order(alice, OrderRequest.model_validate(
        {"symbol": symbol, "side": "buy", "quantity": str(quantity), "type": "limit", "limit_price": str(limit)}))
    assert order.status is OrderStatus.NEW
    mine, theirs = streams(api.stream_account(alice)), streams(api.stream_account(bob))
    first = await started(mine)
    await started(theirs)

    clock.advance(tick + 1 - clock.now)
    assert await other.match() == 1  # the other engine's price loop fills it

    await mine.until(lambda got: len(got) >= 2)
    filled = mine.got[1]
    assert set(filled.kinds) == {ORDERS, BALANCES, LEADERBOARD}
    assert filled.order == first.order and filled.order_change > first.order_change
    assert (await api.get_order(alice, order.id)).status is OrderStatus.FILLED
    await theirs.until(lambda got: len(got) >= 2)
    await asyncio.sleep(QUIET)
    assert theirs.kinds() == [{LEADERBOARD}]


async def test_a_stream_needs_a_session(api: Engine) -> None:
    with pytest.raises(errors.AuthRequired):
        await anext(api.stream_account("not a token"))


async def test_a_stream_that_was_down_says_what_moved_meanwhile(
    engine: LocalEngine, other: LocalEngine, streams: Callable[..., Events]  # noqa: F811
) -> None:
    """A RemoteEngine whose connection drops reconnects and compares the marks: a deposit made
    while no connection was there to hear it is an event, with nothing lost."""
    app = create_app(engine, Settings(rate_limit=0, login_limit=0, log_requests=False))
    transport = StreamingASGITransport(app)
    remote = RemoteEngine("http://orderproc.test", transport=transport)
    try:
        alice = await signed_up(remote, "alice", cash="100")
        mine = streams(remote.stream_account(alice))
        first = await started(mine)
        # the server ends every stream at once (as when it stops): each reconnection gets the
        # marks and is ended, so no event of the watcher's reaches the client from now on
        app.state.stopping.set()
        await asyncio.sleep(0.2)
        await other.deposit((await other.login("alice", PASSWORD)).token, "5")
        await mine.until(lambda got: len(got) >= 2)
        assert set(mine.got[1].kinds) == {BALANCES, LEADERBOARD} and mine.got[1].entry > first.entry
        app.state.stopping.clear()
    finally:
        await remote.close()


def next_low(engine: LocalEngine, start: float) -> tuple[str, int, Decimal]:
    """An asset, the first tick after `start` whose price is below every price since, and a limit
    price between the two: a limit buy there rests now and fills at that tick."""
    market, first = engine.market, math.floor(start)
    for symbol in ("DOGE", "SOL", "ETH", "BTC"):
        lowest = market.price(symbol, first)
        for tick in range(first + 1, first + 600):
            price = market.price(symbol, tick)
            if price < lowest:
                limit = ((price + lowest) / 2).quantize(Decimal("1E-10"))
                assert price < limit < lowest
                return symbol, tick, limit
            lowest = min(lowest, price)
    raise AssertionError("no new low within 10 minutes")


async def test_an_alert_that_fires_reaches_each_stream_of_its_user_and_no_other(
    api: Engine, engine: LocalEngine, other: LocalEngine, clock: Clock, streams: Callable[..., Events]
) -> None:
    alice, bob = await signed_up(api, "alice"), await signed_up(api, "bob")
    await api.create_account(alice, "swing")
    swing = (await api.switch_account(alice, "swing")).token
    level, first = crossing(engine, clock, AlertDirection.BELOW)
    far = round_price(engine.market.price(SYMBOL, clock()) * 2)
    await api.set_alert(alice, SYMBOL, AlertDirection.ABOVE, far)  # does not fire
    low = await api.set_alert(alice, SYMBOL, AlertDirection.BELOW, level)
    mine, swinging, theirs = (streams(api.stream_account(t)) for t in (alice, swing, bob))
    for events in (mine, swinging, theirs):
        assert (await started(events)).alert == 0

    clock.now = first + 1
    await other.alerts(alice)  # another process's price loop fires it
    for events in (mine, swinging):
        await events.until(lambda got: len(got) >= 2)
        assert events.kinds() == [{EventKind.ALERTS}] and events.got[1].alert > 0
    await asyncio.sleep(QUIET)
    assert theirs.kinds() == []
    assert [a.id for a in await api.alerts(alice, fired=True)] == [low.id]
