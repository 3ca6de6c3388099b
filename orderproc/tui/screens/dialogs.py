"""Modal dialogs: a yes/no confirmation, a question with one field, the dialog for unexpected errors."""

from __future__ import annotations

import traceback
from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ConfirmDialog(ModalScreen[bool]):
    """Ask before doing something that moves money: Enter or y (or a click) confirms, Esc or n
    cancels; the dialog says so.

    Nothing is focused for ARM_SECONDS after it opens, then the confirm button is: the Enter of a
    double press on the form that opened it does nothing, a deliberate one confirms.
    """

    AUTO_FOCUS = ""
    ARM_SECONDS = 0.3

    BINDINGS = [
        # yes and no, not confirm and cancel: the question may be whether to cancel an order
        Binding("y", "answer(True)", "Yes", id="dialogs.yes"),
        Binding("n,escape", "answer(False)", "No", id="dialogs.no"),
    ]

    def __init__(self, title: str, body: str, confirm_label: str = "Confirm", cancel_label: str = "Cancel") -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._confirm_label = confirm_label
        self._cancel_label = cancel_label  # "Keep" where "Cancel" would mean the opposite

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield Static(self._body, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self._confirm_label, variant="primary", id="confirm")
                yield Button(self._cancel_label, id="cancel")
            yield Static(f"Enter/y {self._confirm_label.lower()} · Esc/n {self._cancel_label.lower()}",
                         id="confirm-keys", classes="muted")

    def on_mount(self) -> None:
        self.set_timer(self.ARM_SECONDS, self._arm)

    def _arm(self) -> None:
        if self.focused is None:  # unless the user tabbed or clicked meanwhile
            self.query_one("#confirm", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ErrorDialog(ModalScreen[None]):
    """Something unexpected failed: say what, keep the app running."""

    BINDINGS = [Binding("escape,enter", "dismiss", "Close", id="dialogs.close")]

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self._error = error

    def compose(self) -> ComposeResult:
        last = traceback.extract_tb(self._error.__traceback__)[-1:] if self._error.__traceback__ else []
        where = f"\n\nat {last[0].filename}:{last[0].lineno}" if last else ""
        with Vertical(classes="dialog error-dialog"):
            yield Label("Something went wrong", classes="dialog-title")
            yield Static(f"{type(self._error).__name__}: {self._error}{where}", classes="dialog-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", variant="error", id="close")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)


class PromptDialog(ModalScreen[str | None]):
    """Ask for one value (a name, an amount): Enter answers with what was typed, Escape with None.

    `check` says what is wrong with a value (None: nothing), shown under the field.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialogs.cancel")]

    def __init__(
        self,
        title: str,
        body: str,
        *,
        placeholder: str = "",
        value: str = "",
        restrict: str | None = None,
        max_length: int = 0,
        confirm_label: str = "OK",
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._input = Input(value=value, placeholder=placeholder, restrict=restrict, max_length=max_length,
                            id="prompt-value")
        self._confirm_label = confirm_label
        self._check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield Static(self._body, classes="dialog-body")
            yield self._input
            yield Static("", id="prompt-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self._confirm_label, variant="primary", id="confirm")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._input.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._answer()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#prompt-error", Static).update("")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self._answer()
        else:
            self.dismiss(None)

    def _answer(self) -> None:
        value = self._input.value.strip()
        problem = self._check(value) if self._check is not None else None
        if problem:
            self.query_one("#prompt-error", Static).update(problem)
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)
