"""Balanced journal entries, built without I/O.

Every movement is one entry whose postings sum to zero per asset:
deposit (external -> customer), withdrawal (customer -> external), trade (customer <-> house).
The external world and the house may go negative; a customer never does (the store
enforces that when it applies a posting).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from orderproc.engine.domain.money import USD

EXTERNAL_ACCOUNT = 1
HOUSE_ACCOUNT = 2
SYSTEM_ACCOUNTS = {EXTERNAL_ACCOUNT: ("external", "outside world"), HOUSE_ACCOUNT: ("house", "house")}


@dataclass(frozen=True, slots=True)
class Posting:
    account_id: int
    asset: str
    amount: int  # minor units; negative = out of the account
    cost: int = 0  # change of the account's cost basis in cents (customer positions only)


class UnbalancedEntry(ValueError):
    """A programming error: an entry whose postings do not sum to zero."""


def check_balanced(postings: Iterable[Posting]) -> None:
    sums: dict[str, int] = defaultdict(int)
    for p in postings:
        sums[p.asset] += p.amount
    unbalanced = {asset: total for asset, total in sums.items() if total}
    if unbalanced:
        raise UnbalancedEntry(f"postings do not sum to zero: {unbalanced}")


def deposit_postings(account_id: int, cents: int) -> list[Posting]:
    return [Posting(EXTERNAL_ACCOUNT, USD, -cents), Posting(account_id, USD, cents)]


def withdrawal_postings(account_id: int, cents: int) -> list[Posting]:
    return [Posting(account_id, USD, -cents), Posting(EXTERNAL_ACCOUNT, USD, cents)]


def buy_postings(
    account_id: int, symbol: str, units: int, cents: int, *, fee: int = 0, fee_account: int = HOUSE_ACCOUNT
) -> list[Posting]:
    """The customer pays the notional (to the house) and the fee (to the fee account) in one
    posting, so that the check that the cash is there covers both."""
    postings = [
        Posting(account_id, USD, -cents - fee),
        Posting(HOUSE_ACCOUNT, USD, cents),
        Posting(HOUSE_ACCOUNT, symbol, -units),
        Posting(account_id, symbol, units, cost=cents),
    ]
    return postings + [Posting(fee_account, USD, fee)] if fee else postings


def sell_postings(
    account_id: int, symbol: str, units: int, cents: int, *, removed_cost: int, fee: int = 0,
    fee_account: int = HOUSE_ACCOUNT,
) -> list[Posting]:
    """Selling `units` removes `removed_cost` from the position's cost basis (the lots it
    closed); the customer receives the notional less the fee."""
    postings = [
        Posting(account_id, symbol, -units, cost=-removed_cost),
        Posting(HOUSE_ACCOUNT, symbol, units),
        Posting(HOUSE_ACCOUNT, USD, -cents),
        Posting(account_id, USD, cents - fee),
    ]
    return postings + [Posting(fee_account, USD, fee)] if fee else postings


def reset_postings(account_id: int, held: Iterable[tuple[str, int, int]]) -> list[Posting]:
    """An account gives back all it holds, (asset, amount, cost basis) each: cash to the
    outside world, assets to the house (their cost basis goes with them)."""
    postings = []
    for asset, amount, cost in held:
        if not amount:
            continue
        other = EXTERNAL_ACCOUNT if asset == USD else HOUSE_ACCOUNT
        postings += [Posting(account_id, asset, -amount, cost=-cost), Posting(other, asset, amount)]
    return postings
