"""The ledger's tables, defined once with SQLModel.

The schema (DDL) is generated from these classes; the hot paths then speak plain, portable
SQL to the DBAPI connection (see `store/sqlite.py` for why). Imported only when a ledger is
created, so commands that open an existing ledger do not pay for SQLAlchemy's import.

Money is never a float: cash in integer cents, quantities in integer units of
10**-precision of their asset, prices as exact decimal TEXT.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Index, UniqueConstraint, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.base import PGTypeCompiler
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlmodel import Field, SQLModel


class Meta(SQLModel, table=True):
    __tablename__ = "meta"
    key: str = Field(primary_key=True)
    value: str


class UserRow(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    username: str
    username_key: str = Field(unique=True)
    password_hash: str
    role: str = "customer"
    display_name: str | None = None
    email: str | None = None
    disabled: bool = False
    token_version: int = 0
    account_id: int
    created_at: str


class AccountRow(SQLModel, table=True):
    """A holder of balances: a customer's paper account, the house, or the outside world."""

    __tablename__ = "accounts"
    __table_args__ = (Index("ux_accounts_user_name", "user_id", "name", unique=True),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str  # customer | house | external
    user_id: int | None = Field(default=None, index=True)
    name: str
    # the entry that last reset it (0: never); its P&L and the leaderboard count from there
    reset_entry: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class BalanceRow(SQLModel, table=True):
    __tablename__ = "balances"
    account_id: int = Field(primary_key=True)
    asset: str = Field(primary_key=True)
    amount: int = 0
    cost: int = 0  # cost basis in cents of a customer's position
    reserved: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # held by open orders


class AssetRow(SQLModel, table=True):
    __tablename__ = "assets"
    symbol: str = Field(primary_key=True)
    name: str
    category: str
    rank: int | None = None
    peg: str | None = None
    reference_price: str
    reference_date: str
    source: str
    volatility: str
    precision: int
    history: str | None = None
    enabled: bool = True


class EntryRow(SQLModel, table=True):
    """One journal entry: a deposit, a withdrawal or a trade; its postings sum to zero per asset."""

    __tablename__ = "entries"
    __table_args__ = (Index("ix_entries_account", "account_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str
    account_id: int
    order_id: int | None = Field(default=None, unique=True)
    client_key: str | None = None
    created_at: str


class PostingRow(SQLModel, table=True):
    __tablename__ = "postings"
    __table_args__ = (Index("ix_postings_entry", "entry_id"),)
    id: int | None = Field(default=None, primary_key=True)
    entry_id: int
    account_id: int
    asset: str
    amount: int


class OrderRow(SQLModel, table=True):
    """An order. Market orders are written filled; limit and stop orders rest as `new` until
    the matcher fills them (or they are canceled, expire or are rejected). `seq` orders the
    changes to resting orders, so each matcher reads only what changed since its last pass."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_user", "user_id", "id"),
        Index("ix_orders_seq", "seq"),
        Index("ix_orders_open", "user_id", "symbol", sqlite_where=text("status = 'new'"),
              postgresql_where=text("status = 'new'")),
    )
    id: int | None = Field(default=None, primary_key=True)
    user_id: int
    account_id: int
    symbol: str
    side: str
    type: str = "market"
    time_in_force: str = "ioc"
    status: str
    quantity: int
    limit_price: str | None = None
    stop_price: str | None = None
    price: str | None = None  # the fill's
    notional: int | None = None  # the fill's, in cents
    reserved: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # cents (buy) / units (sell)
    reason: str | None = None
    client_order_id: str | None = None
    created_at: str
    triggered_at: str | None = None
    closed_at: str | None = None
    seq: int | None = None
    lot_id: int | None = None  # a sell's chosen lot (specific identification)
    realized: int | None = None  # a filled sell's realized P&L, cents
    # the fill's receipt: the ledger price, the half spread and slippage per unit paid, the fee
    liquidity: str | None = None  # maker | taker
    reference_price: str | None = None
    spread: str | None = None
    slippage: str | None = None
    fee_bps: str | None = None
    fee: int | None = None  # cents


class LotRow(SQLModel, table=True):
    """A tax lot: what one buy added to a position, and what of it is still held."""

    __tablename__ = "lots"
    __table_args__ = (Index("ix_lots_open", "account_id", "symbol", "id", sqlite_where=text("remaining > 0"),
                            postgresql_where=text("remaining > 0")),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int
    symbol: str
    order_id: int = Field(unique=True)
    opened_at: str
    quantity: int  # units bought
    cost: int  # cents paid
    remaining: int  # units still held
    remaining_cost: int  # their cost basis, cents


class LotCloseRow(SQLModel, table=True):
    """What one sell took from one lot: units, the cost basis that went with them, proceeds."""

    __tablename__ = "lot_closes"
    __table_args__ = (Index("ix_lot_closes_order", "order_id"), Index("ix_lot_closes_lot", "lot_id"))
    id: int | None = Field(default=None, primary_key=True)
    order_id: int
    lot_id: int
    quantity: int
    cost: int
    proceeds: int


class IdempotencyRow(SQLModel, table=True):
    """A client's key for a request that moved money: same key and request -> same result."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "client_key"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int
    client_key: str
    kind: str
    request_hash: str
    ref_id: int
    created_at: str


class RevokedTokenRow(SQLModel, table=True):
    __tablename__ = "revoked_tokens"
    jti: str = Field(primary_key=True)
    expires_at: float


class AuditRow(SQLModel, table=True):
    __tablename__ = "audit"
    id: int | None = Field(default=None, primary_key=True)
    at: str
    actor_id: int | None = None
    actor: str | None = None
    action: str
    target: str | None = None
    detail: str = "{}"
    source: str | None = None


class RateBucketRow(SQLModel, table=True):
    """A token bucket of the login limits, shared by every server on the ledger: `tokens` left
    at `at` (the clock's seconds); `full_at`, when it is full again (and can be forgotten)."""

    __tablename__ = "rate_buckets"
    key: str = Field(primary_key=True)
    tokens: float
    at: float
    full_at: float = Field(index=True)


class WatchRow(SQLModel, table=True):
    """A symbol on a user's watchlist; `position` is the user's own order (0 first)."""

    __tablename__ = "watchlist"
    user_id: int = Field(primary_key=True)
    symbol: str = Field(primary_key=True)
    position: int
    added_at: str


class UserSettingRow(SQLModel, table=True):
    """A user's choice that follows them to any terminal (e.g. how the watchlist is sorted)."""

    __tablename__ = "user_settings"
    user_id: int = Field(primary_key=True)
    key: str = Field(primary_key=True)
    value: str


class AlertRow(SQLModel, table=True):
    """A price alert: fires once, at the first tick after it was set at which the price loop
    sees the price at or beyond `price` in `direction` ("above" | "below"); `fired_at` and
    `fired_price` say when and at what; `fired_seq` numbers the firings in commit order (the
    account event stream's mark, as `seq` is for orders)."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_pending", "fired_at", "symbol"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(index=True)
    symbol: str
    direction: str
    price: str  # exact decimal text
    created_at: str
    fired_at: str | None = None
    fired_price: str | None = None
    fired_seq: int | None = Field(default=None, index=True)


class ApiKeyRow(SQLModel, table=True):
    """A key a program signs in with instead of a session: `key_id` is public, the secret is
    kept only as `secret_hash`; scoped to one account; `read_only` keys cannot move anything."""

    __tablename__ = "api_keys"
    id: int | None = Field(default=None, primary_key=True)
    key_id: str = Field(unique=True)
    user_id: int = Field(index=True)
    account_id: int
    name: str
    secret_hash: str
    read_only: bool = False
    created_at: str
    revoked_at: str | None = None
    last_used_at: str | None = None


def table_columns() -> list[tuple[str, list[str]]]:
    """Every table's name and columns, in dependency order (what `admin copy` copies)."""
    return [(t.name, [c.name for c in t.columns]) for t in SQLModel.metadata.sorted_tables]


def schema_ddl(only: str | None = None, dialect: str = "sqlite") -> list[str]:
    """CREATE TABLE and CREATE INDEX statements for every table (or the one named), in
    dependency order, for SQLite or PostgreSQL."""
    compiler = _postgresql() if dialect == "postgresql" else sqlite.dialect()
    statements: list[str] = []
    for table in SQLModel.metadata.sorted_tables:
        if only is not None and table.name != only:
            continue
        create = str(CreateTable(table).compile(dialect=compiler)).strip()
        statements.append(re.sub(r"\bSERIAL\b", "BIGSERIAL", create))  # ids as wide as SQLite's
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            statements.append(str(CreateIndex(index).compile(dialect=compiler)).strip())
    return statements


class _LedgerTypes(PGTypeCompiler):
    """The same column types as on SQLite: 64-bit integers (cents and units; SQLite's INTEGER),
    flags as 0/1 integers (so the SQL is the same on both), text in byte order (the "C"
    collation: stored times sort as text, as in SQLite)."""

    def visit_integer(self, type_: Any, **kw: Any) -> str:
        return "BIGINT"

    def visit_boolean(self, type_: Any, **kw: Any) -> str:
        return "INTEGER"

    def visit_VARCHAR(self, type_: Any, **kw: Any) -> str:
        return 'TEXT COLLATE "C"'


def _postgresql() -> Any:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's dialects are untyped
    dialect.type_compiler_instance = _LedgerTypes(dialect)
    return dialect
