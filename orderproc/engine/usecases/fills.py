"""A fill in the ledger, whoever makes it (an order that trades now, or the price loop filling
a resting one): the seller's check, the journal entry with its fee, the lots."""

from __future__ import annotations

from orderproc.engine import errors
from orderproc.engine.domain import ledger, lots
from orderproc.engine.domain.money import amount_text, from_units
from orderproc.engine.prices import AssetInfo
from orderproc.engine.schemas import Side
from orderproc.engine.store import repo, trading


def check_can_sell(conn: repo.Conn, account: int, info: AssetInfo, side: Side, units: int, cents: int) -> None:
    """That the account can sell `units` (for `cents`) beyond what its open orders hold; a
    buy's cash is checked as it is taken."""
    if side is not Side.SELL:
        return
    if cents <= 0:
        raise errors.InvalidAmount("that quantity is worth less than a cent", {"field": "quantity"})
    held = repo.balance(conn, account, info.symbol)
    if held.amount - held.reserved < units:
        available = from_units(held.amount - held.reserved, info.precision)
        hold = f"insufficient funds: you hold {amount_text(available, info.symbol)}"
        raise errors.InsufficientFunds(
            f"{hold} not held by open orders" if held.reserved else hold,
            {"asset": info.symbol, "available": format(available, "f")},
        )


def book_trade(conn: repo.Conn, account: int, symbol: str, side: Side, units: int, cents: int, fee: int,
               order_id: int, at: str, settings: dict[str, str], *, key: str | None = None,
               lot_id: int | None = None) -> int | None:
    """Post a filled trade's journal entry (its fee to the fee account) and its lots: a buy
    opens a lot, a sell closes lots by the ledger's cost method (its named lot first, while
    that lot is open). The sell's realized P&L in cents (before the fee); None for a buy."""
    fees = {"fee": fee, "fee_account": int(settings["fee_account"])}
    if side is Side.BUY:
        repo.post_entry(conn, "buy", account, ledger.buy_postings(account, symbol, units, cents, **fees), at,
                        order_id=order_id, client_key=key)
        trading.open_lot(conn, account, symbol, order_id, at, units, cents)
        return None
    held = trading.open_lots(conn, account, symbol)
    first = lot_id if any(lot.id == lot_id for lot in held) else None
    takes, spread = lots.close_lots(held, units, settings.get("cost_method", lots.FIFO), first=first)
    postings = ledger.sell_postings(account, symbol, units, cents, removed_cost=sum(t.cost for t in takes), **fees)
    repo.post_entry(conn, "sell", account, postings, at, order_id=order_id, client_key=key)
    return trading.record_closes(conn, order_id, takes, cents, spread)
