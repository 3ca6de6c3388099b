"""The `orderproc` executable: bare (or with only `--db PATH` or `--server URL`), it opens the
trading terminal without loading the CLI.

Typer and the command definitions cost about 0.1 s of start-up that the terminal does not
need; every other invocation goes to the CLI. `--db` and `--server` choose the ledger for any
command and may come anywhere on the line (`orderproc serve --db shared.db` and
`orderproc --db shared.db serve` are the same): they are moved to the front here.
"""

from __future__ import annotations

import sys
from pathlib import Path

GLOBAL_OPTIONS = ("--db", "--server")


def hoist_global_options(args: list[str]) -> list[str]:
    """`args` with every `--db X` / `--server X` (or `--db=X`) moved before the command."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg in GLOBAL_OPTIONS and i + 1 < len(args):
            front += args[i:i + 2]
            i += 2
            continue
        if arg.startswith(tuple(f"{name}=" for name in GLOBAL_OPTIONS)):
            name, _, value = arg.partition("=")
            front += [name, value]
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main() -> None:
    args = hoist_global_options(sys.argv[1:])
    if len(args) in (0, 2) and (not args or (args[0] in GLOBAL_OPTIONS and not args[1].startswith("-"))):
        from orderproc.tui.launch import open_terminal

        if args and args[0] == "--server":
            open_terminal(None, args[1])
        else:
            open_terminal(Path(args[1]) if args else None, None)
        return
    sys.argv[1:] = args
    from orderproc.cli.main import run

    run()
