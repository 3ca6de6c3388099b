"""The shipped asset list and the replayed market that prices it.

Every asset follows a real daily path (its own history, scaled to start at its reference
price from a seeded random day), a seeded random walk at its volatility when it has no
history, or a narrow band around its peg when it is a stablecoin. Between daily closes the
price moves along a deterministic Brownian-bridge-like curve, so it ticks once per second of
wall time. Everything is a pure function of (seed, epoch, speed, symbol, whole second): every
process that builds the same Market sees the same price at the same moment, bit for bit.

By default a ledger replays the world market: one fixed seed and one fixed epoch (WORLD_SEED,
WORLD_EPOCH), the same for every ledger, so BTC has the same price at the same moment on every
ledger and in every process. A ledger's owner may give a new ledger a market of its own
(`ORDERPROC_MARKET_SEED` or `ORDERPROC_MARKET_SPEED`): it starts at the reference prices when
the ledger is created. Either way the ledger keeps its seed, epoch and speed in its meta table.

Floats are used internally for speed; everything leaving the module is a Decimal rounded to
PRICE_DIGITS significant digits.

Building the models (parsing the history, the random walks) took ~60 ms of every start, so a
market's models are kept in the user's cache dir (`market-*.bin`, one per seed and data files,
written once, read in a few ms); a cache that is missing, stale or unreadable is built again.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import marshal
import math
import os
import random
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Context, Decimal
from functools import lru_cache
from pathlib import Path

import platformdirs

from orderproc.engine.domain.money import round_price

DAY = 86400.0
# Assets without history walk a generated path of this many days, looped.
# One year, looped: generating it is most of what the first pricing of every asset costs
# (a terminal's first screen of movers prices all of them).
RANDOM_WALK_DAYS = 366
# The walk is pulled back towards its start with a one-year half-life: the daily moves keep
# the asset's volatility, but a pure walk at 100-160 %/yr would reach x1000 or /1000 within a
# few simulated years, which no screen (or player) copes with.
WALK_PULL = math.log(2) / 365
# Stablecoins wander at most this far (in log terms, ~3 basis points) from their peg.
STABLE_BAND = 0.0003
# The world market's origin: 00:00 UTC on the date of the reference prices (data/assets.csv),
# when every asset stood at its reference price.
WORLD_SEED = 20251103
WORLD_EPOCH = 1_762_128_000.0
MODELS_FORMAT = 1  # bump when what `_build_model` computes changes: older caches are ignored
HISTORY_FILE = "history.csv.gz"
ASSETS_FILE = "assets.csv"

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_PERCENT = Decimal("0.01")
_HUNDRED = Decimal(100)
_CTX = Context(prec=28)


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """One tradable asset as shipped in data/assets.csv."""

    symbol: str
    name: str
    category: str
    rank: int | None
    peg: str | None
    reference_price: Decimal
    reference_date: str
    source: str
    volatility: Decimal
    precision: int
    history: str | None


def data_dir() -> Path:
    """Where the shipped data lives: inside the installed package, else the source checkout."""
    here = Path(__file__).resolve()
    packaged = here.parents[1] / "data"
    if (packaged / ASSETS_FILE).is_file():
        return packaged
    return here.parents[2] / "data"


@lru_cache(maxsize=1)
def _assets() -> tuple[AssetInfo, ...]:
    with (data_dir() / ASSETS_FILE).open(newline="", encoding="utf-8") as fh:
        return tuple(
            AssetInfo(
                symbol=row["symbol"],
                name=row["name"],
                category=row["category"],
                rank=int(row["rank"]) if row["rank"] else None,
                peg=row["peg"] or None,
                reference_price=Decimal(row["reference_price"]),
                reference_date=row["reference_date"],
                source=row["source"],
                volatility=Decimal(row["volatility"]),
                precision=int(row["precision"]),
                history=row["history"] or None,
            )
            for row in csv.DictReader(fh)
        )


def load_assets() -> list[AssetInfo]:
    """The shipped assets in market-cap order (parsed once; the history file is not touched)."""
    return list(_assets())


_history_lock = threading.Lock()
_history: dict[str, list[float]] | None = None


def _load_history() -> dict[str, list[float]]:
    """Every daily close series of history.csv.gz, parsed once per process on first need."""
    global _history
    if _history is None:
        with _history_lock:
            if _history is None:
                series: dict[str, list[float]] = {}
                with gzip.open(data_dir() / HISTORY_FILE, "rt", encoding="ascii", newline="") as fh:
                    lines = fh.read().split("\n")
                if lines[0] != "symbol,date,close":
                    raise ValueError(f"unexpected header in {HISTORY_FILE}: {lines[0]!r}")
                current = ""
                closes: list[float] = []
                for line in lines[1:]:
                    if not line:
                        continue
                    symbol, _, close = line.split(",")
                    if symbol != current:
                        current = symbol
                        closes = series.setdefault(symbol, [])
                    closes.append(float(close))
                _history = series
    return _history


def _unit_hash(key: int, n: int) -> float:
    """A deterministic value in [-1, 1) for lattice point n (splitmix64 finaliser)."""
    z = (key + n * _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return ((z ^ (z >> 31)) >> 11) * 2.0**-52 - 1.0


def _octaves() -> tuple[tuple[float, float, int], ...]:
    """(period in market seconds, weight, key offset): Brownian scaling, weights sum to 1."""
    periods = (1.0, 8.0, 64.0, 512.0, 4096.0, 32768.0)
    raw = [math.sqrt(p) for p in periods]
    total = sum(raw)
    return tuple(
        (p, w / total, (i + 1) * 0x632BE59BD9B4E019 & _MASK) for i, (p, w) in enumerate(zip(periods, raw))
    )


_OCTAVES = _octaves()
# The octave sum has a standard deviation of about 0.33; this brings it to about 1, so the
# intraday excursion matches a Brownian bridge of the day's volatility.
_BRIDGE_SCALE = 3.0


def _noise(key: int, m: float) -> float:
    """Smooth value noise in [-1, 1] at market second m, with detail down to one second."""
    total = 0.0
    for period, weight, offset in _OCTAVES:
        x = m / period
        n = math.floor(x)
        u = x - n
        k = key ^ offset
        a = _unit_hash(k, n)
        if u:
            b = _unit_hash(k, n + 1)
            a += (b - a) * (u * u * (3.0 - 2.0 * u))
        total += weight * a
    return total


def _to_price(value: float) -> Decimal:
    """A positive float price as an exact PRICE_DIGITS Decimal."""
    if not value > 0.0:
        value = 5e-324
    return round_price(Decimal(f"{value:.11e}"))


class _Path:
    """A looped daily log-price path anchored at a start day, with intraday bridge noise.

    The first pass replays the path as it is; beyond either end it continues with the same
    daily log returns minus their mean, so the loops are continuous and do not compound the
    source period's trend (a looped 2021 bull year would otherwise multiply prices x100 a year).
    """

    __slots__ = ("_ref", "_d0", "_span", "_logs", "_base", "_drift", "_sigma", "_key")

    def __init__(self, ref: float, logs: Sequence[float], d0: int, sigma: float, key: int) -> None:
        self._ref = ref
        self._d0 = d0
        self._span = len(logs) - 1
        self._logs = logs
        self._base = logs[d0]
        self._drift = (logs[-1] - logs[0]) / self._span
        self._sigma = sigma
        self._key = key

    def state(self) -> tuple[object, ...]:
        return ("path", self._ref, self._logs, self._d0, self._sigma, self._key)

    def _log_at_day(self, day: int) -> float:
        """Computed on demand: building three tables per asset cost more than all the lookups."""
        q, r = divmod(self._d0 + day, self._span)
        logs, base = self._logs, self._base
        if q == 0:
            return logs[r] - base
        if q > 0:
            return logs[-1] - base + logs[r] - logs[0] - r * self._drift
        return logs[0] - base + logs[r] - logs[-1] - (r - self._span) * self._drift

    def at(self, m: float) -> Decimal:
        return _to_price(self.value(m))

    def value(self, m: float) -> float:
        """The price at market second m as a float (`at` rounds it to a Decimal)."""
        x = m / DAY
        day = math.floor(x)
        f = x - day
        g = self._log_at_day(day)
        if f:
            g += (self._log_at_day(day + 1) - g) * f
            g += _noise(self._key, m) * _BRIDGE_SCALE * self._sigma * math.sqrt(f * (1.0 - f))
        return self._ref * math.exp(g)


class _Pegged:
    """A stablecoin: its peg (1 USD, or the reference rate for other currencies) plus tiny noise."""

    __slots__ = ("_center", "_key")

    def __init__(self, center: float, key: int) -> None:
        self._center = center
        self._key = key

    def state(self) -> tuple[object, ...]:
        return ("pegged", self._center, self._key)

    def at(self, m: float) -> Decimal:
        return _to_price(self.value(m))

    def value(self, m: float) -> float:
        return self._center * math.exp(STABLE_BAND * _noise(self._key, m))


def _build_model(seed: int, asset: AssetInfo) -> _Path | _Pegged:
    """One asset's model for `seed` (a pure function of them and the shipped data)."""
    rng = random.Random(f"{seed}:{asset.symbol}")
    key = rng.getrandbits(64)
    model: _Path | _Pegged
    if asset.peg:
        center = 1.0 if asset.peg == "USD" else float(asset.reference_price)
        model = _Pegged(center, key)
    else:
        closes = _load_history().get(asset.history) if asset.history else None
        if closes is not None and len(closes) >= 3:
            logs = [math.log(c) for c in closes]
            returns = [b - a for a, b in zip(logs, logs[1:])]
            mean = sum(returns) / len(returns)
            sigma = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
        else:
            sigma = float(asset.volatility) / math.sqrt(365.0)
            logs = [0.0]
            for _ in range(RANDOM_WALK_DAYS):
                logs.append(logs[-1] * (1.0 - WALK_PULL) + rng.gauss(0.0, sigma))
        d0 = rng.randrange(len(logs) - 1)
        model = _Path(float(asset.reference_price), logs, d0, sigma, key)
    return model


def _cache_file(seed: int, assets: Sequence[AssetInfo]) -> Path:
    """The cache of one seed's models, named by everything they are computed from."""
    history = (data_dir() / HISTORY_FILE).stat()
    what = (MODELS_FORMAT, seed, RANDOM_WALK_DAYS, WALK_PULL, history.st_size, history.st_mtime_ns,
            [(a.symbol, a.peg, str(a.reference_price), str(a.volatility), a.history) for a in assets])
    digest = hashlib.sha256(repr(what).encode()).hexdigest()[:32]
    return platformdirs.user_cache_path("orderproc") / f"market-{digest}.bin"


def _models(seed: int, assets: Sequence[AssetInfo]) -> dict[str, _Path | _Pegged]:
    """Every asset's model for `seed`: read from the cache, else built and cached (atomically:
    processes starting at once each write a whole file)."""
    path = _cache_file(seed, assets)
    try:
        states = marshal.loads(path.read_bytes())
        return {symbol: _Path(*state[1:]) if state[0] == "path" else _Pegged(*state[1:])
                for symbol, state in states.items()}
    except (OSError, EOFError, ValueError, TypeError, IndexError, AttributeError):
        pass  # no cache yet, or not one this code wrote: build it
    models = {a.symbol: _build_model(seed, a) for a in assets}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".market-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(marshal.dumps({symbol: model.state() for symbol, model in models.items()}))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only or full cache dir: the next start builds them again
    return models


def market_origin(seed: int | None, speed: float, now: float) -> tuple[int, float]:
    """The seed and epoch of a new ledger's market: the world market's, unless the owner gave
    the ledger a seed or a speed of its own (a market of its own, from the reference prices now)."""
    if seed is None and speed == 1.0:
        return WORLD_SEED, WORLD_EPOCH
    return (seed if seed is not None else random.SystemRandom().randrange(2**31)), float(int(now))


class Market:
    """A replayed market (the world's, or one ledger's own): a pure function of seed, epoch,
    speed and time.

    `epoch` is the unix time at which every asset stands at its reference price; `speed`
    is market seconds per wall second. Prices change once per whole wall second after epoch.
    """

    def __init__(self, seed: int, epoch: float, assets: Sequence[AssetInfo], speed: float = 1.0) -> None:
        if not speed > 0 or not math.isfinite(speed):
            raise ValueError("speed must be a positive number")
        if not math.isfinite(epoch):
            raise ValueError("epoch must be finite")
        self.seed = seed
        self.epoch = float(epoch)
        self.speed = float(speed)
        self._assets = {a.symbol: a for a in assets}
        self._models: dict[str, _Path | _Pegged] = {}
        # prices recently asked for, by (symbol, whole second): orders, quotes, valuations and
        # 24 h changes in the same second (the usual case) do not recompute them
        self._recent: dict[tuple[str, int], Decimal] = {}

    def _model(self, symbol: str) -> _Path | _Pegged:
        if not self._models:  # the first price asked for: every model, from the cache if it has them
            self._models = _models(self.seed, tuple(self._assets.values()))
        return self._models[symbol]  # KeyError for an unknown symbol

    def price(self, symbol: str, t: float) -> Decimal:
        """The price of `symbol` at unix time `t` (KeyError for an unknown symbol)."""
        key = (symbol, math.floor(t - self.epoch))
        price = self._recent.get(key)
        if price is None:
            model = self._models.get(symbol) or self._model(symbol)
            price = model.at(key[1] * self.speed)
            if len(self._recent) >= 8192:
                self._recent.clear()
            self._recent[key] = price
        return price

    def change_24h(self, symbol: str, t: float) -> Decimal:
        """Percent change against one market day earlier, rounded to 2 decimals."""
        now = self.price(symbol, t)
        before = self.price(symbol, t - DAY / self.speed)
        change = _CTX.divide(_CTX.multiply(_CTX.subtract(now, before), _HUNDRED), before)
        change = change.quantize(_PERCENT, context=_CTX)
        return change.copy_abs() if change.is_zero() else change  # never "-0.00"

    def history(
        self, symbol: str, start: float, end: float, points: int
    ) -> list[tuple[float, Decimal, Decimal, Decimal, Decimal]]:
        """`points` equal OHLC buckets over [start, end], 8 samples each from the price function.

        A bucket closes at the price its successor opens with, so candles join up.
        """
        if points < 1:
            raise ValueError("points must be at least 1")
        if end < start:
            raise ValueError("end must not be before start")
        width = (end - start) / points
        step = width / 7
        bars = []
        close = self.price(symbol, start)
        for i in range(points):
            b0 = start + i * width
            samples = [close] + [self.price(symbol, b0 + j * step) for j in range(1, 7)]
            close = self.price(symbol, start + (i + 1) * width)
            samples.append(close)
            bars.append((b0, samples[0], max(samples), min(samples), close))
        return bars

    def candles(
        self, symbol: str, end: float, interval: int, count: int, step: int, offset: int = 0,
        now: float | None = None,
    ) -> list[tuple[float, Decimal, Decimal, Decimal, Decimal]]:
        """The last `count` OHLC candles of `interval` wall seconds that start at or before `end`,
        on `offset` plus a multiple of the interval since the unix epoch, each from the price at
        every `step`-th whole second of the market in it. Prices after `now` (default `end`, and
        never before it) are not known yet: the candle forming then closes at the price at `now`.

        Prices change once per whole second after the epoch, so with `step` 1 a candle holds
        every price its interval had; a candle opens at its first price (a candle's open is not
        its predecessor's close: prices move inside the first second too).
        """
        if interval < 1 or count < 1 or step < 1:
            raise ValueError("interval, count and step must be at least 1")
        model = self._models.get(symbol) or self._model(symbol)
        epoch, speed = self.epoch, self.speed
        second = math.floor((end if now is None else now) - epoch)  # the market's last whole second known
        last_start = math.floor((end - offset) / interval) * interval + offset
        bars = []
        for start in range(last_start - (count - 1) * interval, last_start + 1, interval):
            first = math.floor(start - epoch)  # the price at `start` began then
            last = min(math.ceil(start + interval - epoch) - 1, second)
            ticks = list(range(first, last, step))
            ticks.append(last)
            values = [model.value(s * speed) for s in ticks]
            bars.append((float(start), _to_price(values[0]), _to_price(max(values)), _to_price(min(values)),
                         _to_price(values[-1])))
        return bars
