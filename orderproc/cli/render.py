"""How the CLI shows results: Rich tables for people, one JSON document for scripts.

The JSON is the API's: the same fields and values (an open order's status is `new`), an error as
`{"error": {"code", "message", "details"}}`, and every list as a page `{"items", "total",
"offset", "limit"}` (the API's paged lists; a list the engine gives whole is one page of it all).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from orderproc.formatting import (
    STATUS_WORDS,
    bps,
    held,
    pct as pct_text,
    price,
    qty,
    receipt_rows,
    reserved,
    share,
    signed,
    signed_usd,
    terms,
    trader,
    usd,
    when,
)

if TYPE_CHECKING:
    from pathlib import Path

    from orderproc.engine.schemas import (
        AccountInfo,
        Asset,
        AuditEvent,
        LeaderboardEntry,
        LedgerSettings,
        Lot,
        Model,
        Order,
        OrderPreview,
        Page,
        PnlReport,
        Portfolio,
        Quote,
        Transaction,
        User,
        VerifyReport,
    )
    from orderproc.engine.apikeys import ApiKey, NewApiKey
    from orderproc.engine.watching import Alert, Watchlist
    from orderproc.engine.errors import OrderprocError

# Piped output is for scripts and logs: do not squeeze tables into 80 columns there.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
# Never wrap stderr: scripts read `error[code]: message` as one line.
err = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(value: Model | Sequence[Model] | dict[str, Any]) -> None:
    """One JSON document on stdout, every decimal as a string (a zero without a sign); a list
    as one page of it all."""
    if isinstance(value, dict):
        doc: Any = value
    elif isinstance(value, Sequence):
        items = [_unsigned_zeros(item.model_dump(), item.to_json_dict()) for item in value]
        doc = {"items": items, "total": len(items), "offset": 0, "limit": len(items)}
    else:
        doc = _unsigned_zeros(value.model_dump(), value.to_json_dict())
    sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")


def _unsigned_zeros(python: Any, doc: Any) -> Any:
    """`doc` (a model's JSON dump) with each decimal that is a negative zero in `python` (its
    Python dump) written as a zero: never "-0.00"."""
    if isinstance(python, Decimal):
        return format(abs(python), "f") if python.is_zero() else doc
    if isinstance(python, dict):
        return {name: _unsigned_zeros(python[name], value) for name, value in doc.items()}
    if isinstance(python, list | tuple):
        return [_unsigned_zeros(p, d) for p, d in zip(python, doc, strict=True)]
    return doc


def error(exc: OrderprocError, as_json: bool) -> None:
    """A domain error: with --json the API's envelope on stdout, else `error[code]: message` on stderr."""
    if as_json:
        emit_json({"error": exc.to_dict()})
    else:
        err.print(f"error[{exc.code}]: {exc.message}", markup=False)


def config(path: Path, exists: bool, values: dict[str, Any], sources: dict[str, str]) -> None:
    """`config show`: the file, then each setting, its value and where it came from."""
    out.print(f"Config file: {path}" + ("" if exists else " (none yet: the settings below are defaults "
                                                          "or from the environment)"), markup=False)
    table = _table("Setting", "Set to", "From")
    for name, value in values.items():
        if name == "keys":
            text = "\n".join(f"{binding} = {keys}" for binding, keys in value.items()) or "(the default keys)"
        else:
            text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        table.add_row(name, Text(text), sources.get(name, "default"))
    out.print(table)


def warn(message: str) -> None:
    """Something the user should know that did not stop the command, on stderr (`warning: ...`)."""
    err.print(f"warning: {message}", markup=False)


def pct(amount: Decimal) -> Text:
    return signed(amount, pct_text(amount))


def _table(*columns: str, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for name in columns:
        justify = "left" if name in {"Setting", "Set to", "From", "Symbol", "Name", "Category", "Kind", "Side", "Time", "Key", "Action",
                                     "Actor", "Target", "Detail", "Username", "Role", "Status", "Email", "Type", "Terms", "Opened", "Lot", "Account", "When", ""} else "right"
        no_wrap = name in {"Time", "Price", "Notional", "Cash", "Value", "Quantity", "Symbol", "Status"}
        table.add_column(name, justify=justify, no_wrap=no_wrap)  # type: ignore[arg-type]
    return table


def user(u: User) -> None:
    out.print(f"[bold]{u.username}[/bold] ({u.role.value})" + (" [red]disabled[/red]" if u.disabled else ""))
    out.print(f"  display name: {u.display_name or '-'}")
    out.print(f"  email:        {u.email or '-'}")
    out.print(f"  member since: {when(u.created_at)}")


def users(items: Sequence[User]) -> None:
    table = _table("ID", "Username", "Role", "Status", "Email", "Time")
    for u in items:
        table.add_row(str(u.id), u.username, u.role.value, "disabled" if u.disabled else "active", u.email or "",
                      when(u.created_at))
    out.print(table)


def transaction(t: Transaction) -> None:
    out.print(f"{t.kind.value} #{t.id}: {usd(t.cash)}" + (f" (key {t.client_key})" if t.client_key else ""))


def history(page: Page[Transaction]) -> None:
    table = _table("ID", "Time", "Kind", "Symbol", "Quantity", "Cash")
    for t in page.items:
        table.add_row(str(t.id), when(t.created_at), t.kind.value, t.symbol or "",
                      qty(t.quantity) if t.quantity is not None else "", signed(t.cash, usd(t.cash)))
    out.print(table)
    _page_footer(page)


def _page_footer(page: Page[Any]) -> None:
    shown = len(page.items)
    if page.total > shown:
        out.print(f"[dim]{page.offset + 1}-{page.offset + shown} of {page.total}; --offset to page[/dim]")


def assets(page: Page[Asset]) -> None:
    table = _table("Rank", "Symbol", "Name", "Category", "Price", "Change 24h")
    for a in page.items:
        table.add_row(str(a.rank or ""), a.symbol, a.name, a.category, price(a.price), pct(a.change_24h))
    out.print(table)
    shown = f"{len(page.items)} of {page.total}" if page.total > len(page.items) else str(page.total)
    out.print(f"[dim]{shown} assets; reference prices: CoinMarketCap listings 2025-11-03[/dim]")


def watchlist(w: Watchlist) -> None:
    if not w.items:
        out.print("Your watchlist is empty: `orderproc watch add BTC ETH` puts assets on it")
        return
    table = _table("Symbol", "Name", "Price", "Change 24h")
    for item in w.items:
        table.add_row(item.symbol, item.name, price(item.price), pct(item.change_24h))
    out.print(table)
    order = {"added": "in the order added", "symbol": "by symbol", "price": "by price, highest first",
             "change": "by 24h change, highest first"}[w.sort.value]
    out.print(f"[dim]{len(w.items)} assets, {order}; `orderproc watch sort` changes it[/dim]")


def alerts(items: Sequence[Alert]) -> None:
    if not items:
        out.print("No alerts: `orderproc alert add ETH --above 4000` sets one")
        return
    table = _table("ID", "Symbol", "When", "Price", "Status", "Time", "Fired at")
    for a in items:
        table.add_row(str(a.id), a.symbol, f"at or {a.direction.value}", price(a.price),
                      "fired" if a.fired_at else "waiting", when(a.fired_at or a.created_at),
                      price(a.fired_price) if a.fired_price is not None else "")
    out.print(table)


def alert_set(a: Alert) -> None:
    out.print(f"Alert #{a.id}: {a.symbol} at or {a.direction.value} {price(a.price)}; it fires once "
              "(`orderproc alert list --fired`)")


def quote(q: Quote, a: Asset | None = None) -> None:
    name = f" {a.name}" if a else ""
    line = Text.assemble(f"{q.symbol}{name}  ", (price(q.price), "bold"), "  change 24h ", pct(q.change_24h))
    out.print(line)


def order(o: Order) -> None:
    """What became of an order just placed or canceled, in one line."""
    kind = o.type.value.replace("_", "-")
    what = f"{qty(o.quantity)} {o.symbol}"
    if o.price is not None and o.notional is not None:
        verb = "Bought" if o.side.value == "buy" else "Sold"
        line = Text(f"{verb} {what} at {price(o.price)} for {usd(o.notional)}")
        if o.receipt is not None and o.receipt.fee:
            line.append(f" ({'+' if o.side.value == 'buy' else '-'}{usd(o.receipt.fee)} fee)")
        if o.realized_pnl is not None:
            line.append("; realized P&L ").append(signed(o.realized_pnl, signed_usd(o.realized_pnl)))
        out.print(line.append(f" ({_order_ref(o)})"))
    elif o.is_open:
        out.print(f"{kind.capitalize()} {o.side.value} of {what} resting ({terms(o)}); "
                  f"{reserved(o)} reserved ({_order_ref(o)})")
    else:
        reason = f": {o.reason}" if o.reason else ""
        out.print(f"{kind.capitalize()} {o.side.value} of {what} {STATUS_WORDS[o.status]}{reason} ({_order_ref(o)})")


def _order_ref(o: Order) -> str:
    """`order #5`, `order #5, key nightly-1`: the key a request named, as a cash move shows it."""
    return f"order #{o.id}" + (f", key {o.client_order_id}" if o.client_order_id else "")


def preview(p: OrderPreview) -> None:
    kind = p.type.value.replace("_", "-")
    out.print(f"Preview of a {kind} {p.side.value} of {p.symbol} at a ledger price of {price(p.reference_price)}:")
    if p.rests:
        assert p.reserved is not None
        out.print(f"  it would rest until the price reaches it, reserving {held(p.side, p.symbol, p.reserved)}")
        return
    assert p.receipt is not None
    table = Table(show_header=False, show_edge=False, pad_edge=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for label, value in [("Quantity", qty(p.receipt.quantity)), *receipt_rows(p.receipt)]:
        table.add_row(f"  {label}", value)
    out.print(table)


def settings(s: LedgerSettings) -> None:
    out.print(f"cost method: {s.cost_method}")
    for label, value in (("maker fee", s.maker_fee_bps), ("taker fee", s.taker_fee_bps), ("spread", s.spread_bps),
                         ("slippage per $1,000", s.slippage_bps_per_1000_usd)):
        out.print(f"{label}: {bps(value)}")


def canceled(items: Sequence[Order]) -> None:
    for o in items:
        order(o)
    out.print(f"{len(items)} open order{'s' * (len(items) != 1)} canceled" if items else "No open orders to cancel.")


def order_details(o: Order) -> None:
    table = Table(show_header=False, show_edge=False, pad_edge=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    rows = [("Order", f"#{o.id}"), ("Placed", when(o.created_at)), ("Side", o.side.value),
            ("Type", f"{o.type.value} ({o.time_in_force.value})"), ("Symbol", o.symbol),
            ("Status", STATUS_WORDS[o.status]),
            ("Quantity", qty(o.quantity)), ("Terms", terms(o))]
    if o.is_open:
        rows.append(("Reserved", reserved(o)))
    if o.triggered_at is not None and o.type.value == "stop_limit":
        rows.append(("Triggered", when(o.triggered_at)))
    if o.lot_id is not None:
        rows.append(("Lot", f"#{o.lot_id} first"))
    if o.price is not None and o.notional is not None:
        rows += [("Price", price(o.price)), ("Notional", usd(o.notional))]
    if o.receipt is not None:
        rows += receipt_rows(o.receipt)
    if o.realized_pnl is not None:
        rows.append(("Realized P&L", signed_usd(o.realized_pnl)))
    if o.closed_at is not None and o.closed_at != o.created_at:
        rows.append(("Closed", when(o.closed_at)))
    if o.reason:
        rows.append(("Reason", o.reason))
    rows.append(("Key", o.client_order_id or "-"))
    for label, value in rows:
        table.add_row(label, value)
    out.print(table)


def orders(page: Page[Order]) -> None:
    with_keys = any(o.client_order_id for o in page.items)
    table = _table("ID", "Time", "Side", "Type", "Symbol", "Quantity", "Terms", "Price", "Notional", "Status",
                   *(["Key"] * with_keys))
    for o in page.items:
        key = [o.client_order_id or ""] if with_keys else []
        table.add_row(str(o.id), when(o.created_at), o.side.value, o.type.value.replace("_", "-"), o.symbol,
                      qty(o.quantity), "" if o.type.value == "market" else terms(o),
                      price(o.price) if o.price is not None else "",
                      usd(o.notional) if o.notional is not None else "", STATUS_WORDS[o.status], *key)
    out.print(table if page.items else "[dim]no orders[/dim]")
    _page_footer(page)


def portfolio(p: Portfolio) -> None:
    table = _table("Symbol", "Quantity", "Avg cost", "Price", "Value", "P&L", "Alloc")
    for pos in p.positions:
        table.add_row(pos.symbol, qty(pos.quantity), price(pos.average_cost), price(pos.price),
                      usd(pos.market_value), signed(pos.unrealized_pnl, signed_usd(pos.unrealized_pnl)),
                      share(pos.allocation))
    if p.positions:
        out.print(table)
    else:
        out.print("[dim]no positions[/dim]")
    out.print(Text.assemble("Cash ", (usd(p.cash), "bold"), "   Positions ", usd(p.market_value),
                            "   Equity ", (usd(p.equity), "bold"), "   Unrealized P&L ",
                            signed(p.unrealized_pnl, signed_usd(p.unrealized_pnl)),
                            "   Today ", signed(p.day_change, signed_usd(p.day_change))))


def accounts(items: Sequence[AccountInfo]) -> None:
    table = _table("", "Account", "Cash", "Reserved")
    for a in items:
        table.add_row("*" if a.current else "", a.name, usd(a.cash), usd(a.reserved_cash) if a.reserved_cash else "")
    out.print(table)


def api_keys(items: Sequence[ApiKey]) -> None:
    if not items:
        out.print("No API keys: `orderproc keys create` makes one")
        return
    table = _table("Key ID", "Name", "Account", "Access", "Created", "Last used", "Revoked")
    for k in items:
        table.add_row(k.key_id, k.name, k.account, "read-only" if k.read_only else "trade", when(k.created_at),
                      when(k.last_used_at) if k.last_used_at else "never",
                      when(k.revoked_at) if k.revoked_at else "")
    out.print(table)


def new_api_key(k: NewApiKey) -> None:
    access = "read-only" if k.read_only else "trading"
    named = f" [bold]{k.name}[/bold]," if k.name else ""
    out.print(f"Made the {access} API key{named} for the account [bold]{k.account}[/bold]")
    out.print(f"  key id  {k.key_id}", soft_wrap=True)
    out.print(f"  secret  {k.secret}", soft_wrap=True)
    out.print(f"  token   {k.token}", soft_wrap=True)
    out.print("[yellow]The secret is shown this once[/yellow] (the ledger keeps only a hash of it): store it now. "
              "Send the token as `Authorization: Bearer <token>`; `orderproc keys revoke "
              f"{k.key_id}` ends it.", soft_wrap=True)


def lots(items: Sequence[Lot]) -> None:
    table = _table("Lot", "Symbol", "Opened", "Bought", "Unit cost", "Remaining", "Cost basis", "Value", "P&L")
    for lot in items:
        table.add_row(f"#{lot.id}", lot.symbol, when(lot.opened_at), qty(lot.quantity), price(lot.unit_cost),
                      qty(lot.remaining), usd(lot.remaining_cost), usd(lot.market_value),
                      signed(lot.unrealized_pnl, signed_usd(lot.unrealized_pnl)))
    out.print(table if items else "[dim]no lots[/dim]")


def pnl(report: PnlReport) -> None:
    table = _table("Symbol", "Quantity", "Cost basis", "Value", "Unrealized", "Realized", "Fees", "Total",
                   title=f"P&L ({report.cost_method} cost basis)")
    for line in report.lines:
        table.add_row(line.symbol, qty(line.quantity), usd(line.cost_basis), usd(line.market_value),
                      signed(line.unrealized_pnl, signed_usd(line.unrealized_pnl)),
                      signed(line.realized_pnl, signed_usd(line.realized_pnl)), usd(line.fees),
                      signed(line.total_pnl, signed_usd(line.total_pnl)))
    out.print(table if report.lines else "[dim]no trades yet[/dim]")
    out.print(Text.assemble(
        "Realized ", signed(report.realized_pnl, signed_usd(report.realized_pnl)),
        "   Unrealized ", signed(report.unrealized_pnl, signed_usd(report.unrealized_pnl)),
        f"   Fees {usd(report.fees)}",
        "   Total ", signed(report.total_pnl, signed_usd(report.total_pnl)),
        f"   = equity {usd(report.equity)} - net deposits {usd(report.net_deposits)}"))


def leaderboard(page: Page[LeaderboardEntry]) -> None:
    table = _table("#", "Username", "Equity", "Net deposits", "P&L", "Return", title="Leaderboard")
    for r in page.items:
        table.add_row(str(r.rank), trader(r), usd(r.equity), usd(r.net_deposits), signed(r.pnl, signed_usd(r.pnl)),
                      pct(r.return_pct))
    out.print(table if page.items else "Nobody has deposited yet.")
    if page.total > len(page.items):
        out.print(f"[dim]the first {len(page.items)} of {page.total}; --limit to see more[/dim]")


def audit(page: Page[AuditEvent]) -> None:
    table = _table("ID", "Time", "Actor", "Action", "Target", "Detail")
    for e in page.items:
        detail = ", ".join(f"{k}={v}" for k, v in e.detail.items())
        table.add_row(str(e.id), when(e.at), e.actor or "", e.action, e.target or "", detail)
    out.print(table)
    _page_footer(page)


def verify(report: VerifyReport) -> None:
    if report.ok:
        fees = f" (the fee account's {usd(report.fees_collected)} included)" if report.fees_collected else ""
        out.print(f"[green]ledger ok[/green]: {report.entries} entries, {report.postings} postings, "
                  f"{report.orders} orders, {report.accounts} accounts; every asset sums to zero{fees}")
    else:
        err.print(f"[red]ledger has {len(report.problems)} problem(s)[/red]:")
        for problem in report.problems:
            err.print(f"  - {problem}")
