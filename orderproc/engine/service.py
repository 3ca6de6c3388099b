"""LocalEngine: the Engine protocol over a ledger (a SQLite file or a PostgreSQL database), in-process.

A thin facade: each method turns the token into claims (a bad token fails before any other
check), saying what the call needs of an API key ("read", "trade", or by default a person's
session: a new method refuses keys until it is classed), and calls its use case (`usecases/`),
which validates its input before any I/O and runs
as one job on the store: a write on the writer thread (`store/sqlite.py`) inside a transaction
that commits only if the job returns, or a read in one snapshot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from orderproc.engine.catalog import CANDLES_DEFAULT
from orderproc.engine.events import AccountEvent
from orderproc.engine.limits import Bucket
from orderproc.engine.prices import Market
from orderproc.engine.schemas import (
    AccountInfo,
    Asset,
    AuditEvent,
    Balance,
    Journal,
    LeaderboardEntry,
    LedgerSettings,
    Lot,
    Order,
    OrderPreview,
    OrderRequest,
    OrderStatus,
    Page,
    PnlReport,
    Portfolio,
    Candles,
    PricePoint,
    ProfileUpdate,
    Quote,
    Role,
    Session,
    SettingsUpdate,
    Transaction,
    TxKind,
    User,
    VerifyReport,
)
from orderproc.engine.apikeys import ApiKey, NewApiKey
from orderproc.engine.watching import Alert, AlertDirection, Watchlist, WatchSort
from orderproc.engine.store.backend import is_server_url
from orderproc.engine.usecases import accounts, admin, alerts, auth, cash, keys, market, matcher, orders, reports
from orderproc.engine.usecases import journal as journals
from orderproc.engine.usecases import watchlist as watchlists
from orderproc.engine.usecases.context import Context
from orderproc.engine.usecases.watch import AccountWatch


class LocalEngine:
    """The exchange over one ledger: a file's path, or a postgresql:// URL. Open it, use it from
    one event loop, close it."""

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
        self.path: Path | str = path if is_server_url(path) else Path(path).expanduser().resolve()
        self._ctx = Context.open(self.path, clock=clock, hash_profile=hash_profile, synchronous=synchronous,
                                 token_ttl=token_ttl, market_seed=market_seed, market_speed=market_speed)
        self._gate = auth.Gate(self._ctx)
        self._watch = AccountWatch(self._ctx)

    @property
    def location(self) -> str:
        """The ledger file, or the PostgreSQL URL without its password."""
        return self._ctx.db.location

    @property
    def session_key(self) -> str:
        return f"file:{self.path}" if isinstance(self.path, Path) else f"db:{self.location}"

    @property
    def market(self) -> Market:
        return self._ctx.market

    @property
    def meta(self) -> dict[str, str]:
        return self._ctx.meta

    @property
    def operator_token(self) -> str:
        """The token of the ledger file's owner acting directly (`orderproc.engine.open_operator`):
        every admin call, no user, no paper account; valid in this process only."""
        return self._gate.operator_token()

    async def close(self) -> None:
        await self._watch.close()
        await self._gate.close()
        await asyncio.get_running_loop().run_in_executor(None, self._ctx.close)

    async def __aenter__(self) -> LocalEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # users and sessions
    async def register(self, username: str, password: str, *, source: str | None = None) -> User:
        return await auth.register(self._ctx, username, password, source)

    async def login(self, username: str, password: str, *, source: str | None = None) -> Session:
        return await auth.login(self._ctx, username, password, source)

    async def throttle(self, buckets: Sequence[Bucket]) -> float:
        """The server's login limits, kept in the ledger so that every server on it shares them:
        a token from each (key, rate, burst) bucket in turn; 0, or the seconds to wait."""
        return await auth.throttle(self._ctx, buckets)

    async def logout(self, token: str) -> None:
        await auth.logout(self._ctx, self._gate.claims(token))

    async def whoami(self, token: str) -> User:
        return await auth.whoami(self._ctx, self._gate.claims(token, "read"))

    async def update_profile(self, token: str, update: ProfileUpdate) -> User:
        return await auth.update_profile(self._ctx, self._gate.claims(token), update)

    async def change_password(self, token: str, old_password: str, new_password: str) -> Session:
        return await auth.change_password(self._ctx, self._gate.claims(token), old_password, new_password)

    # API keys (managed with a session only)
    async def create_api_key(self, token: str, *, name: str | None = None, read_only: bool = False) -> NewApiKey:
        return await keys.create(self._ctx, self._gate.claims(token), name, read_only)

    async def api_keys(self, token: str) -> list[ApiKey]:
        return await keys.listing(self._ctx, self._gate.claims(token))

    async def revoke_api_key(self, token: str, key_id: str) -> ApiKey:
        return await keys.revoke(self._ctx, self._gate.claims(token), key_id)

    # named paper accounts
    async def accounts(self, token: str) -> list[AccountInfo]:
        return await accounts.listing(self._ctx, self._gate.claims(token, "read"))

    async def create_account(self, token: str, name: str) -> AccountInfo:
        return await accounts.create(self._ctx, self._gate.claims(token), name)

    async def switch_account(self, token: str, name: str) -> Session:
        return await accounts.switch(self._ctx, self._gate.claims(token), name)

    async def reset_account(self, token: str, cash: Decimal | str) -> Transaction:
        return await accounts.reset(self._ctx, self._gate.claims(token), cash)

    # cash
    async def deposit(self, token: str, amount: Decimal | str, *, key: str | None = None) -> Transaction:
        return await cash.move_cash(self._ctx, self._gate.claims(token, "trade"), TxKind.DEPOSIT, amount, key)

    async def withdraw(self, token: str, amount: Decimal | str, *, key: str | None = None) -> Transaction:
        return await cash.move_cash(self._ctx, self._gate.claims(token, "trade"), TxKind.WITHDRAWAL, amount, key)

    async def balance(self, token: str) -> Balance:
        return await cash.balance(self._ctx, self._gate.claims(token, "read"))

    async def history(
        self, token: str, *, kind: TxKind | None = None, offset: int = 0, limit: int = 50
    ) -> Page[Transaction]:
        return await cash.history(self._ctx, self._gate.claims(token, "read"), kind, offset, limit)

    # assets and prices
    async def list_assets(
        self, *, search: str | None = None, category: str | None = None, sort: str = "rank", descending: bool = False,
    ) -> list[Asset]:
        return await market.list_assets(self._ctx, search, category, sort, descending)

    async def get_asset(self, symbol: str) -> Asset:
        return await market.get_asset(self._ctx, symbol)

    async def quote(self, symbol: str) -> Quote:
        return await market.quote(self._ctx, symbol)

    async def quotes(self, symbols: list[str] | None = None) -> list[Quote]:
        return await market.quotes(self._ctx, symbols)

    # the watchlist
    async def watchlist(self, token: str) -> Watchlist:
        return await watchlists.listing(self._ctx, self._gate.claims(token, "read"))

    async def watch(self, token: str, symbol: str) -> Watchlist:
        return await watchlists.add(self._ctx, self._gate.claims(token, "trade"), symbol)

    async def unwatch(self, token: str, symbol: str) -> Watchlist:
        return await watchlists.remove(self._ctx, self._gate.claims(token, "trade"), symbol)

    async def sort_watchlist(self, token: str, sort: WatchSort | str) -> Watchlist:
        return await watchlists.set_sort(self._ctx, self._gate.claims(token, "trade"), sort)

    # price alerts
    async def set_alert(self, token: str, symbol: str, direction: AlertDirection | str,
                        price: Decimal | str) -> Alert:
        return await alerts.add(self._ctx, self._gate.claims(token, "trade"), symbol, direction, price)

    async def alerts(self, token: str, *, fired: bool | None = None) -> list[Alert]:
        return await alerts.listing(self._ctx, self._gate.claims(token, "read"), fired)

    async def remove_alert(self, token: str, alert_id: int) -> Alert:
        return await alerts.remove(self._ctx, self._gate.claims(token, "trade"), alert_id)

    async def price_history(self, symbol: str, *, hours: int = 24, points: int = 96) -> list[PricePoint]:
        return await market.price_history(self._ctx, symbol, hours, points)

    async def candles(self, symbol: str, *, range: str = "1d", limit: int = CANDLES_DEFAULT) -> Candles:
        return await market.candles(self._ctx, symbol, range, limit)

    async def bars(self, symbol: str, *, interval: int, end: datetime | None = None,
                   limit: int = CANDLES_DEFAULT) -> list[PricePoint]:
        return await market.bars(self._ctx, symbol, interval, end, limit)

    async def stream_quotes(self, interval: float = 1.0) -> AsyncIterator[list[Quote]]:
        market.check_interval(interval)
        while True:
            yield await self.quotes()
            await asyncio.sleep(interval)

    # orders
    async def place_order(self, token: str, request: OrderRequest) -> Order:
        return await orders.place(self._ctx, self._gate.claims(token, "trade"), request)

    async def preview_order(self, token: str, request: OrderRequest) -> OrderPreview:
        return await orders.preview(self._ctx, self._gate.claims(token, "read"), request)

    async def cancel_order(self, token: str, order_id: int) -> Order:
        return await orders.cancel(self._ctx, self._gate.claims(token, "trade"), order_id)

    async def cancel_orders(self, token: str, *, symbol: str | None = None) -> list[Order]:
        return await orders.cancel_all(self._ctx, self._gate.claims(token, "trade"), symbol)

    async def orders(
        self, token: str, *, offset: int = 0, limit: int = 50, symbol: str | None = None,
        status: OrderStatus | None = None, open: bool | None = None,
        client_order_id: str | None = None,
    ) -> Page[Order]:
        return await orders.listing(self._ctx, self._gate.claims(token, "read"), offset, limit, symbol, status, open,
                                      client_order_id)

    async def get_order(self, token: str, order_id: int) -> Order:
        return await orders.get(self._ctx, self._gate.claims(token, "read"), order_id)

    # the price loop
    async def match(self) -> int:
        return await matcher.match(self._ctx)

    async def run_price_loop(self, interval: float = 1.0) -> None:
        await matcher.run_price_loop(self._ctx, interval)

    async def stream_account(self, token: str) -> AsyncGenerator[AccountEvent, None]:
        claims = self._gate.claims(token, "read")
        async with aclosing(self._watch.stream(claims)) as events:
            async for event in events:
                yield event

    # valuations
    async def portfolio(self, token: str) -> Portfolio:
        return await reports.portfolio(self._ctx, self._gate.claims(token, "read"))

    async def lots(self, token: str, *, symbol: str | None = None, closed: bool = False) -> list[Lot]:
        return await reports.lots(self._ctx, self._gate.claims(token, "read"), symbol, closed)

    async def pnl(self, token: str) -> PnlReport:
        return await reports.pnl(self._ctx, self._gate.claims(token, "read"))

    async def leaderboard(self, token: str, *, sort: str = "equity", limit: int = 50) -> list[LeaderboardEntry]:
        return await reports.leaderboard(self._ctx, self._gate.claims(token, "read"), sort, limit)

    async def journal(self, token: str, *, account: str | None = None, since: date | None = None) -> Journal:
        return await journals.journal(self._ctx, self._gate.claims(token, "read"), account, since)

    # the ledger's settings and administration
    async def ledger_settings(self, token: str) -> LedgerSettings:
        return await admin.settings(self._ctx, self._gate.claims(token, "read"))

    async def admin_update_settings(self, token: str, update: SettingsUpdate) -> LedgerSettings:
        return await admin.update_settings(self._ctx, self._gate.claims(token), update)

    async def admin_users(self, token: str) -> list[User]:
        return await admin.users(self._ctx, self._gate.claims(token))

    async def admin_set_role(self, token: str, username: str, role: Role) -> User:
        role = admin.check_role(role)  # before the session: a bad request says so whoever sends it
        return await admin.set_role(self._ctx, self._gate.claims(token), username, role)

    async def admin_set_disabled(self, token: str, username: str, disabled: bool) -> User:
        return await admin.set_disabled(self._ctx, self._gate.claims(token), username, disabled)

    async def admin_audit(self, token: str, *, offset: int = 0, limit: int = 50) -> Page[AuditEvent]:
        return await admin.audit(self._ctx, self._gate.claims(token), offset, limit)

    async def admin_verify(self, token: str) -> VerifyReport:
        return await admin.verify(self._ctx, self._gate.claims(token))
