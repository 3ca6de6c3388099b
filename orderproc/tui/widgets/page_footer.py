"""The pages' footer: Textual's, with the help key (`?`: every key of the page) on the right and
never a key cut at the edge; recomposed only when the keys it shows change."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel

HELP_ACTION = "help"  # the app's action listing the page's keys


class PageFooter(Footer):
    """Textual's Footer rebuilds all its keys whenever the screen's bindings are updated: at each
    focus change and each time a page is shown, though the keys are mostly the same. Each rebuild
    restyled every key (about 25 ms of a page switch, measured with bench/tui.py); this one
    rebuilds only when what it would show differs.

    Textual's lets the keys run off the right edge, the last one cut (`q Qu` at 80 columns). Here
    the help key stays on the right, and the keys that do not fit before it are not shown, from the
    first that does not fit on (the page's own keys come first, then the page keys, then Quit):
    the help lists them all."""

    DEFAULT_CSS = """
    PageFooter FooterKey.-help {
        dock: right;
        padding-left: 1;
        border-left: vkey $foreground 20%;
    }
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._shown: tuple[tuple[object, ...], ...] | None = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if self.is_attached and screen is self.screen and screen.app.app_focus:
            keys = tuple((binding.key, binding.action, binding.description, binding.group, enabled, tooltip)
                         for _node, binding, enabled, tooltip in screen.active_bindings.values() if binding.show)
            if keys == self._shown:
                return
            self._shown = keys
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.action == HELP_ACTION:
                widget.add_class("-help")
            yield widget

    async def recompose(self) -> None:
        await super().recompose()
        self.call_after_refresh(self._fit)

    def on_resize(self, event: Resize) -> None:
        for child in self.children:
            child.display = True
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """Hide the keys from the first one that would be cut on (a group with its label)."""
        room = self.content_region.right - sum(
            child.outer_size.width for child in self.children if child.has_class("-help"))
        keys = [child for child in self.children if not child.has_class("-help")]
        for at, child in enumerate(keys):
            if child.region.right > room:
                # a group's keys go with its label (they come just before it)
                first = at - 1 if at and isinstance(child, FooterLabel) else at
                for hidden in keys[first:]:
                    hidden.display = False
                return
