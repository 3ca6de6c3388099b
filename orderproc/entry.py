"""The `orderproc` executable: bare (or with only `--db PATH` or `--server URL`), it opens the
trading terminal without loading the CLI.

Typer and the command definitions cost about 0.1 s of start-up that the terminal does not
need; every other invocation goes to the CLI.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    args = sys.argv[1:]
    if not args or (len(args) == 2 and args[0] in ("--db", "--server") and not args[1].startswith("-")):
        from orderproc.tui.launch import open_terminal

        if args and args[0] == "--server":
            open_terminal(None, args[1])
        else:
            open_terminal(Path(args[1]) if args else None, None)
        return
    from orderproc.cli.main import run

    run()
