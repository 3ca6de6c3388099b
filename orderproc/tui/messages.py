"""Messages the app sends to its pages."""

from __future__ import annotations

from textual.message import Message

from orderproc.engine.events import AccountEvent
from orderproc.engine.schemas import Order, Quote


class PricesUpdated(Message):
    """Fresh quotes for every asset, about once a second (posted to the active page)."""

    def __init__(self, quotes: dict[str, Quote]) -> None:
        super().__init__()
        self.quotes = quotes


class AccountChanged(Message):
    """Something changed in the session's account or on the leaderboard (`event.kinds` says
    what; posted to the active page, which reloads what it shows of it)."""

    def __init__(self, event: AccountEvent) -> None:
        super().__init__()
        self.event = event


class OrdersChanged(Message):
    """Open orders of the user's were filled or rejected as the price reached them (posted to
    the active page, which reloads what shows cash, holdings or orders)."""

    def __init__(self, orders: list[Order]) -> None:
        super().__init__()
        self.orders = orders


class LinkRestored(Message):
    """The engine answers again after the terminal was offline (posted to the active page,
    which loads again what failed meanwhile)."""
