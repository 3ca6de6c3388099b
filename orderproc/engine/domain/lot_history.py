"""What each sale did to the lots of its position, found again from what the ledger keeps.

The ledger keeps each sale's takes (units and cost per lot, `lot_closes`) and each lot as it is
now, not each lot's remaining cost between sales: under the average method a sale also moves
cost between the lots it leaves open. The history replays the position's buys, sales and
resets with the engine's own rule (`lots.close_lots`) under each cost method (the owner may
change it at any time) and keeps the replays whose takes are the recorded ones. Two methods can
take the same from a sale yet leave the lots' costs a cent apart: both replays go on, and the
one that ends with the lots as they are now wins. A sale no replay explains (no ledger of this
engine) keeps its recorded takes, and the cost left is spread over the lots left by units:
every position's cost basis stays exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from orderproc.engine.domain.lots import COST_METHODS, OpenLot, Take, close_lots, shares

State = tuple[int, int]  # a lot's remaining units, and their cost in cents
MAX_REPLAYS = 16  # replays kept at once; more only when many sales are ambiguous in a row


@dataclass(frozen=True, slots=True)
class Bought:
    lot_id: int
    units: int
    cost: int


@dataclass(frozen=True, slots=True)
class Sold:
    order_id: int
    units: int
    takes: tuple[Take, ...]  # as recorded, in the order the sale took them
    named_lot: int | None = None  # the lot the seller named, if any


@dataclass(frozen=True, slots=True)
class Reset:
    """The account gave everything back: every lot closed."""


Event = Bought | Sold | Reset


@dataclass(frozen=True, slots=True)
class _Step:
    """One sale's changes in a replay, after the replay's earlier steps (a linked list: replays share their past)."""

    order_id: int
    changes: dict[int, State]
    before: _Step | None


def sale_changes(history: Sequence[Event], open_now: Mapping[int, State], method: str) -> dict[int, dict[int, State]]:
    """For each sale of one position's `history` (its order id): the lots it changed, as it left
    them (a lot it closed: (0, 0)). `open_now`: the position's open lots as the ledger keeps them
    now; `method`: the ledger's cost method now (tried first)."""
    methods = (method, *(m for m in COST_METHODS if m != method))
    replays: list[tuple[dict[int, State], _Step | None]] = [({}, None)]
    for event in history:
        if isinstance(event, Bought):
            for lots, _ in replays:
                lots[event.lot_id] = (event.units, event.cost)
        elif isinstance(event, Reset):
            replays = [({}, replays[0][1])]  # every replay is the same from here
        else:
            grown = [(after, _Step(event.order_id, changes, past))
                     for lots, past in replays for after, changes in _sales(lots, event, methods)]
            if not grown:
                lots, past = replays[0]
                after, changes = _unexplained(lots, event)
                grown = [(after, _Step(event.order_id, changes, past))]
            replays = _distinct(grown)[:MAX_REPLAYS]
    best = next((past for lots, past in replays if lots == dict(open_now)), replays[0][1])
    found: dict[int, dict[int, State]] = {}
    while best is not None:
        found[best.order_id] = best.changes
        best = best.before
    return found


def _sales(lots: dict[int, State], sale: Sold, methods: Sequence[str]) -> list[tuple[dict[int, State], dict[int, State]]]:
    """The open lots after `sale` and its changes, by every method whose takes are the recorded ones."""
    held = [OpenLot(i, units, cost) for i, (units, cost) in lots.items()]
    first = sale.named_lot if sale.named_lot in lots else None
    out = []
    for method in methods:
        try:
            takes, spread = close_lots(held, sale.units, method, first=first)
        except ValueError:
            return []
        if tuple(takes) == sale.takes:
            out.append(_applied(lots, takes, spread))
    return out


def _unexplained(lots: dict[int, State], sale: Sold) -> tuple[dict[int, State], dict[int, State]]:
    """The recorded takes, and what the position keeps spread over its lots by units."""
    after, _ = _applied(lots, list(sale.takes), {})
    left = sum(cost for _, cost in lots.values()) - sum(t.cost for t in sale.takes)
    spread = dict(zip(after, shares(left, [units for units, _ in after.values()])))
    return _applied(lots, list(sale.takes), spread)


def _applied(lots: dict[int, State], takes: Sequence[Take], spread: Mapping[int, int]) -> tuple[dict[int, State], dict[int, State]]:
    """The open lots after `takes` then `spread` (as `trading.record_closes` writes them: a lot
    emptied keeps no cost), and what changed."""
    changes: dict[int, State] = {}
    for take in takes:
        units, cost = lots.get(take.lot_id, (take.units, take.cost))
        changes[take.lot_id] = (units - take.units, 0 if units == take.units else cost - take.cost)
    for lot_id, cost in spread.items():
        changes[lot_id] = (changes.get(lot_id, lots[lot_id])[0], cost)
    changes = {i: state for i, state in changes.items() if lots.get(i) != state}
    after = {i: changes.get(i, state) for i, state in lots.items()}
    return {i: state for i, state in after.items() if state[0]}, changes


def _distinct(replays: Sequence[tuple[dict[int, State], _Step | None]]) -> list[tuple[dict[int, State], _Step | None]]:
    """One replay per state of the lots (the first: the one by the ledger's method now, as far as can be)."""
    seen: set[tuple[tuple[int, State], ...]] = set()
    out = []
    for lots, past in replays:
        key = tuple(sorted(lots.items()))
        if key not in seen:
            seen.add(key)
            out.append((lots, past))
    return out
