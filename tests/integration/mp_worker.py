"""One client process for test_multiprocess.py: opens the shared ledger file with its own LocalEngine.

Run as `python mp_worker.py CONFIG.json`. The config names the ledger, the user, the mode, and
three files: `ready` (written once logged in), `go` (waited for, so that every process starts
hammering at the same moment) and `out` (the JSON report written at the end). The report lists
every acknowledged result, every error code, and anything unexpected (any exception that is not
an orderproc domain error, for example a raw sqlite3.OperationalError).

Modes:
- `trade`: random market orders (buys and sells of a few hot assets, by quantity and by USD
  amount, some keyed and retried, some with a price guard) plus deposits and withdrawals, sent in
  small concurrent bursts.
- `withdraw_all` / `sell_all`: `attempts` concurrent tries to withdraw the whole balance, or sell
  the whole position, of one user that every process logged in as.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import traceback
from decimal import Decimal
from pathlib import Path
from typing import Any

from orderproc.engine.errors import OrderprocError
from orderproc.engine.schemas import Order, OrderRequest, Side, Transaction
from orderproc.engine.service import LocalEngine

HOT = ("BTC", "ETH", "DOGE", "USDT")
PRECISION = {"BTC": 8, "ETH": 8, "DOGE": 4, "USDT": 4}


def _units_text(units: int, precision: int) -> str:
    return format(Decimal(units).scaleb(-precision), "f")


def _cents_text(cents: int) -> str:
    return format(Decimal(cents).scaleb(-2), "f")


class Worker:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.rng = random.Random(config["seed"])
        self.acks: list[dict[str, Any]] = []
        self.errors: list[dict[str, str]] = []
        self.probes: list[str] = []  # codes answered to a known key reused for another request
        self.unexpected: list[str] = []
        self.held: dict[str, int] = {}  # this process's view of its positions, from its acks
        self.keyed: dict[str, dict[str, Any]] = {}  # key -> the request it was first sent with
        self.retries: list[dict[str, Any]] = []
        self.counter = 0
        self.seen_orders: set[int] = set()
        self.started = self.finished = 0.0

    # -- recording --------------------------------------------------------------------------

    def record(self, op: dict[str, Any], outcome: object) -> None:
        if isinstance(op.get("probe_of"), str):
            self.probes.append(outcome.code if isinstance(outcome, OrderprocError) else "success")
            return
        if isinstance(outcome, OrderprocError):
            self.errors.append({"op": op["op"], "code": outcome.code})
        elif isinstance(outcome, BaseException):
            text = "".join(traceback.format_exception(outcome)).strip()
            self.unexpected.append(f"{op['op']}: {type(outcome).__name__}: {outcome}\n{text}")
        elif isinstance(outcome, Order):
            self.acks.append({
                "op": "order", "id": outcome.id, "side": outcome.side.value, "symbol": outcome.symbol,
                "quantity": str(outcome.quantity), "notional": str(outcome.notional), "price": str(outcome.price),
                "key": op.get("key"), "status": outcome.status.value,
            })
            if outcome.id in self.seen_orders:  # a replayed retry: no second effect
                return
            self.seen_orders.add(outcome.id)
            units = int(outcome.quantity.scaleb(PRECISION[outcome.symbol]))
            sign = 1 if outcome.side is Side.BUY else -1
            self.held[outcome.symbol] = self.held.get(outcome.symbol, 0) + sign * units
        elif isinstance(outcome, Transaction):
            self.acks.append({
                "op": outcome.kind.value, "id": outcome.id, "cash": str(outcome.cash), "key": op.get("key"),
            })
        else:
            self.unexpected.append(f"{op['op']}: returned {outcome!r}")

    # -- building requests ------------------------------------------------------------------------

    def new_key(self) -> str:
        self.counter += 1
        return f"{self.config['username']}-{self.counter}"

    def order_op(self, engine: LocalEngine) -> dict[str, Any]:
        rng = self.rng
        symbol = rng.choice(HOT)
        precision = PRECISION[symbol]
        price = engine.market.price(symbol, time.time())
        held = self.held.get(symbol, 0)
        side = "sell" if held and rng.random() < 0.45 else "buy"
        op: dict[str, Any] = {"op": "order", "symbol": symbol, "side": side}
        if side == "buy":
            cents = rng.randint(2_000, 200_000)  # $20 - $2,000
            if rng.random() < 0.5:
                op["notional"] = _cents_text(cents)
            else:
                units = max(1, int(Decimal(cents) * Decimal(10) ** (precision - 2) / price))
                op["quantity"] = _units_text(units, precision)
        else:
            share = rng.choice([0.1, 0.25, 0.5, 1.0, 1.1])  # 1.1: more than held, refused
            if rng.random() < 0.5:
                op["quantity"] = _units_text(max(1, int(held * share)), precision)
            else:
                value = int(Decimal(held) * price / Decimal(10) ** (precision - 2) * Decimal(str(share)))
                op["notional"] = _cents_text(max(1, value))
        if rng.random() < 0.1:  # a price guard at the price seen now: the market may move past it
            op["price_limit"] = str(price)
        return op

    def cash_op(self) -> dict[str, Any]:
        if self.rng.random() < 0.5:
            return {"op": "deposit", "amount": _cents_text(self.rng.randint(1_000, 100_000))}
        return {"op": "withdrawal", "amount": _cents_text(self.rng.randint(1_000, 50_000))}

    async def send(self, engine: LocalEngine, token: str, op: dict[str, Any]) -> object:
        if op["op"] == "order":
            fields = {k: op[k] for k in ("symbol", "side", "quantity", "notional", "price_limit") if k in op}
            return await engine.place_order(token, OrderRequest(**fields, client_order_id=op.get("key")))
        if op["op"] == "deposit":
            return await engine.deposit(token, op["amount"], key=op.get("key"))
        return await engine.withdraw(token, op["amount"], key=op.get("key"))

    # -- modes ---------------------------------------------------------------------------------------

    async def trade(self, engine: LocalEngine, token: str) -> None:
        rng = self.rng
        orders_left = self.config["orders"]
        cash_left = self.config["cash_ops"]
        while orders_left or cash_left or self.retries:
            burst: list[dict[str, Any]] = []
            for _ in range(rng.randint(1, 6)):
                if self.retries and (rng.random() < 0.3 or not (orders_left or cash_left)):
                    burst.append(self.retries.pop(rng.randrange(len(self.retries))))
                    continue
                if not (orders_left or cash_left):
                    break
                if cash_left and (not orders_left or rng.random() < cash_left / (orders_left + cash_left)):
                    cash_left -= 1
                    op = self.cash_op()
                else:
                    orders_left -= 1
                    op = self.order_op(engine)
                if rng.random() < 0.4:
                    op["key"] = self.new_key()
                    self.keyed[op["key"]] = op
                    if rng.random() < 0.5:  # a retry of the same request, in this burst or a later one
                        (burst if rng.random() < 0.5 else self.retries).append(dict(op))
                burst.append(op)
            if rng.random() < 0.1:
                probe = self.probe()
                if probe is not None:
                    burst.append(probe)
            outcomes = await asyncio.gather(*(self.send(engine, token, op) for op in burst), return_exceptions=True)
            for op, outcome in zip(burst, outcomes, strict=True):
                self.record(op, outcome)

    def probe(self) -> dict[str, Any] | None:
        """A key that already has an effect, sent with another request: it must be a conflict."""
        done = {a["key"] for a in self.acks if a.get("key")}
        if not done:
            return None
        key = self.rng.choice(sorted(done))
        original = self.keyed[key]
        if original["op"] == "order":
            other: dict[str, Any] = {"op": "deposit", "amount": "1.00"}
        else:
            other = {"op": original["op"], "amount": _cents_text(int(Decimal(original["amount"]) * 100) + 1)}
        return {**other, "key": key, "probe_of": key}

    async def take_everything(self, engine: LocalEngine, token: str) -> None:
        mode = self.config["mode"]
        ops: list[dict[str, Any]] = []
        for _ in range(self.config["attempts"]):
            if mode == "withdraw_all":
                ops.append({"op": "withdrawal", "amount": self.config["amount"]})
            else:
                ops.append({"op": "order", "symbol": self.config["symbol"], "side": "sell",
                            "quantity": self.config["amount"]})
        outcomes = await asyncio.gather(*(self.send(engine, token, op) for op in ops), return_exceptions=True)
        for op, outcome in zip(ops, outcomes, strict=True):
            self.record(op, outcome)

    async def main(self) -> None:
        config = self.config
        engine = LocalEngine(config["db"], hash_profile="fast")
        try:
            token = (await engine.login(config["username"], config["password"])).token
            Path(config["ready"]).write_text("ready")
            deadline = time.monotonic() + 60
            while not Path(config["go"]).exists():
                if time.monotonic() > deadline:
                    raise TimeoutError("the test never said go")
                await asyncio.sleep(0.002)
            self.started = time.time()
            if config["mode"] == "trade":
                await self.trade(engine, token)
            else:
                await self.take_everything(engine, token)
            self.finished = time.time()
        except BaseException as exc:  # reported, so the test shows what went wrong in this process
            self.unexpected.append("".join(traceback.format_exception(exc)))
        finally:
            await engine.close()
        report = {"acks": self.acks, "errors": self.errors, "probes": self.probes, "unexpected": self.unexpected,
                  "started": self.started, "finished": self.finished}
        Path(config["out"]).write_text(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(Worker(json.loads(Path(sys.argv[1]).read_text())).main())
