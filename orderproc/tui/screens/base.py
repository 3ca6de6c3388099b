"""What every page shares: header and footer, the app's engine and session, live refresh."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header

from orderproc.engine.schemas import Quote
from orderproc.tui.messages import PricesUpdated

if TYPE_CHECKING:
    from orderproc.tui.app import OrderprocApp


class Page(Screen[None]):
    """A top-level page (a mode). Subclasses compose their body and refresh their data."""

    @property
    def oapp(self) -> OrderprocApp:
        return cast("OrderprocApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        yield from self.compose_body()
        # compact, the page keys grouped ("d m t p a l u Pages": their titles are in the palette
        # and their tooltips) and the palette (ctrl+p, or the header's icon) left out: at 80
        # columns the page's own keys need the room
        yield Footer(compact=True, show_command_palette=False)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_screen_resume(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        """Load what the page shows from the engine (in a worker). Called each time it is shown."""

    def on_prices_updated(self, message: PricesUpdated) -> None:
        self.prices_changed(message.quotes)

    def prices_changed(self, quotes: dict[str, Quote]) -> None:
        """Called about once a second with fresh quotes while the page is shown."""
