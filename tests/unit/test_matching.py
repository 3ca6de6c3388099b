"""The matcher's Book on its own: which tick fills, triggers or leaves each resting order alone.

Ticks are whole seconds; an order row carries the time it was placed (and, for a triggered
stop-limit, the time it was triggered) as the ledger stores it, in UTC ISO text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from orderproc.engine.domain.matching import FILL, TRIGGER, Book, BookRow, Event

T0 = 1_780_000_000  # the tick every order below is placed in


def iso(tick: float) -> str:
    return datetime.fromtimestamp(tick, UTC).isoformat(timespec="microseconds")


def row(
    order_id: int,
    side: str = "buy",
    kind: str = "limit",
    *,
    limit: str | None = None,
    stop: str | None = None,
    symbol: str = "BTC",
    status: str = "new",
    placed: float = T0 + 0.5,
    triggered: float | None = None,
    seq: int = 1,
) -> BookRow:
    """An order as `repo.book_changes` reads it."""
    return BookRow(order_id, symbol, side, kind, status, limit, stop, iso(placed), iso(triggered) if triggered else None, seq)


def book_of(*rows: BookRow) -> Book:
    book = Book()
    book.apply(rows)
    return book


def ticks(*prices: str | int, first: int = T0 + 1) -> list[tuple[int, Decimal]]:
    """Consecutive ticks from `first` at these prices."""
    return [(first + i, Decimal(p)) for i, p in enumerate(prices)]


def fill(tick: int, order_id: int, price: str | int) -> Event:
    return Event(tick, order_id, FILL, Decimal(price))


def trigger(tick: int, order_id: int, price: str | int) -> Event:
    return Event(tick, order_id, TRIGGER, Decimal(price))


# -- limit orders ----------------------------------------------------------------------------------


def test_a_limit_buy_fills_at_the_first_tick_at_or_below_its_limit_at_that_ticks_price() -> None:
    book = book_of(row(1, limit="100"))
    assert book.match("BTC", ticks(103, "100.5", "99.25", 98, 100)) == [fill(T0 + 3, 1, "99.25")]


def test_a_limit_buy_fills_at_a_price_equal_to_its_limit() -> None:
    book = book_of(row(1, limit="100"))
    assert book.match("BTC", ticks(101, 100)) == [fill(T0 + 2, 1, 100)]


def test_a_limit_sell_fills_at_the_first_tick_at_or_above_its_limit_at_that_ticks_price() -> None:
    book = book_of(row(1, "sell", limit="100"))
    assert book.match("BTC", ticks(97, "99.99", "100.01", 105)) == [fill(T0 + 3, 1, "100.01")]


def test_a_limit_order_the_ticks_never_reach_gives_no_event() -> None:
    book = book_of(row(1, limit="90"), row(2, "sell", limit="110"))
    assert book.match("BTC", ticks(100, 95, "90.01", 105, "109.99")) == []


def test_each_order_fills_once_however_many_later_ticks_cross_it() -> None:
    book = book_of(row(1, limit="100"), row(2, "sell", limit="100"))
    events = book.match("BTC", ticks(99, 101, 98, 102))
    assert events == [fill(T0 + 1, 1, 99), fill(T0 + 2, 2, 101)]


def test_an_order_filled_in_a_pass_does_not_stop_the_others_from_filling_later() -> None:
    # the book narrows what a tick can reach once the highest buy limit has filled
    book = book_of(row(1, limit="100"), row(2, limit="95"), row(3, limit="90"))
    events = book.match("BTC", ticks(100, 97, 95, 93, 90))
    assert events == [fill(T0 + 1, 1, 100), fill(T0 + 3, 2, 95), fill(T0 + 5, 3, 90)]


# -- stop and stop-limit orders --------------------------------------------------------------------------


def test_a_stop_buy_fills_at_the_first_tick_at_or_above_its_stop_at_that_ticks_price() -> None:
    book = book_of(row(1, kind="stop", stop="100"))
    assert book.match("BTC", ticks(95, "99.99", "100.75", 101)) == [fill(T0 + 3, 1, "100.75")]


def test_a_stop_sell_fills_at_the_first_tick_at_or_below_its_stop_at_that_ticks_price() -> None:
    book = book_of(row(1, "sell", kind="stop", stop="100"))
    assert book.match("BTC", ticks(105, "100.01", 100, 90)) == [fill(T0 + 3, 1, 100)]


def test_a_stop_limit_buy_that_triggers_and_is_within_its_limit_fills_in_the_same_tick() -> None:
    book = book_of(row(1, kind="stop_limit", stop="100", limit="102"))
    events = book.match("BTC", ticks(98, 101, 99))
    assert events == [trigger(T0 + 2, 1, 101), fill(T0 + 2, 1, 101)]


def test_a_stop_limit_buy_triggered_above_its_limit_fills_at_a_later_tick_within_the_limit() -> None:
    book = book_of(row(1, kind="stop_limit", stop="100", limit="98"))
    # 97 before the trigger is below the limit but the order is not a limit order yet
    events = book.match("BTC", ticks(97, 103, 99, "97.5", 96))
    assert events == [trigger(T0 + 2, 1, 103), fill(T0 + 4, 1, "97.5")]


def test_a_stop_limit_sell_triggers_when_the_price_falls_to_its_stop_then_waits_for_its_limit() -> None:
    book = book_of(row(1, "sell", kind="stop_limit", stop="100", limit="101"))
    events = book.match("BTC", ticks(102, 100, "100.5", "101.5"))
    assert events == [trigger(T0 + 2, 1, 100), fill(T0 + 4, 1, "101.5")]


def test_a_stop_limit_that_never_reaches_its_stop_never_acts_even_past_its_limit() -> None:
    book = book_of(row(1, kind="stop_limit", stop="100", limit="98"))
    assert book.match("BTC", ticks(97, 95, 99)) == []


def test_a_triggered_stop_limit_read_back_from_the_ledger_is_a_limit_order_from_the_next_tick() -> None:
    # triggered at T0+3 (by this or another matcher): only the limit matters from T0+4 on
    book = book_of(row(1, kind="stop_limit", stop="100", limit="98", triggered=T0 + 3.2))
    assert book.match("BTC", ticks(97, 95, first=T0 + 3)) == [fill(T0 + 4, 1, 95)]


# -- order within a tick, and the placement tick ----------------------------------------------------------


def test_orders_acting_in_the_same_tick_come_in_the_order_they_were_placed() -> None:
    book = Book()
    # applied out of id order, in two symbols' worth of rows: the events still come by id
    book.apply([row(7, limit="100"), row(3, kind="stop", stop="90", side="buy"), row(5, limit="99")])
    events = book.match("BTC", ticks(95))
    assert events == [fill(T0 + 1, 3, 95), fill(T0 + 1, 5, 95), fill(T0 + 1, 7, 95)]


def test_a_stop_limits_trigger_sorts_before_its_fill_and_between_other_orders_by_id() -> None:
    book = book_of(row(2, limit="101"), row(1, kind="stop_limit", stop="100", limit="102"), row(3, limit="101"))
    events = book.match("BTC", ticks(101))
    assert events == [trigger(T0 + 1, 1, 101), fill(T0 + 1, 1, 101), fill(T0 + 1, 2, 101), fill(T0 + 1, 3, 101)]


def test_an_order_does_not_act_on_the_tick_it_was_placed_in() -> None:
    # placed at T0 + 0.5: tick T0 was the price its placement saw
    book = book_of(row(1, limit="100"))
    assert book.match("BTC", ticks(90, first=T0)) == []
    assert book.match("BTC", ticks(90, 90, first=T0)) == [fill(T0 + 1, 1, 90)]
    assert book.first_tick("BTC") == T0 + 1


def test_orders_placed_in_different_ticks_start_acting_at_their_own_next_tick() -> None:
    book = book_of(row(1, limit="100", placed=T0 + 0.1), row(2, limit="100", placed=T0 + 2.9))
    events = book.match("BTC", ticks(95, 95, 95, 95, first=T0))
    assert events == [fill(T0 + 1, 1, 95), fill(T0 + 3, 2, 95)]
    assert book.first_tick("BTC") == T0 + 1


# -- keeping in step with the ledger ---------------------------------------------------------------------


def test_apply_keeps_open_orders_by_symbol_and_drops_closed_ones() -> None:
    book = book_of(row(1, limit="100"), row(2, "sell", limit="5", symbol="ETH"), row(3, limit="90"))
    assert (len(book), sorted(book.symbols())) == (3, ["BTC", "ETH"])

    book.apply([row(1, limit="100", status="filled", seq=4), row(2, "sell", limit="5", symbol="ETH", status="canceled",
                                                                 seq=5)])
    assert (len(book), book.symbols()) == (1, ["BTC"])
    assert book.match("ETH", ticks(6)) == []
    assert book.match("BTC", ticks(95, 89)) == [fill(T0 + 2, 3, 89)]

    for status in ("expired", "rejected"):
        book.apply([row(3, limit="90", status=status, seq=6)])
        assert (len(book), book.symbols()) == (0, [])


def test_apply_of_a_row_for_an_order_it_never_saw_closed_is_a_no_op() -> None:
    book = book_of(row(1, limit="100"))
    book.apply([row(9, limit="100", status="filled")])
    assert len(book) == 1


def test_apply_replaces_an_orders_row_when_it_changes() -> None:
    book = book_of(row(1, kind="stop_limit", stop="100", limit="98"))
    assert book.match("BTC", ticks(97, first=T0 + 5)) == []  # not triggered: the limit does not act
    book.apply([row(1, kind="stop_limit", stop="100", limit="98", triggered=T0 + 3.5, seq=2)])
    assert len(book) == 1
    assert book.match("BTC", ticks(97, first=T0 + 5)) == [fill(T0 + 5, 1, 97)]


def test_matching_does_not_change_the_book() -> None:
    book = book_of(row(1, limit="100"), row(2, kind="stop_limit", stop="100", limit="99"), row(3, "sell", limit="110"))
    prices = ticks(99, 101, 98, 111)
    first = book.match("BTC", prices)
    assert first == [fill(T0 + 1, 1, 99), trigger(T0 + 2, 2, 101), fill(T0 + 3, 2, 98), fill(T0 + 4, 3, 111)]
    # the same ticks again give the same events: nothing was filled or triggered in the book itself,
    # which learns outcomes only from the ledger
    assert book.match("BTC", prices) == first
    assert len(book) == 3
    assert book.match("BTC", ticks(98, first=T0 + 9)) == [fill(T0 + 9, 1, 98)]


def test_a_symbol_without_orders_gives_no_events() -> None:
    book = book_of(row(1, limit="100"))
    assert book.match("ETH", ticks(1, 2, 3)) == []
    assert Book().match("BTC", ticks(1)) == []
