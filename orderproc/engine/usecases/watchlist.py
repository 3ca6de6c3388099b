"""A user's watchlist: symbols they follow with live quotes, sorted as they chose; the same on
every account, terminal and server of the ledger."""

from __future__ import annotations

from orderproc.engine import errors
from orderproc.engine.watching import WatchItem, Watchlist, WatchSort
from orderproc.engine.store import repo
from orderproc.engine.store import watchlist as store
from orderproc.engine.usecases import actors, mapping
from orderproc.engine.usecases.actors import Credentials
from orderproc.engine.usecases.checks import shown
from orderproc.engine.usecases.context import Context

MAX_SYMBOLS = 100  # a watchlist holds at most this many symbols


def _sort(value: object) -> WatchSort:
    try:
        return WatchSort(value)
    except ValueError:
        raise errors.ValidationError(f"sort by one of: {', '.join(WatchSort)}", {"field": "sort"}) from None


async def _listed(ctx: Context, rows: list[tuple[str, str]], sort: str | None) -> Watchlist:
    """The rows priced now and sorted (symbols no longer listed are left out)."""
    now = ctx.clock()
    chosen = WatchSort(sort) if sort in set(WatchSort) else WatchSort.ADDED

    def priced() -> list[WatchItem]:
        items = []
        for symbol, added_at in rows:
            info = ctx.assets.get(symbol)
            if info is None or symbol not in ctx.enabled:
                continue
            quote = mapping.quote(ctx.market, info, now)
            items.append(WatchItem(symbol=symbol, name=info.name, price=quote.price, change_24h=quote.change_24h,
                                   added_at=mapping.dt(added_at)))
        return items

    items = await ctx.priced(priced)
    if chosen is WatchSort.SYMBOL:
        items.sort(key=lambda item: item.symbol)
    elif chosen is WatchSort.PRICE:
        items.sort(key=lambda item: item.price, reverse=True)
    elif chosen is WatchSort.CHANGE:
        items.sort(key=lambda item: item.change_24h, reverse=True)
    return Watchlist(sort=chosen, items=items)


async def listing(ctx: Context, claims: Credentials) -> Watchlist:
    def job(conn: repo.Conn) -> tuple[list[tuple[str, str]], str | None]:
        who = actors.customer(conn, claims)
        return store.symbols(conn, who.user_id), store.sort(conn, who.user_id)

    return await _listed(ctx, *await ctx.readers.run(job))


async def add(ctx: Context, claims: Credentials, symbol: str) -> Watchlist:
    """Put `symbol` on the watchlist (last in the order added); one already there stays where it is."""
    info = ctx.asset(symbol)

    def job(conn: repo.Conn) -> tuple[list[tuple[str, str]], str | None]:
        who = actors.customer(conn, claims)
        rows = store.symbols(conn, who.user_id)
        if info.symbol not in {s for s, _ in rows}:
            if len(rows) >= MAX_SYMBOLS:
                raise errors.WatchlistFull(f"a watchlist holds at most {MAX_SYMBOLS} symbols: remove one first",
                                           {"max": MAX_SYMBOLS})
            now = ctx.now()
            store.add(conn, who.user_id, info.symbol, now)
            rows.append((info.symbol, now))
        return rows, store.sort(conn, who.user_id)

    return await _listed(ctx, *await ctx.writer.run(job))


async def remove(ctx: Context, claims: Credentials, symbol: str) -> Watchlist:
    """Take `symbol` off the watchlist (not_found when it is not on it)."""
    if not isinstance(symbol, str) or not 1 <= len(symbol) <= 16 or not symbol.isascii():
        raise errors.NotFound("that symbol is not on your watchlist", {"symbol": shown(symbol)})
    wanted = symbol.strip().upper()

    def job(conn: repo.Conn) -> tuple[list[tuple[str, str]], str | None]:
        who = actors.customer(conn, claims)
        if not store.remove(conn, who.user_id, wanted):
            raise errors.NotFound(f"{wanted} is not on your watchlist", {"symbol": wanted})
        return store.symbols(conn, who.user_id), store.sort(conn, who.user_id)

    return await _listed(ctx, *await ctx.writer.run(job))


async def set_sort(ctx: Context, claims: Credentials, sort: WatchSort | str) -> Watchlist:
    chosen = _sort(sort)

    def job(conn: repo.Conn) -> tuple[list[tuple[str, str]], str | None]:
        who = actors.customer(conn, claims)
        store.set_sort(conn, who.user_id, chosen.value)
        return store.symbols(conn, who.user_id), chosen.value

    return await _listed(ctx, *await ctx.writer.run(job))
