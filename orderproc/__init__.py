"""orderproc: a paper-trading crypto exchange in the terminal."""

from __future__ import annotations


def package_version() -> str:
    """The installed version ("dev" when run from a checkout that is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("orderproc")
    except PackageNotFoundError:
        return "dev"
