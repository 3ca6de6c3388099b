"""Log in or register: the first screen on a ledger without a saved session."""

from __future__ import annotations

from typing import cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Static

from orderproc.engine import errors
from orderproc.engine.bound import sign_in
from orderproc.tui.terminal import Terminal


class LoginScreen(Screen[None]):
    """One form, two actions: Enter logs in, the Register button creates the user first."""

    BINDINGS = [Binding("ctrl+r", "register", "Register", id="login.register")]

    def compose(self) -> ComposeResult:
        yield Header()
        with Center(), Vertical(id="login-form", classes="form"):
            yield Label("Welcome to orderproc", classes="form-title")
            yield Static("Log in, or pick a username and password to register.", classes="muted")
            yield Label("Username")
            yield Input(placeholder="3-32 letters, digits, _ . -", id="username", max_length=32)
            yield Label("Password")
            yield Input(placeholder="8-128 characters", password=True, id="password", max_length=128)
            yield Static("", id="login-error", classes="field-error")
            with Horizontal(classes="form-buttons"):
                yield Button("Log in", variant="primary", id="login")
                yield Button("Register", id="register")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#username", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "username":
            self.query_one("#password", Input).focus()
        else:
            self.submit(register=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.submit(register=event.button.id == "register")

    def action_register(self) -> None:
        self.submit(register=True)

    @work(exclusive=True, group="login", exit_on_error=False)
    async def submit(self, register: bool) -> None:
        app = cast(Terminal, self.app)
        username = self.query_one("#username", Input).value.strip()
        password = self.query_one("#password", Input).value
        error = self.query_one("#login-error", Static)
        error.update("Registering..." if register else "Logging in...")
        try:
            if register:
                await app.engine.register(username, password, source="tui")
            session, warning = await sign_in(app.engine, username, password, source="tui",
                                             account=app.default_account)
        except errors.OrderprocError as exc:
            error.update(f"{exc.message} ({exc.code})")
            self.query_one("#password", Input).value = "" if not register else password
            self.query_one("#password" if username else "#username", Input).focus()
            return
        error.update("")
        app.signed_in(session)
        if warning:
            self.app.notify(warning, severity="warning", timeout=10)
