"""The bank workload and its checker (RELIABILITY.md: promises 1-5), shared by the tests in this
folder and by `bench/reliability.py`.

A *client* performs a bounded, seeded random mix of deposits, withdrawals, buys and sells (by
quantity and by USD) of a few hot assets, for its own user and for a user it shares with other
clients (so two clients act on one account at once), and retries: the same op with the same key
again, concurrently or later; a key it saw acknowledged reused for another request (a *probe*,
which must be a conflict); a key of one of its users reused for the other user (a new effect,
never the first user's result). Every op carries an idempotency key (`key=` for cash, the
order's `client_order_id`), so the checker can find it in the ledger.

Each client writes a *journal* of events, in memory and optionally to a file (JSON lines,
flushed one by one, so that a client process killed with SIGKILL leaves every line it wrote):

    {"e": "sent", "op": {...}}                     before every attempt
    {"e": "answer", "id": ..., "outcome": ...}     after it: acked (with the result), rejected
                                                   (a domain answer, with its code), unavailable
                                                   (no answer: in doubt), unexpected

A client restarted on its journal (`Client.resume`) first re-sends every op it sent but never
saw answered, with the same key and request, then goes on where it stopped.

`judge(path, events)` checks the ledger against every journal:
 (a) `admin_verify` passes (promises 1-3, stored balances = journal replay, integrity_check);
 (b) every acknowledged op is in the ledger exactly once, as acknowledged (id, amounts);
 (c) nothing is invented: every entry and order of the workload's users has a key some client
     sent for that user; an op in doubt (sent, never answered) is there at most once;
 (d) a rejected op left nothing; a probe was a conflict and left nothing;
 and every answer a client got was acked or a legitimate domain rejection (no 5xx, no
 `ledger_busy`, no raw exception), and the acks of one key all carry the same result.

`Snapshots` runs the invariant checker (`checks.ledger_problems`) on read-only snapshots while the
workload runs. Drivers: `run_tasks` (asyncio tasks on one LocalEngine), `run_processes` (OS
processes, each with its own LocalEngine on the file: `bank_worker.py`), `run_server` (each
client its own RemoteEngines on one or more `orderproc serve` processes, on a ledger file or a
PostgreSQL database); the crash drivers are in `crash.py`. The ledger is a file's path or a
postgresql:// URL (`Ledger`): the checker reads either.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Context, Decimal
from pathlib import Path
from typing import Any

from orderproc.engine.errors import OrderprocError
from orderproc.engine.schemas import Order, OrderRequest, Transaction
from orderproc.engine.service import LocalEngine
from orderproc.engine.store import checks
from orderproc.engine.store.backend import is_server_url, open_backend
from orderproc.engine.store.sqlite import Database

HERE = Path(__file__).resolve().parent
WORKER = HERE / "bank_worker.py"
PASSWORD = "correct horse battery"
INITIAL_CASH = "20000.00"
HOT = ("BTC", "ETH", "DOGE", "SOL")
# the answers a client may get under contention: domain answers about its own request
REJECTIONS = frozenset({"insufficient_funds", "price_moved", "invalid_amount"})
# no answer at all: the op may or may not have happened (only a crash test expects these)
IN_DOUBT_CODES = frozenset({"engine_unavailable"})
MARKET_SEED = 7

Ledger = Path | str  # a ledger file, or a postgresql:// URL


# -- the workload ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientSpec:
    name: str
    seed: str
    ops: int
    users: tuple[str, ...]  # its own user first, then the user it shares with other clients

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "seed": self.seed, "ops": self.ops, "users": list(self.users)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClientSpec:
        return cls(data["name"], data["seed"], data["ops"], tuple(data["users"]))


@dataclass(frozen=True)
class Workload:
    """`clients` clients of `ops` ops each; client i owns user `own{i}` and shares `shared{i % shared}`."""

    seed: int
    clients: int
    ops: int
    shared: int = 2
    synchronous: str = "NORMAL"

    def users(self) -> list[str]:
        return [f"own{i}" for i in range(self.clients)] + [f"shared{j}" for j in range(min(self.shared, self.clients))]

    def specs(self) -> list[ClientSpec]:
        shared = min(self.shared, self.clients)
        return [
            ClientSpec(f"c{i}", f"{self.seed}:c{i}", self.ops,
                       (f"own{i}",) + ((f"shared{i % shared}",) if shared else ()))
            for i in range(self.clients)
        ]


@dataclass
class Progress:
    """Answers received by the clients of this process (the crash nemesis kills at thresholds)."""

    answered: int = 0


class Journal:
    """A client's events, in memory and, with a path, appended to a JSON-lines file as they happen."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.events: list[dict[str, Any]] = self.read(path) if path is not None and path.exists() else []
        self._file = path.open("a") if path is not None else None

    def write(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if self._file is not None:
            self._file.write(json.dumps(event) + "\n")
            self._file.flush()  # in the kernel: a SIGKILL of this process cannot lose it

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        """The events of a journal file; a last line torn by a kill is left out."""
        events = []
        for line in path.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return events


def _result(value: object) -> dict[str, Any]:
    if isinstance(value, Order | Transaction):
        return {**value.to_json_dict(), "dto": type(value).__name__.lower()}
    raise TypeError(f"the engine returned {value!r}")


def _units(quantity: Decimal, precision: int) -> int:
    return int(quantity.scaleb(precision))


_LIMIT_CTX = Context(prec=10)


class Client:
    """One client: a user of its own and one shared with other clients, a seeded stream of ops."""

    def __init__(
        self,
        spec: ClientSpec,
        engine: Any,
        tokens: dict[str, str],
        journal: Journal,
        *,
        retry_in_doubt: bool = False,
        op_deadline: float = 90.0,
        progress: Progress | None = None,
    ) -> None:
        self.spec = spec
        self.engine = engine
        self.tokens = tokens
        self.journal = journal
        self.retry_in_doubt = retry_in_doubt
        self.op_deadline = op_deadline
        self.progress = progress
        self.prices: dict[str, Decimal] = {}
        self.precision: dict[str, int] = {}
        self.held: dict[str, dict[str, int]] = {u: defaultdict(int) for u in spec.users}
        self.acked: list[dict[str, Any]] = []  # ops (not probes) this client saw acknowledged
        self.effects: dict[str, dict[str, Any]] = {}  # op id -> its acknowledged result
        self.later: list[dict[str, Any]] = []
        self.reused: set[str] = set()  # ops whose key was sent for the other user
        self.next_index = 0
        self.to_resend: list[dict[str, Any]] = []
        self.resume(journal.events)

    # -- restarting on a journal ------------------------------------------------------------

    def resume(self, events: Sequence[dict[str, Any]]) -> None:
        sent: dict[str, dict[str, Any]] = {}
        answered: set[str] = set()
        for event in events:
            if event["e"] == "sent":
                op = event["op"]
                sent.setdefault(op["id"], op)
                if "other_of" in op:
                    self.reused.add(op["other_of"])
                self.next_index = max(self.next_index, op["i"] + 1)
            elif event["outcome"] != "unavailable":
                answered.add(event["id"])
                if event["outcome"] == "acked":
                    self._acked(sent[event["id"]], event["result"])
        self.to_resend = [op for op_id, op in sent.items() if op_id not in answered]

    def _acked(self, op: dict[str, Any], result: dict[str, Any]) -> None:
        if op["id"] in self.effects or op.get("probe"):
            return
        self.effects[op["id"]] = result
        self.acked.append(op)
        if result["dto"] == "order":
            sign = 1 if result["side"] == "buy" else -1
            precision = self.precision.get(result["symbol"])
            if precision is not None:
                self.held[op["user"]][result["symbol"]] += sign * _units(Decimal(result["quantity"]), precision)

    # -- the engine ------------------------------------------------------------------------------

    async def _market(self) -> None:
        """The hot assets' precision (once) and prices (now and then): what the ops are sized on."""
        started = time.monotonic()
        while True:
            try:
                if not self.precision:
                    for symbol in HOT:
                        self.precision[symbol] = (await self.engine.get_asset(symbol)).precision
                    self.held = {u: defaultdict(int) for u in self.spec.users}
                    for op in list(self.acked):  # what a restarted client held before
                        self.acked.remove(op)
                        self._acked(op, self.effects.pop(op["id"]))
                quotes = await self.engine.quotes(list(HOT))
                self.prices = {q.symbol: q.price for q in quotes}
                return
            except OrderprocError as exc:
                if self.prices and self.precision:
                    return  # keep the prices we have
                in_doubt = self.retry_in_doubt and exc.code in IN_DOUBT_CODES
                if not in_doubt or time.monotonic() - started > self.op_deadline:
                    raise
                await asyncio.sleep(0.1)

    async def _send(self, op: dict[str, Any]) -> object:
        token = self.tokens[op["user"]]
        if op["kind"] == "deposit":
            return await self.engine.deposit(token, op["amount"], key=op["key"])
        if op["kind"] == "withdrawal":
            return await self.engine.withdraw(token, op["amount"], key=op["key"])
        fields = {k: op[k] for k in ("quantity", "notional", "price_limit") if k in op}
        request = OrderRequest(symbol=op["symbol"], side=op["side"], client_order_id=op["key"], **fields)
        return await self.engine.place_order(token, request)

    async def perform(self, op: dict[str, Any]) -> None:
        """Send `op` and record the answer; in a crash test, an op left in doubt is sent again (same
        key, same request) until it gets an answer."""
        started = time.monotonic()
        while True:
            sent_at = len(self.journal.events)
            self.journal.write({"e": "sent", "op": op})
            answer: dict[str, Any] = {"e": "answer", "id": op["id"], "sent": sent_at}
            try:
                result = await self._send(op)
            except OrderprocError as exc:
                answer["code"] = exc.code
                if exc.code in IN_DOUBT_CODES and self.retry_in_doubt:
                    answer["outcome"] = "unavailable"
                    self.journal.write(answer)
                    if time.monotonic() - started < self.op_deadline:
                        await asyncio.sleep(0.05 + random.random() * 0.1)
                        continue
                    return
                expected = {"conflict"} if op.get("probe") else REJECTIONS
                answer["outcome"] = "rejected" if exc.code in expected else "unexpected"
                if answer["outcome"] == "unexpected":
                    answer["error"] = f"{exc.code}: {exc.message}"
            except Exception as exc:  # a raw exception must never reach a client
                answer["outcome"] = "unexpected"
                answer["error"] = "".join(traceback.format_exception(exc)).strip()[-3000:]
            else:
                answer["outcome"] = "acked"
                answer["result"] = _result(result)
                self._acked(op, answer["result"])
            answer["at"] = len(self.journal.events)
            self.journal.write(answer)
            if self.progress is not None:
                self.progress.answered += 1
            return

    # -- the ops -----------------------------------------------------------------------------------

    def _op(self, rng: random.Random, i: int) -> dict[str, Any]:
        users = self.spec.users
        user = users[0] if len(users) == 1 or rng.random() < 0.65 else rng.choice(users[1:])
        op: dict[str, Any] = {"id": f"{self.spec.name}-{i}", "i": i, "key": f"{self.spec.name}-{i}", "user": user}
        roll = rng.random()
        if roll < 0.14:
            op.update(kind="deposit", amount=_cash(rng.randint(1_000, 300_000)))
        elif roll < 0.28:
            op.update(kind="withdrawal", amount=_cash(rng.randint(1_000, 400_000)))  # some too large: refused
        else:
            symbol = rng.choice(HOT)
            precision, price = self.precision[symbol], self.prices[symbol]
            op.update(kind="order", symbol=symbol)
            held = self.held[user][symbol]
            if roll < 0.64 or held <= 0 and rng.random() < 0.8:
                cents = rng.randint(1_000, 250_000)
                op["side"] = "buy"
                if rng.random() < 0.5:
                    op["notional"] = _cash(cents)
                else:
                    units = max(1, int(Decimal(cents).scaleb(precision - 2) / price))
                    op["quantity"] = _qty(units, precision)
            else:
                op["side"] = "sell"
                share = rng.choice([Decimal("0.25"), Decimal("0.5"), Decimal(1), Decimal("1.3")])  # 1.3: refused
                units = max(1, int(max(held, 10**precision // 1000) * share))
                cents = int(Decimal(units).scaleb(2 - precision) * price)
                if rng.random() < 0.5 and cents >= 1:
                    op["notional"] = _cash(cents)
                else:
                    op["quantity"] = _qty(units, precision)
            if rng.random() < 0.12:  # a price guard just above or below the price seen: may be refused
                factor = Decimal(1) + rng.choice([Decimal("-0.001"), Decimal("0.001")])
                op["price_limit"] = format(_LIMIT_CTX.multiply(price, factor), "f")
        return op

    def _probe(self, rng: random.Random, i: int) -> dict[str, Any] | None:
        """A key this client saw acknowledged, with another request: must be a conflict, no effect."""
        if not self.acked:
            return None
        first = rng.choice(self.acked)
        probe = {"id": f"{self.spec.name}-{i}-probe", "i": i, "key": first["key"], "user": first["user"], "probe": True}
        if first["kind"] == "order":
            probe.update(kind="deposit", amount="1.00")
        else:
            probe.update(kind=first["kind"], amount=_cash(int(Decimal(first["amount"]) * 100) + 1))
        return probe

    def _other_user(self, rng: random.Random, i: int) -> dict[str, Any] | None:
        """An acknowledged op's key and request sent for this client's other user: a new effect of its
        own (one user's key never returns another's result)."""
        candidates = [op for op in self.acked if op["kind"] != "withdrawal" and op.get("side") != "sell"
                      and "other_of" not in op and op["id"] not in self.reused]
        if len(self.spec.users) < 2 or not candidates:
            return None
        first = rng.choice(candidates)
        self.reused.add(first["id"])
        other = next(u for u in self.spec.users if u != first["user"])
        return {**first, "id": f"{self.spec.name}-{i}-other", "i": i, "user": other, "other_of": first["id"]}

    async def run(self) -> None:
        await self._market()
        for op in self.to_resend:  # sent before a crash, never answered: the same key again
            await self.perform(op)
        self.to_resend = []
        while self.next_index < self.spec.ops:
            i = self.next_index
            self.next_index += 1
            rng = random.Random(f"{self.spec.seed}:{i}")  # op i is the same whenever it is made
            if i % 20 == 0:
                await self._market()
            op = self._op(rng, i)
            roll = rng.random()
            if roll < 0.1:  # the same op sent 2 or 3 times at once
                await asyncio.gather(*(self.perform(op) for _ in range(rng.choice((2, 2, 3)))))
            else:
                await self.perform(op)
                if roll < 0.25:
                    self.later.append(op)
            if self.later and rng.random() < 0.3:  # the same op again, later
                await self.perform(self.later.pop(rng.randrange(len(self.later))))
            extra = rng.random()
            if extra < 0.05:
                probe = self._probe(rng, i)
                if probe is not None:
                    await self.perform(probe)
            elif extra < 0.08:
                other = self._other_user(rng, i)
                if other is not None:
                    await self.perform(other)
        for op in self.later:
            await self.perform(op)
        self.later = []


def _cash(cents: int) -> str:
    return format(Decimal(cents).scaleb(-2), "f")


def _qty(units: int, precision: int) -> str:
    return format(Decimal(units).scaleb(-precision), "f")


# -- setting up a ledger ---------------------------------------------------------------------------


async def prepare(ledger: Ledger, workload: Workload) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Create the ledger, register every user of the workload and fund them (a keyed deposit each,
    journaled like any client's); the users' tokens and those events."""
    engine = LocalEngine(ledger, hash_profile="fast", market_seed=MARKET_SEED, synchronous=workload.synchronous)
    journal = Journal()
    tokens: dict[str, str] = {}
    try:
        for user in workload.users():
            await engine.register(user, PASSWORD)
            tokens[user] = (await engine.login(user, PASSWORD)).token
            op: dict[str, Any] = {"id": f"setup-{user}", "i": 0, "key": f"setup-{user}", "user": user, "kind": "deposit",
                  "amount": INITIAL_CASH}
            sent_at = len(journal.events)
            journal.write({"e": "sent", "op": op})
            tx = await engine.deposit(tokens[user], INITIAL_CASH, key=op["key"])
            journal.write({"e": "answer", "id": op["id"], "sent": sent_at, "at": len(journal.events),
                           "outcome": "acked", "result": _result(tx)})
    finally:
        await engine.close()
    return tokens, journal.events


# -- the checker ---------------------------------------------------------------------------------


@dataclass
class Verdict:
    """What the checker found. `lost`, `invented`, `duplicates`, `unexpected` and `invariant` must be empty."""

    acked: int = 0
    rejected: int = 0
    in_doubt: int = 0  # ops that had an attempt without an answer (then sent again with the same key)
    unresolved: int = 0  # ops never answered at all (may be in the ledger or not, at most once)
    attempts: int = 0
    probes: int = 0
    checks_during: int = 0  # invariant checks passed while the workload ran
    checks_after: int = 0  # admin_verify runs passed (after each crash, and at the end)
    crashes: int = 0
    failovers: int = 0  # times a client turned to another server, the one it used being down
    lost: list[str] = field(default_factory=list)
    invented: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    invariant: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.invented or self.duplicates or self.unexpected or self.invariant)

    def report(self, limit: int = 8) -> str:
        lines = [
            f"acked {self.acked}, rejected {self.rejected}, in doubt {self.in_doubt} ({self.unresolved} never "
            f"answered), attempts {self.attempts}, probes {self.probes}, crashes {self.crashes}, checks passed "
            f"{self.checks_during} during / {self.checks_after} after, failovers {self.failovers}"
        ]
        for name in ("lost", "invented", "duplicates", "unexpected", "invariant"):
            found: list[str] = getattr(self, name)
            if found:
                lines.append(f"{name} ({len(found)}):")
                lines.extend(f"  {text}" for text in found[:limit])
        return "\n".join(lines)


async def verify(ledger: Ledger) -> list[str]:
    """`admin_verify` by the operator on a LocalEngine of its own: the problems (none when ok).
    Only once nothing else in this process has the ledger open."""
    engine = LocalEngine(ledger, hash_profile="fast")
    try:
        report = await engine.admin_verify(engine.operator_token)
    finally:
        await engine.close()
    return [] if report.ok else list(report.problems) or ["admin_verify is not ok"]


@contextmanager
def snapshot(ledger: Ledger) -> Iterator[Any]:
    """A read-only connection inside one consistent read transaction (a SQLite file opened
    read-only; on PostgreSQL a REPEATABLE READ, READ ONLY transaction), while others may write."""
    if is_server_url(ledger):
        backend = open_backend(ledger, synchronous="NORMAL")
        conn = backend.connect(readonly=True)
        begin = backend.begin_read
    else:
        conn = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=30, isolation_level=None)
        begin = Database.begin_read
    try:
        begin(conn)
        try:
            yield conn
        finally:
            conn.execute("COMMIT")
    finally:
        conn.close()


def verify_read_only(ledger: Ledger) -> list[str]:
    """What `admin_verify` checks (`checks.ledger_problems`, and SQLite's `integrity_check`), on one
    read-only snapshot, while other processes may be writing.

    Not a LocalEngine: opening one in a process that has the ledger file open already (the
    snapshot thread) cancels that connection's locks (see test_engines_in_one_process.py).
    """
    with snapshot(ledger) as conn:
        problems, _, _ = checks.ledger_problems(conn)
        if not is_server_url(ledger):
            problems += Database.integrity_problems(conn)
    return problems


def _cents(text: str) -> int:
    return int(Decimal(text).scaleb(2))


@dataclass
class _Op:
    op: dict[str, Any]
    sent: int = 0
    answers: list[dict[str, Any]] = field(default_factory=list)


async def judge(ledger: Ledger, events: Iterable[dict[str, Any]], verdict: Verdict | None = None) -> Verdict:
    """Check the ledger against every client's journal (see the module docstring)."""
    verdict = verdict or Verdict()
    problems = await verify(ledger)
    if problems:
        verdict.invariant.extend(f"after the run: {p}" for p in problems)
    else:
        verdict.checks_after += 1

    ops: dict[str, _Op] = {}
    for event in events:
        if event["e"] == "sent":
            verdict.attempts += 1
            ops.setdefault(event["op"]["id"], _Op(event["op"])).sent += 1
        else:
            ops[event["id"]].answers.append(event)

    with snapshot(ledger) as conn:
        precision = dict(conn.execute("SELECT symbol, precision FROM assets"))
        names = sorted({o.op["user"] for o in ops.values()})
        users = {
            name: (uid, acct)
            for name, uid, acct in conn.execute(
                f"SELECT username, id, account_id FROM users WHERE username IN ({', '.join('?' * len(names))})", names
            )
        }
        accounts = {acct: name for name, (_, acct) in users.items()}
        user_ids = {uid: name for name, (uid, _) in users.items()}
        marks = ", ".join("?" * len(accounts))
        entries = conn.execute(
            f"SELECT id, kind, account_id, order_id, client_key FROM entries WHERE account_id IN ({marks})",
            list(accounts),
        ).fetchall()
        lines: dict[int, dict[str, int]] = defaultdict(dict)
        for entry_id, asset, amount in conn.execute(
            f"SELECT entry_id, asset, amount FROM postings WHERE account_id IN ({marks})", list(accounts)
        ):
            lines[entry_id][asset] = lines[entry_id].get(asset, 0) + amount
        orders = conn.execute(
            "SELECT id, user_id, account_id, symbol, side, quantity, price, notional, client_order_id FROM orders"
            f" WHERE user_id IN ({', '.join('?' * len(user_ids))})",
            list(user_ids),
        ).fetchall()

    entries_by: dict[tuple[str, str | None], list[tuple[Any, ...]]] = defaultdict(list)
    for row in entries:
        entries_by[(accounts[row[2]], row[4])].append(row)
    orders_by: dict[tuple[str, str | None], list[tuple[Any, ...]]] = defaultdict(list)
    for row in orders:
        orders_by[(user_ids[row[1]], row[8])].append(row)

    sent_keys: set[tuple[str, str]] = set()
    for item in ops.values():
        op = item.op
        where = f"{op['user']}/{op['key']}"
        if op["user"] not in users:
            verdict.unexpected.append(f"{where}: no such user in the ledger")
            continue
        finals = [a for a in item.answers if a["outcome"] != "unavailable"]
        if len(finals) < item.sent:  # an attempt got no answer: a transport error, or a killed client
            verdict.in_doubt += 1
        if not finals:
            verdict.unresolved += 1
        for answer in finals:
            if answer["outcome"] == "unexpected":
                verdict.unexpected.append(f"{where} ({op['kind']}): {answer.get('error', answer.get('code'))}")
        if op.get("probe"):
            verdict.probes += 1
            for answer in finals:
                if answer["outcome"] == "acked":
                    verdict.duplicates.append(f"{where}: a reused key with another request was acknowledged: "
                                              f"{answer['result']}")
            continue  # its key's effect is checked as the first op's: exactly one
        sent_keys.add((op["user"], op["key"]))
        acks = [a for a in finals if a["outcome"] == "acked"]
        found_entries = entries_by.get((op["user"], op["key"]), [])
        found_orders = orders_by.get((op["user"], op["key"]), [])
        if acks:
            verdict.acked += 1
            results = {json.dumps(a["result"], sort_keys=True) for a in acks}
            if len(results) > 1:
                verdict.duplicates.append(f"{where}: one key, different results: {sorted(results)}")
            acked_at = min(a["at"] for a in acks)
            if any(a["outcome"] == "rejected" and a["sent"] > acked_at for a in finals):
                verdict.duplicates.append(f"{where}: sent again after it was acknowledged, and rejected: {finals}")
            _check_acked(verdict, where, op, acks[0]["result"], found_entries, found_orders, lines, precision,
                         users[op["user"]])
        elif finals and all(a["outcome"] == "rejected" for a in finals):
            verdict.rejected += 1
            if found_entries or found_orders:
                verdict.invented.append(f"{where}: rejected ({finals[-1]['code']}) but the ledger has "
                                        f"{len(found_entries)} entries and {len(found_orders)} orders for it")
        elif len(found_entries) > 1 or len(found_orders) > 1:
            verdict.duplicates.append(f"{where}: in doubt, and {len(found_entries)} entries, "
                                      f"{len(found_orders)} orders in the ledger")

    for (user, key), rows in entries_by.items():
        if key is None or (user, key) not in sent_keys:
            verdict.invented.extend(f"entry {row[0]} ({row[1]}) of {user} has key {key!r}, which no client "
                                    "sent for that user" for row in rows)
    for (user, key), rows in orders_by.items():
        if key is None or (user, key) not in sent_keys:
            verdict.invented.extend(f"order {row[0]} of {user} has key {key!r}, which no client sent for that "
                                    "user" for row in rows)
    return verdict


def _check_acked(
    verdict: Verdict,
    where: str,
    op: dict[str, Any],
    result: dict[str, Any],
    found_entries: list[tuple[Any, ...]],
    found_orders: list[tuple[Any, ...]],
    lines: dict[int, dict[str, int]],
    precision: dict[str, int],
    user: tuple[int, int],
) -> None:
    """An acknowledged op is in the ledger exactly once, as it was acknowledged."""
    if len(found_entries) > 1 or len(found_orders) > 1:
        verdict.duplicates.append(f"{where}: acknowledged once, {len(found_entries)} entries and "
                                  f"{len(found_orders)} orders in the ledger")
        return
    if not found_entries:
        verdict.lost.append(f"{where}: acknowledged ({result}) but not in the ledger")
        return
    entry_id, kind, _account, order_id, _key = found_entries[0]
    mine = lines.get(entry_id, {})
    wrong: list[str] = []
    if op["kind"] in ("deposit", "withdrawal"):
        cents = _cents(result["cash"])
        if found_orders or order_id is not None:
            wrong.append("a cash op has an order")
        if (result["dto"], result["id"], result["kind"], result["client_key"]) != ("transaction", entry_id, op["kind"],
                                                                                     op["key"]):
            wrong.append(f"acked as {result['kind']} {result['id']} with key {result['client_key']!r}, "
                         f"the ledger has {kind} {entry_id}")
        if cents != (1 if op["kind"] == "deposit" else -1) * _cents(op["amount"]) or mine != {"USD": cents}:
            wrong.append(f"acked {result['cash']} for a {op['kind']} of {op['amount']}, "
                         f"the account's postings are {mine}")
    else:
        if not found_orders:
            verdict.lost.append(f"{where}: acknowledged order {result['id']} has no order row")
            return
        oid, uid, acct, symbol, side, units, price, cents, _coid = found_orders[0]
        digits = precision[symbol]
        if result["dto"] != "order" or result["client_order_id"] != op["key"] or (uid, acct) != user:
            wrong.append(f"acked as {result}")
        if (oid, symbol, side) != (result["id"], result["symbol"], result["side"]) or (symbol, side) != (
            op["symbol"], op["side"]
        ):
            wrong.append(f"acked {result['side']} {result['symbol']} #{result['id']}, "
                         f"the ledger has {side} {symbol} #{oid}")
        if units != _units(Decimal(result["quantity"]), digits) or Decimal(price) != Decimal(result["price"]) or (
            cents != _cents(result["notional"])
        ):
            wrong.append(f"acked {result['quantity']} at {result['price']} for {result['notional']}, the ledger has "
                         f"{units} units at {price} for {cents} cents")
        sign = 1 if side == "buy" else -1
        if (order_id, kind) != (oid, side) or mine != {"USD": -sign * cents, symbol: sign * units}:
            wrong.append(f"order {oid}'s entry {entry_id} ({kind}, order {order_id}) posts {mine}")
    if wrong:
        verdict.lost.append(f"{where}: not in the ledger as acknowledged: {'; '.join(wrong)}")


# -- invariant checks while the workload runs --------------------------------------------------------


class Snapshots(threading.Thread):
    """Checks the invariants (`checks.ledger_problems`: sums, no negative balance, complete entries,
    stored balances = replay) on a read-only snapshot every `interval` seconds until stopped."""

    def __init__(self, ledger: Ledger, interval: float = 0.05) -> None:
        super().__init__(name="snapshots", daemon=True)
        self.ledger = ledger
        self.interval = interval
        self.passed = 0
        self.busy = 0
        self.failures: list[str] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            try:
                with snapshot(self.ledger) as conn:
                    problems, _, _ = checks.ledger_problems(conn)
            except sqlite3.OperationalError as exc:
                text = str(exc).lower()
                if "locked" not in text and "busy" not in text:
                    self.failures.append(f"a snapshot could not be read: {exc}")
                self.busy += 1
                continue
            except Exception as exc:  # noqa: BLE001 - any other failure to read is one
                self.failures.append(f"a snapshot could not be read: {exc!r}")
                continue
            if problems:
                self.failures.extend(f"during the run: {p}" for p in problems)
            else:
                self.passed += 1

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def __enter__(self) -> Snapshots:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def into(self, verdict: Verdict) -> None:
        verdict.checks_during += self.passed
        verdict.invariant.extend(self.failures)


# -- drivers ---------------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    verdict: Verdict
    seconds: float
    events: list[dict[str, Any]] = field(repr=False, default_factory=list)


async def run_tasks(path: Path, workload: Workload) -> Run:
    """Every client an asyncio task on one LocalEngine (one event loop: the engine's contract)."""
    tokens, events = await prepare(path, workload)
    started = time.monotonic()
    journals = []
    engine = LocalEngine(path, hash_profile="fast", synchronous=workload.synchronous)
    try:
        with Snapshots(path) as snapshots:
            clients = [Client(spec, engine, tokens, Journal()) for spec in workload.specs()]
            await asyncio.gather(*(c.run() for c in clients))
            journals = [c.journal for c in clients]
    finally:
        await engine.close()
    seconds = time.monotonic() - started
    for journal in journals:
        events.extend(journal.events)
    verdict = Verdict()
    snapshots.into(verdict)
    return Run("tasks on one LocalEngine", await judge(path, events, verdict), seconds, events)


# -- processes on one file --------------------------------------------------------------------------


class Worker:
    """One `bank_worker.py` process running some clients with its own LocalEngine on the ledger."""

    def __init__(self, folder: Path, index: int, config: dict[str, Any]) -> None:
        self.index = index
        self.config_path = folder / f"worker-{index}.json"
        self.log_path = folder / f"worker-{index}.log"
        self.ready = folder / f"ready-{index}"
        self.config = {**config, "ready": str(self.ready)}
        self.journals = [Path(c["journal"]) for c in config["clients"]]
        self.config_path.write_text(json.dumps(self.config))
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.ready.unlink(missing_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, str(WORKER), str(self.config_path)], stdout=log, stderr=log,
                                         env=worker_env(), start_new_session=True)
        self.starts += 1

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def journal_size(self) -> int:
        return sum(p.stat().st_size for p in self.journals if p.exists())

    def kill(self) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def reap(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    def failure(self) -> str | None:
        assert self.proc is not None
        if self.proc.returncode == 0:
            return None
        return f"worker {self.index} exited with {self.proc.returncode}: {self.log_path.read_text()[-3000:]}"


def worker_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERPROC_")}
    env["ORDERPROC_HASH_PROFILE"] = "fast"
    return env


def worker_configs(folder: Path, path: Path, workload: Workload, processes: int, tokens: dict[str, str],
                   *, retry_in_doubt: bool = False) -> list[dict[str, Any]]:
    specs = workload.specs()
    configs = []
    for p in range(processes):
        mine = specs[p::processes]
        configs.append({
            "db": str(path), "synchronous": workload.synchronous, "go": str(folder / "go"),
            "retry_in_doubt": retry_in_doubt,
            "clients": [{**s.to_json(), "tokens": {u: tokens[u] for u in s.users},
                         "journal": str(folder / f"journal-{s.name}.jsonl")} for s in mine],
        })
    return configs


async def start_together(workers: list[Worker], timeout: float = 60.0) -> None:
    """Start the workers, wait until each is ready, then say go."""
    for w in workers:
        w.start()
    deadline = time.monotonic() + timeout
    while not all(w.ready.exists() for w in workers):
        dead = [w for w in workers if not w.running]
        if dead:
            raise AssertionError(dead[0].failure() or f"worker {dead[0].index} exited before it was ready")
        if time.monotonic() > deadline:
            raise AssertionError("the workers did not get ready in time")
        await asyncio.sleep(0.01)
    Path(workers[0].config["go"]).touch()


async def wait_all(workers: list[Worker], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(w.running for w in workers):
        if time.monotonic() > deadline:
            raise AssertionError("the workers did not finish in time")
        await asyncio.sleep(0.02)


def collect(workers: list[Worker]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for w in workers:
        for journal in w.journals:
            if journal.exists():
                events.extend(Journal.read(journal))
    return events


async def run_processes(folder: Path, workload: Workload, processes: int = 3, timeout: float = 300.0) -> Run:
    """The clients dealt to `processes` OS processes, each with its own LocalEngine on one file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ledger.db"
    tokens, events = await prepare(path, workload)
    workers = [Worker(folder, i, c) for i, c in enumerate(worker_configs(folder, path, workload, processes, tokens))]
    started = time.monotonic()
    try:
        with Snapshots(path) as snapshots:
            await start_together(workers)
            await wait_all(workers, timeout)
    finally:
        for w in workers:
            w.reap()
    seconds = time.monotonic() - started
    verdict = Verdict()
    snapshots.into(verdict)
    verdict.unexpected.extend(f for f in (w.failure() for w in workers) if f)
    events.extend(collect(workers))
    return Run(f"{processes} processes on one file", await judge(path, events, verdict), seconds, events)


# -- the real server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`orderproc serve --db LEDGER --port P` (one worker) in its own session, limits off; it can
    be killed (SIGKILL to its process group) and started again on the same ledger and port."""

    def __init__(self, folder: Path, ledger: Ledger, *, synchronous: str = "NORMAL", name: str = "server") -> None:
        self.folder = folder
        self.ledger = ledger
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / f"{name}.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERPROC_")}
        self.env.update({
            "XDG_DATA_HOME": str(folder / "xdg-data"), "XDG_CONFIG_HOME": str(folder / "xdg-config"),
            "ORDERPROC_HASH_PROFILE": "fast", "ORDERPROC_RATE_LIMIT": "0", "ORDERPROC_LOGIN_LIMIT": "0",
            "ORDERPROC_LOG_REQUESTS": "0", "ORDERPROC_SYNCHRONOUS": synchronous,
        })
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    async def start(self, timeout: float = 60.0) -> None:
        import httpx

        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "orderproc", "serve", "--db", str(self.ledger), "--port", str(self.port)],
                env=self.env, stdout=log, stderr=log, start_new_session=True,
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=1.0) as http:
            while True:
                try:
                    if (await http.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    raise AssertionError(f"{self.name} did not start: {self.log_path.read_text()[-3000:]}")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the whole process group and reap it."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None

    async def stop(self, timeout: float = 15.0) -> None:
        """Ctrl+C, as an operator would; SIGKILL if it does not stop in time."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        self.kill()

    def log_tail(self) -> str:
        return self.log_path.read_text()[-3000:] if self.log_path.exists() else ""


class Failover:
    """A client's view of several servers, as through a load balancer: it uses one; once that one
    is unreachable (`engine_unavailable`), it uses the next, so the op in doubt is sent again to
    another server (with the same key)."""

    def __init__(self, engines: list[Any], first: int = 0) -> None:
        self.engines = engines
        self.current = first % len(engines)
        self.switches = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.engines[self.current], name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return await method(*args, **kwargs)
            except OrderprocError as exc:
                if exc.code in IN_DOUBT_CODES and len(self.engines) > 1:
                    self.current = (self.current + 1) % len(self.engines)
                    self.switches += 1
                raise

        return call

    async def close(self) -> None:
        for engine in self.engines:
            await engine.close()


async def remote_clients(urls: list[str], workload: Workload, tokens: dict[str, str], **options: Any) -> list[Client]:
    """A client per spec, each with its own RemoteEngine per server (its own connections); client
    i starts on server i mod N and fails over to the next. A client that sends ops in doubt again
    (`retry_in_doubt`, the crash tests) does it itself, in its journal, for the checker to judge:
    its engines do not retry, or a server back within their backoff would hide every doubt."""
    from orderproc.engine.remote import RemoteEngine

    retries = 0 if options.get("retry_in_doubt") else 3
    return [Client(spec, Failover([RemoteEngine(url, timeout=10.0, retries=retries) for url in urls], i), tokens,
                   Journal(), **options)
            for i, spec in enumerate(workload.specs())]


async def close_clients(clients: list[Client]) -> None:
    for client in clients:
        await client.engine.close()


def serving(folder: Path, ledger: Ledger | None, workload: Workload, servers: int) -> tuple[Ledger, list[Server]]:
    """The ledger (a file in `folder` unless given) and `servers` servers on it, not started."""
    ledger = folder / "ledger.db" if ledger is None else ledger
    return ledger, [Server(folder, ledger, synchronous=workload.synchronous, name=f"server-{n}")
                    for n in range(servers)]


def serving_name(ledger: Ledger, servers: list[Server]) -> str:
    where = "PostgreSQL" if is_server_url(ledger) else "one file"
    return f"{len(servers)} orderproc serve on {where}" if len(servers) > 1 else f"orderproc serve on {where}"


async def run_server(folder: Path, workload: Workload, *, ledger: Ledger | None = None, servers: int = 1) -> Run:
    """Every client its own RemoteEngines on `servers` processes of `orderproc serve` on one
    ledger (a file in `folder`, or the one given: a postgresql:// URL), the clients spread over
    them."""
    folder.mkdir(parents=True, exist_ok=True)
    ledger, started_servers = serving(folder, ledger, workload, servers)
    tokens, events = await prepare(ledger, workload)
    clients: list[Client] = []
    try:
        for server in started_servers:
            await server.start()
        started = time.monotonic()
        clients = await remote_clients([s.url for s in started_servers], workload, tokens)
        with Snapshots(ledger) as snapshots:
            await asyncio.gather(*(c.run() for c in clients))
        seconds = time.monotonic() - started
    finally:
        await close_clients(clients)
        for server in started_servers:
            await server.stop()
    for c in clients:
        events.extend(c.journal.events)
    verdict = Verdict()
    snapshots.into(verdict)
    return Run(f"clients on {serving_name(ledger, started_servers)}", await judge(ledger, events, verdict), seconds,
               events)


def assert_sound(run: Run, *, min_acked: int = 1) -> None:
    """Zero unexpected errors, lost acknowledged ops, invented ops, duplicate effects and invariant
    failures; and the run did enough to mean something."""
    v = run.verdict
    assert not v.unexpected, f"{run.name}: unexpected errors\n{v.report()}"
    assert not v.lost, f"{run.name}: acknowledged ops lost\n{v.report()}"
    assert not v.invented, f"{run.name}: invented ops\n{v.report()}"
    assert not v.duplicates, f"{run.name}: a key with two effects\n{v.report()}"
    assert not v.invariant, f"{run.name}: invariants broken\n{v.report()}"
    assert v.acked >= min_acked and v.rejected > 0 and v.probes > 0, f"{run.name}: too little happened\n{v.report()}"
    assert v.checks_after >= 1, v.report()
