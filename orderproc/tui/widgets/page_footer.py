"""The pages' footer: Textual's, recomposed only when the keys it shows change."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


class PageFooter(Footer):
    """Textual's Footer rebuilds all its keys whenever the screen's bindings are updated: at each
    focus change and each time a page is shown, though the keys are mostly the same. Each rebuild
    restyled every key (about 25 ms of a page switch, measured with bench/tui.py); this one
    rebuilds only when what it would show differs."""

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
