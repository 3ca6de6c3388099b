"""The `orderproc` command: every action of the exchange, scriptable.

Commands only parse input, call the engine and hand the result to `render`. Heavy imports
(the engine, pydantic, SQL) happen inside commands so `orderproc --help` pays for Typer alone.
A private command gets a session-bound handle (`me.balance()`, an `orderproc.engine.bound.Bound`)
for the session cached for its ledger; an admin command the ledger file's operator, or on a
server the cached session. The trading terminal is not the CLI's: `orderproc.entry` opens it
for a call that names no command.
Exit codes: 0 ok, 1 a domain error (`error[code]: message` on stderr; with --json the API's
envelope `{"error": {"code", "message", "details"}}` on stdout), 2 a usage error.
With --json every list is one object, as the API's paged lists: `{"items", "total", "offset", "limit"}`;
values are the API's (an open order's status is `new`), where the text says them in words (`open`).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperCommand, TyperOption

from orderproc.cli.export import export
from orderproc.cli.web import web
from orderproc.engine.catalog import ASSET_SORT_FIELDS, MAX_OFFSET, MAX_PAGE, PASSWORD_MAX, PASSWORD_MIN, TX_KINDS

if TYPE_CHECKING:
    from decimal import Decimal

    from orderproc.config import Settings
    from orderproc.engine.bound import Bound
    from orderproc.engine.protocol import Engine
    from orderproc.engine.schemas import LedgerSettings, Session

T = TypeVar("T")
SHUTDOWN_GRACE = 3  # seconds `serve` gives running requests to finish when asked to stop

app = typer.Typer(
    help="orderproc: a paper-trading crypto exchange in your terminal.",
    no_args_is_help=False,
    # Plain help: Typer's Rich help formatter alone costs more than the rest of `--help`.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
admin_app = typer.Typer(
    help="Administration. On a ledger file (--db) you act as its operator, no login needed; "
    "on a server (--server) you need an admin's session.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(admin_app, name="admin")
config_app = typer.Typer(
    help="The config file (TOML): every setting by name, e.g. `db`, `server`, `account`, `theme`, "
    "`number_format`, and a [keys] table for the terminal's keys. Environment variables "
    "(ORDERPROC_<NAME>) and options win over it.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(config_app, name="config")

JsonOpt = Annotated[bool, typer.Option(
    "--json", help="Print one JSON document (decimals as strings; an error as the API's {\"error\": ...}).")]
KeyOpt = Annotated[
    str | None, typer.Option("--key", help="Idempotency key: repeating a request with it has one effect.")
]


class _Whole:
    """A whole number within bounds that --help says in words ("1 to 500", "at least 1"), a
    parser for an option or argument: with min= and max= Typer prints `[1<=x<=9223372036854775807]`."""

    def __init__(self, low: int, high: int = 2**63 - 1) -> None:
        self.low, self.high = low, high
        # a bound far beyond any ledger is no limit a person needs to read
        self.words = f"at least {low}" if high >= MAX_OFFSET else f"{low} to {high}"

    def __call__(self, value: str | int) -> int:
        text = str(value).strip()
        if not re.fullmatch(r"[+-]?[0-9]+", text, re.ASCII):
            raise typer.BadParameter(f"{text!r} is not a whole number")
        number = int(text)
        if number < self.low:
            raise typer.BadParameter(f"{number} is too small: {self.words}")
        if number > self.high:
            raise typer.BadParameter(f"{number} is too large" + ("" if self.high >= MAX_OFFSET else f": {self.words}"))
        return number


def _whole_option(name: str, help: str, low: int, high: int = 2**63 - 1) -> Any:
    """An option taking a whole number within bounds; its help ends with them in words."""
    whole = _Whole(low, high)
    return typer.Option(name, parser=whole, help=f"{help} ({whole.words}).")


OrderId = Annotated[int, typer.Argument(parser=_Whole(1), help="The order's number.", show_default=False)]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
]


@dataclass
class State:
    db: str | None
    server: str | None


def _state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Ledger file, or a PostgreSQL database as postgresql://user@host:port/name "
                     "(else $ORDERPROC_DB, else ledger.db in your data dir)."),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option("--server", help="Use the orderproc server at this URL instead of a ledger file "
                     "(else $ORDERPROC_SERVER), e.g. http://127.0.0.1:8080."),
    ] = None,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if db is not None and server is not None:
        raise typer.BadParameter("give --db or --server, not both", param_hint="--server")
    ctx.obj = State(db, server)
    if version:
        from orderproc import package_version

        typer.echo(package_version())
        raise typer.Exit(0)
    if ctx.invoked_subcommand is None:
        # `orderproc` itself (orderproc.entry) opens the terminal for a call that names no
        # command and never gets here; the CLI on its own has only its help to show
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


# -- plumbing ---------------------------------------------------------------------------------


@contextmanager
def _reported(json_out: bool) -> Iterator[None]:
    """A domain error raised inside becomes its report (`render.error`) and exit 1."""
    from orderproc.engine.errors import OrderprocError

    try:
        yield
    except OrderprocError as exc:
        from orderproc.cli import render

        render.error(exc, json_out)
        raise typer.Exit(1) from None


def _run_async(ctx: typer.Context, main: Callable[[Settings], Awaitable[None]]) -> None:
    """Run one async use case on this call's settings; a domain error is reported (exit 1)."""
    import asyncio

    from orderproc.config import Settings

    state = _state(ctx)

    async def go() -> None:
        from orderproc.formatting import use_number_format

        settings = Settings.load(db=state.db, server=state.server)
        use_number_format(settings.number_format)
        await main(settings)

    try:
        with _reported(bool(ctx.params.get("json_out"))):
            asyncio.run(go())
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


async def _closing(engine: Engine, body: Callable[[Engine], Awaitable[object]]) -> None:
    try:
        await body(engine)
    finally:
        await engine.close()


def _run(ctx: typer.Context, body: Callable[[Engine], Awaitable[object]]) -> None:
    """Open the engine (a ledger file or a server), run `body` on it, close it."""

    async def main(settings: Settings) -> None:
        from orderproc.engine import open_engine

        await _closing(open_engine(settings), body)

    _run_async(ctx, main)


async def _as_user(engine: Engine, call: Callable[[Bound], Awaitable[T]]) -> T:
    """`call` with a handle on the session cached for this ledger. A session that has ended is
    forgotten, and its error says how to start another."""
    from orderproc.engine.bound import bind
    from orderproc.engine.errors import AuthRequired

    from orderproc.sessions import forget_token, load_token

    token = load_token(engine.session_key)
    if token is None:
        try:  # a token no ledger issued: a server that cannot be reached says so first (with its URL)
            await engine.whoami("no-session")
        except AuthRequired:
            pass
        raise AuthRequired(
            "not logged in to this ledger: run `orderproc login USER` (or `register USER`)",
            {"reason": "no_session"},
        )
    try:
        return await call(bind(engine, token))
    except AuthRequired as exc:
        forget_token(engine.session_key)
        exc.message += " (run `orderproc login USER`)"
        raise


def _run_as_user(ctx: typer.Context, body: Callable[[Bound], Awaitable[object]]) -> None:
    """Run `body` as the session cached for this ledger (see `_as_user`)."""
    _run(ctx, lambda engine: _as_user(engine, body))


def _run_as_admin(ctx: typer.Context, body: Callable[[Bound], Awaitable[object]]) -> None:
    """Run `body` as an admin: on a ledger file its operator, who needs no login; on a server
    the cached session, which must be an admin's (a customer gets `forbidden`)."""

    async def main(settings: Settings) -> None:
        from orderproc.engine import open_engine, open_operator

        if settings.server:
            await _closing(open_engine(settings), lambda engine: _as_user(engine, body))
        else:
            operator = open_operator(settings)
            await _closing(operator.engine, lambda _: body(operator))

    _run_async(ctx, main)


def _read_secret(from_stdin: bool, env: str, prompt: str, *, new: str | None = None) -> str:
    """A password from stdin, the environment or a prompt. A `new` password (named so in
    errors) is asked twice, and its length is checked before the second time: the engine's rule."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise typer.BadParameter("expected the password on stdin", param_hint="--password-stdin")
        return line.rstrip("\r\n")
    if env in os.environ:
        return os.environ[env]
    if not sys.stdin.isatty():
        raise typer.BadParameter(f"no terminal to ask for the password: use --password-stdin or set {env}")
    while True:
        secret = str(typer.prompt(prompt, hide_input=True))
        if new is None:
            return secret
        if not PASSWORD_MIN <= len(secret) <= PASSWORD_MAX:
            from orderproc.engine.errors import ValidationError

            raise ValidationError(f"{new} must be {PASSWORD_MIN}-{PASSWORD_MAX} characters", {"field": new})
        if str(typer.prompt("Repeat for confirmation", hide_input=True)) == secret:
            return secret
        typer.echo("Error: the two entered values do not match.", err=True)


def _show(ctx: typer.Context, call: Callable[[Bound], Awaitable[Any]], view: str, json_out: bool) -> None:
    """Run a private read and print its result: one JSON document, or `render.<view>` for people."""

    async def body(me: Bound) -> None:
        from orderproc.cli import render

        result = await call(me)
        render.emit_json(result) if json_out else getattr(render, view)(result)

    _run_as_user(ctx, body)


def _run_with_account(ctx: typer.Context, body: Callable[[Engine, str | None], Awaitable[object]]) -> None:
    """`_run`, with the paper account the settings name for a new session (`account`)."""

    async def main(settings: Settings) -> None:
        from orderproc.engine import open_engine

        await _closing(open_engine(settings), lambda engine: body(engine, settings.account))

    _run_async(ctx, main)


async def _sign_in(engine: Engine, username: str, password: str, account: str | None, json_out: bool) -> Session:
    """Log in (trading the configured account when the user has it; a warning on stderr if not)."""
    from orderproc.engine.bound import sign_in

    session, warning = await sign_in(engine, username, password, source="cli", account=account)
    if warning:
        from orderproc.cli import render

        render.warn(warning)
    return session


def _remember(engine: Engine, username: str, token: str) -> None:
    from orderproc.sessions import save_token

    save_token(engine.session_key, username, token)


# -- users and sessions -------------------------------------------------------------------------


@app.command()
def register(ctx: typer.Context, username: str, password_stdin: PasswordStdin = False, json_out: JsonOpt = False) -> None:
    """Create a user on this ledger and log in as them."""
    with _reported(json_out):
        password = _read_secret(password_stdin, "ORDERPROC_PASSWORD", "Choose a password", new="password")

    async def body(engine: Engine, account: str | None) -> None:
        from orderproc.cli import render

        user = await engine.register(username, password, source="cli")
        session = await _sign_in(engine, username, password, account, json_out)
        _remember(engine, username, session.token)
        if json_out:
            render.emit_json(user)
        else:
            render.out.print(f"Registered and logged in as [bold]{user.username}[/bold] on {engine.location}")

    _run_with_account(ctx, body)


@app.command()
def login(ctx: typer.Context, username: str, password_stdin: PasswordStdin = False, json_out: JsonOpt = False) -> None:
    """Log in. The session is cached for this ledger (an owner-only file in your config dir)."""
    password = _read_secret(password_stdin, "ORDERPROC_PASSWORD", "Password")

    async def body(engine: Engine, account: str | None) -> None:
        from orderproc.cli import render

        session = await _sign_in(engine, username, password, account, json_out)
        _remember(engine, session.user.username, session.token)
        if json_out:
            render.emit_json(session.user)
        else:
            trading = "" if session.account == "main" else f", trading [bold]{session.account}[/bold]"
            render.out.print(f"Logged in as [bold]{session.user.username}[/bold]{trading}")

    _run_with_account(ctx, body)


@app.command()
def logout(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """End this session: the token is revoked and forgotten."""

    async def body(engine: Engine) -> None:
        from orderproc.cli import render
        from orderproc.sessions import forget_token

        try:
            await _as_user(engine, lambda me: me.logout())
        finally:
            forget_token(engine.session_key)
        render.emit_json({"logged_out": True}) if json_out else render.out.print("Logged out")

    _run(ctx, body)


@app.command()
def whoami(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Who is logged in to this ledger."""

    async def body(me: Bound) -> None:
        from orderproc.cli import render

        user = await me.whoami()
        render.emit_json(user) if json_out else render.out.print(f"{user.username} ({user.role.value})")

    _run_as_user(ctx, body)


@app.command()
def profile(
    ctx: typer.Context,
    display_name: Annotated[str | None, typer.Option("--display-name", help="Set your display name.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Set your email (empty string clears it).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show your profile, or change it (--display-name, --email)."""

    async def body(me: Bound) -> None:
        from orderproc.cli import render
        from orderproc.engine.schemas import ProfileUpdate

        if display_name is None and email is None:
            user = await me.whoami()
        else:
            user = await me.update_profile(ProfileUpdate(display_name=display_name, email=email))
        render.emit_json(user) if json_out else render.user(user)

    _run_as_user(ctx, body)


@app.command()
def passwd(ctx: typer.Context, password_stdin: Annotated[bool, typer.Option(
    "--password-stdin", help="Read the current and the new password from the first two lines of stdin.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Change your password (other sessions are logged out).

    Without a terminal: --password-stdin, or ORDERPROC_PASSWORD and ORDERPROC_NEW_PASSWORD.
    """
    with _reported(json_out):
        old = _read_secret(password_stdin, "ORDERPROC_PASSWORD", "Current password")
        new = _read_secret(password_stdin, "ORDERPROC_NEW_PASSWORD", "New password", new="new password")

    async def body(me: Bound) -> None:
        from orderproc.cli import render

        session = await me.change_password(old, new)
        _remember(me.engine, session.user.username, session.token)
        render.emit_json(session.user) if json_out else render.out.print(
            "Password changed; your other sessions are logged out")

    _run_as_user(ctx, body)


# -- cash ----------------------------------------------------------------------------------------


_NEGATIVE = re.compile(r"-\$?\.?[0-9].*", re.DOTALL)


class _SignedArguments(TyperCommand):
    """Click reads `-5` as an option it does not know; for this command a negative number is an
    argument (as after `--`), so `deposit -5` says what is wrong with the amount."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if "--" not in args:
            valued = {name for p in self.params if isinstance(p, TyperOption) and not p.is_flag for name in p.opts}
            numbers = {i for i, arg in enumerate(args)
                       if _NEGATIVE.fullmatch(arg) and (i == 0 or args[i - 1] not in valued)}
            if numbers:
                args = [a for i, a in enumerate(args) if i not in numbers] + ["--"] + [args[i] for i in sorted(numbers)]
        return super().parse_args(ctx, args)


AmountArg = Annotated[str, typer.Argument(help="USD amount, e.g. 250, $1,000 or 99.95", show_default=False)]


def _move_cash(ctx: typer.Context, kind: str, amount: str, key: str | None, json_out: bool) -> None:
    async def body(me: Bound) -> None:
        from orderproc.cli import render
        from orderproc.formatting import typed_amount

        move = me.deposit if kind == "deposit" else me.withdraw
        tx = await move(typed_amount(amount), key=key)
        render.emit_json(tx) if json_out else render.transaction(tx)

    _run_as_user(ctx, body)


@app.command(cls=_SignedArguments)
def deposit(ctx: typer.Context, amount: AmountArg, key: KeyOpt = None, json_out: JsonOpt = False) -> None:
    """Add paper cash to your account."""
    _move_cash(ctx, "deposit", amount, key, json_out)


@app.command(cls=_SignedArguments)
def withdraw(ctx: typer.Context, amount: AmountArg, key: KeyOpt = None, json_out: JsonOpt = False) -> None:
    """Take cash out of your account."""
    _move_cash(ctx, "withdraw", amount, key, json_out)


def _listing_group(name: str, help: str, lists: tuple[Callable[[Bound], Awaitable[Any]], str, str] | None = None,
                   ) -> typer.Typer:
    """A command group that lists its things when given no subcommand (`orders`, `accounts`).
    With `lists` (the private read, its render view, what it shows), the group lists them so and
    also has a `list` command that does the same."""
    group = typer.Typer(help=help, invoke_without_command=True, no_args_is_help=False, rich_markup_mode=None)
    app.add_typer(group, name=name)
    if lists is not None:
        call, view, about = lists

        def listing(ctx: typer.Context, json_out: JsonOpt = False) -> None:
            if ctx.invoked_subcommand is None:
                _show(ctx, call, view, json_out)

        listing.__doc__ = about
        group.callback(invoke_without_command=True)(listing)
        group.command("list", help=about)(listing)
    return group


accounts_app = _listing_group(
    "accounts", "Your paper accounts: list, create, switch, reset.\n\n`main` and any you open.")
AccountName = Annotated[str, typer.Argument(help="The account's name: 1-32 letters, digits, '_', '.' or '-'.")]


@accounts_app.callback(invoke_without_command=True)
def accounts(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Your paper accounts; * marks the one your commands trade."""
    if ctx.invoked_subcommand is None:
        _show(ctx, lambda me: me.accounts(), "accounts", json_out)


@accounts_app.command("create")
def accounts_create(ctx: typer.Context, name: AccountName, json_out: JsonOpt = False) -> None:
    """Open another paper account.

    Then `accounts switch NAME` and deposit, or reset it.
    """

    async def body(me: Bound) -> None:
        from orderproc.cli import render

        made = await me.create_account(name)
        render.emit_json(made) if json_out else render.out.print(
            f"Opened the account [bold]{made.name}[/bold]; `orderproc accounts switch {made.name}` to trade it")

    _run_as_user(ctx, body)


@accounts_app.command("switch")
def accounts_switch(ctx: typer.Context, name: AccountName, json_out: JsonOpt = False) -> None:
    """Trade the account NAME from now on.

    Your cached session moves to it.
    """

    async def body(me: Bound) -> None:
        from orderproc.cli import render

        session = await me.switch_account(name)
        _remember(me.engine, session.user.username, session.token)
        render.emit_json(session.user) if json_out else render.out.print(
            f"Now trading the account [bold]{session.account}[/bold] as {session.user.username}")

    _run_as_user(ctx, body)


@accounts_app.command("reset")
def accounts_reset(
    ctx: typer.Context,
    cash: Annotated[str, typer.Option("--cash", help="The starting cash, in USD.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Start the current account again with --cash.

    Its open orders are canceled, its positions and cash given back, then the starting cash
    deposited. Its history stays readable.
    """
    from orderproc.formatting import typed_amount, usd

    with _reported(json_out):
        starting = typed_amount(cash)
    if not yes and not typer.confirm(
            f"Reset the current account to {usd(starting)}? Its positions and cash go back", err=True):
        raise typer.Exit(1)

    async def body(me: Bound) -> None:
        from orderproc.cli import render

        deposit = await me.reset_account(starting)
        render.emit_json(deposit) if json_out else render.out.print(
            f"The account starts again with [bold]{usd(deposit.cash)}[/bold] (deposit #{deposit.id})")

    _run_as_user(ctx, body)


keys_app = _listing_group(
    "keys", "API keys for programs: create, list, revoke.\n\nA key reads (and unless read-only, trades) the "
    "account it was made for, sent as `Authorization: Bearer <token>` instead of a session.",
    (lambda me: me.api_keys(), "api_keys", "Your API keys, oldest first, revoked ones too (never their secrets)."))
KeyIdArg = Annotated[str, typer.Argument(help="The key's id (PK...), as `keys list` shows it.")]


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", help="What the key is for (at most 64 characters).")] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="It can read, never move cash or orders.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Make an API key for the current account; its secret is shown this once."""

    async def body(me: Bound) -> None:
        from orderproc.cli import render

        made = await me.create_api_key(name=name, read_only=read_only)
        render.emit_json(made) if json_out else render.new_api_key(made)

    _run_as_user(ctx, body)


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: KeyIdArg, json_out: JsonOpt = False) -> None:
    """Revoke the key KEY_ID: no request with it is taken from now on."""

    async def body(me: Bound) -> None:
        from orderproc.cli import render
        from orderproc.formatting import when

        key = await me.revoke_api_key(key_id)
        assert key.revoked_at is not None
        render.emit_json(key) if json_out else render.out.print(
            f"Revoked the API key [bold]{key.key_id}[/bold]{f' ({key.name})' if key.name else ''} "
            f"at {when(key.revoked_at)}")

    _run_as_user(ctx, body)


@app.command()
def balance(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Your cash balance."""

    async def body(me: Bound) -> None:
        from orderproc.cli import render

        from orderproc.formatting import usd

        bal = await me.balance()
        held = f" ({usd(bal.available)} available, {usd(bal.reserved)} reserved by open orders)" if bal.reserved else ""
        render.emit_json(bal) if json_out else render.out.print(f"Cash: [bold]{usd(bal.cash)}[/bold]{held}")

    _run_as_user(ctx, body)


Offset = Annotated[int, _whole_option("--offset", "Skip this many, newest first", 0, MAX_OFFSET)]
Limit = Annotated[int, _whole_option("--limit", "How many to show", 1, MAX_PAGE)]


@app.command()
def history(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option("--kind", help="deposit, withdrawal, buy, sell or reset")] = None,
    offset: Offset = 0,
    limit: Limit = 20,
    json_out: JsonOpt = False,
) -> None:
    """Your transactions, newest first."""

    async def body(me: Bound) -> None:
        from orderproc.cli import render
        from orderproc.engine.schemas import TxKind

        page = await me.history(kind=TxKind(kind) if kind else None, offset=offset, limit=limit)
        render.emit_json(page) if json_out else render.history(page)

    if kind is not None and kind not in TX_KINDS:
        raise typer.BadParameter(f"choose {', '.join(TX_KINDS)}", param_hint="--kind")
    _run_as_user(ctx, body)


# -- assets and prices ------------------------------------------------------------------------


@app.command()
def assets(
    ctx: typer.Context,
    search: Annotated[str | None, typer.Option("--search", "-s", help="Symbol or name contains this.")] = None,
    category: Annotated[str | None, typer.Option("--category", "-c", help="e.g. layer-1, defi, meme.")] = None,
    sort: Annotated[str, typer.Option("--sort", help="rank, symbol, name, price, change or category.")] = "rank",
    desc: Annotated[bool, typer.Option("--desc", help="Sort descending.")] = False,
    limit: Limit = MAX_PAGE,
    json_out: JsonOpt = False,
) -> None:
    """The asset inventory with live prices."""

    if sort not in ASSET_SORT_FIELDS:
        raise typer.BadParameter(f"choose {', '.join(ASSET_SORT_FIELDS)}", param_hint="--sort")

    async def body(engine: Engine) -> None:
        from orderproc.cli import render
        from orderproc.engine.schemas import Asset, Page

        found = await engine.list_assets(search=search, category=category, sort=sort, descending=desc)
        page = Page[Asset](items=found[:limit], total=len(found), offset=0, limit=limit)
        render.emit_json(page) if json_out else render.assets(page)

    _run(ctx, body)


@app.command()
def quote(ctx: typer.Context, symbol: SymbolArg, json_out: JsonOpt = False) -> None:
    """The current price of one asset."""

    async def body(engine: Engine) -> None:
        from orderproc.cli import render

        q = await engine.quote(symbol)
        render.emit_json(q) if json_out else render.quote(q, await engine.get_asset(symbol))

    _run(ctx, body)


# -- orders ---------------------------------------------------------------------------------------


def _symbols(incomplete: str) -> list[tuple[str, str]]:
    """The shell's TAB on a symbol: the shipped assets it may start, with their names."""
    from orderproc.engine.catalog import shipped_assets

    return [(symbol, name) for symbol, name in shipped_assets() if symbol.startswith(incomplete)]


SymbolArg = Annotated[str, typer.Argument(help="Asset symbol, e.g. BTC", autocompletion=_symbols)]
QuantityArg = Annotated[str | None, typer.Argument(help="Quantity of the asset")]
UsdOpt = Annotated[str | None, typer.Option("--usd", help="Trade this many dollars' worth instead.")]
MaxPrice = Annotated[str | None, typer.Option("--max-price", help="Reject the fill if the price is above this.")]
MinPrice = Annotated[str | None, typer.Option("--min-price", help="Reject the fill if the price is below this.")]
LimitOpt = Annotated[str | None, typer.Option(
    "--limit", help="A limit order: fill only at this price or better (rests until then).")]
StopOpt = Annotated[str | None, typer.Option(
    "--stop", help="A stop order: trade when the price reaches this (with --limit: a stop-limit order).")]
IocOpt = Annotated[bool, typer.Option("--ioc", help="A limit order that fills now or expires (no resting).")]
PreviewOpt = Annotated[bool, typer.Option(
    "--preview", help="Show the price, spread, slippage and fee (or the reservation) without placing it.")]
LotOpt = Annotated[int | None, typer.Option(
    "--lot", parser=_Whole(1), help="Close this lot first (`orderproc lots` lists them), then the oldest.",
    show_default=False)]


def _order(ctx: typer.Context, side: str, symbol: str, quantity: str | None, usd: str | None,
           guard: str | None, limit: str | None, stop: str | None, ioc: bool, key: str | None,
           json_out: bool, preview: bool, lot: int | None = None) -> None:
    from orderproc.engine import rules
    from orderproc.engine.schemas import TimeInForce

    if (quantity is None) == (usd is None):
        raise typer.BadParameter("give a QUANTITY or --usd AMOUNT (one of them)")
    kind = rules.order_kind(limit is not None, stop is not None)
    # the engine's rules, as usage errors that name the flags
    if guard is not None and not rules.takes_guard(kind):
        raise typer.BadParameter("--max-price/--min-price guard market orders; a limit order has --limit")
    if ioc and not rules.takes_ioc(kind):
        raise typer.BadParameter("--ioc goes with --limit (and no --stop)")

    async def body(engine: Engine) -> None:
        from orderproc.cli import render
        from orderproc.engine.schemas import OrderRequest
        from orderproc.formatting import typed_amount

        def typed(text: str | None, name: str, *, dollars: bool = True) -> Decimal | None:
            return None if text is None else typed_amount(text, name, dollars=dollars)

        # checked before the session: a malformed order says so even to someone logged out
        request = OrderRequest.model_validate({
            "symbol": symbol, "side": side, "type": kind, "quantity": typed(quantity, "quantity", dollars=False),
            "notional": typed(usd, "--usd"), "limit_price": typed(limit, "--limit"), "stop_price": typed(stop, "--stop"),
            "price_limit": typed(guard, "--max-price" if side == "buy" else "--min-price"),
            "time_in_force": TimeInForce.IOC if ioc else None, "lot_id": lot, "client_order_id": key,
        })
        if preview:
            quote = await _as_user(engine, lambda me: me.preview_order(request))
            render.emit_json(quote) if json_out else render.preview(quote)
            return
        order = await _as_user(engine, lambda me: me.place_order(request))
        render.emit_json(order) if json_out else render.order(order)

    _run(ctx, body)


@app.command(cls=_SignedArguments)
def buy(ctx: typer.Context, symbol: SymbolArg, quantity: QuantityArg = None, usd: UsdOpt = None,
        max_price: MaxPrice = None, limit: LimitOpt = None, stop: StopOpt = None, ioc: IocOpt = False,
        preview: PreviewOpt = False, key: KeyOpt = None, json_out: JsonOpt = False) -> None:
    """Buy SYMBOL at market, or with --limit and/or --stop.

    At market by QUANTITY or --usd AMOUNT; a limit or stop order by QUANTITY.

    A limit or stop order rests until the price reaches it (its cash is reserved meanwhile);
    `orderproc orders --open` lists them, `orderproc orders cancel ID` cancels one.
    """
    _order(ctx, "buy", symbol, quantity, usd, max_price, limit, stop, ioc, key, json_out, preview)


@app.command(cls=_SignedArguments)
def sell(ctx: typer.Context, symbol: SymbolArg, quantity: QuantityArg = None, usd: UsdOpt = None,
         min_price: MinPrice = None, limit: LimitOpt = None, stop: StopOpt = None, ioc: IocOpt = False,
         lot: LotOpt = None, preview: PreviewOpt = False, key: KeyOpt = None, json_out: JsonOpt = False) -> None:
    """Sell SYMBOL at market, or with --limit and/or --stop.

    At market by QUANTITY or --usd AMOUNT; a limit or stop order by QUANTITY.

    A limit or stop order rests until the price reaches it (its quantity is reserved meanwhile).
    The sale closes lots by the ledger's cost method (FIFO unless the owner chose average), or
    --lot ID first; `orderproc pnl` shows the realized P&L.
    """
    _order(ctx, "sell", symbol, quantity, usd, min_price, limit, stop, ioc, key, json_out, preview, lot)


orders_app = _listing_group(
    "orders", "Your orders, newest first.\n\n`orders show ID` for one, `orders cancel ID` to cancel one.")


@orders_app.callback(invoke_without_command=True)
def orders(
    ctx: typer.Context,
    symbol: Annotated[str | None, typer.Option("--symbol", help="Only this asset.", autocompletion=_symbols)] = None,
    status: Annotated[str | None, typer.Option(
        "--status", help="Only this status: open, filled, canceled, rejected or expired.")] = None,
    open_only: Annotated[bool | None, typer.Option(
        "--open/--closed", help="Only open (resting) orders, or only closed ones.", show_default=False)] = None,
    offset: Offset = 0,
    limit: Limit = 20,
    json_out: JsonOpt = False,
) -> None:
    """Your orders, newest first.

    `orders show ID` for one, `orders cancel ID` to cancel one. With --json, statuses are the
    API's: an open order is `new`.
    """
    if ctx.invoked_subcommand is not None:
        return

    from orderproc.engine.schemas import OrderStatus
    from orderproc.formatting import STATUS_WORDS

    # the words the tables show, and the API's values (`new` is an open order)
    statuses = {word: value for value, word in STATUS_WORDS.items()} | {value.value: value for value in OrderStatus}
    if status is not None and status not in statuses:
        raise typer.BadParameter(f"choose {', '.join(STATUS_WORDS.values())}", param_hint="--status")

    async def body(me: Bound) -> None:
        from orderproc.cli import render

        page = await me.orders(offset=offset, limit=limit, symbol=symbol,
                               status=statuses[status] if status else None, open=open_only)
        render.emit_json(page) if json_out else render.orders(page)

    _run_as_user(ctx, body)


@orders_app.command("show")
def orders_show(
    ctx: typer.Context,
    order_id: OrderId,
    json_out: JsonOpt = False,
) -> None:
    """One of your orders (another user's reads as not found)."""
    _show(ctx, lambda me: me.get_order(order_id), "order_details", json_out)


@orders_app.command("cancel")
def orders_cancel(
    ctx: typer.Context,
    order_id: Annotated[int | None, typer.Argument(
        parser=_Whole(1), help="The open order to cancel.", show_default=False)] = None,
    all_orders: Annotated[bool, typer.Option("--all", help="Cancel every open order.")] = False,
    symbol: Annotated[str | None, typer.Option("--symbol", help="With --all: only this asset's.", autocompletion=_symbols)] = None,
    json_out: JsonOpt = False,
) -> None:
    """Cancel an open order, or --all of them.

    What they reserved is released.
    """
    if (order_id is None) == (not all_orders):
        raise typer.BadParameter("give an order ID or --all (one of them)")
    if symbol is not None and not all_orders:
        raise typer.BadParameter("--symbol goes with --all")

    async def body(me: Bound) -> None:
        from orderproc.cli import render

        if order_id is not None:
            order = await me.cancel_order(order_id)
            render.emit_json(order) if json_out else render.order(order)
        else:
            canceled = await me.cancel_orders(symbol=symbol)
            render.emit_json(canceled) if json_out else render.canceled(canceled)

    _run_as_user(ctx, body)


@app.command()
def lots(
    ctx: typer.Context,
    symbol: Annotated[str | None, typer.Argument(help="Only this asset's lots.", autocompletion=_symbols)] = None,
    closed: Annotated[bool, typer.Option("--closed", help="Also the lots sold out.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Your lots: what each buy added and what remains.

    With each lot's cost and unrealized P&L.
    """
    _show(ctx, lambda me: me.lots(symbol=symbol, closed=closed), "lots", json_out)


watch_app = _listing_group(
    "watch", "Your watchlist: list, add, remove, sort.\n\nThe same on each of your accounts and every terminal.",
    (lambda me: me.watchlist(), "watchlist", "Your watchlist with live prices, sorted as you chose (`watch sort`)."))
WatchSymbols = Annotated[list[str], typer.Argument(help="Asset symbols, e.g. BTC ETH", autocompletion=_symbols)]
WATCH_SORTS = ("added", "symbol", "price", "change")  # WatchSort's values, without importing the engine for --help


def _watch_each(ctx: typer.Context, symbols: list[str], change: str, json_out: bool) -> None:
    """`watch` or `unwatch` each symbol in turn (an error stops there), then show the list."""

    async def body(me: Bound) -> None:
        from orderproc.cli import render

        listed = await me.watchlist()
        for symbol in symbols:
            listed = await (me.watch(symbol) if change == "add" else me.unwatch(symbol))
        render.emit_json(listed) if json_out else render.watchlist(listed)

    _run_as_user(ctx, body)


@watch_app.command("add")
def watch_add(ctx: typer.Context, symbols: WatchSymbols, json_out: JsonOpt = False) -> None:
    """Put assets on your watchlist (one already there stays where it is)."""
    _watch_each(ctx, symbols, "add", json_out)


@watch_app.command("remove")
def watch_remove(ctx: typer.Context, symbols: WatchSymbols, json_out: JsonOpt = False) -> None:
    """Take assets off your watchlist."""
    _watch_each(ctx, symbols, "remove", json_out)


@watch_app.command("sort")
def watch_sort(
    ctx: typer.Context,
    by: Annotated[str, typer.Argument(help="added (the order you added them), symbol, price or change (24h)",
                                      autocompletion=lambda incomplete: [s for s in WATCH_SORTS
                                                                         if s.startswith(incomplete)])],
    json_out: JsonOpt = False,
) -> None:
    """Sort your watchlist by BY, here and in every terminal."""
    _show(ctx, lambda me: me.sort_watchlist(by), "watchlist", json_out)


alert_app = _listing_group(
    "alert", "Price alerts: add, list, remove.\n\nThe price loop fires each once; the terminal rings and says so.")


@alert_app.callback(invoke_without_command=True)
def alert(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Your price alerts: waiting and fired (when, at what price)."""
    if ctx.invoked_subcommand is None:
        _show(ctx, lambda me: me.alerts(), "alerts", json_out)


@alert_app.command("add")
def alert_add(
    ctx: typer.Context,
    symbol: SymbolArg,
    above: Annotated[str | None, typer.Option("--above", help="Fire when the price is at or above this.")] = None,
    below: Annotated[str | None, typer.Option("--below", help="Fire when the price is at or below this.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Set an alert on SYMBOL --above or --below a price.

    It fires once, at the first tick at which the price gets there (a price reached already is refused).
    """
    if (above is None) == (below is None):
        raise typer.BadParameter("give --above PRICE or --below PRICE", param_hint="--above/--below")

    async def body(me: Bound) -> None:
        from orderproc.cli import render
        from orderproc.formatting import typed_amount

        level = typed_amount(above if above is not None else below or "")
        made = await me.set_alert(symbol, "above" if above is not None else "below", level)
        render.emit_json(made) if json_out else render.alert_set(made)

    _run_as_user(ctx, body)


@alert_app.command("list")
def alert_list(
    ctx: typer.Context,
    fired: Annotated[bool, typer.Option("--fired", help="Only those that fired.")] = False,
    waiting: Annotated[bool, typer.Option("--waiting", help="Only those still waiting.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Your price alerts, oldest first: waiting, or fired (when, at what price)."""
    if fired and waiting:
        raise typer.BadParameter("--fired or --waiting, not both", param_hint="--fired/--waiting")
    only = True if fired else False if waiting else None
    _show(ctx, lambda me: me.alerts(fired=only), "alerts", json_out)


@alert_app.command("remove")
def alert_remove(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(metavar="ID", help="The alert's id (`alert list`).", min=1)],
    json_out: JsonOpt = False,
) -> None:
    """Remove one of your alerts (waiting or fired)."""

    async def body(me: Bound) -> None:
        from orderproc.cli import render

        removed = await me.remove_alert(alert_id)
        render.emit_json(removed) if json_out else render.out.print(f"Removed alert #{removed.id}")

    _run_as_user(ctx, body)


@app.command()
def pnl(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Realized and unrealized P&L by asset.

    The total reconciles with equity minus net deposits.
    """
    _show(ctx, lambda me: me.pnl(), "pnl", json_out)


@app.command()
def portfolio(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Your positions at live prices, cash and total equity."""
    _show(ctx, lambda me: me.portfolio(), "portfolio", json_out)


@app.command()
def leaderboard(
    ctx: typer.Context,
    sort: Annotated[str, typer.Option("--sort", help="equity or return")] = "equity",
    limit: Limit = 20,
    json_out: JsonOpt = False,
) -> None:
    """Traders on this ledger ranked by equity (or --sort return).

    The return is counted since each account's first deposit.
    """
    if sort not in ("equity", "return"):
        raise typer.BadParameter("choose equity or return", param_hint="--sort")

    async def body(me: Bound) -> None:
        from orderproc.cli import render
        from orderproc.engine.schemas import LeaderboardEntry, Page

        ranked = await me.leaderboard(sort=sort, limit=MAX_PAGE)  # all of them (up to a page), for the total
        page = Page[LeaderboardEntry](items=ranked[:limit], total=len(ranked), offset=0, limit=limit)
        render.emit_json(page) if json_out else render.leaderboard(page)

    _run_as_user(ctx, body)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (other machines: 0.0.0.0).")] = "127.0.0.1",
    port: Annotated[int, _whole_option("--port", "Port to listen on", 0, 65535)] = 8080,
    workers: Annotated[int, _whole_option("--workers", "Server processes on the one ledger", 1, 64)] = 1,
    ssl_certfile: Annotated[Path | None, typer.Option("--ssl-certfile", help="TLS certificate (PEM).")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option("--ssl-keyfile", help="TLS private key (PEM).")] = None,
    cors: Annotated[str | None, typer.Option("--cors", help="Allowed CORS origins, comma-separated.")] = None,
    rate_limit: Annotated[float | None, typer.Option(
        "--rate-limit", help="Requests per second per client address (0: off; default 100).")] = None,
    login_limit: Annotated[float | None, typer.Option(
        "--login-limit", help="Login attempts per minute per account (0: off; default 10).")] = None,
) -> None:
    """Serve the ledger over HTTP for many terminals.

    They trade on it with `orderproc --server URL`.
    """
    import asyncio
    import json
    import logging.config

    import uvicorn

    from orderproc.cli import render
    from orderproc.config import ENV_PREFIX, Settings
    from orderproc.engine import open_local_engine

    state = _state(ctx)
    if state.server is not None:
        raise typer.BadParameter("serve runs on a ledger file: give --db, not --server", param_hint="--server")
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise typer.BadParameter("TLS needs both --ssl-certfile and --ssl-keyfile", param_hint="--ssl-keyfile")
    if (problem := _cannot_listen(host, port)) is not None:
        render.err.print(problem, markup=False)
        raise typer.Exit(1)
    options = {"db": state.db, "cors_origins": cors, "rate_limit": rate_limit, "login_limit": login_limit}
    with _reported(False):
        settings = Settings.load(**options).model_copy(update={"server": None})
        # create or check the ledger once, before any worker starts
        engine = open_local_engine(settings)
        asyncio.run(engine.close())
    # every worker process builds its app from these (uvicorn's factory reads the environment)
    ledger = settings.db_path
    os.environ[ENV_PREFIX + "DB"] = str(ledger.resolve() if isinstance(ledger, Path) else ledger)
    os.environ.pop(ENV_PREFIX + "SERVER", None)
    for name, value in options.items():
        if value is not None and name != "db":
            os.environ[ENV_PREFIX + name.upper()] = str(value)
    scheme = "https" if ssl_certfile else "http"
    # from here every line on stderr is JSON, uvicorn's too: the server's log config, named as a
    # file (as the app is named by a string) so that the CLI does not import the server
    log_config = Path(__file__).resolve().parents[1] / "server" / "logging.json"
    logging.config.dictConfig(json.loads(log_config.read_text()))
    log = logging.getLogger("orderproc.server")
    log.info(f"orderproc serving {engine.location} on {scheme}://{host}:{port} "
             f"({workers} worker{'s' if workers > 1 else ''}); Ctrl+C stops")
    if host not in ("127.0.0.1", "localhost", "::1") and ssl_certfile is None:
        log.warning("listening beyond this machine without TLS: passwords and tokens cross the network in clear")
    uvicorn.run(
        "orderproc.server.app:app_from_env", factory=True, host=host, port=port, workers=workers,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        log_config=str(log_config), access_log=False, log_level="info", server_header=False,
        # on SIGTERM or Ctrl+C, requests still running after this are cancelled: a terminal's quote
        # stream never ends by itself, and the stop used to wait for every one of them
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
    )


def _cannot_listen(host: str, port: int) -> str | None:
    """Why `serve` could not listen on host:port (an `error[...]` line), or None: a trial bind
    as uvicorn's (SO_REUSEADDR), before the ledger is opened or anything is printed."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        return f"error[address_unavailable]: cannot listen on {host}: {exc.strerror}"
    with socket.socket(family, kind, proto) as trial:
        trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            trial.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"error[address_in_use]: port {port} on {host} is in use by another program: "
                        "stop it, or choose another port with --port")
            return f"error[address_unavailable]: cannot listen on {host}:{port}: {exc.strerror}"
    return None


app.command()(web)  # `orderproc web`, the terminal in a browser: its own module
app.command()(export)  # `orderproc export`, the journal for beancount, hledger or CSV: its own module


# -- operator commands ---------------------------------------------------------------------------


def _show_as_admin(ctx: typer.Context, call: Callable[[Bound], Awaitable[Any]], show: Callable[[Any], None],
                   json_out: bool) -> None:
    """Run an admin call (see `_run_as_admin`) and print its result: JSON, or `show` for people."""

    async def body(admin: Bound) -> None:
        from orderproc.cli import render

        result = await call(admin)
        render.emit_json(result) if json_out else show(result)

    _run_as_admin(ctx, body)


def _show_user(action: str) -> Callable[[Any], None]:
    def show(user: Any) -> None:
        from orderproc.cli import render

        render.out.print(f"{user.username}: {action} (role {user.role.value}, "
                         f"{'disabled' if user.disabled else 'active'})")

    return show


@admin_app.command("grant")
def admin_grant(
    ctx: typer.Context,
    username: str,
    role: Annotated[str, typer.Option("--role", help="admin or customer")] = "admin",
    json_out: JsonOpt = False,
) -> None:
    """Give USER a role: admin by default.

    --role customer takes it back.
    """
    if role not in ("admin", "customer"):
        raise typer.BadParameter("choose admin or customer", param_hint="--role")
    from orderproc.engine.schemas import Role

    _show_as_admin(ctx, lambda admin: admin.admin_set_role(username, Role(role)), _show_user(f"role set to {role}"),
                   json_out)


@admin_app.command("disable")
def admin_disable(ctx: typer.Context, username: str, json_out: JsonOpt = False) -> None:
    """Disable USER: they cannot log in and their sessions end."""
    _show_as_admin(ctx, lambda admin: admin.admin_set_disabled(username, True), _show_user("disabled"), json_out)


@admin_app.command("enable")
def admin_enable(ctx: typer.Context, username: str, json_out: JsonOpt = False) -> None:
    """Enable a disabled USER again."""
    _show_as_admin(ctx, lambda admin: admin.admin_set_disabled(username, False), _show_user("enabled"), json_out)


@admin_app.command("users")
def admin_users(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Every user of the ledger."""
    from orderproc.cli import render

    _show_as_admin(ctx, lambda admin: admin.admin_users(), render.users, json_out)


@admin_app.command("audit")
def admin_audit(ctx: typer.Context, offset: Offset = 0, limit: Limit = 50, json_out: JsonOpt = False) -> None:
    """The audit log, newest first."""
    from orderproc.cli import render

    _show_as_admin(ctx, lambda admin: admin.admin_audit(offset=offset, limit=limit), render.audit, json_out)


BpsOpt = Annotated[str | None, typer.Option(help="Basis points (0-1000).", show_default=False)]


@admin_app.command("settings")
def admin_settings(
    ctx: typer.Context,
    cost_method: Annotated[str | None, typer.Option(
        "--cost-method", help="fifo or average: how sales from now on close lots.", show_default=False)] = None,
    maker_fee_bps: BpsOpt = None,
    taker_fee_bps: BpsOpt = None,
    spread_bps: BpsOpt = None,
    slippage_bps_per_1000_usd: BpsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show the ledger's settings, or change them.

    The settings are the cost method and the friction profile. Fees are charged on each fill's
    notional (a resting limit order filled later is a maker, everything else a taker); a taker
    also pays half the spread and a slippage of --slippage-bps-per-1000-usd basis points per
    $1,000 traded. None by default.
    """
    from orderproc.cli import render

    changes = {name: value for name, value in (
        ("cost_method", cost_method), ("maker_fee_bps", maker_fee_bps), ("taker_fee_bps", taker_fee_bps),
        ("spread_bps", spread_bps), ("slippage_bps_per_1000_usd", slippage_bps_per_1000_usd)) if value is not None}

    async def change(admin: Bound) -> LedgerSettings:
        from orderproc.engine.schemas import SettingsUpdate

        return await admin.admin_update_settings(SettingsUpdate.model_validate(changes))

    _show_as_admin(ctx, change if changes else (lambda admin: admin.ledger_settings()), render.settings, json_out)


@config_app.command("path")
def config_path() -> None:
    """Print where the config file is read from (it need not exist yet; $ORDERPROC_CONFIG moves it)."""
    from orderproc.config import config_file

    typer.echo(config_file())


@config_app.command("show")
def config_show(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Every setting as this call sees it, and where it comes from: the file, the environment, an
    option or the default. A wrong name or value is reported with its line."""
    from orderproc.cli import render
    from orderproc.config import ConfigFile, Settings

    state = _state(ctx)
    with _reported(json_out):
        config = ConfigFile.read()
        settings, sources = Settings.load_with_sources(config=config, db=state.db, server=state.server)
    values = settings.model_dump()
    if not settings.server:
        values["db"] = str(settings.db_path)
    if json_out:
        render.emit_json({"file": str(config.path), "exists": bool(config.text or config.path.exists()),
                          "settings": {name: {"value": value, "from": sources.get(name, "default")}
                                       for name, value in values.items()}})
        return
    render.config(config.path, config.path.exists(), values, sources)


@admin_app.command("verify")
def admin_verify(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Check the ledger: its balances and invariants.

    Every balance is recomputed from the journal; exit 1 if an invariant is broken.
    """
    from orderproc.cli import render

    async def body(admin: Bound) -> None:
        report = await admin.admin_verify()
        render.emit_json(report) if json_out else render.verify(report)
        if not report.ok:
            raise typer.Exit(1)

    _run_as_admin(ctx, body)


@admin_app.command("copy")
def admin_copy(
    source: Annotated[str, typer.Option("--from", help="The ledger to copy: a file or postgresql://...")],
    target: Annotated[str, typer.Option("--to", help="Where to: a new file, or an empty PostgreSQL database.")],
    json_out: JsonOpt = False,
) -> None:
    """Copy a whole ledger to another place.

    A SQLite file to PostgreSQL, and back. The target must be empty, and the copy commits only
    once it verifies with every balance equal to the source's.
    """
    from orderproc.cli import render
    from orderproc.engine import copy_ledger

    with _reported(json_out):
        report = copy_ledger(source, target)
    if json_out:
        render.emit_json({"source": report.source, "target": report.target, "rows": report.rows,
                          "orders": report.orders, "verified": True})
        return
    copied = sum(report.rows.values())
    typer.echo(f"copied {report.source} to {report.target}: {copied} rows in {len(report.rows)} tables, "
               f"{report.orders} orders; the copy verifies and its balances equal the source's "
               "(sessions do not carry over: log in again)")


def run() -> None:
    """Run the CLI on sys.argv (`orderproc.entry` calls it for every call that names a command)."""
    app()
