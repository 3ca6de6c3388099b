"""The engine stays headless and `orderproc --help` stays quick: proven on `sys.modules` of a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

UI_AND_SERVER = ("textual", "typer", "click", "rich", "fastapi", "uvicorn", "starlette")
NOT_FOR_HELP = (
    "textual",
    "fastapi",
    "uvicorn",
    "starlette",
    "sqlalchemy",
    "sqlmodel",
    "argon2",
    "orderproc.engine.schemas",
    "orderproc.engine.service",
)


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code` (which may exit through SystemExit)."""
    script = (
        "import json, sys\n"
        "try:\n"
        + "".join(f"    {line}\n" for line in code.splitlines())
        + "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "sys.__stdout__.write('\\n@@' + json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.rsplit("\n@@", 1)[1]))


def offenders(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


def test_importing_the_engine_loads_no_ui_or_server_library() -> None:
    modules = loaded_after("import orderproc.engine, orderproc.engine.service")
    assert "orderproc.engine.service" in modules  # the import really happened
    assert offenders(modules, UI_AND_SERVER) == []


def test_importing_every_engine_module_loads_no_ui_or_server_library() -> None:
    modules = loaded_after(
        "import pkgutil, importlib, orderproc.engine\n"
        "for info in pkgutil.walk_packages(orderproc.engine.__path__, 'orderproc.engine.'):\n"
        "    importlib.import_module(info.name)"
    )
    assert {"orderproc.engine.store.sqlite", "orderproc.engine.domain.money", "orderproc.engine.protocol"} <= modules
    assert offenders(modules, UI_AND_SERVER) == []


@pytest.mark.parametrize(
    "argv",
    [("--help",), ("buy", "--help"), ("admin", "--help")],
    ids=["--help", "buy--help", "admin--help"],
)
def test_cli_help_pays_for_typer_alone(argv: tuple[str, ...]) -> None:
    modules = loaded_after(
        "import io, contextlib\n"
        f"sys.argv = ['orderproc', *{list(argv)!r}]\n"
        "help_text = io.StringIO()\n"
        "try:\n"
        "    with contextlib.redirect_stdout(help_text):\n"
        "        from orderproc.cli.main import run\n"
        "        run()\n"
        "finally:\n"
        "    assert 'Usage' in help_text.getvalue(), help_text.getvalue()"
    )
    assert "orderproc.cli.main" in modules
    assert offenders(modules, NOT_FOR_HELP) == []
