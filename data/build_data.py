"""Derive orderproc's shipped market data (assets.csv, history.csv.gz) from the shared raw data.

Run from the repository root:

    python data/build_data.py [--shared ../shared/data]

Inputs are described in the shared data README. Every number is handled as a decimal string
(Decimal, never float), so the output digits are the source's digits, only trimmed. The output
is deterministic (sorted rows, gzip without a timestamp): rebuilding changes nothing unless the
inputs or this script changed.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import io
import math
import sys
from collections import defaultdict
from collections.abc import Iterable
from decimal import Context, Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orderproc.engine.domain.money import PRICE_DIGITS, quantity_precision  # noqa: E402

SNAPSHOT = "assets_snapshot_2025-11-03.csv"
REFERENCE_DATE = "2025-11-03"
REFERENCE_SOURCE = "CoinMarketCap listings 2025-11-03"
HISTORY_FROM = "2020-01-01"
HISTORY_DIGITS = 10
# A series shorter than this (in days) is not worth replaying: looping it would show a
# visible short cycle, so such assets take a random walk instead.
MIN_HISTORY_DAYS = 180
# A single daily move beyond x6 or /6 is treated as a data glitch and splits the series
# (the largest real moves in these files are DOGE's ~x4.9 of January 2021 and March 2020's crash).
MAX_DAILY_LOG_MOVE = math.log(6)

# Symbols are the key everywhere in orderproc (ledger, CLI arguments, URLs), so they must be
# unique, ASCII and uppercase letters/digits. Mixed-case tickers are upper-cased (USDe -> USDE,
# XAUt -> XAUT, BabyDoge -> BABYDOGE). Collisions and renames:
SYMBOL_BY_RANK = {
    283: "FXS",  # "Frax (prev. FXS)", the DeFi token; the stablecoin at rank 217 keeps FRAX
    202: "FUSD",  # Falcon USD "USDf" would collide with Aster "USDF" (rank 226) once upper-cased
}
# Assets whose ticker is not ASCII (rank 221 "币安人生") are dropped: they cannot be typed as a
# command-line argument or used as a stable key.

# History series under a previous ticker (shared README, "Symbol changes"). A price ratio
# (MKR -> SKY is 1:24000) does not matter: the replay only uses relative moves.
RENAMED = {"MATIC": "POL", "FTM": "S", "EOS": "A", "MKR": "SKY", "LUNA": "LUNC"}

# Daily sources in tie-break priority (the longest clean series wins; equal lengths go to the
# earlier source). Each: file, key column (symbol or CoinGecko id), close column.
SOURCES = (
    ("binance", "history_daily_binance_usdt.csv", "symbol", "close"),
    ("coinbase", "history_daily_coinbase_usd.csv", "symbol", "close"),
    ("coingecko-majors", "history_daily_coingecko_majors.csv", "symbol", "price_usd"),
    ("coingecko-2021", "history_daily_coingecko_2021.csv", "coingecko_id", "price_usd"),
)

ASSET_COLUMNS = (
    "symbol",
    "name",
    "category",
    "rank",
    "peg",
    "reference_price",
    "reference_date",
    "source",
    "volatility",
    "precision",
    "history",
)

Series = list[tuple[str, Decimal]]


def default_shared() -> Path:
    """The shared data folder: the team's fixed location, else next to the repository."""
    for candidate in (Path("/work/shared/data"), REPO.parent / "shared" / "data"):
        if (candidate / SNAPSHOT).is_file():
            return candidate
    return REPO.parent / "shared" / "data"


def plain(value: Decimal, digits: int) -> str:
    """`value` rounded to `digits` significant digits, as a plain decimal string (no exponent)."""
    text = format(Context(prec=digits).plus(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def is_clean_symbol(symbol: str) -> bool:
    return symbol.isascii() and symbol.isalnum() and symbol == symbol.upper()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def snapshot_assets(shared: Path) -> list[dict[str, str]]:
    """The snapshot rows with orderproc symbols: renamed, upper-cased, non-ASCII dropped."""
    rows = []
    for row in read_csv(shared / SNAPSHOT):
        if not row["symbol"].isascii():
            continue
        row["symbol"] = SYMBOL_BY_RANK.get(int(row["rank"]), row["symbol"].upper())
        if not is_clean_symbol(row["symbol"]):
            raise SystemExit(f"unusable symbol {row['symbol']!r} at rank {row['rank']}")
        rows.append(row)
    seen: set[str] = set()
    for row in rows:
        if row["symbol"] in seen or row["symbol"] == "USD":
            raise SystemExit(f"duplicate symbol {row['symbol']}")
        seen.add(row["symbol"])
    return rows


def longest_clean_run(points: Iterable[tuple[str, str]]) -> Series:
    """The longest run of consecutive days from HISTORY_FROM with positive, glitch-free closes."""
    best: Series = []
    run: Series = []
    previous: dt.date | None = None
    for day, text in sorted(points):
        if day < HISTORY_FROM or not text:
            run, previous = [], None
            continue
        close = Decimal(text)
        date = dt.date.fromisoformat(day)
        if not close.is_finite() or close <= 0:
            run, previous = [], None
            continue
        if previous is None or (date - previous).days != 1:
            run = []
        elif abs(math.log(close / run[-1][1])) > MAX_DAILY_LOG_MOVE:
            run = []
        run.append((day, close))
        previous = date
        if len(run) > len(best):
            best = list(run)
    return best


def history_series(shared: Path, assets: list[dict[str, str]]) -> dict[str, tuple[str, Series]]:
    """For each non-pegged asset, the best daily close series and the source it came from."""
    symbols = {a["symbol"] for a in assets if not a["peg"]}
    by_id = {a["coingecko_id"]: a["symbol"] for a in assets if a["coingecko_id"]}
    best: dict[str, tuple[str, Series]] = {}
    for name, filename, key, close_col in SOURCES:
        raw: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for row in read_csv(shared / filename):
            ident = row[key]
            symbol = by_id.get(ident, "") if key == "coingecko_id" else RENAMED.get(ident, ident)
            if symbol in symbols:
                raw[symbol].append((row["date"], row[close_col]))
        for symbol, points in raw.items():
            run = longest_clean_run(points)
            if len(run) >= MIN_HISTORY_DAYS and len(run) > len(best.get(symbol, ("", []))[1]):
                best[symbol] = (name, run)
    return best


def asset_rows(assets: list[dict[str, str]], history: dict[str, tuple[str, Series]]) -> list[dict[str, str]]:
    out = []
    for a in assets:
        price = Decimal(a["price_usd"])
        if not price.is_finite() or price <= 0:
            raise SystemExit(f"bad price for {a['symbol']}: {a['price_usd']!r}")
        reference = plain(price, PRICE_DIGITS)
        out.append(
            {
                "symbol": a["symbol"],
                "name": a["name"].strip(),
                "category": a["category"],
                "rank": a["rank"],
                "peg": a["peg"],
                "reference_price": reference,
                "reference_date": REFERENCE_DATE,
                "source": REFERENCE_SOURCE,
                "volatility": a["volatility_annualized"],
                "precision": str(quantity_precision(Decimal(reference))),
                "history": a["symbol"] if a["symbol"] in history else "",
            }
        )
    return out


def write_assets(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=ASSET_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_history(path: Path, history: dict[str, tuple[str, Series]]) -> None:
    """symbol,date,close sorted by symbol then date; gzip with mtime 0 for reproducible bytes."""
    text = io.StringIO()
    text.write("symbol,date,close\n")
    for symbol in sorted(history):
        for day, close in history[symbol][1]:
            text.write(f"{symbol},{day},{plain(close, HISTORY_DIGITS)}\n")
    with path.open("wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            gz.write(text.getvalue().encode("ascii"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=None, help="folder with the shared raw data")
    parser.add_argument("--out", type=Path, default=REPO / "data", help="output folder (default: repo/data)")
    args = parser.parse_args(argv)
    shared: Path = args.shared or default_shared()
    if not (shared / SNAPSHOT).is_file():
        parser.error(f"{shared / SNAPSHOT} not found (use --shared)")

    assets = snapshot_assets(shared)
    history = history_series(shared, assets)
    rows = asset_rows(assets, history)
    args.out.mkdir(parents=True, exist_ok=True)
    write_assets(args.out / "assets.csv", rows)
    write_history(args.out / "history.csv.gz", history)

    sources: dict[str, int] = defaultdict(int)
    for name, _ in history.values():
        sources[name] += 1
    size = (args.out / "history.csv.gz").stat().st_size
    print(f"assets.csv: {len(rows)} assets, {len(history)} with daily history")
    print("history sources: " + ", ".join(f"{k} {v}" for k, v in sorted(sources.items())))
    print(f"history.csv.gz: {sum(len(s) for _, s in history.values())} rows, {size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
