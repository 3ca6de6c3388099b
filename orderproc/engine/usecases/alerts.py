"""Price alerts: a user sets one on an asset above or below a price; the price loop fires it
once (`fire_reached`, in the same pass and transaction that matches resting orders, so exactly
once across processes and servers); the account event stream says so (EventKind.ALERTS)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from orderproc.engine import errors, rules
from orderproc.engine.store import alerts as store
from orderproc.engine.store import repo
from orderproc.engine.usecases import actors, mapping
from orderproc.engine.usecases.actors import Credentials
from orderproc.engine.usecases.context import Context, iso
from orderproc.engine.watching import Alert, AlertDirection

MAX_PENDING = 100  # alerts a user may have waiting at once


def _alert(row: store.AlertRow) -> Alert:
    return Alert(id=row.id, symbol=row.symbol, direction=AlertDirection(row.direction), price=Decimal(row.price),
                 created_at=mapping.dt(row.created_at), fired_at=mapping.dt(row.fired_at) if row.fired_at else None,
                 fired_price=Decimal(row.fired_price) if row.fired_price is not None else None)


def reached(direction: str, level: Decimal, price: Decimal) -> bool:
    return price >= level if direction == AlertDirection.ABOVE else price <= level


async def add(ctx: Context, claims: Credentials, symbol: str, direction: AlertDirection | str,
              price: Decimal | str) -> Alert:
    """Set an alert; one whose price is reached already is refused (it would fire at once)."""
    info = ctx.asset(symbol)
    try:
        way = AlertDirection(direction)
    except ValueError:
        raise errors.ValidationError("an alert is above or below a price", {"field": "direction"}) from None
    level = rules.check_price(price, "price", label="the alert's price")
    now = ctx.clock()
    current = ctx.market.price(info.symbol, now)
    if reached(way, level, current):
        raise errors.ValidationError(
            f"{info.symbol} is {way.value} {format(level.normalize(), 'f')} already (at {rules.round_price(current)}):"
            " the alert would fire at once",
            {"field": "price", "price": str(rules.round_price(current))})

    def job(conn: repo.Conn) -> Alert:
        who = actors.customer(conn, claims)
        if store.count_pending(conn, who.user_id) >= MAX_PENDING:
            raise errors.Conflict(f"at most {MAX_PENDING} alerts can wait at once: remove one first",
                                  {"max": MAX_PENDING})
        alert_id = store.add(conn, who.user_id, info.symbol, way.value, format(level, "f"), iso(now))
        found = store.one(conn, who.user_id, alert_id)
        assert found is not None
        return _alert(found)

    return await ctx.writer.run(job)


async def listing(ctx: Context, claims: Credentials, fired: bool | None) -> list[Alert]:
    """The user's alerts, oldest first; `fired`: only those that fired (True) or wait (False)."""
    if fired is not None and not isinstance(fired, bool):
        raise errors.ValidationError("fired is true or false", {"field": "fired"})

    def job(conn: repo.Conn) -> list[Alert]:
        who = actors.customer(conn, claims)
        return [_alert(row) for row in store.of_user(conn, who.user_id, fired=fired)]

    from orderproc.engine.usecases.matcher import catch_up  # the matcher imports this module

    await catch_up(ctx)  # without a price loop running (a CLI user), the ticks since are looked at now
    return await ctx.readers.run(job)


async def remove(ctx: Context, claims: Credentials, alert_id: int) -> Alert:
    """Remove one of the user's alerts (waiting or fired): what it was."""
    if not isinstance(alert_id, int) or isinstance(alert_id, bool) or not 1 <= alert_id < 2**63:
        raise errors.NotFound("no such alert", {"alert_id": str(alert_id)[:32]})

    def job(conn: repo.Conn) -> Alert:
        who = actors.customer(conn, claims)
        found = store.one(conn, who.user_id, alert_id)
        if found is None or not store.remove(conn, who.user_id, alert_id):
            raise errors.NotFound(f"you have no alert #{alert_id}", {"alert_id": alert_id})
        return _alert(found)

    return await ctx.writer.run(job)


# -- the price loop's part (usecases/matcher.py) ----------------------------------------------

Hit = tuple[int, int, Decimal]  # the tick an alert's price was reached at, the alert's id, the price


def set_at(alert: store.PendingAlert) -> int:
    """The second an alert was set in: it looks at the ticks after it."""
    return math.floor(datetime.fromisoformat(alert.created_at).timestamp())


def first_hits(ctx: Context, pending: Iterable[store.PendingAlert], start: int, end: int) -> list[Hit]:
    """For each alert whose price is reached at a tick in (start, end] after it was set, the
    first such tick (prices computed here: the caller runs this off the event loop)."""
    by_symbol: dict[str, list[store.PendingAlert]] = defaultdict(list)
    for alert in pending:
        if alert.symbol in ctx.assets:
            by_symbol[alert.symbol].append(alert)
    hits = []
    for symbol, waiting in by_symbol.items():  # each symbol's ticks priced once, for all its alerts
        first = max(start, min(map(set_at, waiting))) + 1
        path = [(tick, ctx.market.price(symbol, tick)) for tick in range(first, end + 1)]
        for alert in waiting:
            level, since = Decimal(alert.price), set_at(alert)
            hit = next(((tick, price) for tick, price in path
                        if tick > since and reached(alert.direction, level, price)), None)
            if hit is not None:
                hits.append((hit[0], alert.id, hit[1]))
    return hits


def fire(conn: repo.Conn, hits: Iterable[Hit], after: int | None) -> int:
    """Mark each alert hit at a tick after `after` fired, once (one fired already stays as it was)."""
    return sum(store.fire(conn, alert_id, iso(tick), format(rules.round_price(price), "f"))
               for tick, alert_id, price in hits if after is None or tick > after)
