"""LocalEngine: the Engine protocol over a SQLite ledger file, in-process.

One method per use case. Input is validated here (before any I/O); the use case itself runs
as one job on the writer thread (`store/sqlite.py`), inside a transaction that commits only if
the job returns. Password hashing runs on its own small pool, never on the event loop and
never inside a write transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, TypeVar

from orderproc.engine import errors
from orderproc.engine.domain import ledger, lots
from orderproc.engine.domain.friction import BPS, MAX_BPS, SETTINGS, Execution, Friction, fee_cents
from orderproc.engine.domain.matching import TRIGGER, Book, Event
from orderproc.engine.domain.catalog import ASSET_SORT_FIELDS, MAX_OFFSET, MAX_PAGE
from orderproc.engine.domain.money import (
    PRICE_DIGITS,
    USD,
    cash_to_cents,
    cents_to_cash,
    from_units,
    notional_cents,
    parse_decimal,
    round_price,
    to_units,
    units_for_cash,
)
from orderproc.engine.prices import AssetInfo, Market, load_assets
from orderproc.engine.schemas import (
    AccountInfo,
    Asset,
    AuditEvent,
    Balance,
    LeaderboardEntry,
    LedgerSettings,
    Lot,
    Order,
    OrderRequest,
    OrderPreview,
    OrderStatus,
    OrderType,
    Page,
    PnlLine,
    PnlReport,
    Portfolio,
    Receipt,
    Position,
    PricePoint,
    ProfileUpdate,
    Quote,
    Role,
    Session,
    SettingsUpdate,
    Side,
    TimeInForce,
    Transaction,
    TxKind,
    User,
    VerifyReport,
)
from orderproc.engine.security import (
    PASSWORD_MAX,
    Claims,
    PasswordHasher,
    TokenSigner,
    check_password,
    check_username,
    is_text,
    is_username,
    load_or_create_secret,
)
from orderproc.engine.store import repo
from orderproc.engine.store.sqlite import Database, Readers, Writer

T = TypeVar("T")
_log = logging.getLogger("orderproc.prices")
Conn = Any  # sqlite3.Connection; kept loose so the store's adapter stays the only SQLite import
CENT = Decimal("0.01")
LEADERBOARD_SORTS = ("equity", "return")
KEY_MAX = 128
ACCOUNT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}", re.ASCII)
# The price loop replays at most this many past ticks (when no process ran it for a while,
# older ticks are not matched), and prices at most MATCH_BUDGET (tick, asset) pairs per pass.
MATCH_HORIZON = 3600
MATCH_BUDGET = 200_000


class Operator:
    """The owner of the ledger file acting directly on it (the `admin` commands with `--db`)."""

    def __repr__(self) -> str:
        return "OPERATOR"


OPERATOR = Operator()


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int | None
    username: str
    role: Role
    account_id: int | None


def _iso(ts: float) -> str:
    """How times are stored: UTC ISO 8601 with microseconds, so text order is time order."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _user(row: repo.Row) -> User:
    uid, username, role, display_name, email, disabled, _ver, _acct, created = row
    return User(
        id=uid,
        username=username,
        role=Role(role),
        display_name=display_name,
        email=email,
        disabled=bool(disabled),
        created_at=_dt(created),
    )


def _request_hash(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def _replayed(conn: Conn, user_id: int, key: str | None, kind: str, request_hash: str) -> int | None:
    """The id of what this user's earlier request with `key` produced (None for a new key);
    the same key with a different request is a conflict."""
    if key is None:
        return None
    found = repo.idempotent_ref(conn, user_id, key)
    if found is None:
        return None
    seen_kind, seen_hash, ref = found
    if seen_kind != kind or seen_hash != request_hash:
        raise errors.Conflict("this idempotency key was used for a different request", {"field": "key"})
    return ref


def _shown(value: object) -> str:
    """A bad argument as an error may quote it: a short printable string, or its type's name."""
    if isinstance(value, str):
        return value[:64].encode("utf-8", "backslashreplace").decode()
    return type(value).__name__


def _check_type(value: object, kind: type | tuple[type, ...], field: str) -> None:
    """Calls from Python get a validation error for a wrong type, as the HTTP API does."""
    if not isinstance(value, kind):
        raise errors.ValidationError(f"{field} has the wrong type ({type(value).__name__})", {"field": field})


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > KEY_MAX or not key.isprintable():
        raise errors.ValidationError(f"an idempotency key is 1-{KEY_MAX} printable characters", {"field": "key"})
    return key


def _check_account_name(name: object) -> None:
    if not isinstance(name, str) or not ACCOUNT_NAME.fullmatch(name):
        raise errors.ValidationError("an account name is 1-32 letters, digits, '_', '.' or '-'", {"field": "name"})


def _check_order_id(order_id: object) -> None:
    if not isinstance(order_id, int) or isinstance(order_id, bool) or not 0 < order_id < 2**63:
        raise errors.NotFound("no such order", {"order_id": _shown(order_id)})


def _order_price(value: Decimal | None, field: str) -> Decimal | None:
    """A price an order names: positive; a resting order's with at most the ledger's
    significant digits (a market order's guard is only compared)."""
    if value is None:
        return None
    price = parse_decimal(value, field)
    if price <= 0:
        raise errors.InvalidAmount(f"{field} must be greater than zero", {"field": field})
    if field != "price_limit" and round_price(price) != price:
        raise errors.InvalidAmount(f"{field} has more than {PRICE_DIGITS} significant digits", {"field": field})
    return price


def _check_order_shape(request: OrderRequest, kind: OrderType) -> TimeInForce:
    """The fields each order type takes; its time in force."""
    needs = {
        OrderType.MARKET: (), OrderType.LIMIT: ("limit_price",), OrderType.STOP: ("stop_price",),
        OrderType.STOP_LIMIT: ("limit_price", "stop_price"),
    }[kind]
    for field in ("limit_price", "stop_price"):
        given = getattr(request, field) is not None
        if given != (field in needs):
            verb = "needs" if field in needs else "takes no"
            raise errors.ValidationError(f"a {kind.value} order {verb} {field}", {"field": field})
    if kind is OrderType.MARKET:
        if request.time_in_force is TimeInForce.GTC:
            raise errors.ValidationError("a market order fills now or not at all (time_in_force ioc)",
                                         {"field": "time_in_force"})
        return TimeInForce.IOC
    if request.notional is not None or request.quantity is None:
        raise errors.InvalidAmount(f"a {kind.value} order takes a quantity, not a USD amount", {"field": "quantity"})
    if request.price_limit is not None:
        raise errors.ValidationError("price_limit guards market orders; give limit_price", {"field": "price_limit"})
    tif = request.time_in_force or TimeInForce.GTC
    if tif is TimeInForce.IOC and kind is not OrderType.LIMIT:
        raise errors.ValidationError("only limit orders can be ioc", {"field": "time_in_force"})
    return tif


def _check_stop(symbol: str, side: Side, stop: Decimal | None, price: Decimal) -> None:
    """A stop waits for the price to rise to it (buy) or fall to it (sell): one already reached is refused."""
    if stop is not None and (stop <= price if side is Side.BUY else stop >= price):
        where = "above" if side is Side.BUY else "below"
        raise errors.InvalidAmount(
            f"a {side.value} stop must be {where} the price ({symbol} is at {price})",
            {"field": "stop_price", "price": str(price)},
        )


def _fill_terms(friction: Friction, info: AssetInfo, side: Side, reference: Decimal, *, units: int | None = None,
                cash: int | None = None, taker: bool = True) -> tuple[int, Execution, int, int]:
    """A fill at `reference` of `units`, or of what `cash` buys (its notional and fee within
    it) or sells: (quantity, how it is priced, notional cents, fee cents)."""
    buy = side is Side.BUY
    size = cents_to_cash(cash) if cash is not None else from_units(units or 0, info.precision) * reference
    ex = friction.execution(reference, buy, size, taker=taker)
    if units is None:
        assert cash is not None
        budget = int(Decimal(cash) * BPS // (BPS + ex.fee_bps)) if buy else cash
        units = units_for_cash(budget, info.precision, ex.price)
        while buy and units > 0 and (
                (c := notional_cents(units, info.precision, ex.price, buyer=True)) + fee_cents(c, ex.fee_bps) > cash):
            units -= 1
    cents = notional_cents(units, info.precision, ex.price, buyer=buy)
    return units, ex, cents, fee_cents(cents, ex.fee_bps)


def _reservation(friction: Friction, info: AssetInfo, side: Side, kind: OrderType, units: int,
                 limit: Decimal | None, stop: Decimal | None) -> int:
    """What a resting order holds back: a sell its quantity; a buy the most it expects to pay:
    at its limit with the maker fee, or (a stop order) as a taker at its stop price."""
    if side is Side.SELL:
        return units
    if kind is OrderType.STOP:
        _, _, cents, fee = _fill_terms(friction, info, side, stop, units=units)  # type: ignore[arg-type]
    else:
        _, _, cents, fee = _fill_terms(friction, info, side, limit, units=units, taker=False)  # type: ignore[arg-type]
    return cents + fee


def _receipt_fields(ex: Execution, fee: int) -> dict[str, Any]:
    """A fill's receipt as the orders table keeps it."""
    return {"liquidity": "taker" if ex.taker else "maker", "reference_price": str(ex.reference),
            "spread": str(ex.spread), "slippage": str(ex.slippage), "fee_bps": str(ex.fee_bps), "fee": fee}


def _receipt(side: Side, quantity: Decimal, cents: int, price: Decimal, fields: dict[str, Any]) -> Receipt:
    notional, fee = cents_to_cash(cents), cents_to_cash(fields["fee"])
    return Receipt(
        liquidity=fields["liquidity"], reference_price=Decimal(fields["reference_price"]),
        spread=Decimal(fields["spread"]), slippage=Decimal(fields["slippage"]), price=price, quantity=quantity,
        notional=notional, fee_bps=Decimal(fields["fee_bps"]), fee=fee,
        total=notional + fee if side is Side.BUY else notional - fee,
    )


def _settings(meta: dict[str, str]) -> LedgerSettings:
    friction = Friction.from_meta(meta)
    return LedgerSettings(cost_method=meta.get("cost_method", lots.FIFO),
                          **{name: getattr(friction, name) for name in SETTINGS})


def _pnl_line(symbol: str, qty: Decimal, basis: Decimal, value: Decimal, realized: Decimal, fees: Decimal) -> PnlLine:
    return PnlLine(symbol=symbol, quantity=qty, cost_basis=basis, market_value=value, unrealized_pnl=value - basis,
                   realized_pnl=realized, fees=fees, total_pnl=value - basis + realized - fees)


def _held(side: Side, amount: int, precision: int) -> Decimal:
    """What an order reserves, as a Decimal: cash for a buy, the asset for a sell."""
    return cents_to_cash(amount) if side is Side.BUY else from_units(amount, precision)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _check_page(offset: int, limit: int) -> None:
    if not (isinstance(offset, int) and isinstance(limit, int)) or not 0 <= offset <= MAX_OFFSET \
            or not 1 <= limit <= MAX_PAGE:
        raise errors.ValidationError(f"offset must be 0-{MAX_OFFSET} and limit 1-{MAX_PAGE}", {"field": "limit"})


class LocalEngine:
    """The embedded exchange over one ledger file. Open it, use it from one event loop, close it."""

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Callable[[], float] = time.time,
        hash_profile: str = "strong",
        synchronous: str = "NORMAL",
        token_ttl: float = 7 * 86400,
        market_seed: int | None = None,
        market_speed: float = 1.0,
    ) -> None:
        self.path = Path(path).expanduser().resolve()
        self._clock = clock
        self._db = Database(self.path, synchronous=synchronous)
        self._db.create_file()
        self.meta, rows = self._open_ledger(market_seed, market_speed)
        self._assets = {r[0]: _asset_info(r) for r in rows}
        self._enabled = {r[0] for r in rows if r[11]}
        self.market = Market(
            int(self.meta["market_seed"]),
            float(self.meta["market_epoch"]),
            list(self._assets.values()),
            float(self.meta["market_speed"]),
        )
        secret = load_or_create_secret(self.path.with_name(self.path.name + ".secret"))
        self._tokens = TokenSigner(secret, self.meta["ledger_id"], token_ttl)
        self._hash_profile = hash_profile
        self._hash_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="orderproc-hash")
        self._writer = Writer(self._db)
        self._readers = Readers(self._db)
        self._book = Book()
        self._match_lock = asyncio.Lock()
        self._last_match = -1

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def session_key(self) -> str:
        return f"file:{self.path}"

    # -- lifecycle -------------------------------------------------------------------------

    def _open_ledger(self, seed: int | None, speed: float) -> tuple[dict[str, str], list[repo.Row]]:
        """Create or check the ledger in one transaction; its meta and asset rows."""
        conn = self._db.connect(wal=False)
        try:
            # look before adopting: another program's SQLite file is refused and left as it was
            tables = self._db.table_names(conn)
            if tables and "meta" not in tables:
                raise errors.SchemaMismatch(f"{self.path} is not an orderproc ledger")
            self._db.use_wal(conn)
            self._db.begin_write(conn)
            try:
                tables = self._db.table_names(conn)
                if "meta" not in tables:
                    if tables:
                        raise errors.SchemaMismatch(f"{self.path} is not an orderproc ledger")
                    now = self._clock()
                    meta = {
                        "ledger_id": uuid.uuid4().hex,
                        "created_at": _iso(now),
                        "market_seed": str(seed if seed is not None else uuid.uuid4().int % 2**31),
                        "market_epoch": repr(float(int(now))),
                        "market_speed": repr(float(speed)),
                        "cost_method": lots.FIFO,
                    }
                    repo.create_schema(conn, meta, (_asset_row(a) for a in load_assets()))
                meta = repo.read_meta(conn)
                if int(meta["schema_version"]) < repo.SCHEMA_VERSION:
                    repo.migrate(conn, int(meta["schema_version"]))
                    meta = repo.read_meta(conn)
                result = meta, repo.asset_rows(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()
        return result

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._close_sync)

    def _close_sync(self) -> None:
        self._writer.close()
        self._readers.close()
        self._hash_pool.shutdown(wait=True)

    async def __aenter__(self) -> LocalEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- helpers -----------------------------------------------------------------------------

    @cached_property
    def _hasher(self) -> PasswordHasher:
        """Built on first use: passlib's import and set-up are not needed to open a ledger."""
        return PasswordHasher(self._hash_profile)

    @staticmethod
    async def _priced(compute: Callable[[], T]) -> T:
        """Price many assets off the event loop (the first pricing of an asset builds its path)."""
        return await asyncio.get_running_loop().run_in_executor(None, compute)

    async def _hash(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._hash_pool, fn, *args)

    def _claims(self, token: str | Operator) -> Claims | Operator:
        if isinstance(token, Operator):
            return token
        return self._tokens.decode(token, self._clock())

    @staticmethod
    def _actor(conn: Conn, claims: Claims | Operator) -> Actor:
        if isinstance(claims, Operator):
            return Actor(None, "operator", Role.ADMIN, None)
        row, revoked, account = repo.session_user(conn, claims.user_id, claims.jti, claims.account)
        if row is None or revoked or row[6] != claims.version or account is None:
            raise errors.AuthRequired("the session has ended; log in again")
        if row[5]:
            raise errors.Forbidden("this account is disabled")
        return Actor(row[0], row[1], Role(row[2]), account)

    @classmethod
    def _customer(cls, conn: Conn, claims: Claims | Operator) -> Actor:
        actor = cls._actor(conn, claims)
        if actor.account_id is None:
            raise errors.Forbidden("the operator has no paper account; log in as a user")
        return actor

    @classmethod
    def _admin(cls, conn: Conn, claims: Claims | Operator) -> Actor:
        actor = cls._actor(conn, claims)
        if actor.role is not Role.ADMIN:
            raise errors.Forbidden("this needs the admin role")
        return actor

    def _asset(self, symbol: object) -> AssetInfo:
        if not isinstance(symbol, str) or not 1 <= len(symbol) <= 16 or not symbol.isascii():
            raise errors.UnknownAsset("unknown asset", {"symbol": _shown(symbol)})
        info = self._assets.get(symbol.strip().upper())
        if info is None or info.symbol not in self._enabled:
            raise errors.UnknownAsset(f"unknown asset {symbol!r}", {"symbol": symbol})
        return info

    def _quote(self, info: AssetInfo, now: float) -> Quote:
        return Quote(
            symbol=info.symbol,
            price=self.market.price(info.symbol, now),
            change_24h=self.market.change_24h(info.symbol, now),
            at=datetime.fromtimestamp(now, UTC),
        )

    def _transaction(self, head: repo.Row, lines: list[repo.Row]) -> Transaction:
        entry_id, kind, created, order_id, client_key = head
        cash = Decimal(0)
        symbol = quantity = None
        for asset, amount in lines:
            if asset == USD:
                cash = cents_to_cash(amount)
            elif kind in (TxKind.BUY.value, TxKind.SELL.value):  # a reset may give back several assets
                symbol = asset
                info = self._assets.get(asset)
                quantity = from_units(amount, info.precision if info else 8)
        return Transaction(
            id=entry_id,
            kind=TxKind(kind),
            created_at=_dt(created),
            cash=cash,
            symbol=symbol,
            quantity=quantity,
            order_id=order_id,
            client_key=client_key,
        )

    def _order(self, row: repo.Row) -> Order:
        (oid, symbol, side, kind, tif, status, units, limit, stop, price, cents, reserved, reason, client_order_id,
         created, triggered, closed, lot_id, realized, liquidity, reference, spread, slippage, fee_bps, fee) = row
        precision = self._assets[symbol].precision if symbol in self._assets else 8
        return Order(
            id=oid,
            symbol=symbol,
            side=Side(side),
            type=OrderType(kind),
            time_in_force=TimeInForce(tif),
            status=OrderStatus(status),
            quantity=from_units(units, precision),
            limit_price=Decimal(limit) if limit is not None else None,
            stop_price=Decimal(stop) if stop is not None else None,
            price=Decimal(price) if price is not None else None,
            notional=cents_to_cash(cents) if cents is not None else None,
            reserved=_held(Side(side), reserved, precision),
            reason=reason,
            client_order_id=client_order_id,
            created_at=_dt(created),
            triggered_at=_dt(triggered) if triggered else None,
            closed_at=_dt(closed) if closed else None,
            lot_id=lot_id,
            realized_pnl=cents_to_cash(realized) if realized is not None else None,
            receipt=_receipt(Side(side), from_units(units, precision), cents, Decimal(price), {
                "liquidity": liquidity, "reference_price": reference, "spread": spread, "slippage": slippage,
                "fee_bps": fee_bps, "fee": fee}) if liquidity is not None else None,
        )

    # -- users and sessions --------------------------------------------------------------------

    async def register(self, username: str, password: str, *, source: str | None = None) -> User:
        check_username(username)
        check_password(password)
        hashed = await self._hash(self._hasher.hash, password)

        def job(conn: Conn) -> User:
            now = _iso(self._clock())
            user_id = repo.insert_user(conn, username, hashed, now)
            repo.audit(conn, now, "register", actor_id=user_id, actor=username, target=username, source=source)
            row = repo.user_by_id(conn, user_id)
            assert row is not None
            return _user(row)

        return await self._writer.run(job)

    async def login(self, username: str, password: str, *, source: str | None = None) -> Session:
        if not isinstance(username, str) or not isinstance(password, str):
            raise errors.InvalidCredentials("wrong username or password")
        name = _shown(username[:64])  # as the audit log records it
        # a password no account can have is refused without hashing it (a 1 MiB one costs
        # nothing), but still counts as a failed login; a name no account can have (a
        # look-alike such as the Kelvin sign for K) is never looked up, but costs a hash
        plausible = len(password) <= PASSWORD_MAX and is_text(password)

        def lookup(conn: Conn) -> tuple[repo.Row | None, str | None]:
            found = repo.user_by_name(conn, username) if is_username(username) else None
            return found, (repo.password_hash(conn, found[0]) if found else None)

        row, hashed = await self._readers.run(lookup)
        ok = plausible and await self._hash(self._hasher.verify, password, hashed)
        if ok and row is not None and row[5]:
            failure: errors.OrderprocError | None = errors.Forbidden("this account is disabled")
        elif not ok or row is None:
            failure = errors.InvalidCredentials("wrong username or password")
        else:
            failure = None

        def job(conn: Conn) -> None:
            now = _iso(self._clock())
            action = "login" if failure is None else "login_failed"
            detail = {} if failure is None else {"reason": failure.code}
            repo.audit(
                conn, now, action, actor_id=row[0] if row else None, actor=name, target=name,
                detail=detail, source=source,
            )

        await self._writer.run(job)
        if failure is not None:
            raise failure
        assert row is not None
        return self._session(row)

    async def logout(self, token: str) -> None:
        claims = self._claims(token)

        def job(conn: Conn) -> None:
            actor = self._actor(conn, claims)
            if isinstance(claims, Claims):
                repo.revoke_token(conn, claims.jti, claims.expires_at, self._clock())
            repo.audit(conn, _iso(self._clock()), "logout", actor_id=actor.user_id, actor=actor.username)

        await self._writer.run(job)

    async def whoami(self, token: str) -> User:
        claims = self._claims(token)

        def job(conn: Conn) -> User:
            actor = self._customer(conn, claims)
            row = repo.user_by_id(conn, actor.user_id)  # type: ignore[arg-type]
            assert row is not None
            return _user(row)

        return await self._readers.run(job)

    async def update_profile(self, token: str, update: ProfileUpdate) -> User:
        claims = self._claims(token)
        _check_type(update, ProfileUpdate, "update")
        fields: dict[str, Any] = {}
        if update.display_name is not None:
            name = update.display_name.strip()
            if len(name) > 64 or not name.isprintable():
                raise errors.ValidationError("display name is at most 64 printable characters", {"field": "display_name"})
            fields["display_name"] = name or None
        if update.email is not None:
            email = update.email.strip()
            if email and (len(email) > 254 or email.count("@") != 1 or " " in email or not email.isprintable()
                          or "." not in email.split("@")[1]):
                raise errors.ValidationError("that is not an email address", {"field": "email"})
            fields["email"] = email or None
        if not fields:
            raise errors.ValidationError("nothing to update: give a display name or an email")

        def job(conn: Conn) -> User:
            actor = self._customer(conn, claims)
            repo.update_user(conn, actor.user_id, **fields)  # type: ignore[arg-type]
            repo.audit(conn, _iso(self._clock()), "profile_update", actor_id=actor.user_id, actor=actor.username,
                       detail={"fields": sorted(fields)})
            row = repo.user_by_id(conn, actor.user_id)  # type: ignore[arg-type]
            assert row is not None
            return _user(row)

        return await self._writer.run(job)

    async def change_password(self, token: str, old_password: str, new_password: str) -> Session:
        claims = self._claims(token)
        check_password(new_password, "new password")
        if not isinstance(claims, Claims):
            raise errors.Forbidden("the operator has no password")
        stored = await self._readers.run(lambda conn: repo.password_hash(conn, claims.user_id))
        old_ok = is_text(old_password) and len(old_password) <= PASSWORD_MAX
        if not (old_ok and await self._hash(self._hasher.verify, old_password, stored)):
            raise errors.InvalidCredentials("the current password is wrong")
        hashed = await self._hash(self._hasher.hash, new_password)

        def job(conn: Conn) -> tuple[repo.Row, str]:
            actor = self._customer(conn, claims)
            row = repo.user_by_id(conn, actor.user_id)  # type: ignore[arg-type]
            assert row is not None
            repo.update_user(conn, row[0], password_hash=hashed, token_version=row[6] + 1)
            repo.audit(conn, _iso(self._clock()), "password_change", actor_id=row[0], actor=row[1])
            new_row = repo.user_by_id(conn, row[0])
            assert new_row is not None
            return new_row, repo.account_name(conn, actor.account_id)  # type: ignore[arg-type]

        row, account = await self._writer.run(job)
        return self._session(row, claims.account, account)  # the session keeps trading the same account

    def _session(self, row: repo.Row, account_id: int | None = None, account: str = "main") -> Session:
        """A new session of the user of `row`, trading `account_id` (None: the user's first)."""
        token, expires = self._tokens.issue(row[0], row[6], self._clock(), account_id)
        return Session(token=token, user=_user(row), expires_at=datetime.fromtimestamp(expires, UTC), account=account)

    # -- cash ------------------------------------------------------------------------------------

    async def deposit(self, token: str, amount: Decimal | str, *, key: str | None = None) -> Transaction:
        return await self._move_cash(token, TxKind.DEPOSIT, amount, key)

    async def withdraw(self, token: str, amount: Decimal | str, *, key: str | None = None) -> Transaction:
        return await self._move_cash(token, TxKind.WITHDRAWAL, amount, key)

    async def _move_cash(self, token: str, kind: TxKind, amount: Decimal | str, key: str | None) -> Transaction:
        claims = self._claims(token)
        cents = cash_to_cents(amount)
        key = _check_key(key)
        request_hash = _request_hash(kind, cents) if key is not None else ""
        await self._catch_up()  # a resting order the price already filled holds no cash any more

        def job(conn: Conn) -> Transaction:
            actor = self._customer(conn, claims)
            account = actor.account_id
            assert account is not None and actor.user_id is not None
            earlier = _replayed(conn, actor.user_id, key, kind.value, request_hash)
            if earlier is not None:
                found_earlier = repo.entry(conn, earlier, account)
                if found_earlier is None:  # keys are the user's: this one was used on another account
                    raise errors.Conflict("this idempotency key was used on another of your accounts",
                                          {"field": "key"})
                return self._transaction(*found_earlier)
            postings = (ledger.deposit_postings if kind is TxKind.DEPOSIT else ledger.withdrawal_postings)(account, cents)
            now = _iso(self._clock())
            entry_id = repo.post_entry(conn, kind.value, account, postings, now, client_key=key)
            if key is not None:
                repo.remember_key(conn, actor.user_id, key, kind.value, request_hash, entry_id, now)
            repo.audit(conn, now, kind.value, actor_id=actor.user_id, actor=actor.username,
                       detail={"amount": str(cents_to_cash(cents)), "entry": entry_id})
            found_entry = repo.entry(conn, entry_id, account)
            assert found_entry is not None
            return self._transaction(*found_entry)

        return await self._writer.run(job)

    async def balance(self, token: str) -> Balance:
        claims = self._claims(token)

        def job(conn: Conn) -> Balance:
            actor = self._customer(conn, claims)
            cash, _, reserved = repo.balance(conn, actor.account_id, USD)  # type: ignore[arg-type]
            return Balance(cash=cents_to_cash(cash), available=cents_to_cash(cash - reserved),
                           reserved=cents_to_cash(reserved))

        await self._catch_up()
        return await self._readers.run(job)

    async def history(
        self, token: str, *, kind: TxKind | None = None, offset: int = 0, limit: int = 50
    ) -> Page[Transaction]:
        claims = self._claims(token)
        _check_page(offset, limit)
        try:
            kinds = [TxKind(kind).value] if kind is not None else None
        except ValueError:
            raise errors.ValidationError(
                f"kind is one of: {', '.join(k.value for k in TxKind)}", {"field": "kind"}
            ) from None

        def job(conn: Conn) -> Page[Transaction]:
            actor = self._customer(conn, claims)
            total, rows = repo.entries_page(conn, actor.account_id, kinds, offset, limit)  # type: ignore[arg-type]
            return Page[Transaction](
                items=[self._transaction(h, lines) for h, lines in rows], total=total, offset=offset, limit=limit
            )

        await self._catch_up()
        return await self._readers.run(job)

    # -- assets and prices -------------------------------------------------------------------------

    def _asset_dto(self, info: AssetInfo, now: float) -> Asset:
        return Asset(
            symbol=info.symbol,
            name=info.name,
            category=info.category,
            rank=info.rank,
            price=self.market.price(info.symbol, now),
            change_24h=self.market.change_24h(info.symbol, now),
            reference_price=info.reference_price,
            reference_date=info.reference_date,
            source=info.source,
            volatility=info.volatility,
            precision=info.precision,
            peg=info.peg,
            enabled=info.symbol in self._enabled,
        )

    async def list_assets(
        self,
        *,
        search: str | None = None,
        category: str | None = None,
        sort: str = "rank",
        descending: bool = False,
    ) -> list[Asset]:
        if sort not in ASSET_SORT_FIELDS:
            raise errors.ValidationError(f"sort by one of: {', '.join(ASSET_SORT_FIELDS)}", {"field": "sort"})
        _check_type(search, (str, type(None)), "search")
        _check_type(category, (str, type(None)), "category")
        _check_type(descending, bool, "descending")
        now = self._clock()
        needle = (search or "").strip().lower()[:64]
        chosen = [
            info
            for info in self._assets.values()
            if info.symbol in self._enabled
            and (not category or info.category == category.strip().lower())
            and (not needle or needle in info.symbol.lower() or needle in info.name.lower())
        ]
        found = await self._priced(lambda: [self._asset_dto(info, now) for info in chosen])
        keys: dict[str, Callable[[Asset], Any]] = {
            "rank": lambda a: (a.rank is None, a.rank or 0, a.symbol),
            "symbol": lambda a: a.symbol,
            "name": lambda a: a.name.lower(),
            "price": lambda a: a.price,
            "change": lambda a: a.change_24h,
            "category": lambda a: (a.category, a.rank or 0),
        }
        found.sort(key=keys[sort], reverse=descending)
        return found

    async def get_asset(self, symbol: str) -> Asset:
        return self._asset_dto(self._asset(symbol), self._clock())

    async def quote(self, symbol: str) -> Quote:
        return self._quote(self._asset(symbol), self._clock())

    async def quotes(self, symbols: list[str] | None = None) -> list[Quote]:
        _check_type(symbols, (list, tuple, type(None)), "symbols")
        now = self._clock()
        infos = [self._asset(s) for s in symbols] if symbols else [
            i for i in self._assets.values() if i.symbol in self._enabled
        ]
        return await self._priced(lambda: [self._quote(info, now) for info in infos])

    async def price_history(self, symbol: str, *, hours: int = 24, points: int = 96) -> list[PricePoint]:
        info = self._asset(symbol)
        if not (isinstance(hours, int) and isinstance(points, int)) or not (1 <= hours <= 24 * 365 and 1 <= points <= 1000):
            raise errors.ValidationError("hours must be 1-8760 and points 1-1000")
        now = self._clock()
        bars = await self._priced(lambda: self.market.history(info.symbol, now - hours * 3600, now, points))
        return [
            PricePoint(at=datetime.fromtimestamp(t, UTC), open=o, high=h, low=lo, close=c)
            for t, o, h, lo, c in bars
        ]

    async def stream_quotes(self, interval: float = 1.0) -> AsyncIterator[list[Quote]]:
        if isinstance(interval, bool) or not isinstance(interval, int | float) or not 0 < interval <= 86400:
            raise errors.ValidationError("interval is a number of seconds, at most a day", {"field": "interval"})
        while True:
            yield await self.quotes()
            await asyncio.sleep(interval)

    # -- named paper accounts --------------------------------------------------------------------------

    async def accounts(self, token: str) -> list[AccountInfo]:
        """This user's paper accounts, oldest first; `current` is the one this session trades."""
        claims = self._claims(token)

        def job(conn: Conn) -> list[AccountInfo]:
            actor = self._customer(conn, claims)
            return [
                AccountInfo(id=i, name=name, current=i == actor.account_id, cash=cents_to_cash(cash),
                            reserved_cash=cents_to_cash(reserved))
                for i, name, cash, reserved in repo.accounts_of(conn, actor.user_id)  # type: ignore[arg-type]
            ]

        return await self._readers.run(job)

    async def create_account(self, token: str, name: str) -> AccountInfo:
        """Open another paper account (empty: deposit into it, or reset it to a starting cash)."""
        claims = self._claims(token)
        _check_account_name(name)

        def job(conn: Conn) -> AccountInfo:
            actor = self._customer(conn, claims)
            account_id = repo.create_account(conn, actor.user_id, name)  # type: ignore[arg-type]
            repo.audit(conn, _iso(self._clock()), "account_create", actor_id=actor.user_id, actor=actor.username,
                       target=name)
            return AccountInfo(id=account_id, name=name, current=False, cash=Decimal("0.00"),
                               reserved_cash=Decimal("0.00"))

        return await self._writer.run(job)

    async def switch_account(self, token: str, name: str) -> Session:
        """A session of the same user that trades the account `name` (the old one keeps its own)."""
        claims = self._claims(token)
        if not isinstance(claims, Claims):
            raise errors.Forbidden("the operator has no paper account; log in as a user")
        _check_account_name(name)

        def job(conn: Conn) -> tuple[repo.Row, int]:
            actor = self._customer(conn, claims)
            account_id = repo.account_named(conn, actor.user_id, name)  # type: ignore[arg-type]
            if account_id is None:
                raise errors.NotFound(f"you have no account named {name!r}", {"name": name})
            row = repo.user_by_id(conn, actor.user_id)  # type: ignore[arg-type]
            assert row is not None
            return row, account_id

        row, account_id = await self._readers.run(job)
        return self._session(row, account_id, name)

    async def reset_account(self, token: str, cash: Decimal | str) -> Transaction:
        """Start this session's account again with `cash`: its open orders are canceled, everything
        it holds goes back (one `reset` journal entry), and the starting cash comes in as a
        deposit. Its history stays; its P&L and leaderboard place count from the reset."""
        claims = self._claims(token)
        cents = cash_to_cents(cash, "cash")

        def job(conn: Conn) -> Transaction:
            actor = self._customer(conn, claims)
            account = actor.account_id
            assert account is not None
            for order_id in repo.open_order_ids(conn, account, None):
                self._cancel(conn, actor, order_id)
            now = _iso(self._clock())
            held = repo.holdings(conn, account)
            postings = ledger.reset_postings(account, [(asset, amount, cost) for asset, amount, cost in held])
            reset_id = repo.post_entry(conn, TxKind.RESET.value, account, postings, now) if postings else 0
            repo.mark_reset(conn, account, reset_id or repo.last_entry(conn))
            entry_id = repo.post_entry(conn, TxKind.DEPOSIT.value, account, ledger.deposit_postings(account, cents), now)
            repo.audit(conn, now, "account_reset", actor_id=actor.user_id, actor=actor.username,
                       target=repo.account_name(conn, account), detail={"cash": str(cents_to_cash(cents))})
            found = repo.entry(conn, entry_id, account)
            assert found is not None
            return self._transaction(*found)

        return await self._writer.run(job)

    # -- orders and portfolio ------------------------------------------------------------------------

    async def place_order(self, token: str, request: OrderRequest) -> Order:
        claims = self._claims(token)
        _check_type(request, OrderRequest, "request")
        info, side, kind, tif, units, cash, guard, limit, stop, lot_id = self._parse_order(request)
        key = _check_key(request.client_order_id)
        # equal requests hash alike however their numbers were written ("100" and "100.0")
        parts: list[object] = ["order", info.symbol, side, units, cash, guard.normalize() if guard else None]
        if kind is not OrderType.MARKET:
            parts += [kind.value, tif.value, limit.normalize() if limit else None, stop.normalize() if stop else None]
        if lot_id is not None:
            parts.append(f"lot {lot_id}")
        request_hash = _request_hash(*parts) if key is not None else ""
        await self._catch_up()
        actor_seen: list[Actor] = []

        def job(conn: Conn) -> Order:
            actor = self._customer(conn, claims)
            actor_seen.append(actor)
            account, user_id = actor.account_id, actor.user_id
            assert account is not None and user_id is not None
            earlier = _replayed(conn, user_id, key, "order", request_hash)
            if earlier is not None:
                row = repo.order(conn, earlier, user_id, account_id=account)
                if row is None:  # keys are the user's: this one was used on another account
                    raise errors.Conflict("this idempotency key was used on another of your accounts",
                                          {"field": "client_order_id"})
                return self._order(row)
            if lot_id is not None and not repo.lots_of(conn, account, info.symbol, include_closed=False, lot_id=lot_id):
                raise errors.NotFound(f"you have no open {info.symbol} lot {lot_id}", {"lot_id": lot_id})
            now_ts = self._clock()
            now = _iso(now_ts)
            reference = self.market.price(info.symbol, now_ts)
            settings = repo.friction_meta(conn)
            friction = Friction.from_meta(settings)
            if kind is not OrderType.MARKET:
                assert units is not None
                _check_stop(info.symbol, side, stop, reference)
                if kind is OrderType.LIMIT:
                    qty, ex, cents, fee = _fill_terms(friction, info, side, reference, units=units)
                    marketable = ex.price <= limit if side is Side.BUY else ex.price >= limit  # type: ignore[operator]
                if kind is not OrderType.LIMIT or not marketable:
                    order = self._rest(conn, actor, info, side, kind, tif, units, limit, stop, lot_id, key, now,
                                       friction)
                    if key is not None:
                        repo.remember_key(conn, user_id, key, "order", request_hash, order.id, now)
                    return order
            else:
                qty, ex, cents, fee = _fill_terms(friction, info, side, reference, units=units, cash=cash)
                if guard is not None and (ex.price > guard if side is Side.BUY else ex.price < guard):
                    raise errors.PriceMoved(
                        f"{info.symbol} is at {ex.price}, past your limit of {guard}",
                        {"price": str(ex.price), "limit": str(guard)},
                    )
            if qty <= 0:
                raise errors.InvalidAmount("that amount buys less than the smallest quantity of this asset", {"field": "notional"})
            self._trade(conn, account, info, side, qty, cents)
            receipt = _receipt_fields(ex, fee)
            order_id = repo.insert_order(
                conn, user_id=user_id, account_id=account, symbol=info.symbol, side=side.value, type=kind.value,
                time_in_force=tif.value, status="filled", quantity=qty, limit_price=_text(limit), price=str(ex.price),
                notional=cents, lot_id=lot_id, client_order_id=key, created_at=now, closed_at=now, **receipt,
            )
            realized = self._book_trade(conn, account, info, side, qty, cents, fee, order_id, now, settings,
                                        key=key, lot_id=lot_id)
            if key is not None:
                repo.remember_key(conn, user_id, key, "order", request_hash, order_id, now)
            repo.audit(conn, now, "order_placed", actor_id=user_id, actor=actor.username, target=str(order_id),
                       detail={"symbol": info.symbol, "side": side.value, "type": kind.value, "price": str(ex.price)})
            return Order.model_construct(
                id=order_id, symbol=info.symbol, side=side, type=kind, time_in_force=tif, status=OrderStatus.FILLED,
                quantity=from_units(qty, info.precision), limit_price=limit, stop_price=None, price=ex.price,
                notional=cents_to_cash(cents), reserved=_held(side, 0, info.precision), reason=None, client_order_id=key,
                lot_id=lot_id, realized_pnl=cents_to_cash(realized) if realized is not None else None,
                receipt=_receipt(side, from_units(qty, info.precision), cents, ex.price, receipt),
                created_at=_dt(now), triggered_at=None, closed_at=_dt(now),
            )

        try:
            return await self._writer.run(job)
        except errors.OrderprocError as exc:
            if actor_seen and not isinstance(exc, errors.Conflict | errors.AuthRequired | errors.Forbidden):
                actor = actor_seen[-1]
                detail = {"symbol": info.symbol, "side": side.value, "reason": exc.code}
                await self._writer.run(lambda conn: repo.audit(
                    conn, _iso(self._clock()), "order_rejected", actor_id=actor.user_id, actor=actor.username,
                    detail=detail))
            raise

    def _parse_order(self, request: OrderRequest) -> tuple[
            AssetInfo, Side, OrderType, TimeInForce, int | None, int | None, Decimal | None, Decimal | None,
            Decimal | None, int | None]:
        """An order's fields checked and in minor units: (asset, side, type, time in force,
        quantity units, USD cents, price guard, limit, stop, lot id)."""
        info = self._asset(request.symbol)
        side, kind = Side(request.side), OrderType(request.type)
        tif = _check_order_shape(request, kind)
        if kind is OrderType.MARKET and (request.quantity is None) == (request.notional is None):
            raise errors.InvalidAmount("give either a quantity or a USD amount", {"field": "quantity"})
        units = to_units(request.quantity, info.precision, "quantity") if request.quantity is not None else None
        cash = cash_to_cents(request.notional, "notional") if request.notional is not None else None
        if request.lot_id is not None and side is not Side.SELL:
            raise errors.ValidationError("only a sell closes a lot: lot_id goes with side sell", {"field": "lot_id"})
        return (info, side, kind, tif, units, cash, _order_price(request.price_limit, "price_limit"),
                _order_price(request.limit_price, "limit_price"), _order_price(request.stop_price, "stop_price"),
                request.lot_id)

    @staticmethod
    def _trade(conn: Conn, account: int, info: AssetInfo, side: Side, qty: int, cents: int) -> None:
        """Check that the account can sell `qty` (for `cents`); a buy's cash is checked as it is taken."""
        if side is Side.SELL:
            if cents <= 0:
                raise errors.InvalidAmount("that quantity is worth less than a cent", {"field": "quantity"})
            held, _, reserved = repo.balance(conn, account, info.symbol)
            if held - reserved < qty:
                available = format(from_units(held - reserved, info.precision), "f")
                raise errors.InsufficientFunds(
                    f"insufficient funds: you hold {available} {info.symbol} not held by open orders"
                    if reserved else f"insufficient funds: you hold {available} {info.symbol}",
                    {"asset": info.symbol, "available": available},
                )

    def _book_trade(self, conn: Conn, account: int, info: AssetInfo, side: Side, qty: int, cents: int, fee: int,
                    order_id: int, at: str, settings: dict[str, str], *, key: str | None = None,
                    lot_id: int | None = None) -> int | None:
        """Post a filled trade's journal entry (its fee to the fee account) and its lots: a buy
        opens a lot, a sell closes lots by the ledger's cost method (its named lot first, while
        that lot is open). The sell's realized P&L in cents (before the fee); None for a buy."""
        symbol = info.symbol
        fees = {"fee": fee, "fee_account": int(settings["fee_account"])}
        if side is Side.BUY:
            repo.post_entry(conn, "buy", account, ledger.buy_postings(account, symbol, qty, cents, **fees), at,
                            order_id=order_id, client_key=key)
            repo.open_lot(conn, account, symbol, order_id, at, qty, cents)
            return None
        held = repo.open_lots(conn, account, symbol)
        first = lot_id if any(lot.id == lot_id for lot in held) else None
        takes, spread = lots.close_lots(held, qty, settings.get("cost_method", lots.FIFO), first=first)
        postings = ledger.sell_postings(account, symbol, qty, cents, removed_cost=sum(t.cost for t in takes), **fees)
        repo.post_entry(conn, "sell", account, postings, at, order_id=order_id, client_key=key)
        return repo.record_closes(conn, order_id, takes, cents, spread)

    def _rest(self, conn: Conn, actor: Actor, info: AssetInfo, side: Side, kind: OrderType, tif: TimeInForce,
              units: int, limit: Decimal | None, stop: Decimal | None, lot_id: int | None, key: str | None,
              now: str, friction: Friction) -> Order:
        """A limit or stop order the price has not reached: it rests, holding back what it could
        spend (an IOC limit order expires instead)."""
        assert actor.account_id is not None and actor.user_id is not None
        fields: dict[str, Any] = dict(
            user_id=actor.user_id, account_id=actor.account_id, symbol=info.symbol, side=side.value, type=kind.value,
            time_in_force=tif.value, quantity=units, limit_price=_text(limit), stop_price=_text(stop),
            lot_id=lot_id, client_order_id=key, created_at=now,
        )
        if tif is TimeInForce.IOC:
            order_id = repo.insert_order(conn, status="expired", closed_at=now, reason="the price did not reach the limit",
                                         **fields)
            action = "order_expired"
        else:
            held = _reservation(friction, info, side, kind, units, limit, stop)
            if side is Side.BUY:
                repo.reserve(conn, actor.account_id, USD, held)
            else:
                cents = notional_cents(units, info.precision, limit or stop, buyer=False)  # type: ignore[arg-type]
                self._trade(conn, actor.account_id, info, side, units, cents)
                repo.reserve(conn, actor.account_id, info.symbol, held)
            order_id = repo.insert_order(conn, status="new", reserved=held, **fields)
            action = "order_placed"
        repo.audit(conn, now, action, actor_id=actor.user_id, actor=actor.username, target=str(order_id),
                   detail={"symbol": info.symbol, "side": side.value, "type": kind.value,
                           "limit_price": _text(limit), "stop_price": _text(stop)})
        row = repo.order(conn, order_id, actor.user_id)
        assert row is not None
        return self._order(row)

    async def cancel_order(self, token: str, order_id: int) -> Order:
        """Cancel one open order; its reservation is released."""
        claims = self._claims(token)
        _check_order_id(order_id)
        await self._catch_up()  # an order the ticks since the last pass filled is no longer open

        def job(conn: Conn) -> Order:
            actor = self._customer(conn, claims)
            row = repo.order(conn, order_id, actor.user_id, account_id=actor.account_id)  # type: ignore[arg-type]
            if row is None:  # another user's (or another account's) order reads exactly like a missing one
                raise errors.NotFound("no such order", {"order_id": order_id})
            order = self._order(row)
            if not order.is_open:
                raise errors.OrderNotOpen(
                    f"order {order_id} is {order.status.value}; only open orders can be canceled",
                    {"order_id": order_id, "status": order.status.value},
                )
            return self._cancel(conn, actor, order_id)

        return await self._writer.run(job)

    async def cancel_orders(self, token: str, *, symbol: str | None = None) -> list[Order]:
        """Cancel every open order (of one asset, if given); the canceled orders, oldest first."""
        claims = self._claims(token)
        wanted = self._asset(symbol).symbol if symbol else None
        await self._catch_up()

        def job(conn: Conn) -> list[Order]:
            actor = self._customer(conn, claims)
            return [self._cancel(conn, actor, i) for i in repo.open_order_ids(conn, actor.account_id, wanted)]  # type: ignore[arg-type]

        return await self._writer.run(job)

    def _cancel(self, conn: Conn, actor: Actor, order_id: int) -> Order:
        resting = repo.resting_order(conn, order_id)
        assert resting is not None
        _, account, symbol, side, _, _, reserved, _, _ = resting
        repo.release(conn, account, USD if side == "buy" else symbol, reserved)
        now = _iso(self._clock())
        closed = repo.close_order(conn, order_id, "canceled", now)
        assert closed
        repo.audit(conn, now, "order_canceled", actor_id=actor.user_id, actor=actor.username, target=str(order_id),
                   detail={"symbol": symbol, "side": side})
        row = repo.order(conn, order_id, actor.user_id)  # type: ignore[arg-type]
        assert row is not None
        return self._order(row)

    # -- the price loop: resting orders meet the ticks ------------------------------------------------

    async def match(self) -> int:
        """Run the price loop up to this second: fill, trigger, reject the resting orders the
        ticks since the last pass reached (any process's pass; each tick is matched once).
        The number of orders that changed."""
        async with self._match_lock:
            tick, changed = math.floor(self._clock()), 0
            while True:
                done, more = await self._match_pass()
                changed += done
                if not more:
                    self._last_match = tick
                    return changed

    async def run_price_loop(self, interval: float = 1.0) -> None:
        """Match every `interval` seconds until cancelled (the TUI and the server run it)."""
        while True:
            try:
                await self.match()
            except errors.LedgerBusy:
                pass  # another process holds the ledger: the next pass catches up
            except Exception:  # a failed pass must not stop the loop: the next one retries it
                _log.exception("a pass of the price loop failed")
                self._book = Book()  # and reads the open orders afresh
            await asyncio.sleep(interval - self._clock() % interval)

    async def _match_pass(self) -> tuple[int, bool]:
        """One pass over at most MATCH_BUDGET prices: (orders changed, whether ticks remain)."""
        book = self._book

        def read(conn: Conn) -> tuple[int, list[repo.Row], int | None]:
            return (*repo.book_changes(conn, book.seq), repo.matched_through(conn))

        seq, rows, through = await self._readers.run(read)
        book.apply(rows)
        book.seq = seq
        if not book:
            return 0, False
        end = math.floor(self._clock())
        symbols = book.symbols()
        start = max(through if through is not None else -1, end - MATCH_HORIZON, min(map(book.first_tick, symbols)) - 1)
        end = min(end, start + max(1, MATCH_BUDGET // len(symbols)))
        if end <= start:
            return 0, False

        def events() -> list[Event]:
            found = []
            for symbol in symbols:
                first = max(start + 1, book.first_tick(symbol))
                found += book.match(symbol, [(t, self.market.price(symbol, t)) for t in range(first, end + 1)])
            return sorted(found)

        found = await self._priced(events)

        def job(conn: Conn) -> int | None:
            done = repo.matched_through(conn)
            if done is not None and done >= end:
                return 0  # another process matched these ticks
            if repo.book_moved(conn, seq, _iso(end)):
                return None  # an order that acts by `end` was placed after the read: read again
            changed = sum(self._apply_event(conn, e) for e in found if done is None or e.tick > done)
            repo.set_meta(conn, "matched_through", str(end))
            return changed

        changed = await self._writer.run(job)
        if changed is None:
            return 0, True
        return changed, end < math.floor(self._clock())

    def _apply_event(self, conn: Conn, event: Event) -> bool:
        """Apply one matcher event in the ledger, if the order is still open (exactly once)."""
        resting = repo.resting_order(conn, event.order_id)
        if resting is None:
            return False
        user_id, account, symbol, side_text, kind, units, reserved, lot_id, username = resting
        at = _iso(event.tick)
        if event.kind == TRIGGER:
            return repo.trigger_order(conn, event.order_id, at)
        info, side = self._assets[symbol], Side(side_text)
        repo.release(conn, account, USD if side is Side.BUY else symbol, reserved)
        triggered = {"triggered_at": at} if kind == OrderType.STOP.value else {}
        settings = repo.friction_meta(conn)
        # a stop order trades at once when it triggers (a taker); a resting limit order is a maker
        qty, ex, cents, fee = _fill_terms(Friction.from_meta(settings), info, side, event.price, units=units,
                                          taker=kind == OrderType.STOP.value)
        conn.execute("SAVEPOINT fill")
        try:
            self._trade(conn, account, info, side, qty, cents)
            self._book_trade(conn, account, info, side, qty, cents, fee, event.order_id, at, settings, lot_id=lot_id)
        except errors.OrderprocError as exc:  # a stop order the cash no longer covers
            conn.execute("ROLLBACK TO fill")
            repo.close_order(conn, event.order_id, "rejected", at, reason=exc.message, **triggered)
            action, detail = "order_rejected", {"reason": exc.code}
        else:
            repo.close_order(conn, event.order_id, "filled", at, price=str(ex.price), notional=cents,
                             **_receipt_fields(ex, fee), **triggered)
            action, detail = "order_filled", {"price": str(ex.price)}
        conn.execute("RELEASE fill")
        repo.audit(conn, at, action, actor_id=user_id, actor=username, target=str(event.order_id),
                   detail={"symbol": symbol, "side": side.value, "type": kind, **detail}, source="matcher")
        return True

    async def orders(
        self, token: str, *, offset: int = 0, limit: int = 50, symbol: str | None = None,
        status: OrderStatus | None = None, open: bool | None = None,
    ) -> Page[Order]:
        """This user's orders, newest first; `status` picks one status, `open` the open (or the
        closed) ones."""
        claims = self._claims(token)
        _check_page(offset, limit)
        wanted = self._asset(symbol).symbol if symbol else None
        try:
            statuses = [OrderStatus(status).value] if status is not None else None
        except ValueError:
            allowed = ", ".join(s.value for s in OrderStatus)
            raise errors.ValidationError(f"status is one of: {allowed}", {"field": "status"}) from None
        if open is not None:
            chosen = {s.value for s in OrderStatus if (s is OrderStatus.NEW) == bool(open)}
            statuses = sorted(chosen & set(statuses) if statuses else chosen)
            if not statuses:
                return Page[Order](items=[], total=0, offset=offset, limit=limit)
        await self._catch_up()

        def job(conn: Conn) -> Page[Order]:
            actor = self._customer(conn, claims)
            total, rows = repo.orders_page(conn, actor.account_id, wanted, statuses, offset, limit)  # type: ignore[arg-type]
            return Page[Order](items=[self._order(r) for r in rows], total=total, offset=offset, limit=limit)

        return await self._readers.run(job)

    async def get_order(self, token: str, order_id: int) -> Order:
        claims = self._claims(token)
        _check_order_id(order_id)
        await self._catch_up()

        def job(conn: Conn) -> Order:
            actor = self._customer(conn, claims)
            row = repo.order(conn, order_id, actor.user_id, account_id=actor.account_id)  # type: ignore[arg-type]
            if row is None:  # another user's (or another account's) order reads exactly like a missing one
                raise errors.NotFound("no such order", {"order_id": order_id})
            return self._order(row)

        return await self._readers.run(job)

    async def _catch_up(self) -> None:
        """Before reading orders or balances: match the ticks since the last pass, so a reader
        without a running price loop (a CLI command) sees what the price has filled."""
        if self._last_match < math.floor(self._clock()):
            await self.match()

    async def portfolio(self, token: str) -> Portfolio:
        claims = self._claims(token)

        def job(conn: Conn) -> list[repo.Row]:
            actor = self._customer(conn, claims)
            return repo.positions(conn, actor.account_id)  # type: ignore[arg-type]

        await self._catch_up()
        rows = await self._readers.run(job)
        now = self._clock()
        cash = reserved_cash = Decimal("0.00")
        held: list[tuple[AssetInfo, Decimal, Decimal, Decimal, Decimal, Decimal]] = []
        for asset, amount, cost, reserved in rows:
            if asset == USD:
                cash, reserved_cash = cents_to_cash(amount), cents_to_cash(reserved)
                continue
            info = self._assets[asset]
            qty = from_units(amount, info.precision)
            price = self.market.price(asset, now)
            value = (qty * price).quantize(CENT, ROUND_HALF_EVEN)
            held.append((info, qty, from_units(reserved, info.precision), cents_to_cash(cost), price, value))
        market_value = sum((v for *_, v in held), Decimal("0.00"))
        equity = cash + market_value
        positions = [
            Position(
                symbol=info.symbol,
                name=info.name,
                quantity=qty,
                reserved=reserved,
                average_cost=round_price(cost / qty) if qty else Decimal(0),
                cost_basis=cost,
                price=price,
                market_value=value,
                unrealized_pnl=value - cost,
                allocation=(value * 100 / equity).quantize(CENT, ROUND_HALF_EVEN) if equity else Decimal("0.00"),
            )
            for info, qty, reserved, cost, price, value in sorted(held, key=lambda h: -h[5])
        ]
        return Portfolio(
            cash=cash,
            reserved_cash=reserved_cash,
            equity=equity,
            market_value=market_value,
            unrealized_pnl=sum((p.unrealized_pnl for p in positions), Decimal("0.00")),
            positions=positions,
            as_of=datetime.fromtimestamp(now, UTC),
        )

    async def lots(self, token: str, *, symbol: str | None = None, closed: bool = False) -> list[Lot]:
        """This user's open lots (with `closed`, the fully sold ones too), by asset, oldest first."""
        claims = self._claims(token)
        wanted = self._asset(symbol).symbol if symbol else None

        def job(conn: Conn) -> list[repo.Row]:
            actor = self._customer(conn, claims)
            return repo.lots_of(conn, actor.account_id, wanted, include_closed=bool(closed))  # type: ignore[arg-type]

        await self._catch_up()
        rows = await self._readers.run(job)
        now = self._clock()
        out = []
        for lot_id, sym, order_id, opened, units, cents, remaining, remaining_cents in rows:
            precision = self._assets[sym].precision
            price = self.market.price(sym, now)
            left, left_cost = from_units(remaining, precision), cents_to_cash(remaining_cents)
            value = (left * price).quantize(CENT, ROUND_HALF_EVEN)
            quantity = from_units(units, precision)
            out.append(Lot(
                id=lot_id, symbol=sym, order_id=order_id, opened_at=_dt(opened), quantity=quantity,
                cost=cents_to_cash(cents), remaining=left, remaining_cost=left_cost,
                unit_cost=round_price(cents_to_cash(cents) / quantity), price=price, market_value=value,
                unrealized_pnl=value - left_cost,
            ))
        return out

    async def pnl(self, token: str) -> PnlReport:
        """Realized and unrealized P&L by asset, at this second's prices, reconciled with the cash
        journal (total = equity - net deposits)."""
        claims = self._claims(token)

        def job(conn: Conn) -> tuple[str, tuple[list[repo.Row], list[repo.Row], tuple[int, int]]]:
            actor = self._customer(conn, claims)
            method = repo.meta_value(conn, "cost_method") or lots.FIFO
            return method, repo.pnl_rows(conn, actor.account_id)  # type: ignore[arg-type]

        await self._catch_up()
        method, (balances, realized_rows, (deposited, withdrawn)) = await self._readers.run(job)
        now = self._clock()
        traded = {sym: (cents_to_cash(done), cents_to_cash(fees)) for sym, done, fees in realized_rows}
        zero = Decimal("0.00")
        cash = zero
        lines = []
        for asset, amount, cost in balances:
            if asset == USD:
                cash = cents_to_cash(amount)
                continue
            qty = from_units(amount, self._assets[asset].precision)
            value = (qty * self.market.price(asset, now)).quantize(CENT, ROUND_HALF_EVEN)
            done, fees = traded.pop(asset, (zero, zero))
            lines.append(_pnl_line(asset, qty, cents_to_cash(cost), value, done, fees))
        for asset, (done, fees) in traded.items():  # sold out
            precision = self._assets[asset].precision if asset in self._assets else 8
            lines.append(_pnl_line(asset, from_units(0, precision), zero, zero, done, fees))
        lines.sort(key=lambda line: (-line.total_pnl, line.symbol))
        realized = sum((line.realized_pnl for line in lines), zero)
        unrealized = sum((line.unrealized_pnl for line in lines), zero)
        fees = sum((line.fees for line in lines), zero)
        equity = cash + sum((line.market_value for line in lines), zero)
        return PnlReport(
            cost_method=method, lines=lines, realized_pnl=realized, unrealized_pnl=unrealized, fees=fees,
            total_pnl=realized + unrealized - fees, equity=equity,
            net_deposits=cents_to_cash(deposited - withdrawn), as_of=datetime.fromtimestamp(now, UTC),
        )

    async def leaderboard(self, token: str, *, sort: str = "equity", limit: int = 50) -> list[LeaderboardEntry]:
        """Traders who have deposited, ranked by equity (or by return), valued at this second's prices."""
        claims = self._claims(token)
        if sort not in LEADERBOARD_SORTS:
            raise errors.ValidationError(f"sort is one of: {', '.join(LEADERBOARD_SORTS)}", {"field": "sort"})
        _check_page(0, limit)

        def job(conn: Conn) -> tuple[list[repo.Row], list[repo.Row]]:
            self._actor(conn, claims)
            return repo.leaderboard_rows(conn)

        balances, flows = await self._readers.run(job)
        now = self._clock()

        def rank() -> list[LeaderboardEntry]:
            equity: dict[int, Decimal] = {}
            for account_id, asset, amount in balances:
                if asset == USD:
                    value = cents_to_cash(amount)
                else:
                    info = self._assets[asset]
                    value = (from_units(amount, info.precision) * self.market.price(asset, now)).quantize(
                        CENT, ROUND_HALF_EVEN)
                equity[account_id] = equity.get(account_id, Decimal("0.00")) + value
            rows = []
            for account_id, username, display_name, account, deposited, withdrawn, first in flows:
                if not deposited or first is None:
                    continue
                own = equity.get(account_id, Decimal("0.00"))
                net = cents_to_cash(deposited - withdrawn)
                pnl = own - net
                ret = (pnl * 100 / cents_to_cash(deposited)).quantize(CENT, ROUND_HALF_EVEN)
                rows.append((username, account, display_name, own, net, pnl, ret, first))
            key = (lambda r: (-r[3], r[0], r[1])) if sort == "equity" else (lambda r: (-r[6], -r[3], r[0], r[1]))
            return [
                LeaderboardEntry(
                    rank=i, username=username, display_name=display_name, account=account, equity=own,
                    net_deposits=net, pnl=pnl, return_pct=ret, first_deposit_at=_dt(first),
                )
                for i, (username, account, display_name, own, net, pnl, ret, first) in enumerate(
                    sorted(rows, key=key)[:limit], start=1)
            ]

        return await self._priced(rank)

    # -- the ledger's settings: cost method and friction ----------------------------------------------

    async def ledger_settings(self, token: str | Operator) -> LedgerSettings:
        """What the ledger's owner chose: every trader may read it (it prices their fills)."""
        claims = self._claims(token)

        def job(conn: Conn) -> LedgerSettings:
            self._actor(conn, claims)
            return _settings(repo.friction_meta(conn))

        return await self._readers.run(job)

    async def admin_update_settings(self, token: str | Operator, update: SettingsUpdate) -> LedgerSettings:
        """Change the cost method (for sales from now on) or the friction profile (for fills
        from now on)."""
        claims = self._claims(token)
        _check_type(update, SettingsUpdate, "update")
        changes = {name: value for name, value in update.model_dump().items() if value is not None}
        if not changes:
            raise errors.ValidationError("nothing to change: give a setting")
        for name in SETTINGS:
            if name in changes and not 0 <= changes[name] <= MAX_BPS:
                raise errors.InvalidAmount(f"{name} is 0 to {MAX_BPS} basis points", {"field": name})

        def job(conn: Conn) -> LedgerSettings:
            actor = self._admin(conn, claims)
            for name, value in changes.items():
                repo.set_meta(conn, name, str(value))
            repo.audit(conn, _iso(self._clock()), "settings_change", actor_id=actor.user_id, actor=actor.username,
                       detail={name: str(value) for name, value in changes.items()})
            return _settings(repo.friction_meta(conn))

        return await self._writer.run(job)

    async def preview_order(self, token: str, request: OrderRequest) -> OrderPreview:
        """What `request` would do now: its fill's receipt (price, spread, slippage, fee), or what
        it would reserve while it rests. Nothing is placed or checked against the balances."""
        claims = self._claims(token)
        _check_type(request, OrderRequest, "request")
        info, side, kind, _, units, cash, _, limit, stop, _ = self._parse_order(request)

        def job(conn: Conn) -> dict[str, str]:
            self._customer(conn, claims)
            return repo.friction_meta(conn)

        friction = Friction.from_meta(await self._readers.run(job))
        reference = self.market.price(info.symbol, self._clock())
        if kind is not OrderType.MARKET:
            assert units is not None
            _check_stop(info.symbol, side, stop, reference)
        qty, ex, cents, fee = _fill_terms(friction, info, side, reference, units=units, cash=cash)
        rests = kind is not OrderType.MARKET and not (
            kind is OrderType.LIMIT and (ex.price <= limit if side is Side.BUY else ex.price >= limit))  # type: ignore[operator]
        if rests:
            assert units is not None
            held = _reservation(friction, info, side, kind, units, limit, stop)
            return OrderPreview(symbol=info.symbol, side=side, type=kind, rests=True, reference_price=reference,
                                reserved=_held(side, held, info.precision))
        receipt = _receipt(side, from_units(qty, info.precision), cents, ex.price, _receipt_fields(ex, fee))
        return OrderPreview(symbol=info.symbol, side=side, type=kind, rests=False, reference_price=reference,
                            receipt=receipt)

    # -- administration ---------------------------------------------------------------------------------

    async def admin_users(self, token: str | Operator) -> list[User]:
        claims = self._claims(token)

        def job(conn: Conn) -> list[User]:
            self._admin(conn, claims)
            return [_user(r) for r in repo.list_users(conn)]

        return await self._readers.run(job)

    async def admin_set_role(self, token: str | Operator, username: str, role: Role) -> User:
        try:
            role = Role(role)
        except ValueError:
            raise errors.ValidationError("role is admin or customer", {"field": "role"}) from None
        return await self._admin_change_user(token, username, "role_change", role=role.value)

    async def admin_set_disabled(self, token: str | Operator, username: str, disabled: bool) -> User:
        return await self._admin_change_user(
            token, username, "disable" if disabled else "enable", disabled=bool(disabled)
        )

    async def _admin_change_user(self, token: str | Operator, username: str, action: str, **fields: Any) -> User:
        claims = self._claims(token)

        def job(conn: Conn) -> User:
            actor = self._admin(conn, claims)
            row = repo.user_by_name(conn, username) if is_username(username) else None
            if row is None:
                raise errors.NotFound(f"no user named {_shown(username)!r}", {"username": _shown(username)})
            if fields.get("disabled") or fields.get("role") == Role.CUSTOMER.value:
                # a disabled user's or a demoted admin's outstanding tokens stop working now
                fields["token_version"] = row[6] + 1
            repo.update_user(conn, row[0], **fields)
            detail = {k: v for k, v in fields.items() if k != "token_version"}
            repo.audit(conn, _iso(self._clock()), action, actor_id=actor.user_id, actor=actor.username,
                       target=row[1], detail=detail)
            new_row = repo.user_by_id(conn, row[0])
            assert new_row is not None
            return _user(new_row)

        return await self._writer.run(job)

    async def admin_audit(self, token: str | Operator, *, offset: int = 0, limit: int = 50) -> Page[AuditEvent]:
        claims = self._claims(token)
        _check_page(offset, limit)

        def job(conn: Conn) -> Page[AuditEvent]:
            self._admin(conn, claims)
            total, rows = repo.audit_page(conn, offset, limit)
            items = [
                AuditEvent(id=r[0], at=_dt(r[1]), actor=r[2], action=r[3], target=r[4], detail=json.loads(r[5]),
                           source=r[6])
                for r in rows
            ]
            return Page[AuditEvent](items=items, total=total, offset=offset, limit=limit)

        return await self._readers.run(job)

    async def admin_verify(self, token: str | Operator) -> VerifyReport:
        claims = self._claims(token)

        def job(conn: Conn) -> VerifyReport:
            self._admin(conn, claims)
            problems, sums, counts = repo.ledger_problems(conn)
            problems += self._db.integrity_problems(conn)
            fee_account = int(repo.friction_meta(conn)["fee_account"])
            return VerifyReport(
                ok=not problems,
                problems=problems,
                sums={asset: from_units(total, self._precision(asset)) for asset, total in sums.items()},
                fees_collected=cents_to_cash(repo.balance(conn, fee_account, USD)[0]),
                **counts,
            )

        return await self._readers.run(job)

    def _precision(self, asset: str) -> int:
        if asset == USD:
            return 2
        return self._assets[asset].precision if asset in self._assets else 0


def _asset_info(row: repo.Row) -> AssetInfo:
    """An `assets` row (as `repo.asset_rows` selects it) as the market's AssetInfo."""
    return AssetInfo(
        symbol=row[0],
        name=row[1],
        category=row[2],
        rank=row[3],
        peg=row[4],
        reference_price=Decimal(row[5]),
        reference_date=row[6],
        source=row[7],
        volatility=Decimal(row[8]),
        precision=row[9],
        history=row[10],
    )


def _asset_row(info: AssetInfo) -> dict[str, Any]:
    return {
        "symbol": info.symbol,
        "name": info.name,
        "category": info.category,
        "rank": info.rank,
        "peg": info.peg,
        "reference_price": str(info.reference_price),
        "reference_date": info.reference_date,
        "source": info.source,
        "volatility": str(info.volatility),
        "precision": info.precision,
        "history": info.history,
    }
