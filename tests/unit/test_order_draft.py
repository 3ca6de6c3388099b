"""The Trade ticket's draft, without Textual: its fields parsed and priced by the engine's rules,
its warnings and the words of its confirmation."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from orderproc.engine import errors
from orderproc.engine.schemas import Asset, OrderPreview, OrderType, Side, TimeInForce
from orderproc.tui.order_draft import Draft, Funds, draft_order, error_field
from orderproc.tui.order_words import confirmation_title, explanation, summary, warnings

PRICE = Decimal("100000")


def _asset(precision: int = 8) -> Asset:
    return Asset.model_construct(symbol="BTC", name="Bitcoin", category="coin", rank=1, price=PRICE,
                                 change_24h=Decimal(0), reference_price=PRICE, reference_date="",
                                 source="", volatility=Decimal(0), precision=precision)


def _draft(side: Side, amount: str, *, kind: OrderType = OrderType.MARKET, amount_in: str = "quantity",
           guard: str = "", limit: str = "", stop: str = "", tif: TimeInForce = TimeInForce.GTC) -> Draft:
    return draft_order(_asset(), PRICE, side, "usd" if amount_in == "usd" else "quantity", amount, guard, "key",
                       kind=kind, limit_price_text=limit, stop_price_text=stop, tif=tif)


def test_the_draft_and_its_words_import_no_textual() -> None:
    code = ("import sys, orderproc.tui.order_draft, orderproc.tui.order_words; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_buyer_pays_the_quantity_at_the_quote_rounded_up_and_a_seller_receives_it_rounded_down() -> None:
    assert _draft(Side.BUY, "0.00001234").cash == Decimal("1.24")
    assert _draft(Side.SELL, "0.00001234").cash == Decimal("1.23")


def test_a_usd_amount_buys_what_it_can_and_too_small_an_amount_is_an_error_by_the_amount_field() -> None:
    draft = _draft(Side.BUY, "1000", amount_in="usd")
    assert draft.quantity == Decimal("0.01") and draft.request.notional == Decimal("1000")
    with pytest.raises(errors.InvalidAmount, match="less than the smallest quantity") as caught:
        draft_order(_asset(precision=2), PRICE, Side.BUY, "usd", "0.01", "", "key")
    assert error_field(caught.value) == "amount"


def test_a_resting_buy_reserves_its_cash_at_its_limit_and_a_resting_sell_its_quantity() -> None:
    buy = _draft(Side.BUY, "0.5", kind=OrderType.LIMIT, limit="90000")
    assert not buy.fills_now and buy.reserve == buy.cash == Decimal("45000.00")
    sell = _draft(Side.SELL, "0.5", kind=OrderType.LIMIT, limit="110000")
    assert sell.reserve == Decimal("0.5") and sell.cash == Decimal("55000.00")


def test_a_stop_at_or_past_the_price_is_reached_and_warned_about() -> None:
    draft = _draft(Side.BUY, "0.1", kind=OrderType.STOP, stop="99000")
    assert draft.stop_reached
    assert "A buy stop must be above the price ($100,000.00): it would be refused now." in warnings(draft, Funds())
    assert not _draft(Side.SELL, "0.1", kind=OrderType.STOP, stop="99000").stop_reached


def test_a_price_guard_the_price_is_already_past_is_warned_about() -> None:
    draft = _draft(Side.BUY, "0.1", guard="99000")
    assert draft.guard_breached
    assert warnings(draft, Funds()) == ["The price is above your guard: it would be rejected now."]
    assert not _draft(Side.BUY, "0.1", guard="100000").guard_breached


def test_an_ioc_limit_the_price_has_not_reached_expires_now_and_reserves_nothing() -> None:
    draft = _draft(Side.BUY, "0.1", kind=OrderType.LIMIT, limit="90000", tif=TimeInForce.IOC)
    assert draft.expires_now and draft.reserve is None
    assert warnings(draft, Funds(cash=Decimal(1), available=Decimal(1))) == [
        "BTC is above your limit now: this IOC order would expire."]
    assert "Nothing is reserved." in explanation(draft)


def test_more_than_the_cash_or_the_holding_is_warned_about() -> None:
    funds = Funds(cash=Decimal(5000), available=Decimal(1000), holdings={"BTC": Decimal("0.2")},
                  free={"BTC": Decimal("0.05")})
    assert warnings(_draft(Side.BUY, "0.1"), funds) == ["That is more than your available cash ($1,000.00)."]
    assert warnings(_draft(Side.SELL, "0.1"), funds) == [
        "That is more than you hold (0.2 BTC, 0.15 of it in open orders)."]


@pytest.mark.parametrize(("field", "typed", "message"), [
    ("limit", "1234567.8901234", "the limit price has too many digits"),
    ("limit", "-1", "the limit price must be greater than zero"),
    ("limit", "", "enter a limit price"),
    ("guard", "0", "the price guard must be greater than zero"),
    ("guard", "1.2.3", "price guard is not a number: '1.2.3'"),
])
def test_a_bad_price_is_an_error_in_the_tickets_words_by_its_field(field: str, typed: str, message: str) -> None:
    with pytest.raises(errors.InvalidAmount) as caught:
        if field == "limit":
            _draft(Side.BUY, "0.1", kind=OrderType.LIMIT, limit=typed)
        else:
            _draft(Side.BUY, "0.1", guard=typed)
    assert caught.value.message == message
    assert error_field(caught.value) == ("limit_price" if field == "limit" else "limit")


def test_a_guard_may_have_any_number_of_digits_a_resting_price_may_not() -> None:
    assert _draft(Side.BUY, "0.1", guard="100000.0000001").request.price_limit == Decimal("100000.0000001")


def test_the_engines_preview_decides_whether_a_limit_fills_now() -> None:
    draft = _draft(Side.BUY, "0.5", kind=OrderType.LIMIT, limit="100000")
    assert draft.fills_now
    rests = draft.with_preview(OrderPreview.model_construct(rests=True, reference_price=PRICE,
                                                            reserved=Decimal("50025.00"), receipt=None))
    assert not rests.fills_now and rests.reserve == rests.cash == Decimal("50025.00")


def test_the_confirmation_asks_and_explains_in_the_terminals_words() -> None:
    draft = _draft(Side.BUY, "0.5", kind=OrderType.LIMIT, limit="90000")
    assert confirmation_title(draft) == "Confirm limit buy"
    assert summary(draft) == "Limit buy 0.5 BTC at $90,000.00 or less"
    assert explanation(draft) == (
        "It rests until BTC ≤ $90,000.00 (now $100,000.00). It reserves $45,000.00 of your cash until it "
        "fills or you cancel it (good till canceled).")
