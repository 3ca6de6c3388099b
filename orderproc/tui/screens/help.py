"""The help screen (`?`, or f1 from a text field): every key of the screen shown, what it does.

The footer shows the keys that fit; this lists them all, the hidden ones too (Refresh, Enter...):
the page's own, then those of every page. A key that does nothing where the page is now (the
key of the page itself) is dimmed; one the page does not take in its state (another view's) is
left out.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Label, Static


def keys_of(node: DOMNode) -> list[tuple[str, str, str, bool, str]]:
    """(keys, description, tooltip, enabled, binding id) of each action `node` binds with a
    description; Textual's own (focus, copy: actions in another namespace, "app.focus_next")
    after the page's. The keys are those of the user's keymap (the config file's [keys])."""
    app = node.app
    found: dict[tuple[str, str], tuple[list[str], str, bool, str]] = {}
    bindings = node._bindings.copy()  # Textual's own footer reads them here too
    if app._keymap:
        bindings.apply_keymap(app._keymap)
    for _key, binding in bindings:
        if binding.system or not binding.description:
            continue
        state = app._check_action_state(binding.action, node)
        if state is False:
            continue
        keys, *_ = found.setdefault((binding.action, binding.description),
                                    ([], binding.tooltip, bool(state), binding.id or ""))
        shown = app.get_key_display(binding)
        if shown not in keys:
            keys.append(shown)
    ordered = sorted(found.items(), key=lambda item: "." in item[0][0].partition("(")[0])
    return [(" ".join(keys), description, tooltip, enabled, binding_id)
            for (_action, description), (keys, tooltip, enabled, binding_id) in ordered]


class HelpScreen(ModalScreen[None]):
    """The keys of `screen`, titled `title` (the page's name)."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        background: $background 60%;
    }
    HelpScreen > #help {
        width: 80;
        max-width: 95%;
        height: auto;
        max-height: 95%;
        padding: 0 2;
        border: thick $primary;
        background: $surface;
    }
    HelpScreen #help-keys {
        height: auto;
    }
    """

    BINDINGS = [Binding("escape,question_mark,f1", "dismiss", "Close", id="help.close")]

    def __init__(self, screen: Screen[Any], title: str) -> None:
        super().__init__()
        self._screen = screen
        self._title = title

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Label(f"Keys · {self._title}", classes="dialog-title")
            yield Static("Esc or ? closes · ↑ ↓ scroll · the right column is each key's id: remap it in "
                         "the config file's [keys] table (`orderproc config path`)", classes="muted", markup=False)
            if isinstance(self._screen.focused, Input):
                yield Static("The cursor is in a text field: Esc leaves it, then the keys that would type "
                             "into it work.", classes="muted")
            with VerticalScroll(id="help-keys"):
                yield Static(self._table())

    def _table(self) -> Table:
        """The keys and what they do (the tooltip's words too, wrapped in the column)."""
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        table.add_column(style="dim", no_wrap=True)
        app = self._screen.app
        for heading, node in ((self._title, self._screen), ("Every page", app)):
            rows = keys_of(node)
            if not rows:
                continue
            table.add_row(Text(heading, style="underline"), "", "")
            for keys, description, tooltip, enabled, binding_id in rows:
                style = "" if enabled else "dim"
                about = Text(description, style=style)
                if tooltip:
                    about.append(f": {tooltip}", style="dim")
                table.add_row(Text(keys, style=style), about, binding_id)
            table.add_row("", "", "")
        return table
