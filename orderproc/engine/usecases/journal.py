"""The journal, exact, for exports (`orderproc export`): a customer's own paper accounts, or
every customer's for an admin or the operator, from an optional date.

Each entry comes with the lots it opened or changed, as it left them: what each sale did to the
lots of its position is found again by `domain/lot_history.py` (the ledger keeps each lot only
as it is now).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from orderproc.engine import errors
from orderproc.engine.domain import lot_history
from orderproc.engine.domain import lots as cost_methods
from orderproc.engine.domain.lots import Take
from orderproc.engine.domain.money import USD, cents_to_cash, from_units
from orderproc.engine.schemas import (
    Journal,
    JournalAccount,
    JournalAsset,
    JournalEntry,
    JournalHolding,
    JournalLot,
    JournalMove,
    Lot,
    TxKind,
)
from orderproc.engine.security import is_username
from orderproc.engine.store import journal as store
from orderproc.engine.store import ledger, repo
from orderproc.engine.store.rows import LotRow
from orderproc.engine.usecases import actors, mapping
from orderproc.engine.usecases.actors import Credentials, Admin, Operator
from orderproc.engine.usecases.checks import check_account_name, shown
from orderproc.engine.usecases.context import Context
from orderproc.engine.usecases.matcher import catch_up

_LotState = tuple[int, int]  # remaining units, their cost in cents


async def journal(ctx: Context, claims: Credentials, account: str | None, since: date | None) -> Journal:
    """The caller's journal (an admin's or the operator's: every customer account's), narrowed
    to one `account` (NAME, one of the caller's; USER/NAME, an admin's choice of anyone's), its
    entries from `since`."""
    since = _check_since(since)
    wanted = _check_account(account)

    def job(conn: repo.Conn) -> tuple[bool, str, store.JournalRows]:
        who = actors.caller(conn, claims)
        admin = isinstance(who, Admin | Operator)
        scope = _scope(conn, who, admin, wanted)
        method = ledger.meta_value(conn, "cost_method") or cost_methods.FIFO
        return admin and wanted is None, method, store.journal_rows(conn, scope)

    await catch_up(ctx)
    whole, method, rows = await ctx.readers.run(job)
    now = ctx.clock()
    return await ctx.priced(lambda: _Builder(ctx, rows, method, since).journal(whole, now))


def _check_since(since: object) -> date | None:
    if since is None:
        return None
    if isinstance(since, datetime):
        return since.date()
    if not isinstance(since, date):
        raise errors.ValidationError("since is a date (YYYY-MM-DD)", {"field": "since"})
    return since


def _check_account(account: object) -> tuple[str | None, str] | None:
    """None, or (username or None, account name) from NAME or USER/NAME."""
    if account is None:
        return None
    if not isinstance(account, str):
        raise errors.ValidationError("account is NAME or USER/NAME", {"field": "account"})
    user, slash, name = account.rpartition("/")
    if slash and not is_username(user):
        raise errors.ValidationError("account is NAME or USER/NAME", {"field": "account"})
    try:
        check_account_name(name)
    except errors.ValidationError as exc:
        exc.details["field"] = "account"
        raise
    return user or None, name


def _scope(conn: repo.Conn, who: actors.Caller, admin: bool,
           wanted: tuple[str | None, str] | None) -> store.Scope:
    own = who.user_id if isinstance(who, actors.Customer) else None
    if isinstance(who, actors.Customer) and who.key_id is not None:  # a key reads its own account only
        if wanted is not None and (wanted[0] is not None and wanted[0].lower() != who.username.lower()
                                   or repo.account_named(conn, who.user_id, wanted[1]) != who.account_id):
            raise errors.Forbidden("an API key reads its own account only")
        return store.Scope(user_id=own, account_id=who.account_id)
    if wanted is None:
        return store.Scope() if admin else store.Scope(user_id=own)
    username, name = wanted
    if username is None:
        if own is None:
            raise errors.Forbidden("the operator has no paper account: name one as USER/ACCOUNT")
        user_id = own
    else:
        if not admin and username.lower() != who.username.lower():
            raise errors.Forbidden("you can export only your own accounts")
        found = repo.user_by_name(conn, username)
        if found is None:
            raise errors.NotFound(f"no user named {shown(username)!r}", {"username": shown(username)})
        user_id = found.id
    account_id = repo.account_named(conn, user_id, name)
    if account_id is None:
        raise errors.NotFound(f"no account named {name!r}", {"account": name})
    return store.Scope(user_id=user_id, account_id=account_id)


@dataclass
class _Account:
    """One account's state as the replay goes: what it holds, and its open lots by asset."""

    amounts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lots: dict[str, dict[int, _LotState]] = field(default_factory=lambda: defaultdict(dict))
    opening: list[JournalHolding] | None = None
    opening_lots: list[JournalLot] = field(default_factory=list)


class _Builder:
    """The rows into a Journal: the replay of every entry in order, and what is shown of it."""

    def __init__(self, ctx: Context, rows: store.JournalRows, method: str, since: date | None) -> None:
        self.ctx, self.rows, self.method, self.since = ctx, rows, method, since
        self.since_text = datetime(since.year, since.month, since.day, tzinfo=UTC).isoformat(
            timespec="microseconds") if since else ""
        self.lots = {row.id: row for _, row in rows.lots}
        self.lot_of_order = {row.order_id: row for _, row in rows.lots}
        self.orders = {row.id: row for _, row in rows.orders}
        self.closes: dict[int, list[Take]] = defaultdict(list)
        for close in rows.closes:
            self.closes[close.order_id].append(Take(close.lot_id, close.quantity, close.cost))
        self.postings: dict[int, list[store.JournalPostingRow]] = defaultdict(list)
        for posting in rows.postings:
            self.postings[posting.entry_id].append(posting)
        self.accounts = {row.id: _Account() for row in rows.accounts}
        self.open_at_since: set[int] = set()
        self.sales = self._sale_changes()

    def _sale_changes(self) -> dict[int, dict[int, _LotState]]:
        """Each sale's changes to the lots of its position (`lot_history.sale_changes`)."""
        history: dict[tuple[int, str], list[lot_history.Event]] = defaultdict(list)
        for row in self.rows.entries:
            order = self.orders.get(row.order_id) if row.order_id is not None else None
            if row.kind == TxKind.BUY.value and order is not None:
                lot = self.lot_of_order[order.id]
                history[(row.account_id, lot.symbol)].append(lot_history.Bought(lot.id, lot.quantity, lot.cost))
            elif row.kind == TxKind.SELL.value and order is not None:
                sold = -sum(line.amount for line in self.postings[row.id] if line.asset == order.symbol)
                history[(row.account_id, order.symbol)].append(
                    lot_history.Sold(order.id, sold, tuple(self.closes[order.id]), order.lot_id))
            elif row.kind == TxKind.RESET.value:
                for line in self.postings[row.id]:
                    history[(row.account_id, line.asset)].append(lot_history.Reset())
        now: dict[tuple[int, str], dict[int, _LotState]] = defaultdict(dict)
        for account_id, lot in self.rows.lots:
            if lot.remaining:
                now[(account_id, lot.symbol)][lot.id] = (lot.remaining, lot.remaining_cost)
        changes: dict[int, dict[int, _LotState]] = {}
        for position, events in history.items():
            changes.update(lot_history.sale_changes(events, now.get(position, {}), self.method))
        return changes

    def journal(self, whole: bool, now: float) -> Journal:
        entries = []
        for row in self.rows.entries:
            if row.created_at >= self.since_text:
                self._open_books()
            entry = self._replay(row)
            if row.created_at >= self.since_text:
                entries.append(entry)
        self._open_books()
        held = {b.asset for b in self.rows.balances if b.asset != USD and b.amount}
        named = held | {m.asset for e in entries for m in e.moves} | {
            h.asset for a in self.accounts.values() for h in a.opening or ()}
        named.discard(USD)
        return Journal(
            as_of=datetime.fromtimestamp(now, UTC), since=self.since, whole_ledger=whole, cost_method=self.method,
            accounts=[self._account(row, now) for row in self.rows.accounts], entries=entries,
            assets=[JournalAsset(symbol=s, name=self.ctx.assets[s].name if s in self.ctx.assets else s,
                                 precision=self.ctx.precision(s)) for s in sorted(named)],
            prices={s: self.ctx.market.price(s, now) for s in sorted(held) if s in self.ctx.assets},
        )

    # -- the replay -------------------------------------------------------------------------

    def _replay(self, row: store.JournalEntryRow) -> JournalEntry:
        account = self.accounts[row.account_id]
        lines = self.postings[row.id]
        for line in lines:
            account.amounts[line.asset] += line.amount
        costs: dict[str, int] = {}
        changed: list[tuple[str, int, _LotState]] = []
        order = self.orders.get(row.order_id) if row.order_id is not None else None
        if row.kind == TxKind.BUY.value and order is not None:
            lot = self.lot_of_order[order.id]
            account.lots[lot.symbol][lot.id] = (lot.quantity, lot.cost)
            costs[lot.symbol] = lot.cost
            changed.append((lot.symbol, lot.id, (lot.quantity, lot.cost)))
        elif row.kind == TxKind.SELL.value and order is not None:
            held = account.lots[order.symbol]
            sale = self.sales.get(order.id, {})
            costs[order.symbol] = sum(c for _, c in sale.values()) - sum(held[i][1] for i in sale if i in held)
            changed += [(order.symbol, i, state) for i, state in sale.items()]
            held.update(sale)
            account.lots[order.symbol] = {i: state for i, state in held.items() if state[0]}
        elif row.kind == TxKind.RESET.value:
            for symbol, held in account.lots.items():
                costs[symbol] = -sum(cost for _, cost in held.values())
                changed += [(symbol, i, (0, 0)) for i in held]
            account.lots.clear()
        moves = [JournalMove(asset=line.asset, amount=from_units(line.amount, self.ctx.precision(line.asset)),
                             cost=cents_to_cash(costs.get(line.asset, 0))) for line in lines]
        price = notional = realized = None
        fee = Decimal("0.00")
        if order is not None and order.notional is not None and order.price is not None:  # a fill
            price, notional, fee = Decimal(order.price), cents_to_cash(order.notional), cents_to_cash(order.fee or 0)
            realized = cents_to_cash(order.realized) if order.realized is not None else None
        return JournalEntry(
            id=row.id, account_id=row.account_id, kind=TxKind(row.kind), created_at=mapping.dt(row.created_at),
            moves=moves, order_id=row.order_id, client_key=row.client_key, price=price, notional=notional, fee=fee,
            realized_pnl=realized, lots=[self._lot_state(symbol, i, state) for symbol, i, state in changed],
        )

    def _open_books(self) -> None:
        """Keep what every account holds as the journal starts (once)."""
        for account in self.accounts.values():
            if account.opening is not None:
                continue
            account.opening = [
                JournalHolding(asset=asset, amount=from_units(amount, self.ctx.precision(asset)),
                               cost=cents_to_cash(sum(c for _, c in account.lots[asset].values())))
                for asset, amount in sorted(account.amounts.items()) if amount or asset == USD
            ] if self.since else []
            account.opening_lots = [self._lot_state(symbol, i, state) for symbol, held in sorted(account.lots.items())
                                    for i, state in held.items()] if self.since else []
            self.open_at_since.update(i for held in account.lots.values() for i in held)

    def _lot_state(self, symbol: str, lot_id: int, state: _LotState) -> JournalLot:
        return JournalLot(id=lot_id, symbol=symbol, opened_at=mapping.dt(self.lots[lot_id].opened_at),
                          remaining=from_units(state[0], self.ctx.precision(symbol)),
                          remaining_cost=cents_to_cash(state[1]))

    # -- what is shown ----------------------------------------------------------------------

    def _account(self, row: store.JournalAccountRow, now: float) -> JournalAccount:
        account = self.accounts[row.id]
        closing = {b.asset: b for b in self.rows.balances if b.account_id == row.id}
        holdings = [JournalHolding(asset=USD, amount=cents_to_cash(closing[USD].amount if USD in closing else 0))]
        holdings += [JournalHolding(asset=b.asset, amount=from_units(b.amount, self.ctx.precision(b.asset)),
                                    cost=cents_to_cash(b.cost)) for b in closing.values() if b.asset != USD]
        orders = [mapping.order(o, self.ctx.precision) for account_id, o in self.rows.orders if account_id == row.id
                  and (o.created_at >= self.since_text or (o.closed_at or "") >= self.since_text)]
        lots = [self._lot(lot, now) for account_id, lot in self.rows.lots if account_id == row.id
                and (lot.opened_at >= self.since_text or lot.id in self.open_at_since)]
        return JournalAccount(id=row.id, username=row.username, name=row.name, reset_entry=row.reset_entry,
                              opening=account.opening or [],
                              opening_lots=account.opening_lots, closing=holdings, orders=orders, lots=lots)

    def _lot(self, row: LotRow, now: float) -> Lot:
        price = self.ctx.market.price(row.symbol, now) if row.symbol in self.ctx.assets else Decimal(0)
        return mapping.lot(row, self.ctx.precision(row.symbol), price)
