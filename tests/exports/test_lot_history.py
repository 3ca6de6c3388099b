"""What each sale did to its position's lots, found again from the takes it recorded and the lots
as they are now (`orderproc.engine.domain.lot_history`)."""

from __future__ import annotations

from orderproc.engine.domain.lot_history import Bought, Reset, Sold, sale_changes
from orderproc.engine.domain.lots import AVERAGE, FIFO, Take

# three lots of one unit at 2.00, 1.00 and 3.00: FIFO and the average both take 2.00 for the
# first unit sold, but FIFO leaves the other two as they were, the average at 2.00 each
LOTS = [Bought(1, 1, 200), Bought(2, 1, 100), Bought(3, 1, 300)]
SALE = Sold(10, 1, (Take(1, 1, 200),))


def test_a_sale_is_replayed_by_the_method_whose_takes_it_recorded() -> None:
    fifo_only = Sold(10, 1, (Take(1, 1, 100),))
    history = [Bought(1, 1, 100), Bought(2, 1, 300), fifo_only]
    assert sale_changes(history, {2: (1, 300)}, AVERAGE) == {10: {1: (0, 0)}}
    average_only = Sold(10, 1, (Take(1, 1, 200),))
    history = [Bought(1, 1, 100), Bought(2, 1, 300), average_only]
    assert sale_changes(history, {2: (1, 200)}, FIFO) == {10: {1: (0, 0), 2: (1, 200)}}


def test_two_methods_that_take_the_same_are_told_apart_by_the_lots_as_they_are_now() -> None:
    assert sale_changes([*LOTS, SALE], {2: (1, 100), 3: (1, 300)}, AVERAGE) == {10: {1: (0, 0)}}
    assert sale_changes([*LOTS, SALE], {2: (1, 200), 3: (1, 200)}, FIFO) == {
        10: {1: (0, 0), 2: (1, 200), 3: (1, 200)}}


def test_a_later_sale_tells_which_replay_the_first_belongs_to() -> None:
    # selling lot 2 for 1.00 next: only after FIFO's first sale (the average's left it at 2.00)
    second = Sold(11, 1, (Take(2, 1, 100),))
    assert sale_changes([*LOTS, SALE, second], {3: (1, 300)}, AVERAGE) == {10: {1: (0, 0)}, 11: {2: (0, 0)}}


def test_a_reset_closes_every_lot_and_the_history_starts_again() -> None:
    history = [*LOTS, SALE, Reset(), Bought(4, 2, 500), Sold(12, 1, (Take(4, 1, 250),))]
    assert sale_changes(history, {4: (1, 250)}, FIFO)[12] == {4: (1, 250)}


def test_a_sale_no_method_explains_keeps_its_takes_and_the_positions_cost() -> None:
    odd = Sold(10, 1, (Take(1, 1, 150),))  # neither FIFO (1.00) nor the average (2.00)
    found = sale_changes([Bought(1, 1, 100), Bought(2, 1, 300), odd], {2: (1, 250)}, FIFO)
    assert found == {10: {1: (0, 0), 2: (1, 250)}}
