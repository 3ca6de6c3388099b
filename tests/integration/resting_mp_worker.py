"""One process for test_resting_multiprocess.py: its own LocalEngine on the shared ledger, running
the price loop while it places resting orders of its own.

Run as `python resting_mp_worker.py CONFIG.json`. Every process runs on the same fake clock: a
market second per `1 / speed` wall seconds from the moment written in the `go` file, stopping at
`epoch + duration` (frozen at `epoch` until then), so the processes agree on the time without
talking. Until the clock stops, the worker alternates a pass of the price loop (`match()`) with,
now and then, a resting order of its trader (a limit or stop order priced off the coming ticks,
so that most of them cross before the end); then it runs a last pass. The report (`out`) lists
its passes, the orders it placed and the error codes it got, and anything unexpected.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from orderproc.engine.errors import OrderprocError
from orderproc.engine.schemas import OrderRequest
from orderproc.engine.service import LocalEngine


class SharedClock:
    """The fake clock every process computes alike from the wall clock and the common start."""

    def __init__(self, epoch: float, speed: float, duration: int) -> None:
        self.epoch, self.speed, self.end = epoch, speed, epoch + duration
        self.start: float | None = None

    def __call__(self) -> float:
        if self.start is None:
            return self.epoch
        return min(self.end, self.epoch + (time.time() - self.start) * self.speed)


def resting_request(engine: LocalEngine, rng: random.Random, symbol: str, now: float, end: float) -> dict[str, Any]:
    """A resting order priced off a tick between now and the end (it may well cross before)."""
    tick = math.floor(now)
    price = engine.market.price(symbol, tick)
    target = engine.market.price(symbol, rng.randint(tick + 2, max(tick + 2, math.floor(end))))
    kind = rng.choice(["limit", "limit", "stop", "stop_limit"])
    if kind == "limit":
        side = "buy" if target < price else "sell"
        return {"type": kind, "side": side, "limit_price": str(target)}
    side = "buy" if target > price else "sell"
    fields = {"type": kind, "side": side, "stop_price": str(target)}
    if kind == "stop_limit":  # a limit a little past the stop: it fills in the trigger tick or soon after
        fields["limit_price"] = str(engine.market.price(symbol, rng.randint(tick + 2, math.floor(end))))
    return fields


async def main(config: dict[str, Any]) -> None:
    clock = SharedClock(config["epoch"], config["speed"], config["duration"])
    rng = random.Random(config["seed"])
    report: dict[str, Any] = {"passes": 0, "changed": 0, "placed": [], "errors": [], "unexpected": []}
    engine = LocalEngine(config["db"], clock=clock, hash_profile="fast")
    try:
        token = (await engine.login(config["username"], config["password"])).token
        Path(config["ready"]).write_text("ready")
        go = Path(config["go"])
        deadline = time.monotonic() + 60
        while not go.exists() or not go.read_text():
            if time.monotonic() > deadline:
                raise TimeoutError("the test never said go")
            await asyncio.sleep(0.002)
        clock.start = float(go.read_text())
        while clock() < clock.end:
            report["changed"] += await engine.match()
            report["passes"] += 1
            if clock() < clock.end - 3 and rng.random() < config["place_odds"]:
                symbol = rng.choice(config["symbols"])
                fields = resting_request(engine, rng, symbol, clock(), clock.end)
                request = OrderRequest.model_validate({"symbol": symbol, "quantity": config["quantity"][symbol],
                                                       **fields})
                try:
                    placed = await engine.place_order(token, request)
                    report["placed"].append(placed.id)
                except OrderprocError as exc:  # a stop the price passed while it was priced
                    report["errors"].append(exc.code)
            await asyncio.sleep(rng.uniform(0, 0.004))
        report["changed"] += await engine.match()
        report["passes"] += 1
    except BaseException as exc:  # reported: the test shows what went wrong in this process
        report["unexpected"].append("".join(traceback.format_exception(exc)))
    finally:
        await engine.close()
    Path(config["out"]).write_text(json.dumps(report, default=str))


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
