"""A session-bound handle: an Engine and one session's token, so a surface calls
`me.balance()` instead of passing the token (or a `lambda token:`) at every call.

`bind(engine, token)` makes one from a login's token; `open_operator(path)` (in
`orderproc.engine`) makes one for the owner of a ledger file, who needs no login.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from orderproc.engine.errors import NotFound
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import (
    AccountInfo,
    AuditEvent,
    Balance,
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
    ProfileUpdate,
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


@dataclass(frozen=True, slots=True)
class Bound:
    """Every private call of `engine`, made with `token`."""

    engine: Engine
    token: str

    # users and sessions
    async def logout(self) -> None:
        await self.engine.logout(self.token)

    async def whoami(self) -> User:
        return await self.engine.whoami(self.token)

    async def update_profile(self, update: ProfileUpdate) -> User:
        return await self.engine.update_profile(self.token, update)

    async def change_password(self, old_password: str, new_password: str) -> Session:
        return await self.engine.change_password(self.token, old_password, new_password)

    # API keys
    async def create_api_key(self, *, name: str | None = None, read_only: bool = False) -> NewApiKey:
        return await self.engine.create_api_key(self.token, name=name, read_only=read_only)

    async def api_keys(self) -> list[ApiKey]:
        return await self.engine.api_keys(self.token)

    async def revoke_api_key(self, key_id: str) -> ApiKey:
        return await self.engine.revoke_api_key(self.token, key_id)

    # named paper accounts
    async def accounts(self) -> list[AccountInfo]:
        return await self.engine.accounts(self.token)

    async def create_account(self, name: str) -> AccountInfo:
        return await self.engine.create_account(self.token, name)

    async def switch_account(self, name: str) -> Session:
        return await self.engine.switch_account(self.token, name)

    async def reset_account(self, cash: Decimal | str) -> Transaction:
        return await self.engine.reset_account(self.token, cash)

    # cash
    async def deposit(self, amount: Decimal | str, *, key: str | None = None) -> Transaction:
        return await self.engine.deposit(self.token, amount, key=key)

    async def withdraw(self, amount: Decimal | str, *, key: str | None = None) -> Transaction:
        return await self.engine.withdraw(self.token, amount, key=key)

    async def balance(self) -> Balance:
        return await self.engine.balance(self.token)

    async def history(self, *, kind: TxKind | None = None, offset: int = 0, limit: int = 50) -> Page[Transaction]:
        return await self.engine.history(self.token, kind=kind, offset=offset, limit=limit)

    # orders and portfolio
    async def place_order(self, request: OrderRequest) -> Order:
        return await self.engine.place_order(self.token, request)

    async def preview_order(self, request: OrderRequest) -> OrderPreview:
        return await self.engine.preview_order(self.token, request)

    async def orders(self, *, offset: int = 0, limit: int = 50, symbol: str | None = None,
                     status: OrderStatus | None = None, open: bool | None = None,
                     client_order_id: str | None = None) -> Page[Order]:
        return await self.engine.orders(self.token, offset=offset, limit=limit, symbol=symbol, status=status,
                                        open=open, client_order_id=client_order_id)

    async def get_order(self, order_id: int) -> Order:
        return await self.engine.get_order(self.token, order_id)

    async def cancel_order(self, order_id: int) -> Order:
        return await self.engine.cancel_order(self.token, order_id)

    async def cancel_orders(self, *, symbol: str | None = None) -> list[Order]:
        return await self.engine.cancel_orders(self.token, symbol=symbol)

    # the watchlist
    async def watchlist(self) -> Watchlist:
        return await self.engine.watchlist(self.token)

    async def watch(self, symbol: str) -> Watchlist:
        return await self.engine.watch(self.token, symbol)

    async def unwatch(self, symbol: str) -> Watchlist:
        return await self.engine.unwatch(self.token, symbol)

    async def sort_watchlist(self, sort: WatchSort | str) -> Watchlist:
        return await self.engine.sort_watchlist(self.token, sort)

    # price alerts
    async def set_alert(self, symbol: str, direction: AlertDirection | str, price: Decimal | str) -> Alert:
        return await self.engine.set_alert(self.token, symbol, direction, price)

    async def alerts(self, *, fired: bool | None = None) -> list[Alert]:
        return await self.engine.alerts(self.token, fired=fired)

    async def remove_alert(self, alert_id: int) -> Alert:
        return await self.engine.remove_alert(self.token, alert_id)

    async def portfolio(self) -> Portfolio:
        return await self.engine.portfolio(self.token)

    async def lots(self, *, symbol: str | None = None, closed: bool = False) -> list[Lot]:
        return await self.engine.lots(self.token, symbol=symbol, closed=closed)

    async def pnl(self) -> PnlReport:
        return await self.engine.pnl(self.token)

    async def leaderboard(self, *, sort: str = "equity", limit: int = 50) -> list[LeaderboardEntry]:
        return await self.engine.leaderboard(self.token, sort=sort, limit=limit)

    # the ledger's settings and administration
    async def ledger_settings(self) -> LedgerSettings:
        return await self.engine.ledger_settings(self.token)

    async def admin_update_settings(self, update: SettingsUpdate) -> LedgerSettings:
        return await self.engine.admin_update_settings(self.token, update)

    async def admin_users(self) -> list[User]:
        return await self.engine.admin_users(self.token)

    async def admin_set_role(self, username: str, role: Role) -> User:
        return await self.engine.admin_set_role(self.token, username, role)

    async def admin_set_disabled(self, username: str, disabled: bool) -> User:
        return await self.engine.admin_set_disabled(self.token, username, disabled)

    async def admin_audit(self, *, offset: int = 0, limit: int = 50) -> Page[AuditEvent]:
        return await self.engine.admin_audit(self.token, offset=offset, limit=limit)

    async def admin_verify(self) -> VerifyReport:
        return await self.engine.admin_verify(self.token)


def bind(engine: Engine, token: str) -> Bound:
    return Bound(engine, token)


async def sign_in(engine: Engine, username: str, password: str, *, source: str,
                  account: str | None = None) -> tuple[Session, str | None]:
    """Log in, then trade `account` (a surface's configured default) when the user has it.

    Returns the session and, when `account` was asked for and the user has no such account, a
    sentence saying so (the session trades the user's first account then)."""
    session = await engine.login(username, password, source=source)
    if account is None or account == session.account:
        return session, None
    try:
        return await engine.switch_account(session.token, account), None
    except NotFound:
        return session, (f"you have no paper account {account!r} (the configured default): trading "
                         f"{session.account!r}; open it with `orderproc accounts create {account}`")
