"""Account events: what changed for one paper account (and on the leaderboard), so a terminal
reloads what it shows when something happened instead of asking every second.

An event carries the account's marks in the ledger, each the newest id of its kind, and the
kinds of change that moved them since the stream's previous event:

    kind         mark(s)                   moved by
    -----------  ------------------------  -----------------------------------------------------
    balances     entry                     a journal entry of the account: deposit, withdrawal,
                                           a fill (its own or the price loop's), a reset
    orders       order, order_change       an order placed (filled, resting or refused), and a
                                           resting order triggered, filled, canceled, rejected
    leaderboard  ledger                    a journal entry of any account on the ledger
    alerts       alert                     a price alert of the account's user fired (any of
                                           their accounts' streams says so)

The first event of a stream names no kind: it is the account's marks at that moment. The marks
only grow, so a client that compares them with the last it saw knows whether it missed anything
(a stream that reconnects says what moved meanwhile: `changed`).
"""

from __future__ import annotations

from enum import StrEnum

from orderproc.engine.schemas import Model


class EventKind(StrEnum):
    BALANCES = "balances"  # cash and positions (journal entries)
    ORDERS = "orders"  # the account's orders
    LEADERBOARD = "leaderboard"  # anyone's journal: equity and deposits on the board
    ALERTS = "alerts"  # one of the user's price alerts fired


class AccountEvent(Model):
    """What changed since the stream's previous event (nothing in its first) and the marks now."""

    kinds: list[EventKind] = []
    entry: int = 0  # the account's newest journal entry
    order: int = 0  # the account's newest order
    order_change: int = 0  # the newest change to one of the account's resting orders
    ledger: int = 0  # the newest journal entry on the ledger (any account)
    alert: int = 0  # the newest firing of one of the user's price alerts

    @property
    def marks(self) -> tuple[int, int, int, int, int]:
        return self.entry, self.order, self.order_change, self.ledger, self.alert

    def moved(self, kinds: set[EventKind]) -> bool:
        """Whether the event says one of `kinds` changed."""
        return not kinds.isdisjoint(self.kinds)


def changed(before: AccountEvent | None, now: AccountEvent) -> AccountEvent | None:
    """`now` with the kinds whose marks moved since `before` (no kind when `before` is None: a
    first event), or None when nothing moved."""
    if before is None:
        return now.model_copy(update={"kinds": []})
    kinds = [kind for kind, moved in (
        (EventKind.BALANCES, now.entry > before.entry),
        (EventKind.ORDERS, now.order > before.order or now.order_change > before.order_change),
        (EventKind.LEADERBOARD, now.ledger > before.ledger),
        (EventKind.ALERTS, now.alert > before.alert),
    ) if moved]
    return now.model_copy(update={"kinds": kinds}) if kinds else None
