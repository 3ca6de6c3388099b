"""What a user follows, as the engine answers it: their watchlist and their price alerts (both
theirs in the ledger, the same on each of their accounts and every terminal and server)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from orderproc.engine.schemas import Dec, Model


class WatchSort(StrEnum):  # the order added, by symbol, or by price or 24 h change (highest first)
    ADDED = "added"
    SYMBOL = "symbol"
    PRICE = "price"
    CHANGE = "change"


class WatchItem(Model):
    symbol: str
    name: str
    price: Dec
    change_24h: Dec
    added_at: datetime


class Watchlist(Model):  # a user's (the same on each of their accounts), sorted as they chose
    sort: WatchSort = WatchSort.ADDED
    items: list[WatchItem] = []


class AlertDirection(StrEnum):
    ABOVE = "above"  # fires when the price is at or above the level
    BELOW = "below"  # fires when the price is at or below the level


class Alert(Model):
    """A price alert: it fires once, at the first tick after it was set at which the price is at
    or beyond `price`; then `fired_at` and `fired_price` say when and at what."""

    id: int
    symbol: str
    direction: AlertDirection
    price: Dec
    created_at: datetime
    fired_at: datetime | None = None
    fired_price: Dec | None = None
