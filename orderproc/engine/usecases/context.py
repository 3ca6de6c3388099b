"""What every use case shares: the ledger's store, its market, its clock, its tokens.

A `Context` is built once per LocalEngine (`Context.open`, which creates or checks the ledger
in one transaction) and handed to each use-case function; it holds no use case itself.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from orderproc.engine import errors
from orderproc.engine.domain import lots
from orderproc.engine.domain.matching import Book
from orderproc.engine.domain.money import USD, USD_PRECISION
from orderproc.engine.prices import AssetInfo, Market, load_assets, market_origin
from orderproc.engine.security import PasswordHasher, TokenSigner
from orderproc.engine.store import ledger
from orderproc.engine.store.rows import AssetRow
from orderproc.engine.store.backend import Backend, open_backend
from orderproc.engine.store.sqlite import Readers, Writer
from orderproc.engine.usecases.checks import shown
from orderproc.engine.usecases.mapping import asset_info, asset_row

T = TypeVar("T")


def iso(ts: float) -> str:
    """How times are stored: UTC ISO 8601 with microseconds, so text order is time order."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds")


@dataclass(eq=False)
class Context:
    """One ledger, open: its store (the file, the writer, the readers), its assets and market,
    the clock, the token signer and the password hasher, and the price loop's state."""

    path: Path | str  # the ledger file, or the PostgreSQL URL
    clock: Callable[[], float]
    db: Backend
    writer: Writer
    readers: Readers
    meta: dict[str, str]
    assets: dict[str, AssetInfo]
    enabled: set[str]
    market: Market
    tokens: TokenSigner
    hash_profile: str
    hash_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=2, thread_name_prefix="orderproc-hash"))
    # the price loop's state (usecases/matcher.py)
    book: Book = field(default_factory=Book)
    match_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_match: int = -1

    @classmethod
    def open(cls, path: Path | str, *, clock: Callable[[], float], hash_profile: str, synchronous: str, token_ttl: float,
             market_seed: int | None, market_speed: float) -> Context:
        db = open_backend(path, synchronous=synchronous)
        db.create()
        meta, rows, secret = _open_ledger(db, clock, market_seed, market_speed)
        assets = {r.symbol: asset_info(r) for r in rows}
        market = Market(int(meta["market_seed"]), float(meta["market_epoch"]), list(assets.values()),
                        float(meta["market_speed"]))
        return cls(path=path, clock=clock, db=db, writer=Writer(db), readers=Readers(db), meta=meta, assets=assets,
                   enabled={r.symbol for r in rows if r.enabled}, market=market,
                   tokens=TokenSigner(secret, meta["ledger_id"], token_ttl), hash_profile=hash_profile)

    def close(self) -> None:
        self.writer.close()
        self.readers.close()
        self.hash_pool.shutdown(wait=True)

    def now(self) -> str:
        return iso(self.clock())

    @cached_property
    def hasher(self) -> PasswordHasher:
        """Built on first use: argon2's import and set-up are not needed to open a ledger."""
        return PasswordHasher(self.hash_profile)

    async def hash(self, fn: Callable[..., T], *args: Any) -> T:
        """Hash or verify a password on the hash pool: never on the loop, never in a transaction."""
        return await asyncio.get_running_loop().run_in_executor(self.hash_pool, fn, *args)

    @staticmethod
    async def priced(compute: Callable[[], T]) -> T:
        """Price many assets off the event loop (the first pricing of an asset builds its path)."""
        return await asyncio.get_running_loop().run_in_executor(None, compute)

    def asset(self, symbol: object) -> AssetInfo:
        """A tradable asset by its symbol (any case, spaces around it ignored)."""
        if not isinstance(symbol, str) or not 1 <= len(symbol) <= 16 or not symbol.isascii():
            raise errors.UnknownAsset("unknown asset", {"symbol": shown(symbol)})
        info = self.assets.get(symbol.strip().upper())
        if info is None or info.symbol not in self.enabled:
            raise errors.UnknownAsset(f"unknown asset {symbol!r}", {"symbol": symbol})
        return info

    def precision(self, asset: str, unknown: int = 8) -> int:
        """Decimals of an asset's minor units (USD: 2; an asset no longer listed: `unknown`)."""
        if asset == USD:
            return USD_PRECISION
        info = self.assets.get(asset)
        return info.precision if info else unknown


def _open_ledger(db: Backend, clock: Callable[[], float], seed: int | None,
                 speed: float) -> tuple[dict[str, str], list[AssetRow], bytes]:
    """Create or check (and migrate) the ledger in one transaction; its meta and asset rows,
    and the key that signs its tokens."""
    conn = db.adopt()
    try:
        try:
            tables = db.table_names(conn)
            if "meta" not in tables:
                if tables:
                    raise errors.SchemaMismatch(f"{db.location} is not an orderproc ledger")
                now = clock()
                market_seed, market_epoch = market_origin(seed, speed, now)
                meta = {
                    "ledger_id": uuid.uuid4().hex,
                    "created_at": iso(now),
                    "market_seed": str(market_seed),
                    "market_epoch": repr(market_epoch),
                    "market_speed": repr(float(speed)),
                    "cost_method": lots.FIFO,
                }
                ledger.create_schema(conn, meta, (asset_row(a) for a in load_assets()), db.dialect)
            meta = ledger.read_meta(conn)
            if int(meta["schema_version"]) < ledger.SCHEMA_VERSION:
                ledger.migrate(conn, int(meta["schema_version"]), db.dialect)
                meta = ledger.read_meta(conn)
            result = meta, ledger.asset_rows(conn), db.token_secret(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return result
