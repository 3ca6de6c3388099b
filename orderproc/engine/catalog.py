"""Names and bounds the surfaces validate before loading the engine: asset sort fields,
transaction kinds, page sizes, password lengths."""

from __future__ import annotations

ASSET_SORT_FIELDS = ("rank", "symbol", "name", "price", "change", "category")
TX_KINDS = ("deposit", "withdrawal", "buy", "sell", "reset")
MAX_PAGE = 500  # items in one page of a list
MAX_OFFSET = 2**53  # far beyond any ledger, well within SQLite's 64-bit integers
PASSWORD_MIN, PASSWORD_MAX = 8, 128  # characters
# a chart's ranges and the time each spans (1m is a month of 30 days, 1y 365 days)
CHART_RANGES = {"1h": 3600, "1d": 86400, "1w": 7 * 86400, "1m": 30 * 86400, "1y": 365 * 86400}
CANDLES_MAX, CANDLES_DEFAULT = 500, 120  # candles in one answer
BAR_INTERVAL_MIN, BAR_INTERVAL_MAX = 60, 7 * 86400  # seconds: bars of a minute to a week, whole minutes


def bar_offset(interval: int) -> int:
    """Where bars of `interval` seconds start: on this offset plus a multiple of the interval
    since the unix epoch (0; a week's 4 days, on Mondays: 1970-01-01 was a Thursday)."""
    return 4 * 86400 if interval == 7 * 86400 else 0


def shipped_assets() -> list[tuple[str, str]]:
    """(symbol, name) of every asset shipped with orderproc, largest first: what the shell's TAB
    offers (read from the package's asset list, without opening a ledger)."""
    from orderproc.engine.prices import load_assets

    return [(asset.symbol, asset.name) for asset in load_assets()]
