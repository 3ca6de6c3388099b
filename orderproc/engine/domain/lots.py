"""Tax lots and cost basis, without I/O.

Every buy opens a lot (its quantity and the cash it cost, in cents). A sell closes lots by the
ledger's cost method:

    fifo     the oldest lots first (the default)
    average  every lot of the position carries the position's average cost; the quantity still
             comes out of the oldest lots, and the remaining lots share the remaining cost
    a lot    (a sell naming one of its lots: specific identification) that lot first, then FIFO

The cost a sell removes is exact in cents: a lot closed in part gives up its remaining cost in
proportion, rounded down (the cent left stays with the lot and goes with its last unit), so the
remaining lots' costs always add up to the position's cost basis. Realized P&L of a sale is its
proceeds minus the cost it removed.

Cost per unit is never kept, always derived, by one rule (`unit_cost`): the cost basis in cents
of the units held, divided by those units, to PRICE_DIGITS significant digits, half to even. A
position's average cost and an open lot's unit cost are both that rule applied to what is held,
so a position of one lot shows the lot's unit cost as its average cost, to the last digit, after
any partial sale (a sale that rounds its cost down leaves the lot's next unit a fraction of a
cent dearer, and both figures show it). A lot sold out shows the rule applied to what it bought.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Context, Decimal

from orderproc.engine.domain.money import PRICE_DIGITS, cents_to_cash, from_units, round_price

FIFO = "fifo"
AVERAGE = "average"
COST_METHODS = (FIFO, AVERAGE)
_UNIT_COST = Context(prec=PRICE_DIGITS)  # rounds half to even, once


@dataclass(frozen=True, slots=True)
class OpenLot:
    id: int
    remaining: int  # units
    cost: int  # the remaining units' cost, cents


@dataclass(frozen=True, slots=True)
class Take:
    """What a sale takes from one lot: units, and the cost basis that goes with them."""

    lot_id: int
    units: int
    cost: int


def close_lots(
    lots: Sequence[OpenLot], units: int, method: str, *, first: int | None = None
) -> tuple[list[Take], dict[int, int]]:
    """The takes of a sale of `units` from `lots` (oldest first), and under the average method
    the new remaining cost of every lot left open (lot id -> cents; empty for FIFO).

    `first` is a lot the seller named (specific identification). Raises ValueError when the
    lots hold fewer units than the sale (the ledger's balances forbid it first).
    """
    if method not in COST_METHODS:
        raise ValueError(f"unknown cost method {method!r}")
    order = list(lots)
    if first is not None:
        chosen = [lot for lot in order if lot.id == first]
        if not chosen:
            raise ValueError(f"lot {first} is not open")
        order = chosen + [lot for lot in order if lot.id != first]
    held = sum(lot.remaining for lot in order)
    if units > held or units <= 0:
        raise ValueError(f"cannot sell {units} units from lots holding {held}")
    total_cost = sum(lot.cost for lot in order)
    takes: list[Take] = []
    left = units
    for lot in order:
        if not left:
            break
        n = min(left, lot.remaining)
        cost = lot.cost if n == lot.remaining else lot.cost * n // lot.remaining
        takes.append(Take(lot.id, n, cost))
        left -= n
    if method == FIFO or first is not None:
        return takes, {}
    # average: the sale removes the average cost of its units; what stays is spread over the
    # lots left open in proportion to their units
    removed = total_cost if units == held else total_cost * units // held
    taken = {t.lot_id: t.units for t in takes}
    open_after = [(lot.id, lot.remaining - taken.get(lot.id, 0)) for lot in order]
    open_after = [(lot_id, n) for lot_id, n in open_after if n]
    takes = [Take(t.lot_id, t.units, c) for t, c in zip(takes, shares(removed, [t.units for t in takes]))]
    spread = dict(zip((lot_id for lot_id, _ in open_after),
                      shares(total_cost - removed, [n for _, n in open_after])))
    return takes, spread


def unit_cost(cents: int, units: int, precision: int) -> Decimal:
    """The cost per unit of `units` (minor units of an asset of `precision`) that cost `cents`."""
    return round_price(_UNIT_COST.divide(cents_to_cash(cents), from_units(units, precision)))


def shares(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights`, rounded down, the remainder on the last."""
    whole = sum(weights)
    shares = [total * w // whole for w in weights[:-1]] if weights else []
    return shares + [total - sum(shares)] if weights else []
