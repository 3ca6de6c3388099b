"""The `orderproc` executable: bare (or with only `--db PATH`), it opens the trading terminal
without loading the CLI.

Typer and the command definitions cost about 0.1 s of start-up that the terminal does not
need; every other invocation goes to the CLI.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    args = sys.argv[1:]
    if not args or (len(args) == 2 and args[0] == "--db" and not args[1].startswith("-")):
        from orderproc.tui.launch import open_terminal

        open_terminal(Path(args[1]) if args else None)
        return
    from orderproc.cli.main import run

    run()
