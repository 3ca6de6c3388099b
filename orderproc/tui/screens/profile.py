"""The Profile page: who you are, your display name and email, your password, logout.

Validation errors are shown next to their field, so the save and password workers use
`attempt` (the app deals with an ended session; a refusal is theirs to show), not `call`, which
would only notify. Changing the password ends every session, this one included: the engine
returns a new session, whose token replaces the old one in the app and in the session store.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Static

from orderproc.engine import errors
from orderproc.engine.bound import Bound
from orderproc.engine.schemas import ProfileUpdate, Session, User
from orderproc.tui.screens.base import Page
from orderproc.tui.terminal import SessionEnded

# engine `details["field"]` -> the Input whose error line shows the message
FIELD_INPUTS = {
    "display_name": "display-name",
    "email": "email",
    "new password": "new-password",
    "password": "new-password",
}
PASSWORD_INPUTS = ("current-password", "new-password", "confirm-password")


def _field(label: str, input_id: str, **input_args: Any) -> ComposeResult:
    """A label with the field's error beside it, then the Input."""
    with Horizontal(classes="field-label-row"):
        yield Label(label, classes="field-label")
        yield Static("", id=f"{input_id}-error", classes="field-error")
    yield Input(id=input_id, **input_args)


class ProfileScreen(Page):
    CSS_PATH = "../styles/profile.tcss"
    AUTO_FOCUS = "#profile-scroll"  # not an Input: the page keys (d, m, t...) work on arrival
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-wide")]
    BINDINGS = [
        Binding("ctrl+s", "save_profile", "Save details", id="profile.save-details"),
        Binding("ctrl+o", "logout", "Log out", id="profile.log-out"),
        Binding("escape", "leave_field", "Leave field", show=False, id="profile.leave-field"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._loaded: dict[str, str] = {}  # what the inputs held when last loaded (to spot edits)
        self._changing_password = False

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="profile-scroll"), Container(id="profile-grid"):
            with Horizontal(id="profile-account"):
                yield Static("Loading…", id="profile-summary")
                yield Button("Log out", variant="error", id="logout")
            with Vertical(id="profile-details", classes="form"):
                yield Label("Details", classes="form-title")
                yield from _field("Display name", "display-name", placeholder="how others see you", max_length=64)
                yield from _field("Email", "email", placeholder="you@example.com", max_length=254)
                with Horizontal(classes="form-buttons"):
                    yield Button("Save", variant="primary", id="save-profile")
                    yield Static("", id="profile-status", classes="form-status")
            with Vertical(id="profile-password", classes="form"):
                yield Label("Change password", classes="form-title")
                yield from _field("Current password", "current-password", password=True, max_length=128)
                yield from _field("New password", "new-password", password=True, max_length=128,
                                  placeholder="8-128 characters")
                yield from _field("Confirm new password", "confirm-password", password=True, max_length=128)
                with Horizontal(classes="form-buttons"):
                    yield Button("Change password", variant="warning", id="change-password")
                    yield Static("", id="password-status", classes="form-status")

    # -- loading -----------------------------------------------------------------------------

    def refresh_data(self) -> None:
        if self.oapp.user is not None:
            self._show_user(self.oapp.user)
        self.load_user()

    @work(exclusive=True, group="profile-load", exit_on_error=False)
    async def load_user(self) -> None:
        user = await self.oapp.call(lambda me: me.whoami())
        if user is not None:
            self._show_user(user)

    def _show_user(self, user: User) -> None:
        since = user.created_at.astimezone().strftime("%Y-%m-%d")
        self.query_one("#profile-summary", Static).update(
            Text.assemble((user.username, "bold"), f" · {user.role.value} · member since {since}")
        )
        for input_id, value in (("display-name", user.display_name or ""), ("email", user.email or "")):
            field = self.query_one(f"#{input_id}", Input)
            if field.value == self._loaded.get(input_id, ""):  # leave unsaved edits alone
                field.value = value
            self._loaded[input_id] = value

    # -- details -----------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        after = {
            "display-name": "#email",
            "current-password": "#new-password",
            "new-password": "#confirm-password",
        }
        if event.input.id in after:
            self.query_one(after[event.input.id], Input).focus()
        elif event.input.id == "email":
            self.action_save_profile()
        elif event.input.id == "confirm-password":
            self.action_change_password()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save-profile":
            self.action_save_profile()
        elif event.button.id == "change-password":
            self.action_change_password()
        elif event.button.id == "logout":
            self.action_logout()

    def _set_error(self, input_id: str, message: str) -> None:
        self.query_one(f"#{input_id}-error", Static).update(message)

    def action_save_profile(self) -> None:
        self.save_profile(
            self.query_one("#display-name", Input).value,
            self.query_one("#email", Input).value,
        )

    @work(exclusive=True, group="profile-save", exit_on_error=False)
    async def save_profile(self, display_name: str, email: str) -> None:
        status = self.query_one("#profile-status", Static)
        for input_id in ("display-name", "email"):
            self._set_error(input_id, "")

        async def save(me: Bound) -> User:
            status.update("Saving…")
            return await me.update_profile(ProfileUpdate(display_name=display_name, email=email))

        try:
            user = await self.oapp.attempt(save)
        except SessionEnded:
            status.update("")
            return
        except errors.OrderprocError as exc:
            field = FIELD_INPUTS.get(str(exc.details.get("field")))
            if field is not None:
                status.update("")
                self._set_error(field, exc.message)
                self.query_one(f"#{field}", Input).focus()
            else:
                status.update(f"[$error]{exc.message}[/]")
            return
        self.oapp.user = user
        self._loaded = {}
        self._show_user(user)
        status.update("[$success]Saved[/]")
        self.notify("Profile saved", title="profile")

    # -- password ----------------------------------------------------------------------------

    def action_change_password(self) -> None:
        if self._changing_password:
            return  # a change is in flight: a second one would race for the new session
        current, new, confirm = (self.query_one(f"#{i}", Input).value for i in PASSWORD_INPUTS)
        for input_id in PASSWORD_INPUTS:
            self._set_error(input_id, "")
        self.query_one("#password-status", Static).update("")
        problem: tuple[str, str] | None = None
        if not current:
            problem = ("current-password", "enter your current password")
        elif not new:
            problem = ("new-password", "choose a new password")
        elif new != confirm:
            problem = ("confirm-password", "does not match the new password")
        if problem is not None:
            self._set_error(*problem)
            self.query_one(f"#{problem[0]}", Input).focus()
            return
        self._changing_password = True
        self.query_one("#change-password", Button).disabled = True
        self.change_password(current, new)

    @work(exclusive=True, group="profile-password", exit_on_error=False)
    async def change_password(self, current: str, new: str) -> None:
        status = self.query_one("#password-status", Static)
        try:

            async def change(me: Bound) -> Session:
                status.update("Changing…")
                return await me.change_password(current, new)

            try:
                session = await self.oapp.attempt(change)
            except SessionEnded:
                status.update("")
                return
            except errors.InvalidCredentials as exc:
                status.update("")
                self._set_error("current-password", exc.message)
                self.query_one("#current-password", Input).focus()
                return
            except errors.OrderprocError as exc:
                status.update("")
                field = FIELD_INPUTS.get(str(exc.details.get("field")))
                if field is not None:
                    self._set_error(field, exc.message)
                    self.query_one(f"#{field}", Input).focus()
                else:
                    status.update(f"[$error]{exc.message}[/]")
                return
            self.oapp.renew_session(session)
            for input_id in PASSWORD_INPUTS:
                self.query_one(f"#{input_id}", Input).value = ""
            status.update("[$success]Password changed[/]")
            self.query_one("#profile-scroll").focus()
            self.notify("Password changed; other sessions logged out", title="password")
        finally:
            self._changing_password = False
            self.query_one("#change-password", Button).disabled = False

    # -- logout and focus --------------------------------------------------------------------

    def action_logout(self) -> None:
        self.logout()

    @work(exclusive=True, group="profile-logout", exit_on_error=False)
    async def logout(self) -> None:
        await self.oapp.call(lambda me: me.logout())
        self.oapp.signed_out()

    def action_leave_field(self) -> None:
        """Escape from an Input back to the page, so the page keys work again."""
        self.query_one("#profile-scroll").focus()
