"""The market's models are cached in the user's cache dir (a start reads them instead of
building them): the cached market prices every asset exactly as a freshly built one, and a
missing, corrupt or unwritable cache only costs the time to build them again."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderproc.engine import prices

INSTANTS = (prices.WORLD_EPOCH + 1.5, 1_780_000_000.0, 1_800_123_456.7)


def quotes(seed: int = prices.WORLD_SEED) -> list[tuple[str, object, object]]:
    market = prices.Market(seed, prices.WORLD_EPOCH, prices.load_assets())
    return [(a.symbol, market.price(a.symbol, t), market.change_24h(a.symbol, t))
            for a in prices.load_assets() for t in INSTANTS]


def cache_files(root: Path) -> list[Path]:
    return sorted((root / "orderproc").glob("market-*.bin"))


def test_a_cached_market_prices_every_asset_as_a_fresh_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    built = quotes()  # no cache yet: built, then written
    [cache] = cache_files(tmp_path)
    assert quotes() == built  # read from the cache
    assert cache_files(tmp_path) == [cache]
    assert len(quotes(seed=7)) == len(built)  # another seed: a cache of its own
    assert len(cache_files(tmp_path)) == 2


def test_a_corrupt_cache_is_built_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    built = quotes()
    [cache] = cache_files(tmp_path)
    for junk in (b"", b"not marshal", cache.read_bytes()[: len(cache.read_bytes()) // 2]):
        cache.write_bytes(junk)
        assert quotes() == built
        assert cache.read_bytes() not in (b"", b"not marshal")


def test_an_unwritable_cache_dir_still_prices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache dir would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    fresh = quotes()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert quotes() == fresh
