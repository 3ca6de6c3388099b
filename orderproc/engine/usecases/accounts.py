"""Named paper accounts: each session trades one; list, open, switch, reset."""

from __future__ import annotations

from decimal import Decimal

from orderproc.engine import errors
from orderproc.engine.domain import ledger
from orderproc.engine.domain.money import cash_to_cents, cents_to_cash
from orderproc.engine.schemas import AccountInfo, Session, Transaction, TxKind
from orderproc.engine.security import Claims
from orderproc.engine.store import repo, trading
from orderproc.engine.store.rows import UserRow
from orderproc.engine.usecases import actors, auth, orders
from orderproc.engine.usecases.actors import Credentials
from orderproc.engine.usecases.cash import posted
from orderproc.engine.usecases.checks import check_account_name
from orderproc.engine.usecases.context import Context


async def listing(ctx: Context, claims: Credentials) -> list[AccountInfo]:
    """This user's paper accounts, oldest first; `current` is the one this session trades (an API
    key sees its own account only)."""

    def job(conn: repo.Conn) -> list[AccountInfo]:
        who = actors.customer(conn, claims)
        return [
            AccountInfo(id=a.id, name=a.name, current=a.id == who.account_id, cash=cents_to_cash(a.cash),
                        reserved_cash=cents_to_cash(a.reserved))
            for a in repo.accounts_of(conn, who.user_id) if who.key_id is None or a.id == who.account_id
        ]

    return await ctx.readers.run(job)


async def create(ctx: Context, claims: Credentials, name: str) -> AccountInfo:
    """Open another paper account (empty: deposit into it, or reset it to a starting cash)."""
    check_account_name(name)

    def job(conn: repo.Conn) -> AccountInfo:
        who = actors.customer(conn, claims)
        account_id = repo.create_account(conn, who.user_id, name)
        repo.audit(conn, ctx.now(), "account_create", actor_id=who.user_id, actor=who.username, target=name)
        return AccountInfo(id=account_id, name=name, current=False, cash=Decimal("0.00"),
                           reserved_cash=Decimal("0.00"))

    return await ctx.writer.run(job)


async def switch(ctx: Context, claims: Credentials, name: str) -> Session:
    """A session of the same user that trades the account `name` (the old one keeps its own)."""
    await auth.refuse_key(ctx, claims)
    if not isinstance(claims, Claims):
        raise errors.Forbidden("the operator has no paper account; log in as a user")
    check_account_name(name)

    def job(conn: repo.Conn) -> tuple[UserRow, int]:
        who = actors.customer(conn, claims)
        account_id = repo.account_named(conn, who.user_id, name)
        if account_id is None:
            raise errors.NotFound(f"you have no account named {name!r}", {"name": name})
        return auth.existing_user(conn, who.user_id), account_id

    row, account_id = await ctx.readers.run(job)
    return auth.session(ctx, row, account_id, name)


async def reset(ctx: Context, claims: Credentials, cash: Decimal | str) -> Transaction:
    """Start this session's account again with `cash`: its open orders are canceled, everything
    it holds goes back (one `reset` journal entry), and the starting cash comes in as a
    deposit. Its history stays; its P&L and leaderboard place count from the reset."""
    cents = cash_to_cents(cash, "cash")

    def job(conn: repo.Conn) -> Transaction:
        who = actors.customer(conn, claims)
        account = who.account_id
        for order_id in trading.open_order_ids(conn, account, None):
            orders.close(ctx, conn, who, order_id)
        now = ctx.now()
        held = repo.holdings(conn, account)
        postings = ledger.reset_postings(account, [(h.asset, h.amount, h.cost) for h in held])
        reset_id = repo.post_entry(conn, TxKind.RESET.value, account, postings, now) if postings else 0
        repo.mark_reset(conn, account, reset_id or repo.last_entry(conn))
        entry_id = repo.post_entry(conn, TxKind.DEPOSIT.value, account, ledger.deposit_postings(account, cents), now)
        repo.audit(conn, now, "account_reset", actor_id=who.user_id, actor=who.username,
                   target=repo.account_name(conn, account), detail={"cash": str(cents_to_cash(cents))})
        return posted(ctx, conn, entry_id, account)

    return await ctx.writer.run(job)
