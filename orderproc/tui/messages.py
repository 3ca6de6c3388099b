"""Messages the app sends to its pages."""

from __future__ import annotations

from textual.message import Message

from orderproc.engine.schemas import Quote


class PricesUpdated(Message):
    """Fresh quotes for every asset, about once a second (posted to the active page)."""

    def __init__(self, quotes: dict[str, Quote]) -> None:
        super().__init__()
        self.quotes = quotes
