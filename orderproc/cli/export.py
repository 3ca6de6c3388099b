"""`orderproc export`: the journal, exact, as a beancount file, an hledger journal or CSV files.

The engine's `journal` gives the entries, lots and balances; `orderproc.exports` writes them.
Whose journal: the session cached for this ledger (a customer's own accounts, an admin's whole
ledger); on a ledger file with no session, its operator's (the whole ledger, as the `admin`
commands act).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from orderproc.config import Settings
    from orderproc.engine.bound import Bound
    from orderproc.engine.schemas import Journal

FORMATS = ("beancount", "hledger", "csv")  # orderproc.exports.FORMATS, without importing it for --help


def _format(value: str) -> str:
    if value not in FORMATS:
        raise typer.BadParameter(f"choose {', '.join(FORMATS[:-1])} or {FORMATS[-1]}")
    return value


def export(
    ctx: typer.Context,
    format: Annotated[str, typer.Option(
        "--format", "-f", parser=_format, metavar="beancount|hledger|csv", show_default=False,
        help="beancount (check with `bean-check FILE`), hledger (`hledger -f FILE check`) or csv "
        "(orders.csv, transactions.csv and lots.csv).")],
    account: Annotated[str | None, typer.Option(
        "--account", metavar="NAME", help="Only this paper account: NAME (one of yours) or, for an admin, USER/NAME.",
        show_default=False)] = None,
    since: Annotated[datetime | None, typer.Option(
        "--since", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD", show_default=False,
        help="Entries from this day (00:00 UTC) on, after an opening balance of what each account held "
        "then: the balances at the end are the same.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="PATH", show_default=False,
        help="beancount and hledger: the file to write (else stdout). csv: the directory to write the three "
        "files in (made if missing; required).")] = None,
) -> None:
    """Export your journal for beancount, hledger or CSV.

    Costs are kept: every buy is a lot at its cost, every sale is booked against the lots the
    ledger closed with its realized P&L, fees are expenses; balances are asserted, so
    `bean-check` and `hledger check` verify the file against the ledger. An admin exports every
    customer's accounts; on a ledger file without a session you act as its operator (the whole
    ledger). Symbols beancount cannot name are renamed with an X- prefix (1INCH is X-1INCH);
    the file's header lists them.
    """
    if format == "csv" and output is None:
        raise typer.BadParameter("csv writes three files: give the directory with -o DIR", param_hint="--output")
    if output is not None and format != "csv" and output.is_dir():
        raise typer.BadParameter(f"{output} is a directory: give a file", param_hint="--output")

    async def body(me: Bound) -> None:
        from orderproc import exports

        journal = await me.engine.journal(me.token, account=account, since=since.date() if since else None)
        if format == "csv":
            assert output is not None
            output.mkdir(parents=True, exist_ok=True)
            for name, text in exports.csv_files(journal).items():
                (output / name).write_text(text, encoding="utf-8", newline="")
            _wrote(f"{output}/{{{','.join(exports.CSV_FILES)}}}", journal)
            return
        text = exports.beancount(journal) if format == "beancount" else exports.hledger(journal)
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            _wrote(str(output), journal)

    _run_as_owner(ctx, body)


def _wrote(where: str, journal: Journal) -> None:
    from orderproc.cli import render

    accounts = len(journal.accounts)
    render.err.print(f"wrote {where}: {len(journal.entries)} entries of {accounts} account"
                     f"{'' if accounts == 1 else 's'}", markup=False, highlight=False)


def _run_as_owner(ctx: typer.Context, body: Callable[[Bound], Awaitable[None]]) -> None:
    """`body` as the session cached for this ledger, or on a ledger file without one, as its operator."""
    from orderproc.cli.main import _as_user, _closing, _run_async

    async def main(settings: Settings) -> None:
        from orderproc.engine import open_engine, open_operator
        from orderproc.sessions import load_token

        if settings.server:
            await _closing(open_engine(settings), lambda engine: _as_user(engine, body))
            return
        operator = open_operator(settings)
        if load_token(operator.engine.session_key) is not None:
            await _closing(operator.engine, lambda engine: _as_user(engine, body))
        else:
            await _closing(operator.engine, lambda _: body(operator))

    _run_async(ctx, main)
