"""The architecture holds: pyproject's import-linter contracts (the engine is headless, the
rules and domain pure, surfaces use the engine's public names only and not each other, the
store below the use cases below the facade), and no engine module grows past what one
person reads at once."""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

import orderproc

ROOT = Path(__file__).resolve().parents[2]
ENGINE = Path(orderproc.__file__).parent / "engine"
MAX_ENGINE_LINES = 600


def test_the_import_contracts_in_pyproject_are_kept(monkeypatch, capsys) -> None:
    monkeypatch.chdir(ROOT)
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert code == 0, report
    assert "0 broken" in report


def test_no_engine_module_is_over_600_lines() -> None:
    sizes = {p.relative_to(ENGINE).as_posix(): len(p.read_text().splitlines()) for p in ENGINE.rglob("*.py")}
    assert len(sizes) > 20  # the walk found the engine
    assert {name: n for name, n in sizes.items() if n > MAX_ENGINE_LINES} == {}
