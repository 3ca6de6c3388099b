"""`orderproc serve` runs the price loop: a resting order fills on the server with nobody asking."""

from __future__ import annotations

import math
import sqlite3
import time
from decimal import Decimal
from pathlib import Path

import httpx

from conftest import PASSWORD
from orderproc.engine.service import LocalEngine
from server_helpers import bearer, server  # noqa: F401 - the fixture

SYMBOLS = ("ETH", "BTC", "SOL", "XRP", "DOGE", "ADA", "LINK", "AVAX")


def _a_dip(engine: LocalEngine, start: int) -> tuple[str, int, Decimal]:
    """A symbol and a tick 4-30 s ahead whose price is below every price from now until then."""
    for symbol in SYMBOLS:
        seen = min(engine.market.price(symbol, t) for t in range(start - 1, start + 4))
        for tick in range(start + 4, start + 30):
            price = engine.market.price(symbol, tick)
            if price < seen:
                return symbol, tick, price
            seen = min(seen, price)
    raise AssertionError("no dip in the next 30 s of 8 assets")


async def test_the_server_fills_a_resting_limit_buy_at_the_first_tick_that_reaches_it(
    server: tuple[str, Path],  # noqa: F811
) -> None:
    url, ledger = server
    with httpx.Client(base_url=url, timeout=10) as http:
        http.post("/v1/auth/register", json={"username": "rita", "password": PASSWORD}).raise_for_status()
        token = http.post("/v1/auth/login", json={"username": "rita", "password": PASSWORD}).json()["token"]
        http.post("/v1/cash/deposit", json={"amount": "100000"}, headers=bearer(token)).raise_for_status()

        # the ledger's market is a function of time that anyone with the file can compute
        engine = LocalEngine(ledger, hash_profile="fast")
        try:
            symbol, tick, price = _a_dip(engine, math.floor(time.time()))
        finally:
            await engine.close()
        placed = http.post("/v1/orders", headers=bearer(token), json={
            "symbol": symbol, "side": "buy", "type": "limit", "quantity": "0.001", "limit_price": str(price)})
        assert placed.status_code == 201, placed.text
        order = placed.json()
        assert order["status"] == "new" and Decimal(order["reserved"]) > 0

        # nobody reads anything until the tick has passed: only the server's own loop can fill it
        time.sleep(max(0.0, tick + 2.5 - time.time()))
        conn = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
        try:
            status, fill_price, closed_at = conn.execute(
                "SELECT status, price, closed_at FROM orders WHERE id = ?", (order["id"],)).fetchone()
            [(source,)] = conn.execute(
                "SELECT source FROM audit WHERE action = 'order_filled' AND target = ?", (str(order["id"]),)).fetchall()
        finally:
            conn.close()
        assert (status, Decimal(fill_price), source) == ("filled", price, "matcher")
        assert closed_at.startswith(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(tick)))

        shown = http.get(f"/v1/orders/{order['id']}", headers=bearer(token)).json()
        assert (shown["status"], shown["reserved"]) == ("filled", "0.00")
        balance = http.get("/v1/cash", headers=bearer(token)).json()
        assert balance["reserved"] == "0.00"
        assert Decimal(balance["cash"]) == Decimal("100000") - Decimal(shown["notional"])
