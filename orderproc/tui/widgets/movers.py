"""TopMovers: the biggest 24 h gainers and losers, updated in place from the live quotes."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from orderproc.engine.schemas import Quote
from orderproc.formatting import pct, price, signed


class TopMovers(DataTable[Any]):
    """Rows `g0..` are the gainers (biggest first), `l0..` the losers (biggest fall first).

    The rows are positions in the ranking, not assets: each second only the cells whose symbol,
    price or change moved are rewritten. Enter (or a click on the selected row) posts `Selected`.
    """

    DEFAULT_CSS = """
    TopMovers {
        height: auto;
    }
    """

    class Selected(Message):
        """The user chose a mover (to trade it)."""

        def __init__(self, symbol: str) -> None:
            super().__init__()
            self.symbol = symbol

    def __init__(self, count: int = 5, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.count = count
        self._shown: dict[str, tuple[str, Decimal, Decimal]] = {}

    def on_mount(self) -> None:
        self.add_column("Symbol", key="symbol")
        self.add_column("24h", key="change")
        self.add_column("Price", key="price")

    def symbol_at(self, row_key: str) -> str | None:
        shown = self._shown.get(row_key)
        return shown[0] if shown else None

    def show(self, quotes: Mapping[str, Quote]) -> None:
        ranked = sorted(quotes.values(), key=lambda q: (q.change_24h, q.symbol))
        n = min(self.count, len(ranked) // 2)
        rows = [(f"g{i}", q) for i, q in enumerate(reversed(ranked[len(ranked) - n:]))]
        rows += [(f"l{i}", q) for i, q in enumerate(ranked[:n])]
        if [key for key, _ in rows] != list(self._shown):
            self._rebuild(rows)
            return
        for key, quote in rows:
            old_symbol, old_price, old_change = self._shown[key]
            if quote.symbol != old_symbol:
                self.update_cell(key, "symbol", quote.symbol, update_width=True)
            if quote.price != old_price:
                self.update_cell(key, "price", price(quote.price), update_width=True)
            if quote.change_24h != old_change:
                self.update_cell(key, "change", self._change(quote.change_24h))
            self._shown[key] = (quote.symbol, quote.price, quote.change_24h)

    def _rebuild(self, rows: list[tuple[str, Quote]]) -> None:
        self.clear()
        self._shown = {}
        for key, quote in rows:
            self.add_row(quote.symbol, self._change(quote.change_24h), price(quote.price), key=key)
            self._shown[key] = (quote.symbol, quote.price, quote.change_24h)

    @staticmethod
    def _change(change: Decimal) -> Text:
        text = signed(change, pct(change))
        text.justify = "right"  # changes line up on the decimal point
        return text

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        symbol = self.symbol_at(str(event.row_key.value))
        if symbol is not None:
            self.post_message(self.Selected(symbol))
