"""Cost basis by lots: FIFO, average cost, a named lot; exact cents that always add up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderproc.engine.domain.lots import AVERAGE, FIFO, OpenLot, Take, close_lots, shares

TWO_LOTS = [OpenLot(1, 100, 1_000), OpenLot(2, 100, 3_000)]  # 10 and 30 cents a unit


def test_fifo_closes_the_oldest_lot_first_and_part_of_the_next_at_its_own_cost() -> None:
    takes, spread = close_lots(TWO_LOTS, 150, FIFO)
    assert takes == [Take(1, 100, 1_000), Take(2, 50, 1_500)]
    assert spread == {}


def test_average_cost_removes_the_positions_average_and_the_lot_left_carries_the_rest() -> None:
    takes, spread = close_lots(TWO_LOTS, 150, AVERAGE)
    assert [(t.lot_id, t.units) for t in takes] == [(1, 100), (2, 50)]  # the quantity still leaves FIFO
    assert sum(t.cost for t in takes) == 3_000  # 150 units at the average 20 cents
    assert spread == {2: 1_000}


def test_a_named_lot_is_closed_first_then_the_oldest() -> None:
    takes, _ = close_lots(TWO_LOTS, 120, FIFO, first=2)
    assert takes == [Take(2, 100, 3_000), Take(1, 20, 200)]
    with pytest.raises(ValueError, match="not open"):
        close_lots(TWO_LOTS, 10, FIFO, first=9)


def test_a_part_of_a_lot_gives_up_its_cost_rounded_down_and_the_last_unit_takes_the_rest() -> None:
    lots = [OpenLot(1, 3, 100)]
    removed = []
    for _ in range(3):
        [take], _ = close_lots(lots, 1, FIFO)
        removed.append(take.cost)
        lots = [OpenLot(1, lots[0].remaining - 1, lots[0].cost - take.cost)] if lots[0].remaining > 1 else []
    assert removed == [33, 33, 34]


def test_selling_more_than_the_lots_hold_is_refused() -> None:
    with pytest.raises(ValueError):
        close_lots(TWO_LOTS, 201, FIFO)


@given(st.integers(0, 10**12), st.lists(st.integers(1, 10**9), min_size=1, max_size=8))
def test_shares_add_up_to_the_total_and_follow_the_weights(total: int, weights: list[int]) -> None:
    parts = shares(total, weights)
    assert sum(parts) == total and all(p >= 0 for p in parts)
    for part, weight in zip(parts[:-1], weights[:-1]):
        assert part == total * weight // sum(weights)


lot_lists = st.lists(st.tuples(st.integers(1, 10**6), st.integers(0, 10**9)), min_size=1, max_size=6).map(
    lambda xs: [OpenLot(i + 1, n, c) for i, (n, c) in enumerate(xs)])


@given(lot_lists, st.data(), st.sampled_from([FIFO, AVERAGE]))
def test_the_cost_removed_and_the_cost_left_always_add_up_to_the_positions_cost(
    lots: list[OpenLot], data: st.DataObject, method: str
) -> None:
    held = sum(lot.remaining for lot in lots)
    units = data.draw(st.integers(1, held))
    takes, spread = close_lots(lots, units, method)
    assert sum(t.units for t in takes) == units
    removed = sum(t.cost for t in takes)
    by_id = {lot.id: lot for lot in lots}
    left = spread if method == AVERAGE else {
        lot.id: lot.cost - sum(t.cost for t in takes if t.lot_id == lot.id) for lot in lots}
    left = {i: c for i, c in left.items() if by_id[i].remaining - sum(t.units for t in takes if t.lot_id == i)}
    assert removed + sum(left.values()) == sum(lot.cost for lot in lots)
    assert all(t.cost >= 0 for t in takes) and all(c >= 0 for c in left.values())
