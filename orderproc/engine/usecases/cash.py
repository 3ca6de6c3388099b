"""Cash: deposits and withdrawals (idempotent by key), the balance, the transaction history."""

from __future__ import annotations

from decimal import Decimal

from orderproc.engine import errors
from orderproc.engine.domain import ledger
from orderproc.engine.domain.money import USD, cash_to_cents, cents_to_cash
from orderproc.engine.schemas import Balance, Page, Transaction, TxKind
from orderproc.engine.store import repo
from orderproc.engine.usecases import actors, mapping
from orderproc.engine.usecases.actors import Credentials
from orderproc.engine.usecases.checks import check_key, check_page, replayed, request_hash
from orderproc.engine.usecases.context import Context
from orderproc.engine.usecases.matcher import catch_up


def entry(ctx: Context, conn: repo.Conn, entry_id: int, account_id: int) -> Transaction | None:
    """One of the account's entries as a transaction (None: not the account's)."""
    found = repo.entry(conn, entry_id, account_id)
    return mapping.transaction(found, ctx.precision) if found else None


def posted(ctx: Context, conn: repo.Conn, entry_id: int, account_id: int) -> Transaction:
    """An entry the transaction has just posted on the account."""
    found = entry(ctx, conn, entry_id, account_id)
    assert found is not None
    return found


async def move_cash(ctx: Context, claims: Credentials, kind: TxKind, amount: Decimal | str,
                    key: str | None) -> Transaction:
    """A deposit or a withdrawal; a key replays the first request's result."""
    cents = cash_to_cents(amount)
    key = check_key(key)
    request = request_hash(kind, cents) if key is not None else ""
    await catch_up(ctx)  # a resting order the price already filled holds no cash any more

    def job(conn: repo.Conn) -> Transaction:
        who = actors.customer(conn, claims)
        account = who.account_id
        earlier = replayed(conn, who.user_id, key, kind.value, request)
        if earlier is not None:
            found = entry(ctx, conn, earlier, account)
            if found is None:  # keys are the user's: this one was used on another account
                raise errors.Conflict("this idempotency key was used on another of your accounts", {"field": "key"})
            return found
        postings = (ledger.deposit_postings if kind is TxKind.DEPOSIT else ledger.withdrawal_postings)(account, cents)
        now = ctx.now()
        entry_id = repo.post_entry(conn, kind.value, account, postings, now, client_key=key)
        if key is not None:
            repo.remember_key(conn, who.user_id, key, kind.value, request, entry_id, now)
        repo.audit(conn, now, kind.value, actor_id=who.user_id, actor=who.username,
                   detail={"amount": str(cents_to_cash(cents)), "entry": entry_id})
        return posted(ctx, conn, entry_id, account)

    return await ctx.writer.run(job)


async def balance(ctx: Context, claims: Credentials) -> Balance:
    def job(conn: repo.Conn) -> Balance:
        cash = repo.balance(conn, actors.customer(conn, claims).account_id, USD)
        return Balance(cash=cents_to_cash(cash.amount), available=cents_to_cash(cash.amount - cash.reserved),
                       reserved=cents_to_cash(cash.reserved))

    await catch_up(ctx)
    return await ctx.readers.run(job)


async def history(ctx: Context, claims: Credentials, kind: TxKind | None, offset: int,
                  limit: int) -> Page[Transaction]:
    check_page(offset, limit)
    try:
        kinds = [TxKind(kind).value] if kind is not None else None
    except ValueError:
        raise errors.ValidationError(
            f"kind is one of: {', '.join(k.value for k in TxKind)}", {"field": "kind"}
        ) from None

    def job(conn: repo.Conn) -> Page[Transaction]:
        who = actors.customer(conn, claims)
        total, rows = repo.entries_page(conn, who.account_id, kinds, offset, limit)
        return Page[Transaction](items=[mapping.transaction(r, ctx.precision) for r in rows], total=total,
                                 offset=offset, limit=limit)

    await catch_up(ctx)
    return await ctx.readers.run(job)
