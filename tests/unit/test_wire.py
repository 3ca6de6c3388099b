"""The wire's decimal rules (orderproc.engine.wire) against the engine's own: what the OpenAPI
document says a field takes, the engine takes (a fuzzer's schema-valid request is not refused for
its form); and a resting order's price pattern says exactly the engine's significant digits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderproc.engine import errors, rules, wire
from orderproc.engine.domain.friction import MAX_BPS

RULES = {"USD": wire.USD, "QUANTITY": wire.QUANTITY, "PRICE_GUARD": wire.PRICE_GUARD,
         "ORDER_PRICE": wire.ORDER_PRICE, "BPS": wire.BPS}


def _written(rule: wire.DecimalText) -> st.SearchStrategy[str]:
    return st.from_regex(rule.pattern, fullmatch=True).filter(rule.accepts)


@settings(max_examples=300, deadline=None)
@given(text=_written(wire.USD))
def test_a_usd_amount_the_document_takes_is_cash_the_engine_takes(text: str) -> None:
    assert rules.cash_to_cents(text) == Decimal(text) * 100


@settings(max_examples=300, deadline=None)
@given(text=_written(wire.QUANTITY))
def test_a_quantity_the_document_takes_is_one_the_engine_takes_for_an_asset_of_8_decimals_up_to_its_size(
    text: str
) -> None:
    if Decimal(text) <= Decimal(10**9):  # the asset's size limit: 10**17 units (asset-dependent, documented)
        assert rules.to_units(text, 8) == Decimal(text) * 10**8


@settings(max_examples=300, deadline=None)
@given(text=_written(wire.ORDER_PRICE))
def test_a_price_the_document_takes_is_one_a_resting_order_may_name(text: str) -> None:
    assert rules.check_price(text, "limit_price") == Decimal(text)


@settings(max_examples=300, deadline=None)
@given(price=st.decimals(min_value=Decimal("1e-25"), max_value=Decimal("1e25"), places=None, allow_nan=False,
                         allow_infinity=False))
def test_the_resting_price_pattern_says_exactly_the_engines_significant_digits(price: Decimal) -> None:
    text = format(price, "f")
    if len(text) > wire.ORDER_PRICE.max_length:
        return
    try:
        rules.check_price(text, "limit_price")
        engine_takes = True
    except errors.InvalidAmount:
        engine_takes = False
    assert wire.ORDER_PRICE.accepts(text) == engine_takes, text


@settings(max_examples=200, deadline=None)
@given(text=_written(wire.PRICE_GUARD))
def test_a_price_guard_the_document_takes_is_one_the_engine_takes(text: str) -> None:
    assert rules.check_price(text, "price_limit", digits=False) == Decimal(text)


@settings(max_examples=200, deadline=None)
@given(text=_written(wire.BPS))
def test_basis_points_the_document_takes_are_a_setting_the_engine_takes(text: str) -> None:
    assert 0 <= rules.parse_decimal(text) <= MAX_BPS


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("value", [1, 1.5, True, None, "", " 1", "1 ", "+1", "-1", "1e3", "0x10", ".5", "5.", "1,5",
                                   "NaN", "１", "0" * 40])
def test_what_no_rule_takes(name: str, value: object) -> None:
    with pytest.raises(errors.InvalidAmount) as refused:
        RULES[name].check(value, "field")
    assert refused.value.details == {"field": "field"}


@pytest.mark.parametrize("name", ["USD", "QUANTITY", "PRICE_GUARD", "ORDER_PRICE"])
def test_zero_is_no_amount(name: str) -> None:
    for zero in ("0", "0.0", "0.00"):
        assert not RULES[name].accepts(zero)
    assert wire.BPS.accepts("0")


@pytest.mark.parametrize(("key", "taken"), [("a", True), ("order-1 retry", True), ("~" * 128, True), ("x" * 129, False),
                                             ("", False), (" a", False), ("a ", False), ("clé-ÿ", True), ("\xa0", False),
                                             ("\xad", False), ("ключ", False), ("a\tb", False)])
def test_an_idempotency_key_is_printable_latin1_without_space_at_either_end(key: str, taken: bool) -> None:
    if taken:
        wire.check_key(key, "key")
    else:
        with pytest.raises(errors.ValidationError):
            wire.check_key(key, "key")
