"""Every journal entry the domain builds balances per asset; selling removes its share of the cost basis."""

from __future__ import annotations

from collections import defaultdict

import pytest

from orderproc.engine.domain.ledger import (
    EXTERNAL_ACCOUNT,
    HOUSE_ACCOUNT,
    Posting,
    UnbalancedEntry,
    buy_postings,
    check_balanced,
    deposit_postings,
    sell_postings,
    withdrawal_postings,
)
from orderproc.engine.domain.money import USD

CUSTOMER = 17


def _sums(postings: list[Posting]) -> dict[str, int]:
    sums: dict[str, int] = defaultdict(int)
    for p in postings:
        sums[p.asset] += p.amount
    return dict(sums)


def _moved(postings: list[Posting], account: int, asset: str) -> int:
    return sum(p.amount for p in postings if p.account_id == account and p.asset == asset)


BUILT = {
    "deposit": deposit_postings(CUSTOMER, 12_345),
    "withdrawal": withdrawal_postings(CUSTOMER, 999),
    "buy": buy_postings(CUSTOMER, "ETH", 6_515_120, 25_000),
    "partial sell": sell_postings(CUSTOMER, "ETH", 100, 383, removed_cost=333),
    "whole sell": sell_postings(CUSTOMER, "ETH", 300, 1_150, removed_cost=1_000),
}


@pytest.mark.parametrize("name", sorted(BUILT))
def test_every_built_entry_sums_to_zero_per_asset(name: str) -> None:
    postings = BUILT[name]
    check_balanced(postings)
    assert all(total == 0 for total in _sums(postings).values())
    assert all(isinstance(p.amount, int) and p.amount != 0 for p in postings)


def test_a_deposit_moves_cash_from_the_outside_world_to_the_customer() -> None:
    postings = deposit_postings(CUSTOMER, 500)
    assert _moved(postings, CUSTOMER, USD) == 500
    assert _moved(postings, EXTERNAL_ACCOUNT, USD) == -500


def test_a_withdrawal_moves_cash_from_the_customer_to_the_outside_world() -> None:
    postings = withdrawal_postings(CUSTOMER, 500)
    assert _moved(postings, CUSTOMER, USD) == -500
    assert _moved(postings, EXTERNAL_ACCOUNT, USD) == 500


def test_a_buy_swaps_the_customers_cash_for_the_houses_asset_and_adds_the_cash_to_cost_basis() -> None:
    postings = buy_postings(CUSTOMER, "BTC", 5_000_000, 548_348)
    assert _moved(postings, CUSTOMER, USD) == -548_348
    assert _moved(postings, CUSTOMER, "BTC") == 5_000_000
    assert _moved(postings, HOUSE_ACCOUNT, USD) == 548_348
    assert _moved(postings, HOUSE_ACCOUNT, "BTC") == -5_000_000
    assert sum(p.cost for p in postings if p.account_id == CUSTOMER) == 548_348


def test_a_sell_swaps_the_customers_asset_for_the_houses_cash_and_removes_the_cost_of_the_lots_it_closed() -> None:
    postings = sell_postings(CUSTOMER, "ETH", 100, 383, removed_cost=333)
    assert sum(p.cost for p in postings) == -333
    assert _moved(postings, CUSTOMER, "ETH") == -100
    assert _moved(postings, CUSTOMER, USD) == 383
    assert _moved(postings, HOUSE_ACCOUNT, USD) == -383
    assert _moved(postings, HOUSE_ACCOUNT, "ETH") == 100


def test_an_entry_whose_cash_does_not_sum_to_zero_is_rejected() -> None:
    with pytest.raises(UnbalancedEntry, match="USD"):
        check_balanced([Posting(CUSTOMER, USD, 100), Posting(EXTERNAL_ACCOUNT, USD, -99)])


def test_an_entry_balanced_in_cash_but_not_in_the_asset_is_rejected() -> None:
    postings = buy_postings(CUSTOMER, "ETH", 10, 500)[:-1] + [Posting(CUSTOMER, "ETH", 9)]
    with pytest.raises(UnbalancedEntry, match="ETH"):
        check_balanced(postings)


def test_a_single_posting_is_an_unbalanced_entry() -> None:
    with pytest.raises(UnbalancedEntry):
        check_balanced([Posting(CUSTOMER, USD, 1)])
