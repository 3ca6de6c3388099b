"""The price loop: resting orders and price alerts meet the ticks, each tick matched once
across processes.

Prices are a pure function of time, so a pass replays the whole-second ticks since
`matched_through` (in meta) against the book of open orders and the waiting alerts, then applies
what they did in one write transaction (fills, triggers, alerts fired), unless another process
matched those ticks first or an order or alert that acts by then was placed after the book was
read (then it reads again).
"""

from __future__ import annotations

import asyncio
import logging
import math

from orderproc.engine import errors, rules
from orderproc.engine.domain.friction import Friction
from orderproc.engine.domain.matching import TRIGGER, Book, Event
from orderproc.engine.domain.money import USD
from orderproc.engine.schemas import OrderType, Side
from orderproc.engine.store import alerts as alert_store
from orderproc.engine.store import ledger, repo, trading
from orderproc.engine.store.rows import BookRow
from orderproc.engine.usecases import alerts
from orderproc.engine.usecases.context import Context, iso
from orderproc.engine.usecases.fills import book_trade, check_can_sell
from orderproc.engine.usecases.mapping import receipt_fields

_log = logging.getLogger("orderproc.prices")
# The price loop replays at most this many past ticks (when no process ran it for a while,
# older ticks are not matched), and prices at most MATCH_BUDGET (tick, asset) pairs per pass.
MATCH_HORIZON = 3600
MATCH_BUDGET = 200_000


async def match(ctx: Context) -> int:
    """Run the price loop up to this second: fill, trigger, reject the resting orders the
    ticks since the last pass reached (any process's pass; each tick is matched once).
    The number of orders that changed."""
    async with ctx.match_lock:
        return await _match_locked(ctx)


async def catch_up(ctx: Context) -> None:
    """Before reading orders or balances: match the ticks since the last pass, so a reader
    without a running price loop (a CLI command) sees what the price has filled.

    Many requests arrive in the same new second: the first runs the pass, the others wait for
    it and find the second matched (a pass each, one after another, stalled every request of
    a busy server at each second's turn)."""
    tick = math.floor(ctx.clock())
    if ctx.last_match < tick:
        async with ctx.match_lock:
            if ctx.last_match < tick:
                await _match_locked(ctx)


async def _match_locked(ctx: Context) -> int:
    tick, changed = math.floor(ctx.clock()), 0
    while True:
        done, more = await _match_pass(ctx)
        changed += done
        if not more:
            ctx.last_match = tick
            return changed


async def run_price_loop(ctx: Context, interval: float) -> None:
    """Match every `interval` seconds until cancelled (the TUI and the server run it)."""
    while True:
        try:
            await match(ctx)
        except errors.LedgerBusy:
            pass  # another process holds the ledger: the next pass catches up
        except Exception:  # a failed pass must not stop the loop: the next one retries it
            _log.exception("a pass of the price loop failed")
            ctx.book = Book()  # and reads the open orders afresh
        await asyncio.sleep(interval - ctx.clock() % interval)


async def _match_pass(ctx: Context) -> tuple[int, bool]:
    """One pass over at most MATCH_BUDGET prices: (orders changed, whether ticks remain)."""
    book = ctx.book

    def read(conn: repo.Conn) -> tuple[int, list[BookRow], int | None, list[alert_store.PendingAlert]]:
        return (*trading.book_changes(conn, book.seq), ledger.matched_through(conn), alert_store.pending(conn))

    seq, rows, through, waiting = ctx.readers.run_here(read)  # on the loop: a thread hand-off cost 50-80 ms there
    book.apply(rows)
    book.seq = seq
    if not book and not waiting:
        return 0, False
    end = math.floor(ctx.clock())
    symbols = book.symbols()
    firsts = [*map(book.first_tick, symbols), *(alerts.set_at(alert) for alert in waiting)]
    start = max(through if through is not None else -1, end - MATCH_HORIZON, min(firsts) - 1)
    priced = len(set(symbols) | {alert.symbol for alert in waiting})
    end = min(end, start + max(1, MATCH_BUDGET // priced))
    if end <= start:
        return 0, False

    def events() -> tuple[list[Event], list[alerts.Hit]]:
        found = []
        for symbol in symbols:
            first = max(start + 1, book.first_tick(symbol))
            found += book.match(symbol, [(t, ctx.market.price(symbol, t)) for t in range(first, end + 1)])
        return sorted(found), alerts.first_hits(ctx, waiting, start, end)

    found, hits = await ctx.priced(events)
    seen = max((alert.id for alert in waiting), default=0)

    def job(conn: repo.Conn) -> int | None:
        done = ledger.matched_through(conn)
        if done is not None and done >= end:
            return 0  # another process matched these ticks
        if trading.book_moved(conn, seq, iso(end)) or alert_store.set_since(conn, seen, iso(end)):
            return None  # an order or alert that acts by `end` was placed after the read: read again
        changed = sum(_apply_event(ctx, conn, e) for e in found if done is None or e.tick > done)
        alerts.fire(conn, hits, done)
        ledger.set_meta(conn, "matched_through", str(end))
        return changed

    changed = await ctx.writer.run(job)
    if changed is None:
        return 0, True
    return changed, end < math.floor(ctx.clock())


def _apply_event(ctx: Context, conn: repo.Conn, event: Event) -> bool:
    """Apply one matcher event in the ledger, if the order is still open (exactly once)."""
    resting = trading.resting_order(conn, event.order_id)
    if resting is None:
        return False
    at = iso(event.tick)
    if event.kind == TRIGGER:
        return trading.trigger_order(conn, event.order_id, at)
    info, side = ctx.assets[resting.symbol], Side(resting.side)
    stop = resting.type == OrderType.STOP.value
    repo.release(conn, resting.account_id, USD if side is Side.BUY else resting.symbol, resting.reserved)
    triggered = {"triggered_at": at} if stop else {}
    settings = ledger.friction_meta(conn)
    # a stop order trades at once when it triggers (a taker); a resting limit order is a maker
    fill = rules.fill_terms(Friction.from_meta(settings), info.precision, side, event.price, units=resting.quantity,
                            taker=stop)
    conn.execute("SAVEPOINT fill")
    try:
        check_can_sell(conn, resting.account_id, info, side, fill.units, fill.cents)
        book_trade(conn, resting.account_id, info.symbol, side, fill.units, fill.cents, fill.fee, event.order_id, at,
                   settings, lot_id=resting.lot_id)
    except errors.OrderprocError as exc:  # a stop order the cash no longer covers
        conn.execute("ROLLBACK TO fill")
        trading.close_order(conn, event.order_id, "rejected", at, reason=exc.message, **triggered)
        action, detail = "order_rejected", {"reason": exc.code}
    else:
        trading.close_order(conn, event.order_id, "filled", at, price=str(fill.execution.price), notional=fill.cents,
                            **receipt_fields(fill.execution, fill.fee), **triggered)
        action, detail = "order_filled", {"price": str(fill.execution.price)}
    conn.execute("RELEASE fill")
    repo.audit(conn, at, action, actor_id=resting.user_id, actor=resting.username, target=str(event.order_id),
               detail={"symbol": resting.symbol, "side": side.value, "type": resting.type, **detail}, source="matcher")
    return True
