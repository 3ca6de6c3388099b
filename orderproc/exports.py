"""The journal as text other tools check: a beancount file, an hledger journal, CSV files.

Pure functions of an `orderproc.engine.schemas.Journal` (the engine's `journal` call); the
engine never imports this module. Every amount is the ledger's, exact, and both ledgers carry
balance assertions, so `bean-check` and `hledger check` fail on a one-cent change.

How the ledger's accounts and trades are written is `LAYOUT`, which every exported file repeats
in its header; symbols beancount cannot name are renamed (`beancount_commodity`).
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from orderproc.engine.schemas import (
    Journal,
    JournalAccount,
    JournalEntry,
    JournalLot,
    TxKind,
)

LAYOUT = """\
The accounts, for a paper account NAME of user USER (both written as account-name components:
first letter upper case, any character other than a letter, digit or '-' as '-'; two accounts
that would then share a name get their account number appended):

    Assets:USER:NAME:Cash         its cash (USD)
    Assets:USER:NAME:SYMBOL       a position: lots at cost (beancount), units at cost `@@` (hledger)
    Equity:USER:NAME:Deposits     deposits and withdrawals
    Equity:USER:NAME:Opening      what it held on the --since day
    Income:USER:NAME:Realized     the P&L of its sales (a gain is negative, as income is)
    Expenses:USER:NAME:Fees       the fees of its fills

A buy opens a lot at its cost (the notional) with the fee as an expense; a sale closes the lots
the ledger closed (its cost method, FIFO by default) and books proceeds less cost to Realized. A
lot a sale leaves in part is closed and its rest opened again at the cost the ledger keeps for
it, to the cent (under the average method every lot of the position is). A reset gives back
everything the account held and closes its deposits, P&L and fees into its cash and positions,
so those accounts count from the reset as `orderproc pnl` does.
"""
FORMATS = ("beancount", "hledger", "csv")
CSV_FILES = ("orders.csv", "transactions.csv", "lots.csv")
USD = "USD"

_BEANCOUNT_COMMODITY = re.compile(r"[A-Z][A-Z0-9'._-]{0,22}[A-Z0-9]")
MAPPED_PREFIX = "X-"


def beancount_commodity(symbol: str) -> str:
    """The symbol as a beancount commodity: itself, or (one letter, a leading digit: `1INCH`,
    `M`) with the prefix `X-` (`X-1INCH`, `X-M`), which no listed symbol has."""
    if _BEANCOUNT_COMMODITY.fullmatch(symbol):
        return symbol
    return MAPPED_PREFIX + re.sub(r"[^A-Z0-9'._-]", "-", symbol.upper())


def hledger_commodity(symbol: str) -> str:
    """The symbol as an hledger commodity: letters as they are, anything else quoted (`"1INCH"`)."""
    return symbol if symbol.isascii() and symbol.isalpha() else f'"{symbol}"'


def _number(value: Decimal) -> str:
    return format(value, "f")


def _component(text: str) -> str:
    """Text as one component of an account name (beancount's rule, which hledger accepts)."""
    name = re.sub(r"[^A-Za-z0-9-]", "-", text)
    return name[0].upper() + name[1:] if name[0].isalpha() else (name if name[0].isdigit() else "X" + name)


def account_prefixes(accounts: Iterable[JournalAccount]) -> dict[int, str]:
    """Each paper account's `USER:NAME`, unique (see the module's docstring)."""
    names = {a.id: f"{_component(a.username)}:{_component(a.name)}" for a in accounts}
    count: dict[str, int] = defaultdict(int)
    for name in names.values():
        count[name] += 1
    return {i: name if count[name] == 1 else f"{name}-{i}" for i, name in names.items()}


# -- what both ledgers say --------------------------------------------------------------------

_ROOTS = {"Cash": "Assets", "Deposits": "Equity", "Opening": "Equity", "Realized": "Income", "Fees": "Expenses"}


@dataclass
class _Posting:
    account: str
    amount: Decimal
    commodity: str  # the orderproc symbol (USD: cash)
    cost: Decimal | None = None  # a position's: the cost basis this posting adds (negative: removes)
    lot: JournalLot | None = None  # beancount: the lot it opens (amount > 0) or closes (< 0)


@dataclass
class _Transaction:
    day: date
    payee: str
    narration: str
    meta: dict[str, int]
    lots: list[_Posting] = field(default_factory=list)  # beancount's lot postings
    positions: list[_Posting] = field(default_factory=list)  # hledger's: units at cost
    postings: list[_Posting] = field(default_factory=list)  # cash, equity, income, expenses


class _Book:
    """The journal as transactions both ledgers write, and every account they use."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.prefix = account_prefixes(journal.accounts)
        self.owner = {a.id: f"{a.username}/{a.name}" for a in journal.accounts}
        self.lots: dict[int, JournalLot] = {}  # every lot open now, as last left
        self.transactions: list[_Transaction] = []
        self.accounts: dict[str, str | None] = {}  # every account used: its one commodity, or None
        self.symbols: set[str] = set()
        # each account's deposits, opening, realized P&L and fees so far (what a reset closes)
        self._opened: dict[int, dict[str, Decimal]] = {a.id: defaultdict(Decimal) for a in journal.accounts}
        self._open_books()
        resets = {(e.account_id, e.id) for e in journal.entries if e.kind is TxKind.RESET}
        # a reset of an account that held nothing has no entry: its books close all the same
        unmarked = {a.id: a.reset_entry for a in journal.accounts
                    if a.reset_entry and (a.id, a.reset_entry) not in resets}
        for entry in journal.entries:
            if unmarked.get(entry.account_id, entry.id) < entry.id:
                del unmarked[entry.account_id]
                closing = self._close_books(entry.account_id, entry.created_at.date())
                if closing.postings:
                    self.transactions.append(closing)
            self.transactions.append(self._transaction(entry))

    def account(self, account_id: int, leaf: str, symbol: str | None = USD) -> str:
        """The name of one of a paper account's ledger accounts (`leaf`: Cash, Deposits, ...,
        or a position's symbol), noted as used with its one commodity."""
        root = _ROOTS.get(leaf)
        name = f"{root}:{self.prefix[account_id]}:{leaf}" if root else f"Assets:{self.prefix[account_id]}:{_component(leaf)}"
        self.accounts.setdefault(name, symbol)
        if symbol is not None and symbol != USD:
            self.symbols.add(symbol)
        return name

    def _open_books(self) -> None:
        if self.journal.since is None:
            return
        for account in self.journal.accounts:
            if not account.opening:
                continue
            txn = _Transaction(self.journal.since, self.owner[account.id], "opening balances", {})
            total = Decimal("0.00")
            for holding in account.opening:
                if holding.asset == USD:
                    if holding.amount:
                        txn.postings.append(_Posting(self.account(account.id, "Cash"), holding.amount, USD))
                    total += holding.amount
                elif holding.amount:
                    position = self.account(account.id, holding.asset, holding.asset)
                    txn.positions.append(_Posting(position, holding.amount, holding.asset, holding.cost))
                    total += holding.cost
            for lot in account.opening_lots:
                txn.lots.append(self._lot(account.id, lot, None))
            if total:
                txn.postings.append(self._equity(account.id, "Opening", -total))
            if txn.postings or txn.positions:
                self.transactions.append(txn)

    def _equity(self, account_id: int, leaf: str, amount: Decimal) -> _Posting:
        self._opened[account_id][leaf] += amount
        return _Posting(self.account(account_id, leaf), amount, USD)

    def _lot(self, account_id: int, lot: JournalLot, before: JournalLot | None) -> _Posting:
        """The beancount posting that closes `before` (the lot as it was), or opens `lot`."""
        position = self.account(account_id, lot.symbol, lot.symbol)
        if before is not None:
            del self.lots[lot.id]
            return _Posting(position, -before.remaining, lot.symbol, -before.remaining_cost, before)
        self.lots[lot.id] = lot
        return _Posting(position, lot.remaining, lot.symbol, lot.remaining_cost, lot)

    def _transaction(self, entry: JournalEntry) -> _Transaction:
        a = entry.account_id
        meta = {"entry": entry.id} | ({"order": entry.order_id} if entry.order_id is not None else {})
        txn = _Transaction(entry.created_at.date(), self.owner[a], _narration(entry), meta)
        closing, opening = [], []
        for lot in entry.lots:
            before = self.lots.get(lot.id)
            if before is not None:
                closing.append(self._lot(a, lot, before))
            if lot.remaining:
                opening.append(self._lot(a, lot, None))
        txn.lots = closing + opening
        cash = Decimal("0.00")
        for move in entry.moves:
            if move.asset == USD:
                cash += move.amount
                txn.postings.append(_Posting(self.account(a, "Cash"), move.amount, USD))
            else:
                txn.positions.append(_Posting(self.account(a, move.asset, move.asset), move.amount, move.asset,
                                              move.cost))
        if entry.kind in (TxKind.DEPOSIT, TxKind.WITHDRAWAL):
            txn.postings.append(self._equity(a, "Deposits", -cash))
        if entry.fee:
            txn.postings.append(self._equity(a, "Fees", entry.fee))
        if entry.kind is TxKind.SELL and entry.realized_pnl:
            txn.postings.append(self._equity(a, "Realized", -entry.realized_pnl))
        if entry.kind is TxKind.RESET:
            txn.postings += self._closings(a)
        return txn

    def _closings(self, account_id: int) -> list[_Posting]:
        """What closes an account's deposits, opening, P&L and fees (a reset)."""
        return [self._equity(account_id, leaf, -total) for leaf, total in sorted(self._opened[account_id].items())
                if total]

    def _close_books(self, account_id: int, day: date) -> _Transaction:
        txn = _Transaction(day, self.owner[account_id], "reset with nothing held: deposits, P&L and fees count "
                           "from here", {})
        txn.postings = self._closings(account_id)
        return txn


def _narration(entry: JournalEntry) -> str:
    """What an entry was, in words (no ';': hledger would read a comment)."""
    if entry.kind in (TxKind.BUY, TxKind.SELL) and entry.price is not None:
        asset = next((m for m in entry.moves if m.asset != USD), None)
        quantity = f"{_number(abs(asset.amount))} {asset.asset} " if asset else ""
        text = f"{entry.kind.value} {quantity}at {_number(entry.price)} USD"
        return text + (f", fee {_number(entry.fee)} USD" if entry.fee else "")
    if entry.kind is TxKind.RESET:
        return "reset: all given back, deposits, P&L and fees count from here"
    return entry.kind.value


def _header(journal: Journal, book: _Book, named: Callable[[str], str], heading: str) -> list[str]:
    """The file's opening comment: what it holds, how it is laid out, the symbols it writes
    otherwise (`named`), under `heading`."""
    who = ("every customer account of the ledger" if journal.whole_ledger
           else ", ".join(f"{a.username}/{a.name}" for a in journal.accounts) or "no account")
    since = f"from {journal.since.isoformat()} (00:00 UTC), after the opening balances" if journal.since else "all"
    lines = [
        f"orderproc journal, exported {journal.as_of.isoformat(timespec='seconds')}",
        f"accounts: {who}",
        f"entries: {since}",
        f"cost method: {journal.cost_method}; every amount exact, balances asserted",
        "",
        *LAYOUT.splitlines(),
    ]
    renamed = sorted(s for s in book.symbols if named(s) != s)
    if renamed:
        lines += ["", heading] + [f"    {named(s)} is {s}" for s in renamed]
    return [f"; {line}".rstrip() for line in lines]


def _asset_postings(txn: _Transaction) -> list[_Posting]:
    """What changes an asset account's units: positions and cash."""
    return txn.positions + [p for p in txn.postings if p.account.startswith("Assets:")]


def _closing(book: _Book) -> list[tuple[str, str, Decimal]]:
    """(account, symbol, amount) for every asset account of every paper account, as the
    ledger's balances say now (zero for a position sold out)."""
    out = []
    for account in book.journal.accounts:
        held = {h.asset: h.amount for h in account.closing}
        for asset, amount in held.items():
            if amount or asset == USD:
                book.account(account.id, "Cash" if asset == USD else asset, asset)
        prefix = f"Assets:{book.prefix[account.id]}:"
        for name, symbol in book.accounts.items():
            if symbol is not None and name.startswith(prefix):
                out.append((name, symbol, held.get(symbol, Decimal("0.00") if symbol == USD else Decimal(0))))
    return out


# -- beancount ---------------------------------------------------------------------------------


def beancount(journal: Journal) -> str:
    """The journal as a beancount file: `bean-check` passes; every asset account's balance is
    asserted after each day it moved, and at the end as the ledger's balances say."""
    book = _Book(journal)
    body: list[str] = []
    checks: list[str] = []
    running: dict[tuple[str, str], Decimal] = {}
    touched: set[tuple[str, str]] = set()
    for i, txn in enumerate(book.transactions):
        body += ["", f'{txn.day.isoformat()} * "{txn.payee}" "{_quoted(txn.narration)}"']
        body += [f"  {key}: {value}" for key, value in txn.meta.items()]
        for p in txn.lots:
            assert p.lot is not None
            commodity = beancount_commodity(p.commodity)
            if p.amount < 0:  # closes the lot: beancount matches it by its label
                body.append(f'  {p.account}  {_number(p.amount)} {commodity} {{"lot-{p.lot.id}"}}')
            else:  # opens it at its exact cost, total (a cost per unit would round)
                body.append(f"  {p.account}  {_number(p.amount)} {commodity} {{{{{_number(p.lot.remaining_cost)} USD,"
                            f' {p.lot.opened_at.date().isoformat()}, "lot-{p.lot.id}"}}}}')
        for p in ([] if txn.lots else txn.positions) + txn.postings:
            body.append(f"  {p.account}  {_number(p.amount)} {beancount_commodity(p.commodity)}")
        for p in _asset_postings(txn):
            running[(p.account, p.commodity)] = running.get((p.account, p.commodity), 0 * p.amount) + p.amount
            touched.add((p.account, p.commodity))
        last_of_day = i + 1 == len(book.transactions) or book.transactions[i + 1].day != txn.day
        if last_of_day:  # a balance directive holds at the start of its day: the next one
            checks += [_balance(txn.day + timedelta(days=1), a, running[(a, s)], s) for a, s in sorted(touched)]
            touched.clear()
    end = max([journal.as_of.date()] + [t.day for t in book.transactions]) + timedelta(days=1)
    closing = [_balance(end, account, amount, symbol) for account, symbol, amount in _closing(book)]
    first = min([t.day for t in book.transactions] + [journal.as_of.date()]).isoformat()
    head = _header(journal, book, beancount_commodity,
                   "beancount names these symbols so (a commodity starts with a letter and has two or more):")
    head += ["", 'option "title" "orderproc journal"', 'option "operating_currency" "USD"',
             'option "inferred_tolerance_default" "USD:0.005"', "", f"{first} commodity USD"]
    for asset in journal.assets:
        if asset.symbol in book.symbols:
            head += [f"{first} commodity {beancount_commodity(asset.symbol)}", f'  name: "{_quoted(asset.name)}"',
                     f'  symbol: "{asset.symbol}"']
    head += [""] + [f"{first} open {name} {beancount_commodity(symbol) if symbol else 'USD'}"
                    for name, symbol in book.accounts.items()]
    prices = [f"{journal.as_of.date().isoformat()} price {beancount_commodity(s)} {_number(p)} USD"
              for s, p in sorted(journal.prices.items())]
    tail = ["", "; each asset account after each day it moved", *checks,
            "", f"; the ledger's balances at {journal.as_of.isoformat(timespec='seconds')}", *closing,
            "", "; prices then", *prices]
    return "\n".join(head + body + tail) + "\n"


def _balance(day: date, account: str, amount: Decimal, symbol: str) -> str:
    """An exact assertion: beancount's own tolerance would let a cent through."""
    return f"{day.isoformat()} balance {account}  {_number(amount)} ~ 0 {beancount_commodity(symbol)}"


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


# -- hledger -----------------------------------------------------------------------------------


def hledger(journal: Journal) -> str:
    """The journal as an hledger journal: `hledger check` passes (strict too); every cash and
    position posting asserts its account's balance after it, and a last transaction asserts
    the ledger's balances. A position's units carry their cost basis (`@@`): `hledger bal
    --cost` shows what `orderproc portfolio` calls the cost basis."""
    book = _Book(journal)
    body: list[str] = []
    running: dict[tuple[str, str], Decimal] = {}
    for txn in book.transactions:
        tags = ", ".join(f"{key}:{value}" for key, value in txn.meta.items())
        body += ["", f"{txn.day.isoformat()} * {txn.payee} | {txn.narration}" + (f"  ; {tags}" if tags else "")]
        for p in txn.positions + txn.postings:
            line = f"    {p.account}  {_number(p.amount)} {hledger_commodity(p.commodity)}"
            if p.cost is not None:
                line += f" @@ {_number(abs(p.cost))} USD"
            if p.account.startswith("Assets:"):
                key = (p.account, p.commodity)
                running[key] = running.get(key, 0 * p.amount) + p.amount
                line += f" = {_number(running[key])} {hledger_commodity(p.commodity)}"
            body.append(line)
    end = max([journal.as_of.date()] + [t.day for t in book.transactions]).isoformat()
    closing = [f"{end} * ledger balances | as orderproc's balances say at {journal.as_of.isoformat(timespec='seconds')}"]
    closing += [f"    {account}  0 {hledger_commodity(symbol)} = {_number(amount)} {hledger_commodity(symbol)}"
                for account, symbol, amount in _closing(book)]
    precision = {a.symbol: a.precision for a in journal.assets}
    head = _header(journal, book, hledger_commodity, "hledger quotes these symbols:")
    head += ["", "commodity 1000.00 USD"]
    head += [f"commodity 1000.{'0' * precision.get(s, 8)} {hledger_commodity(s)}" for s in sorted(book.symbols)]
    head += [""] + [f"account {name}" for name in book.accounts]
    prices = [f"P {journal.as_of.date().isoformat()} {hledger_commodity(s)} {_number(p)} USD"
              for s, p in sorted(journal.prices.items())]
    body += [""] + (closing if len(closing) > 1 else [])
    return "\n".join(head + body + ["", *prices]) + "\n"


# -- CSV ---------------------------------------------------------------------------------------

ORDER_COLUMNS = ("user", "account", "id", "created_at", "closed_at", "symbol", "side", "type", "time_in_force",
                 "status", "quantity", "limit_price", "stop_price", "price", "notional", "fee", "realized_pnl",
                 "lot_id", "client_order_id", "reason")
TRANSACTION_COLUMNS = ("entry_id", "created_at", "user", "account", "kind", "asset", "amount", "cost_basis",
                       "order_id", "client_key")
LOT_COLUMNS = ("user", "account", "id", "symbol", "order_id", "opened_at", "quantity", "cost", "remaining",
               "remaining_cost", "unit_cost")


def csv_files(journal: Journal) -> dict[str, str]:
    """orders.csv, transactions.csv (a row per asset an entry moved: a trade has its cash row
    and its asset row; fills' prices and fees are in orders.csv) and lots.csv, with headers, times
    in ISO 8601 (UTC), decimals written out."""
    owner = {a.id: (a.username, a.name) for a in journal.accounts}
    orders = [(*owner[a.id], o.id, o.created_at, o.closed_at, o.symbol, o.side.value, o.type.value,
               o.time_in_force.value, o.status.value, o.quantity, o.limit_price, o.stop_price, o.price, o.notional,
               o.receipt.fee if o.receipt else None, o.realized_pnl, o.lot_id, o.client_order_id, o.reason)
              for a in journal.accounts for o in a.orders]
    moves = [(e.id, e.created_at, *owner[e.account_id], e.kind.value, m.asset, m.amount,
              m.cost if m.asset != USD else None, e.order_id, e.client_key)
             for e in journal.entries for m in e.moves]
    lots = [(*owner[a.id], lot.id, lot.symbol, lot.order_id, lot.opened_at, lot.quantity, lot.cost, lot.remaining,
             lot.remaining_cost, lot.unit_cost) for a in journal.accounts for lot in a.lots]
    return {"orders.csv": _csv(ORDER_COLUMNS, orders), "transactions.csv": _csv(TRANSACTION_COLUMNS, moves),
            "lots.csv": _csv(LOT_COLUMNS, lots)}


def _cell(value: object) -> object:
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else value


def _csv(columns: tuple[str, ...], rows: Iterable[tuple[object, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return out.getvalue()
