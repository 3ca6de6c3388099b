"""Resting orders and the ticks that reach them, without I/O.

The ledger's price changes once per whole second (a *tick*). A matcher keeps a `Book` of the
open limit, stop and stop-limit orders and, for each new tick, finds what the price reached:

    limit buy        fills when the price is at or below its limit, at that price
    limit sell       fills when the price is at or above its limit, at that price
    stop buy/sell    fills at the price when it is at or above (buy) / at or below (sell) the stop
    stop-limit       becomes a limit order when its stop is reached (and may fill in that tick)

An order acts only on ticks after the one it was placed in (its placement saw that tick's
price and did not cross). Within a tick, orders act in the order they were placed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

# what an event does; a stop-limit's trigger sorts before its fill in the same tick
TRIGGER = 0
FILL = 1
_DONE = 2**62  # the `since` of an order filled during a match: it acts no more


class BookRow(NamedTuple):
    """What a matcher keeps of an order the ledger changed (the store reads them)."""

    id: int
    symbol: str
    side: str
    type: str
    status: str
    limit_price: str | None
    stop_price: str | None
    created_at: str
    triggered_at: str | None
    seq: int


@dataclass(slots=True)
class Resting:
    id: int
    buy: bool
    type: str  # limit | stop | stop_limit
    limit: Decimal | None
    stop: Decimal | None
    since: int  # the first tick it acts on
    triggered: bool

    @property
    def limit_active(self) -> bool:
        return self.type == "limit" or (self.type == "stop_limit" and self.triggered)

    def act(self, price: Decimal) -> int | None:
        """What this order does at `price` now: fill, trigger (a stop-limit), or nothing."""
        if self.limit_active:
            assert self.limit is not None
            return FILL if (price <= self.limit if self.buy else price >= self.limit) else None
        assert self.stop is not None
        if price >= self.stop if self.buy else price <= self.stop:
            return FILL if self.type == "stop" else TRIGGER
        return None


@dataclass(frozen=True, slots=True, order=True)
class Event:
    tick: int
    order_id: int
    kind: int  # TRIGGER or FILL
    price: Decimal


def _tick(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


def _bounds(orders: Iterable[Resting]) -> tuple[Decimal | None, ...]:
    """(highest buy limit, lowest sell limit, lowest buy stop, highest sell stop) of orders
    that could act: a tick whose price reaches none of them moves nothing."""
    buy_limits: list[Decimal] = []
    sell_limits: list[Decimal] = []
    buy_stops: list[Decimal] = []
    sell_stops: list[Decimal] = []
    for o in orders:
        if o.limit_active:
            assert o.limit is not None
            (buy_limits if o.buy else sell_limits).append(o.limit)
        else:
            assert o.stop is not None
            (buy_stops if o.buy else sell_stops).append(o.stop)
    return (
        max(buy_limits) if buy_limits else None,
        min(sell_limits) if sell_limits else None,
        min(buy_stops) if buy_stops else None,
        max(sell_stops) if sell_stops else None,
    )


def _reaches(price: Decimal, bounds: tuple[Decimal | None, ...]) -> bool:
    hi_buy, lo_sell, lo_buy_stop, hi_sell_stop = bounds
    return (
        (hi_buy is not None and price <= hi_buy)
        or (lo_sell is not None and price >= lo_sell)
        or (lo_buy_stop is not None and price >= lo_buy_stop)
        or (hi_sell_stop is not None and price <= hi_sell_stop)
    )


class Book:
    """The open resting orders a matcher knows of, by symbol, kept in step with the ledger's
    change sequence (`seq`): `apply` takes the rows changed since the last `seq` it saw."""

    def __init__(self) -> None:
        self.seq = 0
        self._symbols: dict[str, dict[int, Resting]] = {}
        self._where: dict[int, str] = {}
        # per symbol, computed when first needed after a change: (bounds, first tick)
        self._summary: dict[str, tuple[tuple[Decimal | None, ...], int]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def symbols(self) -> list[str]:
        return list(self._symbols)

    def _summarised(self, symbol: str) -> tuple[tuple[Decimal | None, ...], int]:
        summary = self._summary.get(symbol)
        if summary is None:
            orders = self._symbols[symbol].values()
            summary = self._summary[symbol] = (_bounds(orders), min(o.since for o in orders))
        return summary

    def first_tick(self, symbol: str) -> int:
        """The first tick any of this symbol's orders acts on."""
        return self._summarised(symbol)[1]

    def apply(self, rows: Iterable[BookRow]) -> None:
        """Orders the ledger changed since `seq`: an open one is (re)placed, any other goes."""
        for row in rows:
            self._drop(row.id)
            if row.status != "new":
                continue
            self._symbols.setdefault(row.symbol, {})[row.id] = Resting(
                id=row.id,
                buy=row.side == "buy",
                type=row.type,
                limit=Decimal(row.limit_price) if row.limit_price is not None else None,
                stop=Decimal(row.stop_price) if row.stop_price is not None else None,
                since=_tick(row.triggered_at or row.created_at) + 1,
                triggered=row.triggered_at is not None,
            )
            self._where[row.id] = row.symbol
            self._summary.pop(row.symbol, None)

    def _drop(self, order_id: int) -> None:
        symbol = self._where.pop(order_id, None)
        if symbol is None:
            return
        orders = self._symbols[symbol]
        del orders[order_id]
        self._summary.pop(symbol, None)
        if not orders:
            del self._symbols[symbol]

    def match(self, symbol: str, ticks: Sequence[tuple[int, Decimal]]) -> list[Event]:
        """What the prices of `ticks` (tick, price; ascending) do to this symbol's orders.

        The book itself is not changed: it learns the outcome from the ledger, once the
        events are applied there (by this matcher or another process's).
        """
        orders = self._symbols.get(symbol)
        if not orders:
            return []
        bounds = self._summarised(symbol)[0]
        events: list[Event] = []
        live: list[Resting] | None = None  # a private copy, made at the first tick that acts
        for tick, price in ticks:
            if not _reaches(price, bounds):
                continue
            if live is None:
                live = [
                    Resting(o.id, o.buy, o.type, o.limit, o.stop, o.since, o.triggered)
                    for o in sorted(orders.values(), key=lambda o: o.id)
                ]
            acted = False
            for o in live:
                if tick < o.since:
                    continue
                action = o.act(price)
                if action == TRIGGER:
                    events.append(Event(tick, o.id, TRIGGER, price))
                    o.triggered = acted = True
                    action = o.act(price)  # a stop-limit may fill in the tick that triggers it
                if action == FILL:
                    events.append(Event(tick, o.id, FILL, price))
                    o.since = _DONE
                    acted = True
            if acted:
                live = [o for o in live if o.since != _DONE]
                bounds = _bounds(live)
        return events
