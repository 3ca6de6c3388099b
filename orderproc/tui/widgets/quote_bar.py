"""QuoteBar: one line with an asset's live price and 24 h change."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from orderproc.engine.schemas import Asset, Quote
from orderproc.formatting import pct, price, signed, when


class QuoteBar(Static):
    """`set_asset` names the asset, `set_quote` keeps its price live (a write only when it changed)."""

    DEFAULT_CSS = """
    QuoteBar {
        height: 1;
        width: 100%;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.asset: Asset | None = None
        self.quote: Quote | None = None
        self._shown = ""

    def set_asset(self, asset: Asset | None, quote: Quote | None = None) -> None:
        self.asset = asset
        self.quote = quote
        self._draw()

    def set_quote(self, quote: Quote | None) -> None:
        if quote is not None and self.asset is not None and quote.symbol == self.asset.symbol:
            self.quote = quote
            self._draw()

    def _draw(self) -> None:
        if self.asset is None:
            text = Text("Choose an asset", style="dim")
        else:
            text = Text.assemble(
                Text(self.asset.symbol, style="bold"),
                " · ",
                Text(self.asset.name, overflow="ellipsis", no_wrap=True),
                "   ",
            )
            if self.quote is None:
                text.append("loading the price...", style="dim")
            else:
                text.append(price(self.quote.price), style="bold")
                text.append("  ")
                text.append_text(signed(self.quote.change_24h, pct(self.quote.change_24h)))
                text.append(f" 24h  at {when(self.quote.at)}", style="dim")
        text.no_wrap = True
        text.overflow = "ellipsis"
        if text.plain != self._shown:
            self._shown = text.plain
            self.update(text, layout=False)
