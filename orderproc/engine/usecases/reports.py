"""Valuations at this second's prices: the portfolio, lots, P&L (reconciled with the cash
journal), the leaderboard. Every value is `rules.value`: quantity x price to the cent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from orderproc.engine import errors, rules
from orderproc.engine.domain import lots as cost_methods
from orderproc.engine.domain.money import USD, cents_to_cash, from_units
from orderproc.engine.prices import DAY, AssetInfo
from orderproc.engine.schemas import LeaderboardEntry, Lot, PnlReport, Portfolio, Position
from orderproc.engine.store import ledger, repo, trading
from orderproc.engine.store.rows import AccountAssetRow, FlowRow, LotRow, PnlRows, PositionRow
from orderproc.engine.usecases import actors, mapping
from orderproc.engine.usecases.actors import Credentials
from orderproc.engine.usecases.checks import check_page
from orderproc.engine.usecases.context import Context, iso
from orderproc.engine.usecases.matcher import catch_up
from orderproc.engine.valuation import allocated, share

LEADERBOARD_SORTS = ("equity", "return")
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class _Held:
    info: AssetInfo
    row: PositionRow
    price: Decimal
    value: Decimal


async def portfolio(ctx: Context, claims: Credentials) -> Portfolio:
    """The positions at this second's prices, and today's change: what the account gained since
    00:00 UTC (see `_day_start_equity`)."""
    await catch_up(ctx)
    now = ctx.clock()
    day_start = now - now % DAY  # 00:00 UTC: unix time counts every day as 86400 s

    def job(conn: repo.Conn) -> tuple[list[PositionRow], dict[str, int], int]:
        account = actors.customer(conn, claims).account_id
        return repo.positions(conn, account), *trading.moves_since(conn, account, iso(day_start))

    rows, moved, deposited = await ctx.readers.run(job)
    cash = reserved_cash = ZERO
    held: list[_Held] = []
    for row in rows:
        if row.asset == USD:
            cash, reserved_cash = cents_to_cash(row.amount), cents_to_cash(row.reserved)
            continue
        info = ctx.assets[row.asset]
        price = ctx.market.price(row.asset, now)
        held.append(_Held(info, row, price, rules.value(from_units(row.amount, info.precision), price)))
    market_value = sum((h.value for h in held), ZERO)
    equity = cash + market_value
    positions = allocated([
        Position(symbol=h.info.symbol, name=h.info.name, quantity=from_units(h.row.amount, h.info.precision),
                 reserved=from_units(h.row.reserved, h.info.precision),
                 average_cost=cost_methods.unit_cost(h.row.cost, h.row.amount, h.info.precision),
                 cost_basis=cents_to_cash(h.row.cost), price=h.price, market_value=h.value,
                 unrealized_pnl=h.value - cents_to_cash(h.row.cost), allocation=ZERO)
        for h in held
    ], equity)
    day_change = equity - _day_start_equity(ctx, rows, moved, day_start) - cents_to_cash(deposited)
    return Portfolio(cash=cash, reserved_cash=reserved_cash, equity=equity, market_value=market_value,
                     unrealized_pnl=sum((p.unrealized_pnl for p in positions), ZERO), positions=positions,
                     day_change=day_change, as_of=datetime.fromtimestamp(now, UTC))


def _day_start_equity(ctx: Context, rows: list[PositionRow], moved: dict[str, int], day_start: float) -> Decimal:
    """What the account held at `day_start` (what it holds now less what its entries since then
    moved), valued at that moment's prices.

    Today's change is the equity now less this, less today's net deposits: that is the value now
    of what was held at 00:00 UTC less its value then, less the cost of today's buys plus the
    proceeds of today's sells, fees included (they are money the day cost). Deposits and
    withdrawals are not gains; after a reset today the day counts from the reset (the account
    held nothing then)."""
    held = {row.asset: row.amount for row in rows}
    for asset, amount in moved.items():
        held[asset] = held.get(asset, 0) - amount
    total = ZERO
    for asset, amount in held.items():
        if asset == USD:
            total += cents_to_cash(amount)
        elif amount:
            quantity = from_units(amount, ctx.assets[asset].precision)
            total += rules.value(quantity, ctx.market.price(asset, day_start))
    return total


async def lots(ctx: Context, claims: Credentials, symbol: str | None, closed: bool) -> list[Lot]:
    """This user's open lots (with `closed`, the fully sold ones too), by asset, oldest first."""
    wanted = ctx.asset(symbol).symbol if symbol else None

    def job(conn: repo.Conn) -> list[LotRow]:
        who = actors.customer(conn, claims)
        return trading.lots_of(conn, who.account_id, wanted, include_closed=bool(closed))

    await catch_up(ctx)
    rows = await ctx.readers.run(job)
    now = ctx.clock()
    return [mapping.lot(row, ctx.assets[row.symbol].precision, ctx.market.price(row.symbol, now)) for row in rows]


async def pnl(ctx: Context, claims: Credentials) -> PnlReport:
    """Realized and unrealized P&L by asset, at this second's prices, reconciled with the cash
    journal (total = equity - net deposits)."""

    def job(conn: repo.Conn) -> tuple[str, PnlRows]:
        who = actors.customer(conn, claims)
        method = ledger.meta_value(conn, "cost_method") or cost_methods.FIFO
        return method, trading.pnl_rows(conn, who.account_id)

    await catch_up(ctx)
    method, rows = await ctx.readers.run(job)
    now = ctx.clock()
    traded = {r.symbol: (cents_to_cash(r.realized), cents_to_cash(r.fees)) for r in rows.realized}
    cash = ZERO
    lines = []
    for row in rows.balances:
        if row.asset == USD:
            cash = cents_to_cash(row.amount)
            continue
        qty = from_units(row.amount, ctx.assets[row.asset].precision)
        value = rules.value(qty, ctx.market.price(row.asset, now))
        done, fees = traded.pop(row.asset, (ZERO, ZERO))
        lines.append(mapping.pnl_line(row.asset, qty, cents_to_cash(row.cost), value, done, fees))
    for asset, (done, fees) in traded.items():  # sold out
        lines.append(mapping.pnl_line(asset, from_units(0, ctx.precision(asset)), ZERO, ZERO, done, fees))
    lines.sort(key=lambda line: (-line.total_pnl, line.symbol))
    realized = sum((line.realized_pnl for line in lines), ZERO)
    unrealized = sum((line.unrealized_pnl for line in lines), ZERO)
    fees = sum((line.fees for line in lines), ZERO)
    equity = cash + sum((line.market_value for line in lines), ZERO)
    return PnlReport(
        cost_method=method, lines=lines, realized_pnl=realized, unrealized_pnl=unrealized, fees=fees,
        total_pnl=realized + unrealized - fees, equity=equity,
        net_deposits=cents_to_cash(rows.deposited - rows.withdrawn), as_of=datetime.fromtimestamp(now, UTC),
    )


async def leaderboard(ctx: Context, claims: Credentials, sort: str, limit: int) -> list[LeaderboardEntry]:
    """Traders who have deposited, ranked by equity (or by return), valued at this second's prices."""
    if sort not in LEADERBOARD_SORTS:
        raise errors.ValidationError(f"sort is one of: {', '.join(LEADERBOARD_SORTS)}", {"field": "sort"})
    check_page(0, limit)

    def job(conn: repo.Conn) -> tuple[list[AccountAssetRow], list[FlowRow]]:
        actors.caller(conn, claims)
        return trading.leaderboard_rows(conn)

    balances, flows = await ctx.readers.run(job)
    now = ctx.clock()
    return await ctx.priced(lambda: _rank(ctx, balances, flows, now, sort, limit))


def _rank(ctx: Context, balances: list[AccountAssetRow], flows: list[FlowRow], now: float, sort: str,
          limit: int) -> list[LeaderboardEntry]:
    equity: dict[int, Decimal] = {}
    for b in balances:
        if b.asset == USD:
            value = cents_to_cash(b.amount)
        else:
            value = rules.value(from_units(b.amount, ctx.assets[b.asset].precision), ctx.market.price(b.asset, now))
        equity[b.account_id] = equity.get(b.account_id, ZERO) + value
    rows: list[dict[str, Any]] = []
    for f in flows:
        if not f.deposited or f.first_deposit_at is None:
            continue
        own = equity.get(f.account_id, ZERO)
        net = cents_to_cash(f.deposited - f.withdrawn)
        rows.append(dict(
            username=f.username, display_name=f.display_name, account=f.account, equity=own, net_deposits=net,
            pnl=own - net, return_pct=share(own - net, cents_to_cash(f.deposited)),
            first_deposit_at=mapping.dt(f.first_deposit_at),
        ))
    if sort == "equity":
        rows.sort(key=lambda r: (-r["equity"], r["username"], r["account"]))
    else:
        rows.sort(key=lambda r: (-r["return_pct"], -r["equity"], r["username"], r["account"]))
    return [LeaderboardEntry(rank=i, **row) for i, row in enumerate(rows[:limit], start=1)]
