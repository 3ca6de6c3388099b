"""Money is exact: parsing at the edges, minor units with bounds, and one rounding rule in the house's favour."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderproc.engine import errors, rules
from orderproc.engine.schemas import Side
from orderproc.engine.domain.money import (
    MAX_CASH,
    MAX_UNITS,
    cash_to_cents,
    cents_to_cash,
    from_units,
    notional_cents,
    parse_decimal,
    to_units,
    units_for_cash,
)
from orderproc.engine.errors import InvalidAmount

CENT = Decimal("0.01")

# a price with up to 12 significant digits, from fractions of a cent to a six-figure coin
prices = st.decimals(min_value=Decimal("0.000000001"), max_value=Decimal("200000"), places=9).filter(lambda d: d > 0)
precisions = st.integers(min_value=0, max_value=8)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12.50", Decimal("12.50")), (" 7 ", Decimal("7")), (3, Decimal(3)), (Decimal("0.1"), Decimal("0.1"))],
)
def test_strings_integers_and_decimals_parse_to_the_exact_decimal(value: object, expected: Decimal) -> None:
    assert parse_decimal(value) == expected


@pytest.mark.parametrize("value", [0.1, 1.0, float("nan"), True, False, None, [1], b"1"])
def test_floats_booleans_and_other_types_are_rejected_as_invalid_amount(value: object) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_decimal(value, "quantity")
    assert caught.value.details["field"] == "quantity"


@pytest.mark.parametrize(
    "value",
    ["NaN", "sNaN", "Infinity", "-Infinity", "1e400", "1e-400", "", "  ", "abc", "1,5", "1" * 65,
     Decimal("NaN"), Decimal("-Infinity"), Decimal("1e400")],
)
def test_non_finite_out_of_range_and_non_numeric_values_are_rejected(value: object) -> None:
    with pytest.raises(InvalidAmount):
        parse_decimal(value)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("１０", id="full-width-10"),
        pytest.param("٣", id="arabic-indic-3"),
        pytest.param("१०", id="devanagari-10"),
        pytest.param("1０", id="ascii-1-full-width-0"),
    ],
)
def test_digits_of_other_scripts_are_not_read_as_numbers(value: str) -> None:
    # Python's Decimal reads any Unicode digit; a money field must accept ASCII digits only
    with pytest.raises(InvalidAmount):
        parse_decimal(value)


def test_cash_becomes_integer_cents_exactly() -> None:
    assert cash_to_cents("0.01") == 1
    assert cash_to_cents("19.99") == 1999
    assert cash_to_cents("100") == 10_000
    assert cash_to_cents("5.50") == 550
    assert cash_to_cents("2.000") == 200  # trailing zeros are not extra precision


@pytest.mark.parametrize("value", ["0.001", "1.005", "0.009"])
def test_cash_with_more_than_two_decimals_is_rejected_not_rounded(value: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        cash_to_cents(value)
    assert caught.value.details["max_decimals"] == 2


@pytest.mark.parametrize("value", ["0", "-0.01", "-5", "0.00"])
def test_cash_must_be_strictly_positive(value: str) -> None:
    with pytest.raises(InvalidAmount):
        cash_to_cents(value)


def test_cash_up_to_the_maximum_is_accepted_and_one_cent_more_is_rejected() -> None:
    assert cash_to_cents(MAX_CASH) == int(MAX_CASH * 100)
    with pytest.raises(InvalidAmount):
        cash_to_cents(MAX_CASH + CENT)


def test_quantities_become_integer_units_of_their_precision() -> None:
    assert to_units("0.00000001", 8) == 1
    assert to_units("1", 8) == 100_000_000
    assert to_units("2.5", 1) == 25
    assert to_units("42", 0) == 42
    with pytest.raises(InvalidAmount):
        to_units("0.000000001", 8)
    with pytest.raises(InvalidAmount):
        to_units("0.5", 0)


def test_the_largest_quantity_fits_in_a_signed_64_bit_integer_and_one_unit_more_is_rejected() -> None:
    largest = from_units(MAX_UNITS, 8)
    assert to_units(largest, 8) == MAX_UNITS < 2**63
    with pytest.raises(InvalidAmount):
        to_units(largest + Decimal("0.00000001"), 8)


@given(units=st.integers(min_value=1, max_value=MAX_UNITS), precision=precisions)
def test_units_round_trip_through_decimal_exactly(units: int, precision: int) -> None:
    assert to_units(from_units(units, precision), precision) == units
    assert to_units(str(from_units(units, precision)), precision) == units


def test_ten_thousand_deposits_of_one_cent_sum_to_exactly_one_hundred_dollars() -> None:
    total = sum(cash_to_cents("0.01") for _ in range(10_000))
    assert total == 10_000
    assert cents_to_cash(total) == Decimal("100.00")
    assert str(cents_to_cash(total)) == "100.00"


def test_a_buyer_pays_the_notional_rounded_up_to_the_cent() -> None:
    # 1 unit of 1e-8 at 0.5 USD is 5e-9 USD: the buyer still pays a whole cent
    assert notional_cents(1, 8, Decimal("0.5"), buyer=True) == 1
    # 0.333 x 3 USD = 0.999 USD -> 1.00
    assert notional_cents(333, 3, Decimal("3"), buyer=True) == 100
    # 1.5 x 10.001 USD = 15.0015 USD -> 15.01
    assert notional_cents(15, 1, Decimal("10.001"), buyer=True) == 1501


def test_a_seller_receives_the_notional_rounded_down_to_the_cent() -> None:
    assert notional_cents(1, 8, Decimal("0.5"), buyer=False) == 0
    assert notional_cents(333, 3, Decimal("3"), buyer=False) == 99
    assert notional_cents(15, 1, Decimal("10.001"), buyer=False) == 1500


def test_an_exact_notional_is_not_rounded_for_either_side() -> None:
    # 0.25 x 40 USD = 10.00 USD
    assert notional_cents(25, 2, Decimal("40"), buyer=True) == 1000
    assert notional_cents(25, 2, Decimal("40"), buyer=False) == 1000


@given(units=st.integers(min_value=1, max_value=10**12), precision=precisions, price=prices)
def test_the_rounding_rule_is_exact_ceiling_for_buyers_and_floor_for_sellers(
    units: int, precision: int, price: Decimal
) -> None:
    with localcontext(prec=80):
        exact_cents = from_units(units, precision) * price * 100
    buy = notional_cents(units, precision, price, buyer=True)
    sell = notional_cents(units, precision, price, buyer=False)
    assert buy == int(exact_cents.to_integral_value(rounding=ROUND_CEILING))
    assert sell == int(exact_cents.to_integral_value(rounding=ROUND_FLOOR))
    assert buy - sell == (0 if exact_cents == exact_cents.to_integral_value() else 1)


@given(cents=st.integers(min_value=1, max_value=int(MAX_CASH * 100)), precision=precisions, price=prices)
def test_buying_by_cash_amount_never_spends_more_than_the_amount(cents: int, precision: int, price: Decimal) -> None:
    units = units_for_cash(cents, precision, price)
    assert units >= 0
    assert notional_cents(units, precision, price, buyer=True) <= cents
    # and it is the most the cash buys: one more unit would cost more than the amount
    with localcontext(prec=80):
        assert from_units(units + 1, precision) * price * 100 > cents


def test_units_for_cash_buys_the_most_whole_units() -> None:
    assert units_for_cash(25_000, 8, Decimal("3837.22745545")) == 6_515_120
    assert units_for_cash(100, 0, Decimal("0.3")) == 3  # 1.00 USD buys 3 whole units at 0.30
    assert units_for_cash(1, 0, Decimal("5")) == 0  # one cent buys nothing of a 5 USD coin


@pytest.mark.parametrize(("guard", "price", "side", "message"), [
    ("3000", "3836.18", Side.BUY, "ETH is at $3,836.18, past your limit of $3,000.00"),
    ("0.25", "0.1820200", Side.SELL, "ETH is at $0.18202, past your limit of $0.25000"),
])
def test_a_price_guard_names_prices_as_money(guard: str, price: str, side: Side, message: str) -> None:
    with pytest.raises(errors.PriceMoved) as refused:
        rules.check_guard("ETH", side, Decimal(price), Decimal(guard))
    assert refused.value.message == message
    assert refused.value.details == {"price": price, "limit": guard}  # the figures stay exact for programs


def test_a_stop_on_the_wrong_side_names_the_price_as_money() -> None:
    with pytest.raises(errors.InvalidAmount, match=r"a buy stop must be above the price \(BTC is at \$109,818.86\)"):
        rules.check_stop("BTC", Side.BUY, Decimal("100000"), Decimal("109818.86"))
