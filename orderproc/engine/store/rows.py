"""What the store's queries return: one typed row per query shape.

Money stays in minor units (cents, asset units) and prices and times in the text the ledger
keeps; turning rows into the DTOs people see is `usecases/mapping.py`'s job. A second SQL
backend returns the same rows.
"""

from __future__ import annotations

from typing import NamedTuple

from orderproc.engine.domain.matching import BookRow

__all__ = [
    "AccountAssetRow", "AccountRow", "AssetRow", "AuditRow", "BalanceRow", "BookRow", "EntryLine", "EntryRow", "FlowRow", "HoldingRow",
    "IdempotentRef", "LedgerCheck", "LotRow", "OrderRow", "PnlRows", "PositionRow", "RealizedRow", "RestingRow",
    "SessionRow", "UserRow",
]


class UserRow(NamedTuple):
    id: int
    username: str
    role: str
    display_name: str | None
    email: str | None
    disabled: bool
    token_version: int
    account_id: int  # the user's first account ("main")
    created_at: str


class SessionRow(NamedTuple):
    """A token's user (None: gone), whether the token was revoked, and the account it trades
    if that is one of the user's (None: not theirs)."""

    user: UserRow | None
    revoked: bool
    account_id: int | None


class AssetRow(NamedTuple):
    symbol: str
    name: str
    category: str
    rank: int | None
    peg: str | None
    reference_price: str
    reference_date: str
    source: str
    volatility: str
    precision: int
    history: str | None
    enabled: bool


class AccountRow(NamedTuple):
    """One of a user's paper accounts with its cash."""

    id: int
    name: str
    cash: int
    reserved: int


class BalanceRow(NamedTuple):
    """One asset of one account: amount, cost basis, what open orders hold."""

    amount: int
    cost: int
    reserved: int


class PositionRow(NamedTuple):
    asset: str
    amount: int
    cost: int
    reserved: int


class HoldingRow(NamedTuple):
    asset: str
    amount: int
    cost: int


class EntryLine(NamedTuple):
    """An entry's posting on the account it is read for."""

    asset: str
    amount: int


class EntryRow(NamedTuple):
    id: int
    kind: str
    created_at: str
    order_id: int | None
    client_key: str | None
    lines: list[EntryLine]


class OrderRow(NamedTuple):
    id: int
    symbol: str
    side: str
    type: str
    time_in_force: str
    status: str
    quantity: int
    limit_price: str | None
    stop_price: str | None
    price: str | None
    notional: int | None
    reserved: int
    reason: str | None
    client_order_id: str | None
    created_at: str
    triggered_at: str | None
    closed_at: str | None
    lot_id: int | None
    realized: int | None
    liquidity: str | None
    reference_price: str | None
    spread: str | None
    slippage: str | None
    fee_bps: str | None
    fee: int | None


class RestingRow(NamedTuple):
    """What a fill or a cancel needs of an open order."""

    user_id: int
    account_id: int
    symbol: str
    side: str
    type: str
    quantity: int
    reserved: int
    lot_id: int | None
    username: str


class LotRow(NamedTuple):
    id: int
    symbol: str
    order_id: int
    opened_at: str
    quantity: int
    cost: int
    remaining: int
    remaining_cost: int


class RealizedRow(NamedTuple):
    symbol: str
    realized: int
    fees: int


class PnlRows(NamedTuple):
    """An account since its last reset: balances, realized P&L and fees by asset, cash flows."""

    balances: list[HoldingRow]
    realized: list[RealizedRow]
    deposited: int
    withdrawn: int


class AccountAssetRow(NamedTuple):
    account_id: int
    asset: str
    amount: int


class FlowRow(NamedTuple):
    """An account on the leaderboard: its cash flows since its last reset."""

    account_id: int
    username: str
    display_name: str | None
    account: str
    deposited: int
    withdrawn: int
    first_deposit_at: str | None


class IdempotentRef(NamedTuple):
    kind: str
    request_hash: str
    ref_id: int


class AuditRow(NamedTuple):
    id: int
    at: str
    actor: str | None
    action: str
    target: str | None
    detail: str  # JSON
    source: str | None


class LedgerCheck(NamedTuple):
    problems: list[str]
    sums: dict[str, int]  # per asset, in minor units
    counts: dict[str, int]  # rows per table


class CopyReport(NamedTuple):
    """What `admin copy` did: from where to where, rows copied per table, orders."""

    source: str
    target: str
    rows: dict[str, int]
    orders: int
