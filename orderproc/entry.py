"""The `orderproc` executable: a call that names no command (bare, or with only `--db PATH` or
`--server URL`) opens the trading terminal without loading the CLI; every other call goes to
the CLI, which never imports the terminal, and so does the shell's completion (TAB runs the
bare command with `_ORDERPROC_COMPLETE` set).

Typer and the command definitions cost about 0.1 s of start-up that the terminal does not
need. `--db` and `--server` choose the ledger for any command and may come anywhere on the line
(`orderproc serve --db shared.db` and `orderproc --db shared.db serve` are the same): they are
moved to the front here.
"""

from __future__ import annotations

import gc
import os
import sys

GLOBAL_OPTIONS = ("--db", "--server")


def split_global_options(args: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """The `--db X` / `--server X` (or `--db=X`) pairs of `args`, and the rest, each in order."""
    options: list[tuple[str, str]] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg in GLOBAL_OPTIONS and i + 1 < len(args):
            options.append((arg, args[i + 1]))
            i += 2
            continue
        if arg.startswith(tuple(f"{name}=" for name in GLOBAL_OPTIONS)):
            name, _, value = arg.partition("=")
            options.append((name, value))
        else:
            rest.append(arg)
        i += 1
    return options, rest


def hoist_global_options(args: list[str]) -> list[str]:
    """`args` with every `--db X` / `--server X` (or `--db=X`) moved before the command."""
    options, rest = split_global_options(args)
    return [part for option in options for part in option] + rest


def terminal_ledger(args: list[str]) -> tuple[str | None, str | None] | None:
    """The ledger file or server a call that names no command opens the terminal on (None and
    None: the configured one), or None when `args` name a command, ask for help or the version,
    or give both --db and --server (the CLI reports that)."""
    options, rest = split_global_options(args)
    chosen = dict(options)  # the last of each wins, as in any command
    if rest not in ([], ["--"]) or len(chosen) > 1:
        return None
    return chosen.get("--db"), chosen.get("--server")


COMPLETION = "_ORDERPROC_COMPLETE"  # set by the shell's TAB: the CLI answers (Typer's completion)


def main() -> None:
    args = sys.argv[1:]
    ledger = None if COMPLETION in os.environ else terminal_ledger(args)
    if ledger is not None:
        # start-up makes objects that live as long as the process (modules, classes, schemas,
        # price models): collections while it runs walk them for nothing (the terminal freezes
        # them once its first page is shown, `collector.freeze`)
        gc.set_threshold(10_000, 50, 100)
        from orderproc.tui.launch import open_terminal

        open_terminal(*ledger)
        return
    sys.argv[1:] = hoist_global_options(args)
    from orderproc.cli.main import run

    run()
