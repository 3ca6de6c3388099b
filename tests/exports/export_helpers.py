"""What the export tests share: trading steps on a ledger, the real tools run on an export
(`bean-check`, `hledger check`), each tool's own balances read back, and the ledger's own
figures (`portfolio`, `pnl`, `lots`) they must equal."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tool_support import require_tool

from orderproc import exports
from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import Journal, OrderRequest, SettingsUpdate

PASSWORD = "correct horse battery"
# a listed symbol of each kind: plain, beancount-renamed (leading digit, one letter), whole units
SYMBOLS = ("BTC", "ETH", "1INCH", "M", "BONK")
ZERO = Decimal(0)


class Clock:
    def __init__(self, now: float = 1_790_000_000.25) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def step(engine: Any, clock: Clock, token: str, move: tuple[Any, ...]) -> None:
    """One trading step (see `test_export_checks.steps`); a step the account cannot make raises
    the engine's error."""
    kind = move[0]
    if kind == "deposit":
        await engine.deposit(token, str(move[1]))
    elif kind == "withdraw":
        cash = (await engine.balance(token)).available
        await engine.withdraw(token, str((cash * move[1] / 100).quantize(Decimal("0.01"))))
    elif kind == "buy":
        _, symbol, dollars, by_amount = move
        price = engine.market.price(symbol, clock())
        precision = (await engine.get_asset(symbol)).precision
        request = (OrderRequest(symbol=symbol, side="buy", notional=str(dollars)) if by_amount else
                   OrderRequest(symbol=symbol, side="buy",
                                quantity=str(round(Decimal(dollars) / price, precision))))
        await engine.place_order(token, request)
    elif kind == "sell":
        _, symbol, percent, name_a_lot = move
        lots = await engine.lots(token, symbol=symbol)
        if not lots:
            return
        held = sum((lot.remaining for lot in lots), ZERO)
        quantity = (held * percent / 100).quantize(lots[0].remaining)
        lot = lots[-1].id if name_a_lot else None
        await engine.place_order(token, OrderRequest(symbol=symbol, side="sell", quantity=str(quantity), lot_id=lot))
    elif kind == "wait":
        clock.now += move[1] * 3600
    elif kind == "fees":
        await engine.admin_update_settings(engine.operator_token, SettingsUpdate(
            taker_fee_bps=Decimal(move[1]), spread_bps=Decimal(move[2])))
    elif kind == "method":
        await engine.admin_update_settings(engine.operator_token, SettingsUpdate(cost_method=move[1]))
    elif kind == "reset":
        await engine.reset_account(token, str(move[1]))
    else:
        raise AssertionError(move)


# -- the tools ---------------------------------------------------------------------------------


def bean_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("bean-check"), str(path)], capture_output=True, text=True, timeout=60,
                          check=False)


def hledger_check(path: Path) -> subprocess.CompletedProcess[str]:
    """`hledger check` with its strict checks (every account and commodity declared) and dates in order."""
    return subprocess.run([require_tool("hledger"), "-f", str(path), "check", "-s", "ordereddates"],
                          capture_output=True, text=True, timeout=60, check=False)


def passes(done: subprocess.CompletedProcess[str]) -> bool:
    return done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip()


@dataclass
class Books:
    """One tool's balances of an export: per account, per orderproc symbol (USD: cash), units and cost."""

    units: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    cost: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    lots: dict[str, dict[str, tuple[Decimal, Decimal]]] = field(default_factory=dict)  # beancount: label -> units, cost

    def amount(self, account: str, symbol: str = "USD") -> Decimal:
        return self.units.get(account, {}).get(symbol, ZERO)

    def cost_of(self, account: str) -> Decimal:
        return sum(self.cost.get(account, {}).values(), ZERO)


def beancount_books(path: Path, journal: Journal) -> Books:
    """What beancount itself makes of the file: each account's inventory, in units and at cost."""
    from beancount import loader
    from beancount.core import realization

    entries, problems, _ = loader.load_file(str(path))
    assert not problems, problems
    symbol_of = {exports.beancount_commodity(a.symbol): a.symbol for a in journal.assets} | {"USD": "USD"}
    books = Books()
    for account in realization.iter_children(realization.realize(entries)):
        for position in account.balance:
            symbol = symbol_of[position.units.currency]
            units = books.units.setdefault(account.account, {})
            units[symbol] = units.get(symbol, ZERO) + position.units.number
            if position.cost is not None:
                cost = position.units.number * position.cost.number
                books.cost.setdefault(account.account, {})[symbol] = (
                    books.cost.get(account.account, {}).get(symbol, ZERO) + cost)
                books.lots.setdefault(account.account, {})[position.cost.label] = (position.units.number, cost)
    return books


_AMOUNT = re.compile(r'(-?[0-9.]+) ("[^"]+"|\S+)')


def hledger_books(path: Path) -> Books:
    """What hledger itself makes of the file: `hledger bal` (units) and `hledger bal --cost`."""
    books = Books()
    for flags, table in (([], books.units), (["--cost"], books.cost)):
        done = subprocess.run([require_tool("hledger"), "-f", str(path), "bal", "-O", "csv", *flags],
                              capture_output=True, text=True, timeout=60, check=True)
        for row in list(csv.reader(io.StringIO(done.stdout)))[1:]:
            account, balance = row
            if account == "total" or balance.strip() == "0":
                continue
            table[account] = {symbol.strip('"'): Decimal(number)
                              for number, symbol in _AMOUNT.findall(balance)}
    return books


# -- the ledger's figures ----------------------------------------------------------------------


async def assert_books_match(engine: Engine, token: str, journal: Journal, books: Books, tool: str, *,
                             since: bool = False) -> int:
    """The export's balances for the session's account, read by `tool`, equal the ledger's:
    cash and each position (units, cost basis) as `portfolio` says, realized P&L, fees and net
    deposits as `pnl` says (not after a --since opening: those count from it), and with
    beancount every open lot as `lots` says. The number of figures compared."""
    me = await engine.whoami(token)
    session_account = next(a for a in await engine.accounts(token) if a.current)
    account = next(a for a in journal.accounts if a.username == me.username and a.name == session_account.name)
    prefix = exports.account_prefixes(journal.accounts)[account.id]
    portfolio, pnl = await engine.portfolio(token), await engine.pnl(token)
    figures = [(f"{tool} cash", books.amount(f"Assets:{prefix}:Cash"), portfolio.cash)]
    held = {p.symbol: p for p in portfolio.positions}
    position_accounts = {name.rsplit(":", 1)[1] for name in books.units if name.startswith(f"Assets:{prefix}:")}
    for symbol in set(held) | {a.symbol for a in journal.assets if a.symbol in position_accounts}:
        name = f"Assets:{prefix}:{symbol}"
        position = held.get(symbol)
        figures.append((f"{tool} {symbol} units", books.amount(name, symbol), position.quantity if position else ZERO))
        figures.append((f"{tool} {symbol} cost", books.cost_of(name).quantize(Decimal("0.01")),
                        position.cost_basis if position else ZERO))
    if not since:
        figures += [
            (f"{tool} realized", -books.amount(f"Income:{prefix}:Realized"), pnl.realized_pnl),
            (f"{tool} fees", books.amount(f"Expenses:{prefix}:Fees"), pnl.fees),
            (f"{tool} net deposits", -books.amount(f"Equity:{prefix}:Deposits"), pnl.net_deposits),
        ]
    if tool == "beancount":
        lots = {f"lot-{lot.id}": (lot.remaining, lot.remaining_cost) for lot in await engine.lots(token)}
        exported = {label: (units, cost.quantize(Decimal("0.01")))
                    for name, labels in books.lots.items() if name.startswith(f"Assets:{prefix}:")
                    for label, (units, cost) in labels.items()}
        figures.append((f"{tool} lots", exported, lots))
    wrong = [(what, got, want) for what, got, want in figures if got != want]
    assert not wrong, wrong
    return len(figures)
