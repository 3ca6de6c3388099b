"""External tools some tests run (hledger, Chromium): skip without them on a developer's machine,
fail in CI (`.ci/run` installs them and sets ORDERPROC_REQUIRE_TOOLS; CI is set there too)."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

REQUIRE_ENV = "ORDERPROC_REQUIRE_TOOLS"


def require_tool(name: str) -> str:
    """The path of the program `name`; skips the test (fails it under ORDERPROC_REQUIRE_TOOLS or CI)
    when it is not installed."""
    # the running Python's scripts first: a tool installed with the test dependencies (bean-check)
    # is there, and `.venv/bin/python -m pytest` does not put it on PATH
    path = shutil.which(name, path=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    if path:
        return path
    required = [env for env in (REQUIRE_ENV, "CI") if os.environ.get(env)]
    if required:
        pytest.fail(f"{name} is required ({required[0]} is set) but not installed", pytrace=False)
    pytest.skip(f"{name} is not installed; set {REQUIRE_ENV}=1 to fail instead")
