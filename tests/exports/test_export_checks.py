"""Exports of any trading pass the real tools, with the ledger's own figures.

Random sequences of deposits, withdrawals, buys (by amount and by quantity), sales (part or all
of a position, naming a lot or not), fees and spreads, changes of the cost method, days going
by and resets, for two traders: the whole ledger's export (the operator's) and one trader's own
pass `bean-check` and `hledger check` (strict), and what beancount and hledger make of them
(their balances, at cost, and beancount's lots) equals `portfolio`, `pnl` and `lots`, to the
cent. A one-cent change of any kind of amount makes both tools fail.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from export_helpers import (
    PASSWORD,
    SYMBOLS,
    Clock,
    assert_books_match,
    bean_check,
    beancount_books,
    hledger_books,
    hledger_check,
    passes,
    step,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderproc import exports
from orderproc.engine import errors
from orderproc.engine.service import LocalEngine

EXAMPLES = 25
TRADERS = ("alice", "bob")

MOVES = {
    "sell": st.tuples(st.just("sell"), st.sampled_from(("BTC", "1INCH", *SYMBOLS)), st.integers(1, 100), st.booleans()),
    "buy": st.tuples(st.just("buy"), st.sampled_from(SYMBOLS), st.integers(1, 3_000), st.booleans()),
    "wait": st.tuples(st.just("wait"), st.integers(1, 40)),
    "method": st.tuples(st.just("method"), st.sampled_from(["average", "fifo"])),
    "fees": st.tuples(st.just("fees"), st.integers(0, 50), st.integers(0, 40)),
    "withdraw": st.tuples(st.just("withdraw"), st.integers(1, 100)),
    "deposit": st.tuples(st.just("deposit"), st.integers(1, 20_000)),
    "reset": st.tuples(st.just("reset"), st.integers(100, 20_000)),
}
# sales (mostly of what every trader holds from the start) and buys drawn most often, resets seldom
KINDS = ["sell", "buy", "sell", "wait", "sell", "buy", "method", "sell", "fees", "withdraw", "deposit", "wait",
         "buy", "sell", "reset"]
steps = st.lists(st.tuples(st.sampled_from(range(len(TRADERS))), st.sampled_from(KINDS).flatmap(MOVES.__getitem__)),
                 min_size=6, max_size=25)

# what the checks covered (printed with -s)
COVERED = {"examples": 0, "entries": 0, "files": 0, "figures": 0}


@pytest.fixture(scope="module", autouse=True)
def coverage_note() -> Iterator[None]:
    yield
    if COVERED["examples"]:
        print(f"\nexport checks covered: {COVERED}")


async def trade(folder: Path, clock: Clock, sequence: list[tuple[int, tuple[Any, ...]]]) -> tuple[LocalEngine, list[str]]:
    """A ledger in `folder` where each trader deposited and bought two lots of two assets, then `sequence`."""
    engine = LocalEngine(folder / "ledger.db", clock=clock, hash_profile="fast", market_seed=5, token_ttl=1e9)
    tokens = []
    for name in TRADERS:
        await engine.register(name, PASSWORD)
        tokens.append((await engine.login(name, PASSWORD)).token)
    for token in tokens:
        await engine.deposit(token, "50000")
        for symbol in ("BTC", "1INCH"):
            await step(engine, clock, token, ("buy", symbol, 4_000, True))
            await step(engine, clock, token, ("wait", 5))
            await step(engine, clock, token, ("buy", symbol, 2_000, False))
    for who, move in sequence:
        try:
            await step(engine, clock, tokens[who], move)
        except (errors.InsufficientFunds, errors.InvalidAmount):
            COVERED["refused " + move[0]] = COVERED.get("refused " + move[0], 0) + 1  # a step the account cannot make
    return engine, tokens


async def check_exports(engine: LocalEngine, tokens: list[str], folder: Path) -> None:
    """The whole ledger's export and the first trader's own, in both formats: the tools pass,
    and their balances are the ledger's."""
    whole = await engine.journal(engine.operator_token)
    own = await engine.journal(tokens[0])
    assert whole.whole_ledger and not own.whole_ledger
    assert {(a.username, a.name) for a in own.accounts} == {(TRADERS[0], "main")}
    for name, journal, who in (("whole", whole, tokens), ("own", own, tokens[:1])):
        bean, ledger = folder / f"{name}.beancount", folder / f"{name}.journal"
        bean.write_text(exports.beancount(journal))
        ledger.write_text(exports.hledger(journal))
        for done in (bean_check(bean), hledger_check(ledger)):
            assert passes(done), done.stdout + done.stderr + bean.read_text()
        bean_books, hledger_books_ = beancount_books(bean, journal), hledger_books(ledger)
        for token in who:
            COVERED["figures"] += await assert_books_match(engine, token, journal, bean_books, "beancount")
            COVERED["figures"] += await assert_books_match(engine, token, journal, hledger_books_, "hledger")
        COVERED["files"] += 2
    COVERED["entries"] += len(whole.entries)
    for entry in whole.entries:
        COVERED[entry.kind.value] = COVERED.get(entry.kind.value, 0) + 1


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_exports_of_any_trading_pass_bean_check_and_hledger_check_with_the_ledgers_figures(
    sequence: list[tuple[int, tuple[Any, ...]]],
) -> None:
    async def run() -> None:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            engine, tokens = await trade(folder, Clock(), sequence)
            try:
                await check_exports(engine, tokens, folder)
            finally:
                await engine.close()

    asyncio.run(run())
    COVERED["examples"] += 1


# -- a one-cent change ---------------------------------------------------------------------------

MIXED_DAYS: list[tuple[int, tuple[Any, ...]]] = [
    (0, ("fees", 25, 10)), (0, ("sell", "BTC", 30, False)), (1, ("wait", 30)), (0, ("buy", "M", 700, True)),
    (0, ("sell", "1INCH", 60, True)), (1, ("method", "average")), (1, ("sell", "BTC", 55, False)),
    (1, ("sell", "1INCH", 20, True)), (0, ("sell", "1INCH", 25, False)),
    (0, ("withdraw", 10)), (1, ("wait", 30)), (1, ("buy", "BONK", 300, True)), (1, ("reset", 5_000)),
    (1, ("buy", "ETH", 900, False)), (0, ("sell", "M", 100, False)), (0, ("method", "fifo")),
]

# (what, a line's pattern, the group holding the amount) per format
BEANCOUNT_AMOUNTS = [
    ("cash posting", r"^  Assets:\S+:Cash  (-?[0-9.]+) USD$"),
    ("fee", r"^  Expenses:\S+:Fees  (-?[0-9.]+) USD$"),
    ("realized P&L", r"^  Income:\S+:Realized  (-?[0-9.]+) USD$"),
    ("deposit", r"^  Equity:\S+:Deposits  (-?[0-9.]+) USD$"),
    ("lot cost", r"\{\{(-?[0-9.]+) USD,"),
    ("units of a lot", r"^  Assets:\S+:BTC  (-?[0-9.]+) BTC \{\{"),
    ("daily cash balance", r"^\S+ balance Assets:\S+:Cash  (-?[0-9.]+) ~ 0 USD$"),
]
HLEDGER_AMOUNTS = [
    ("cash posting", r"^    Assets:\S+:Cash  (-?[0-9.]+) USD = "),
    ("fee", r"^    Expenses:\S+:Fees  (-?[0-9.]+) USD$"),
    ("realized P&L", r"^    Income:\S+:Realized  (-?[0-9.]+) USD$"),
    ("deposit", r"^    Equity:\S+:Deposits  (-?[0-9.]+) USD$"),
    ("cost of units", r" @@ (-?[0-9.]+) USD"),
    ("units", r"^    Assets:\S+:BTC  (-?[0-9.]+) BTC @@"),
    ("asserted cash", r"USD = (-?[0-9.]+) USD$"),
    ("ledger's closing cash", r"^    Assets:\S+:Cash  0 USD = (-?[0-9.]+) USD$"),
]


def one_off(text: str, pattern: str, nth: int) -> str:
    """`text` with the `nth` amount matching `pattern` one minor unit (a cent, for USD) larger."""
    matches = [m for m in re.finditer(pattern, text, re.MULTILINE)]
    assert matches, pattern
    found = matches[nth]
    number = Decimal(found.group(1))
    changed = number + Decimal(1).scaleb(number.as_tuple().exponent)  # type: ignore[arg-type]
    return text[:found.start(1)] + format(changed, "f") + text[found.end(1):]


async def test_a_one_cent_change_of_any_kind_of_amount_fails_both_checks(tmp_path: Path) -> None:
    engine, _ = await trade(tmp_path, Clock(), MIXED_DAYS)
    try:
        journal = await engine.journal(engine.operator_token)
    finally:
        await engine.close()
    cases = [("beancount", exports.beancount(journal), BEANCOUNT_AMOUNTS, bean_check),
             ("hledger", exports.hledger(journal), HLEDGER_AMOUNTS, hledger_check)]
    for tool, text, amounts, check in cases:
        original = tmp_path / f"original.{tool}"
        original.write_text(text)
        assert passes(check(original)), check(original)
        for what, pattern in amounts:
            for nth in (0, -1):
                changed = tmp_path / f"changed.{tool}"
                changed.write_text(one_off(text, pattern, nth))
                done = check(changed)
                assert done.returncode != 0, f"{tool} passed a one-cent change of the {nth} {what}"


# -- from a day on -------------------------------------------------------------------------------


async def test_an_export_since_a_day_opens_with_that_days_holdings_and_ends_with_the_ledgers(tmp_path: Path) -> None:
    clock = Clock()
    since = datetime.fromtimestamp(clock.now, UTC).date() + timedelta(days=2)
    engine, tokens = await trade(tmp_path, clock, MIXED_DAYS[:10])  # 80 hours: four days
    try:
        journal = await engine.journal(engine.operator_token, since=since)
        everything = await engine.journal(engine.operator_token)
        assert 0 < len(journal.entries) < len(everything.entries)
        assert all(e.created_at.date() >= since for e in journal.entries)
        assert any(a.opening_lots for a in journal.accounts)
        bean, ledger = tmp_path / "since.beancount", tmp_path / "since.journal"
        bean.write_text(exports.beancount(journal))
        ledger.write_text(exports.hledger(journal))
        assert passes(bean_check(bean)), bean_check(bean).stderr
        assert passes(hledger_check(ledger)), hledger_check(ledger).stderr
        assert f"{since.isoformat()} * " in bean.read_text()  # the opening balances
        for token in tokens:
            await assert_books_match(engine, token, journal, beancount_books(bean, journal), "beancount", since=True)
            await assert_books_match(engine, token, journal, hledger_books(ledger), "hledger", since=True)
    finally:
        await engine.close()


def test_every_listed_symbol_has_a_beancount_name_of_its_own() -> None:
    from orderproc.engine.prices import load_assets

    symbols = [a.symbol for a in load_assets()]
    names = {exports.beancount_commodity(s) for s in symbols}
    assert len(names) == len(symbols)
    assert all(re.fullmatch(r"[A-Z][A-Z0-9'._-]{0,22}[A-Z0-9]", name) for name in names)
    assert exports.beancount_commodity("1INCH") == "X-1INCH" and exports.beancount_commodity("BTC") == "BTC"
    assert exports.hledger_commodity("1INCH") == '"1INCH"' and exports.hledger_commodity("M") == "M"


@pytest.mark.parametrize("names, expected", [
    ([("alice", "main")], ["Alice:Main"]),
    ([("a.b", "main"), ("a_b", "main")], ["A-b:Main-1", "A-b:Main-2"]),
    ([("_x", "my.acct"), ("9lives", "2nd")], ["X-x:My-acct", "9lives:2nd"]),
])
def test_account_names_become_components_and_never_collide(names: list[tuple[str, str]],
                                                           expected: list[str]) -> None:
    from orderproc.engine.schemas import JournalAccount

    accounts = [JournalAccount(id=i, username=u, name=n, closing=[]) for i, (u, n) in enumerate(names, start=1)]
    assert list(exports.account_prefixes(accounts).values()) == expected
