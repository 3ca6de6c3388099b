"""The architecture holds: pyproject's import-linter contracts (the engine is headless, the
rules and domain pure, surfaces use the engine's public names only and not each other, the
store below the use cases below the facade), and no engine module grows past what one
person reads at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orderproc

ROOT = Path(__file__).resolve().parents[2]
ENGINE = Path(orderproc.__file__).parent / "engine"
MAX_ENGINE_LINES = 600


def test_the_import_contracts_in_pyproject_are_kept() -> None:
    # in its own process: import-linter configures logging, which the server's tests read
    lint = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    done = subprocess.run([sys.executable, "-c", lint], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 kept, 0 broken" in done.stdout


def test_no_engine_module_is_over_600_lines() -> None:
    sizes = {p.relative_to(ENGINE).as_posix(): len(p.read_text().splitlines()) for p in ENGINE.rglob("*.py")}
    assert len(sizes) > 20  # the walk found the engine
    assert {name: n for name, n in sizes.items() if n > MAX_ENGINE_LINES} == {}
