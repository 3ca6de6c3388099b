"""Orders: place (a fill now, or a resting order that holds back what it could spend),
preview, cancel one or all, list and read. The rules are `engine.rules`; a fill's booking is
`fills.py`; the price loop that fills resting orders later is `matcher.py`."""

from __future__ import annotations

from decimal import Decimal

from orderproc.engine import errors, rules
from orderproc.engine.domain.friction import Friction
from orderproc.engine.domain.money import USD, cents_to_cash, from_units
from orderproc.engine.prices import AssetInfo
from orderproc.engine.schemas import (
    Order,
    OrderPreview,
    OrderRequest,
    OrderStatus,
    OrderType,
    Page,
    Side,
    TimeInForce,
)
from orderproc.engine.store import ledger, repo, trading
from orderproc.engine.usecases import actors, mapping
from orderproc.engine.usecases.actors import Credentials, Customer
from orderproc.engine.usecases.checks import check_key, check_order_id, check_page, check_type, replayed, request_hash
from orderproc.engine.usecases.context import Context
from orderproc.engine.usecases.fills import book_trade, check_can_sell
from orderproc.engine.usecases.matcher import catch_up

Claimed = Credentials


def parse(ctx: Context, request: OrderRequest) -> tuple[AssetInfo, rules.ParsedOrder]:
    check_type(request, OrderRequest, "request")
    info = ctx.asset(request.symbol)
    return info, rules.parse_order(request, info.symbol, info.precision)


async def place(ctx: Context, claims: Claimed, request: OrderRequest) -> Order:
    info, order = parse(ctx, request)
    key = check_key(request.client_order_id)
    request_id = request_hash(*order.identity()) if key is not None else ""
    await catch_up(ctx)
    seen: list[Customer] = []

    def job(conn: repo.Conn) -> Order:
        who = actors.customer(conn, claims)
        seen.append(who)
        earlier = replayed(conn, who.user_id, key, "order", request_id)
        if earlier is not None:
            row = trading.order(conn, earlier, who.user_id, account_id=who.account_id)
            if row is None:  # keys are the user's: this one was used on another account
                raise errors.Conflict("this idempotency key was used on another of your accounts",
                                      {"field": "client_order_id"})
            return mapping.order(row, ctx.precision)
        placed = _place(ctx, conn, who, info, order, key)
        if key is not None:
            repo.remember_key(conn, who.user_id, key, "order", request_id, placed.id, ctx.now())
        return placed

    try:
        return await ctx.writer.run(job)
    except errors.OrderprocError as exc:
        if seen and not isinstance(exc, errors.Conflict | errors.AuthRequired | errors.Forbidden):
            who = seen[-1]
            detail = {"symbol": info.symbol, "side": order.side.value, "reason": exc.code}
            await ctx.writer.run(lambda conn: repo.audit(
                conn, ctx.now(), "order_rejected", actor_id=who.user_id, actor=who.username, detail=detail))
        raise


def _place(ctx: Context, conn: repo.Conn, who: Customer, info: AssetInfo, order: rules.ParsedOrder,
           key: str | None) -> Order:
    """In the order's transaction: it fills now at this second's price, or it rests."""
    if order.lot_id is not None and not trading.lots_of(conn, who.account_id, info.symbol, include_closed=False,
                                                        lot_id=order.lot_id):
        raise errors.NotFound(f"you have no open {info.symbol} lot {order.lot_id}", {"lot_id": order.lot_id})
    now_ts = ctx.clock()
    now = ctx.now()
    reference = ctx.market.price(info.symbol, now_ts)
    settings = ledger.friction_meta(conn)
    friction = Friction.from_meta(settings)
    if order.kind is not OrderType.MARKET:
        rules.check_stop(info.symbol, order.side, order.stop, reference)
    fill = rules.fill_terms(friction, info.precision, order.side, reference, units=order.units, cash=order.cash)
    if not rules.fills_now(order.kind, order.side, fill.execution.price, order.limit):
        return _rest(ctx, conn, who, info, order, key, now, friction)
    if order.kind is OrderType.MARKET:
        rules.check_guard(info.symbol, order.side, fill.execution.price, order.guard)
    return _fill(ctx, conn, who, info, order, key, now, settings, fill)


def _fill(ctx: Context, conn: repo.Conn, who: Customer, info: AssetInfo, order: rules.ParsedOrder, key: str | None,
          now: str, settings: dict[str, str], fill: rules.Fill) -> Order:
    """The order trades now, at `fill`'s terms: one journal entry, its lots, its receipt."""
    side, ex = order.side, fill.execution
    if fill.units <= 0:
        raise errors.InvalidAmount("that amount buys less than the smallest quantity of this asset",
                                   {"field": "notional"})
    check_can_sell(conn, who.account_id, info, side, fill.units, fill.cents)
    receipt = mapping.receipt_fields(ex, fill.fee)
    order_id = trading.insert_order(
        conn, user_id=who.user_id, account_id=who.account_id, symbol=info.symbol, side=side.value,
        type=order.kind.value, time_in_force=order.tif.value, status="filled", quantity=fill.units,
        limit_price=_text(order.limit), price=str(ex.price), notional=fill.cents, lot_id=order.lot_id,
        client_order_id=key, created_at=now, closed_at=now, **receipt,
    )
    realized = book_trade(conn, who.account_id, info.symbol, side, fill.units, fill.cents, fill.fee, order_id, now,
                          settings, key=key, lot_id=order.lot_id)
    repo.audit(conn, now, "order_placed", actor_id=who.user_id, actor=who.username, target=str(order_id),
               detail={"symbol": info.symbol, "side": side.value, "type": order.kind.value, "price": str(ex.price)})
    quantity, at = from_units(fill.units, info.precision), mapping.dt(now)
    # built directly (the fields are known and checked): the hot path skips validation
    return Order.model_construct(
        id=order_id, symbol=info.symbol, side=side, type=order.kind, time_in_force=order.tif,
        status=OrderStatus.FILLED, quantity=quantity, limit_price=order.limit, stop_price=None, price=ex.price,
        notional=cents_to_cash(fill.cents), reserved=rules.held(side, 0, info.precision), reason=None,
        client_order_id=key, lot_id=order.lot_id,
        realized_pnl=cents_to_cash(realized) if realized is not None else None,
        receipt=mapping.receipt(side, quantity, fill.cents, ex.price, receipt), created_at=at, triggered_at=None,
        closed_at=at,
    )


def _rest(ctx: Context, conn: repo.Conn, who: Customer, info: AssetInfo, order: rules.ParsedOrder, key: str | None,
          now: str, friction: Friction) -> Order:
    """A limit or stop order the price has not reached: it rests, holding back what it could
    spend (an IOC limit order expires instead)."""
    side, units = order.side, order.units
    assert units is not None  # a resting order is by quantity (rules.check_shape)
    fields = dict(
        user_id=who.user_id, account_id=who.account_id, symbol=info.symbol, side=side.value, type=order.kind.value,
        time_in_force=order.tif.value, quantity=units, limit_price=_text(order.limit),
        stop_price=_text(order.stop), lot_id=order.lot_id, client_order_id=key, created_at=now,
    )
    if order.tif is TimeInForce.IOC:
        order_id = trading.insert_order(conn, status="expired", closed_at=now,
                                        reason="the price did not reach the limit", **fields)
        action = "order_expired"
    else:
        held = rules.reservation(friction, info.precision, side, order.kind, units, order.limit, order.stop)
        if side is Side.BUY:
            repo.reserve(conn, who.account_id, USD, held)
        else:
            at = order.limit or order.stop
            assert at is not None
            cents = rules.fill_terms(rules.NO_FRICTION, info.precision, side, at, units=units).cents
            check_can_sell(conn, who.account_id, info, side, units, cents)
            repo.reserve(conn, who.account_id, info.symbol, held)
        order_id = trading.insert_order(conn, status="new", reserved=held, **fields)
        action = "order_placed"
    repo.audit(conn, now, action, actor_id=who.user_id, actor=who.username, target=str(order_id),
               detail={"symbol": info.symbol, "side": side.value, "type": order.kind.value,
                       "limit_price": _text(order.limit), "stop_price": _text(order.stop)})
    return _own(ctx, conn, who, order_id)


def _own(ctx: Context, conn: repo.Conn, who: Customer, order_id: int) -> Order:
    """One of the caller's orders the transaction knows exists."""
    row = trading.order(conn, order_id, who.user_id)
    assert row is not None
    return mapping.order(row, ctx.precision)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


async def preview(ctx: Context, claims: Claimed, request: OrderRequest) -> OrderPreview:
    """What `request` would do now: its fill's receipt (price, spread, slippage, fee), or what
    it would reserve while it rests. Nothing is placed or checked against the balances."""
    info, order = parse(ctx, request)

    def job(conn: repo.Conn) -> dict[str, str]:
        actors.customer(conn, claims)
        return ledger.friction_meta(conn)

    friction = Friction.from_meta(await ctx.readers.run(job))
    reference = ctx.market.price(info.symbol, ctx.clock())
    if order.kind is not OrderType.MARKET:
        rules.check_stop(info.symbol, order.side, order.stop, reference)
    fill = rules.fill_terms(friction, info.precision, order.side, reference, units=order.units, cash=order.cash)
    if not rules.fills_now(order.kind, order.side, fill.execution.price, order.limit):
        assert order.units is not None
        held = rules.reservation(friction, info.precision, order.side, order.kind, order.units, order.limit,
                                 order.stop)
        return OrderPreview(symbol=info.symbol, side=order.side, type=order.kind, rests=True,
                            reference_price=reference, reserved=rules.held(order.side, held, info.precision))
    quantity = from_units(fill.units, info.precision)
    receipt = mapping.receipt(order.side, quantity, fill.cents, fill.execution.price,
                              mapping.receipt_fields(fill.execution, fill.fee))
    return OrderPreview(symbol=info.symbol, side=order.side, type=order.kind, rests=False,
                        reference_price=reference, receipt=receipt)


async def cancel(ctx: Context, claims: Claimed, order_id: int) -> Order:
    """Cancel one open order; its reservation is released."""
    check_order_id(order_id)
    await catch_up(ctx)  # an order the ticks since the last pass filled is no longer open

    def job(conn: repo.Conn) -> Order:
        who = actors.customer(conn, claims)
        order = _get(ctx, conn, who, order_id)
        if not order.is_open:
            raise errors.OrderNotOpen(
                f"order {order_id} is {order.status.value}; only open orders can be canceled",
                {"order_id": order_id, "status": order.status.value},
            )
        return close(ctx, conn, who, order_id)

    return await ctx.writer.run(job)


async def cancel_all(ctx: Context, claims: Claimed, symbol: str | None) -> list[Order]:
    """Cancel every open order (of one asset, if given); the canceled orders, oldest first."""
    wanted = ctx.asset(symbol).symbol if symbol else None
    await catch_up(ctx)

    def job(conn: repo.Conn) -> list[Order]:
        who = actors.customer(conn, claims)
        return [close(ctx, conn, who, i) for i in trading.open_order_ids(conn, who.account_id, wanted)]

    return await ctx.writer.run(job)


def close(ctx: Context, conn: repo.Conn, who: Customer, order_id: int) -> Order:
    """Cancel an order the transaction knows is open, releasing what it holds."""
    resting = trading.resting_order(conn, order_id)
    assert resting is not None
    repo.release(conn, resting.account_id, USD if resting.side == "buy" else resting.symbol, resting.reserved)
    now = ctx.now()
    closed = trading.close_order(conn, order_id, "canceled", now)
    assert closed
    repo.audit(conn, now, "order_canceled", actor_id=who.user_id, actor=who.username, target=str(order_id),
               detail={"symbol": resting.symbol, "side": resting.side})
    return _own(ctx, conn, who, order_id)


def _get(ctx: Context, conn: repo.Conn, who: Customer, order_id: int) -> Order:
    row = trading.order(conn, order_id, who.user_id, account_id=who.account_id)
    if row is None:  # another user's (or another account's) order reads exactly like a missing one
        raise errors.NotFound("no such order", {"order_id": order_id})
    return mapping.order(row, ctx.precision)


async def listing(ctx: Context, claims: Claimed, offset: int, limit: int, symbol: str | None,
                  status: OrderStatus | None, open: bool | None, client_order_id: str | None = None) -> Page[Order]:
    """This user's orders, newest first; `status` picks one status, `open` the open (or the
    closed) ones, `client_order_id` the one placed with it."""
    check_page(offset, limit)
    check_key(client_order_id)
    wanted = ctx.asset(symbol).symbol if symbol else None
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
    await catch_up(ctx)

    def job(conn: repo.Conn) -> Page[Order]:
        who = actors.customer(conn, claims)
        total, rows = trading.orders_page(conn, who.account_id, wanted, statuses, offset, limit,
                                          client_order_id)
        return Page[Order](items=[mapping.order(r, ctx.precision) for r in rows], total=total, offset=offset,
                           limit=limit)

    return await ctx.readers.run(job)


async def get(ctx: Context, claims: Claimed, order_id: int) -> Order:
    check_order_id(order_id)
    await catch_up(ctx)
    return await ctx.readers.run(lambda conn: _get(ctx, conn, actors.customer(conn, claims), order_id))
