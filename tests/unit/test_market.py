"""The replayed market is deterministic, anchored at reference prices, and behaves like a market."""

from __future__ import annotations

import math
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from orderproc.engine.domain.money import round_price
from orderproc.engine.prices import DAY, AssetInfo, Market, load_assets

REPO = Path(__file__).resolve().parents[2]
EPOCH = 1_762_135_295.5
YEAR = 365 * DAY
SAMPLE = ("BTC", "ETH", "SOL", "DOGE", "S", "USDT", "EURC", "BABYDOGE", "LUNC", "PAXG")


def _assets() -> dict[str, AssetInfo]:
    return {a.symbol: a for a in load_assets()}


def _market(seed: int = 7, speed: float = 1.0) -> Market:
    return Market(seed, EPOCH, load_assets(), speed=speed)


def test_same_seed_and_time_give_identical_prices_across_two_markets() -> None:
    a, b = _market(), _market()
    for symbol in SAMPLE:
        for t in (EPOCH, EPOCH + 1, EPOCH + 3 * DAY + 12_345.6, EPOCH - 40 * DAY, EPOCH + 9 * YEAR):
            assert a.price(symbol, t) == b.price(symbol, t)
            assert str(a.price(symbol, t)) == str(b.price(symbol, t))


def test_same_seed_and_time_give_identical_prices_in_another_process() -> None:
    times = (EPOCH + 1, EPOCH + 5 * DAY + 777.25, EPOCH + 2 * YEAR + 31)
    code = (
        "from orderproc.engine.prices import Market, load_assets\n"
        f"m = Market(7, {EPOCH!r}, load_assets())\n"
        f"for s in {SAMPLE!r}:\n"
        f"    for t in {times!r}:\n"
        "        print(s, t, m.price(s, t))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    market = _market()
    expected = [f"{s} {t!r} {market.price(s, t)}" for s in SAMPLE for t in times]
    assert out.stdout.splitlines() == expected


def test_different_seeds_give_different_markets() -> None:
    a, b = _market(seed=1), _market(seed=2)
    t = EPOCH + 2 * DAY + 5_000
    differing = [s for s in SAMPLE if a.price(s, t) != b.price(s, t)]
    assert len(differing) == len(SAMPLE)


def test_price_at_epoch_equals_the_reference_price_for_every_unpegged_asset() -> None:
    market = _market()
    for asset in load_assets():
        if asset.peg is None:
            assert market.price(asset.symbol, EPOCH) == asset.reference_price, asset.symbol
            assert market.price(asset.symbol, EPOCH + 0.9) == asset.reference_price, asset.symbol


def test_prices_are_decimals_rounded_to_twelve_significant_digits() -> None:
    market = _market()
    for symbol in SAMPLE:
        p = market.price(symbol, EPOCH + 123_456.7)
        assert isinstance(p, Decimal)
        assert round_price(p) == p
        assert len(p.as_tuple().digits) <= 12


def test_the_price_is_constant_within_a_whole_second() -> None:
    market = _market()
    base = EPOCH + 50_000
    assert market.price("BTC", base) == market.price("BTC", base + 0.5) == market.price("BTC", base + 0.999)


def test_prices_change_from_second_to_second_for_a_volatile_asset() -> None:
    market = _market()
    for symbol in ("BTC", "S"):
        for start in (EPOCH, EPOCH + 40_000):
            prices = [market.price(symbol, start + i) for i in range(61)]
            changes = sum(1 for a, b in zip(prices, prices[1:]) if a != b)
            assert changes == 60, symbol


def test_an_asset_without_history_still_moves_like_its_volatility() -> None:
    market = _market()
    asset = _assets()["S"]
    assert asset.history is None
    closes = [float(market.price("S", EPOCH + d * DAY)) for d in range(366)]
    returns = [math.log(b / a) for a, b in zip(closes, closes[1:])]
    mean = sum(returns) / len(returns)
    annual = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1) * 365)
    assert 0.6 * float(asset.volatility) < annual < 1.5 * float(asset.volatility)


def test_usd_stablecoins_stay_within_one_percent_of_one_over_a_simulated_year() -> None:
    market = _market(speed=60)
    pegged = [a.symbol for a in load_assets() if a.peg == "USD"]
    assert len(pegged) >= 20
    for symbol in pegged:
        for i in range(0, 365 * 24, 7):
            p = market.price(symbol, EPOCH + i * 3600 / 60 + i % 3)
            assert Decimal("0.99") < p < Decimal("1.01"), (symbol, p)


def test_eur_stablecoins_hold_near_their_reference_rate() -> None:
    market = _market()
    eurc = _assets()["EURC"]
    for i in range(0, 400):
        p = market.price("EURC", EPOCH + i * 86_413)
        assert abs(p / eurc.reference_price - 1) < Decimal("0.001")


def test_prices_stay_positive_and_finite_over_ten_years() -> None:
    market = _market(seed=99)
    symbols = [a.symbol for a in load_assets()[:20]]
    for symbol in symbols:
        for week in range(-52, 10 * 52):
            p = market.price(symbol, EPOCH + week * 7 * DAY + week * 3_001)
            assert p.is_finite() and p > 0, (symbol, week)


def test_speed_compresses_market_time() -> None:
    slow, fast = _market(speed=1), _market(speed=60)
    for symbol in ("BTC", "S", "USDT"):
        assert fast.price(symbol, EPOCH + 1_440) == slow.price(symbol, EPOCH + 86_400)


def test_change_24h_is_consistent_with_the_price_one_market_day_earlier() -> None:
    for speed in (1.0, 60.0):
        market = _market(speed=speed)
        for symbol in ("BTC", "DOGE", "S", "USDT"):
            t = EPOCH + 3 * DAY / speed + 4_321
            now, before = market.price(symbol, t), market.price(symbol, t - DAY / speed)
            expected = ((now - before) * 100 / before).quantize(Decimal("0.01"))
            change = market.change_24h(symbol, t)
            assert change == expected
            assert change.as_tuple().exponent == -2


def test_history_returns_the_requested_number_of_consistent_ohlc_buckets() -> None:
    market = _market()
    start, end = EPOCH - DAY, EPOCH + DAY
    bars = market.history("ETH", start, end, 96)
    assert len(bars) == 96
    width = (end - start) / 96
    for i, (t, o, h, low, c) in enumerate(bars):
        assert t == pytest.approx(start + i * width)
        assert low <= min(o, c) and max(o, c) <= h
        assert low > 0
    assert all(a[4] == b[1] for a, b in zip(bars, bars[1:]))
    assert bars[0][1] == market.price("ETH", start)
    assert bars[-1][4] == market.price("ETH", end)


def test_unknown_symbols_raise_key_error() -> None:
    with pytest.raises(KeyError):
        _market().price("NOPE", EPOCH)


@pytest.mark.parametrize("speed", [1.0, 60.0])
@pytest.mark.parametrize("symbol", ["BTC", "USDT", "BABYDOGE"])
def test_one_second_sampled_candles_hold_every_price_of_their_minute(symbol: str, speed: float) -> None:
    market = _market(speed=speed)
    end = EPOCH + 10 * DAY + 1234.75
    bars = market.candles(symbol, end, 60, 5, 1)
    for start, o, h, lo, c in bars:
        # the market's seconds start half way through the wall's (EPOCH ends in .5)
        moments = [t / 2 for t in range(int(start) * 2, int(start) * 2 + 120) if t / 2 <= end]
        prices = [market.price(symbol, t) for t in moments]
        assert (o, h, lo, c) == (prices[0], max(prices), min(prices), prices[-1])
    assert [b[0] for b in bars] == [b[0] for b in bars if b[0] % 60 == 0]
    assert bars[-1][4] == market.price(symbol, end)


def test_coarsely_sampled_candles_still_open_and_close_on_the_path_and_bound_it() -> None:
    market = _market()
    end = EPOCH + 400 * DAY + 5.5
    bars = market.candles("ETH", end, 86400, 30, 3600)
    for start, o, h, lo, c in bars:
        assert o == market.price("ETH", start)
        assert lo <= min(o, c) and max(o, c) <= h
    assert bars[-1][4] == market.price("ETH", end)
    assert all(b[0] % 86400 == 0 for b in bars)
