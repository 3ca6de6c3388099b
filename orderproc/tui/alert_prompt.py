"""Setting a price alert from a page (Markets, the Watchlist): ask for the price, set it, say so.

The person types a price; above the current one it is an alert above it, below it an alert below
(`>` or `<` first says which way). The engine refuses a price reached already, and that is shown
under the field with its code.
"""

from __future__ import annotations

from decimal import Decimal

from textual.screen import Screen

from orderproc.engine import errors
from orderproc.formatting import price
from orderproc.tui.order_words import alert_level
from orderproc.tui.screens.dialogs import PromptDialog
from orderproc.tui.terminal import SessionEnded, Terminal


def ask_alert(page: Screen[None], terminal: Terminal, symbol: str) -> None:
    """Ask for an alert on `symbol` at the price now, and set it (a notification says so)."""
    quote = terminal.quotes.get(symbol)
    current = quote.price if quote else None

    def problem(typed: str) -> str | None:
        try:
            alert_level(typed, current or Decimal(0))
        except errors.InvalidAmount as exc:
            return exc.message
        return None

    def answered(typed: str | None) -> None:
        if typed and typed.strip():
            way, level = alert_level(typed, current or Decimal(0))
            page.run_worker(_set(page, terminal, symbol, way.value, level), group="alert-set", exit_on_error=False)

    now = f" (now {price(current)})" if current is not None else ""
    page.app.push_screen(PromptDialog(
        f"Alert on {symbol}", f"Alert me when {symbol} reaches this price{now}; >4000 or <3500 says which way.",
        placeholder="e.g. 4000", restrict=r"[0-9$,. <>]*", max_length=24, confirm_label="Set alert", check=problem,
    ), answered)


async def _set(page: Screen[None], terminal: Terminal, symbol: str, way: str, level: Decimal) -> None:
    try:
        alert = await terminal.attempt(lambda me: me.set_alert(symbol, way, level))
    except SessionEnded:
        return
    except errors.OrderprocError as exc:
        page.notify(exc.message, title=exc.code, severity="error")
        return
    page.notify(f"You will hear when {alert.symbol} is at or {alert.direction.value} {price(alert.price)} "
                "(`orderproc alert list`)", title="alert set")
