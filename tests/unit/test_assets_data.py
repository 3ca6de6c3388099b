"""The shipped asset list and daily history are complete, consistent and sane."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from orderproc.engine.domain.money import PRICE_DIGITS, quantity_precision, round_price
from orderproc.engine.prices import HISTORY_FILE, AssetInfo, data_dir, load_assets

CATEGORIES = {
    "layer-1",
    "layer-2",
    "payments",
    "stablecoin",
    "meme",
    "defi",
    "exchange-token",
    "infrastructure",
    "ai",
    "gaming-metaverse",
    "privacy",
    "rwa",
    "other",
}
REPO = Path(__file__).resolve().parents[2]


def _by_symbol() -> dict[str, AssetInfo]:
    return {a.symbol: a for a in load_assets()}


def _history_rows() -> dict[str, list[tuple[str, Decimal]]]:
    rows: dict[str, list[tuple[str, Decimal]]] = {}
    with gzip.open(data_dir() / HISTORY_FILE, "rt", encoding="ascii", newline="") as fh:
        for row in csv.DictReader(fh):
            rows.setdefault(row["symbol"], []).append((row["date"], Decimal(row["close"])))
    return rows


def test_at_least_98_assets_are_shipped_and_usd_cash_is_not_one_of_them() -> None:
    symbols = [a.symbol for a in load_assets()]
    assert len(symbols) >= 98
    assert "USD" not in symbols


def test_symbols_are_unique_ascii_uppercase_letters_and_digits() -> None:
    symbols = [a.symbol for a in load_assets()]
    assert len(set(symbols)) == len(symbols)
    for symbol in symbols:
        assert symbol.isascii() and symbol.isalnum() and symbol == symbol.upper(), symbol


def test_the_duplicate_frax_ticker_is_split_into_the_stablecoin_and_fxs() -> None:
    assets = _by_symbol()
    assert assets["FRAX"].peg == "USD"
    assert assets["FXS"].category == "defi"
    assert assets["FXS"].peg is None


def test_every_reference_price_is_a_positive_finite_decimal_with_at_most_12_digits() -> None:
    for a in load_assets():
        assert isinstance(a.reference_price, Decimal)
        assert a.reference_price.is_finite() and a.reference_price > 0, a.symbol
        assert round_price(a.reference_price) == a.reference_price, a.symbol
        assert len(a.reference_price.as_tuple().digits) <= PRICE_DIGITS, a.symbol


def test_every_reference_price_is_dated_and_sourced() -> None:
    for a in load_assets():
        dt.date.fromisoformat(a.reference_date)
        assert "CoinMarketCap" in a.source


def test_precision_is_the_money_rule_and_a_quantity_step_is_worth_between_a_nanodollar_and_a_cent() -> None:
    for a in load_assets():
        assert 0 <= a.precision <= 8, a.symbol
        assert a.precision == quantity_precision(a.reference_price), a.symbol
        step_value = a.reference_price.scaleb(-a.precision)
        # BABYDOGE trades at ~9.4e-10 USD: even one whole token is worth just under a nanodollar.
        assert Decimal("5e-10") <= step_value <= Decimal("0.01"), (a.symbol, step_value)


def test_every_category_is_in_the_documented_set() -> None:
    assert {a.category for a in load_assets()} <= CATEGORIES


def test_stablecoins_have_a_usd_or_eur_peg_and_other_assets_have_none() -> None:
    for a in load_assets():
        if a.category == "stablecoin":
            assert a.peg in ("USD", "EUR"), a.symbol
        else:
            assert a.peg is None, a.symbol


def test_volatility_and_rank_are_present_and_positive() -> None:
    for a in load_assets():
        assert a.volatility > 0, a.symbol
        assert a.rank is not None and a.rank > 0, a.symbol


def test_every_asset_with_history_has_consecutive_positive_daily_closes() -> None:
    rows = _history_rows()
    with_history = [a for a in load_assets() if a.history]
    assert len(with_history) >= 50
    for a in with_history:
        series = rows.get(a.history or "")
        assert series and len(series) >= 180, a.symbol
        days = [dt.date.fromisoformat(d) for d, _ in series]
        assert all((b - a_).days == 1 for a_, b in zip(days, days[1:])), a.symbol
        assert all(close > 0 for _, close in series), a.symbol


def test_the_majors_replay_their_own_history_under_their_current_ticker() -> None:
    assets = _by_symbol()
    for symbol in ("BTC", "ETH", "SOL", "XRP", "DOGE", "POL"):
        assert assets[symbol].history == symbol


def test_btc_eth_and_sol_carry_their_real_snapshot_prices() -> None:
    assets = _by_symbol()
    assert assets["BTC"].reference_price == Decimal("109669.564857")
    assert assets["ETH"].reference_price == Decimal("3837.22745545")
    assert assets["SOL"].reference_price == Decimal("185.684076281")
    assert assets["BTC"].reference_date == "2025-11-03"


def test_the_history_file_stays_small() -> None:
    assert (data_dir() / HISTORY_FILE).stat().st_size <= 1_500_000


def test_loading_the_assets_does_not_read_the_history_file() -> None:
    code = "import orderproc.engine.prices as p; p.load_assets(); print(p._history is None)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
