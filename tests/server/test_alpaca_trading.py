"""The Alpaca-compatible trading API (`/v2`) as a bot sees it: alpaca-py's own TradingClient,
unmodified, against a real `orderproc serve`, checked against our own API and CLI on the same
ledger. One server for the module; each test its own user and API key."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetClass, OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    ClosePositionRequest, GetAssetsRequest, GetOrdersRequest, LimitOrderRequest, MarketOrderRequest,
    StopLimitOrderRequest, StopOrderRequest)
from fastapi.routing import APIRoute
from serve_support import free_port, orderproc_env, run_orderproc, serving
from server_helpers import QUIET, client, ledger_state

from orderproc.engine.service import LocalEngine
from orderproc.server.alpaca.common import base_symbol
from orderproc.server.app import create_app

PASSWORD = "correct horse battery"
ALPACA_ERROR = {"code", "message", "reason"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The module's `orderproc serve`: its URL and ledger file."""
    home = tmp_path_factory.mktemp("alpaca")
    log_path = home / "server.log"
    with serving(home / "ledger.db", free_port(), home / "server", log_path) as url:
        yield url, home / "ledger.db"
    assert "APCA" not in log_path.read_text()


@pytest.fixture(scope="module")
def url(served: tuple[str, Path]) -> str:
    return served[0]


class Trader:
    """A user of the module's server with cash, an API key and alpaca-py's client on it."""

    def __init__(self, url: str, cash: str = "10000", read_only: bool = False) -> None:
        self.http = httpx.Client(base_url=url)
        name = f"bot{uuid.uuid4().hex[:10]}"
        assert self.http.post("/v1/auth/register", json={"username": name, "password": PASSWORD}).status_code == 201
        token = self.http.post("/v1/auth/login", json={"username": name, "password": PASSWORD}).json()["token"]
        self.session = {"Authorization": f"Bearer {token}"}
        assert self.http.post("/v1/cash/deposit", json={"amount": cash}, headers=self.session).status_code == 201
        key = self.http.post("/v1/keys", json={"name": "bot", "read_only": read_only}, headers=self.session).json()
        self.key_id, self.secret = key["key_id"], key["secret"]
        self.client = TradingClient(self.key_id, self.secret, paper=True, url_override=url)

    def close(self) -> None:
        self.http.close()
        close_client(self.client)

    def v1(self, path: str, **params: Any) -> Any:
        answer = self.http.get(path, headers=self.session, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def raw(self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        key = {"APCA-API-KEY-ID": self.key_id, "APCA-API-SECRET-KEY": self.secret}
        return self.http.request(method, path, headers={**key, **(headers or {})}, **kwargs)


def close_client(client: TradingClient) -> None:
    """alpaca-py's clients have no close: their requests session is closed here (no socket is
    left to the garbage collector, where it would warn in another test)."""
    client._session.close()


@pytest.fixture
def trader(url: str) -> Iterator[Trader]:
    with closing(Trader(url)) as made:
        yield made


def refused(call: Any, *args: Any) -> APIError:
    with pytest.raises(APIError) as caught:
        call(*args)
    body = json.loads(str(caught.value))
    assert set(body) == ALPACA_ERROR and isinstance(body["code"], int) and body["message"], body
    assert body["code"] // 100000 == caught.value.status_code, body
    return caught.value


def number(order_id: object) -> int:
    """Our order number in an Alpaca order id."""
    return uuid.UUID(str(order_id)).int


def test_the_account_is_our_portfolio_in_alpaca_terms(trader: Trader) -> None:
    trader.client.submit_order(MarketOrderRequest(symbol="ETH/USD", qty=0.5, side=OrderSide.BUY,
                                                  time_in_force=TimeInForce.GTC))
    resting = trader.client.submit_order(LimitOrderRequest(symbol="BTC/USD", qty=0.01, side=OrderSide.BUY,
                                                           time_in_force=TimeInForce.GTC, limit_price=1000))
    account = trader.client.get_account()
    book = trader.v1("/v1/portfolio")
    assert Decimal(account.cash) == Decimal(book["cash"]) < 10000
    assert Decimal(account.buying_power) == Decimal(book["cash"]) - Decimal(book["reserved_cash"])
    assert Decimal(book["reserved_cash"]) >= Decimal(resting.qty) * 1000  # the resting buy holds its cost
    assert account.status.value == "ACTIVE" and account.currency == "USD" and account.account_number == "main"
    # equity is cash and ETH at the ledger price, which moves every second: within 1% of ours
    assert abs(Decimal(account.equity) - Decimal(book["equity"])) < Decimal(book["equity"]) / 100


def test_orders_of_every_type_by_qty_or_notional_rest_fill_list_and_cancel(trader: Trader) -> None:
    client = trader.client
    bought = client.submit_order(MarketOrderRequest(symbol="BTC/USD", notional=1000, side=OrderSide.BUY,
                                                    time_in_force=TimeInForce.GTC))
    assert bought.status is OrderStatus.FILLED and bought.symbol == "BTC/USD"
    assert abs(Decimal(bought.filled_qty) * Decimal(bought.filled_avg_price) - 1000) < 10  # $1000's worth
    assert bought.time_in_force is TimeInForce.IOC  # a market order fills now or not at all
    price = Decimal(bought.filled_avg_price)
    below, above = int(price * Decimal("0.5")), int(price * 2)
    limit = client.submit_order(LimitOrderRequest(symbol="BTCUSD", qty="0.001", side=OrderSide.BUY,
                                                  time_in_force=TimeInForce.GTC, limit_price=below))
    stop = client.submit_order(StopOrderRequest(symbol="BTC/USD", qty=0.001, side=OrderSide.SELL,
                                                time_in_force=TimeInForce.GTC, stop_price=below))
    stop_limit = client.submit_order(StopLimitOrderRequest(
        symbol="BTC/USD", qty=0.001, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, stop_price=above,
        limit_price=above + 1))
    expired = client.submit_order(LimitOrderRequest(symbol="BTC/USD", qty=0.001, side=OrderSide.BUY,
                                                    time_in_force=TimeInForce.IOC, limit_price=below))
    assert [o.status for o in (limit, stop, stop_limit, expired)] == [OrderStatus.NEW] * 3 + [OrderStatus.EXPIRED]
    assert Decimal(limit.limit_price) == Decimal(stop.stop_price) == below
    assert expired.expired_at is not None and expired.filled_qty == "0"

    open_ids = [o.id for o in client.get_orders()]
    assert open_ids == [stop_limit.id, stop.id, limit.id]  # open ones by default, newest first
    everything = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))
    assert [o.id for o in everything] == [expired.id, stop_limit.id, stop.id, limit.id, bought.id]
    oldest = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, direction="asc", limit=2))
    assert [o.id for o in oldest] == [bought.id, limit.id]
    sells = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, side=OrderSide.SELL))
    assert [o.id for o in sells] == [stop.id]
    closed = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED, symbols=["BTC/USD", "ETH/USD"]))
    assert [o.id for o in closed] == [expired.id, bought.id]
    # the same orders, the same numbers, in our own API
    ours = trader.v1("/v1/orders", limit=10)["items"]
    assert [o["id"] for o in ours] == [number(o.id) for o in everything]

    assert client.get_order_by_id(limit.id).status is OrderStatus.NEW
    client.cancel_order_by_id(limit.id)
    canceled = client.get_order_by_id(limit.id)
    assert canceled.status is OrderStatus.CANCELED and canceled.canceled_at is not None
    again = refused(client.cancel_order_by_id, limit.id)
    assert again.status_code == 422 and "only open orders" in again.message
    answers = client.cancel_orders()
    assert sorted(a.id for a in answers) == sorted([stop.id, stop_limit.id]) and {a.status for a in answers} == {200}
    assert client.get_orders() == []
    assert trader.v1("/v1/orders", open="true")["total"] == 0


def test_a_client_order_id_makes_a_retry_safe_and_finds_the_order(trader: Trader) -> None:
    client = trader.client
    order = MarketOrderRequest(symbol="ETH/USD", qty=0.1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC,
                               client_order_id="rebalance-2026-12-06")
    first = client.submit_order(order)
    retried = client.submit_order(order)  # the answer was lost: the bot sends it again
    assert retried.id == first.id and retried.client_order_id == "rebalance-2026-12-06"
    assert trader.v1("/v1/portfolio")["positions"][0]["quantity"] == "0.10000000"  # bought once
    other = refused(client.submit_order, MarketOrderRequest(
        symbol="ETH/USD", qty=0.2, side=OrderSide.BUY, time_in_force=TimeInForce.GTC,
        client_order_id="rebalance-2026-12-06"))
    assert other.status_code == 422 and other.code == 42210000 and "client_order_id must be unique" in other.message
    assert client.get_order_by_client_id("rebalance-2026-12-06").id == first.id
    # an order given no client_order_id gets one, and is found by it
    plain = client.submit_order(MarketOrderRequest(symbol="ETH/USD", qty=0.1, side=OrderSide.SELL,
                                                   time_in_force=TimeInForce.GTC))
    assert client.get_order_by_client_id(plain.client_order_id).id == plain.id
    assert refused(client.get_order_by_client_id, "no-such-order").status_code == 404


def test_bots_racing_with_one_client_order_id_place_one_order(url: str) -> None:
    """Eight clients (threads, each its own connection) send the same order at once: one order
    is placed and every one of them is answered with it."""
    with closing(Trader(url)) as trader:
        clients = [TradingClient(trader.key_id, trader.secret, paper=True, url_override=url) for _ in range(8)]
        order = MarketOrderRequest(symbol="ETH/USD", qty=0.25, side=OrderSide.BUY, time_in_force=TimeInForce.GTC,
                                   client_order_id="race-1")
        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(pool.map(lambda client: client.submit_order(order), clients))
        for client in clients:
            close_client(client)
        assert len({a.id for a in answers}) == 1
        assert trader.v1("/v1/orders")["total"] == 1
        assert trader.v1("/v1/portfolio")["positions"][0]["quantity"] == "0.25000000"


def test_positions_read_and_close_as_alpaca_says_them(trader: Trader) -> None:
    client = trader.client
    assert client.get_all_positions() == []
    client.submit_order(MarketOrderRequest(symbol="BTC/USD", qty=0.02, side=OrderSide.BUY,
                                           time_in_force=TimeInForce.GTC))
    client.submit_order(MarketOrderRequest(symbol="SOL/USD", qty=3, side=OrderSide.BUY,
                                           time_in_force=TimeInForce.GTC))
    client.submit_order(StopOrderRequest(symbol="BTC/USD", qty=0.005, side=OrderSide.SELL,
                                         time_in_force=TimeInForce.GTC, stop_price=1000))
    held = {p.symbol: p for p in client.get_all_positions()}
    ours = {p["symbol"]: p for p in trader.v1("/v1/portfolio")["positions"]}
    assert set(held) == {"BTC/USD", "SOL/USD"}
    btc = held["BTC/USD"]
    assert (btc.qty, btc.qty_available) == ("0.02000000", "0.01500000")  # the stop holds 0.005 back
    assert Decimal(btc.avg_entry_price) == Decimal(ours["BTC"]["average_cost"])
    assert Decimal(btc.cost_basis) == Decimal(ours["BTC"]["cost_basis"])
    assert "E" not in btc.avg_entry_price and btc.side.value == "long" and btc.asset_class is AssetClass.CRYPTO
    assert client.get_open_position("BTCUSD").qty == client.get_open_position(btc.asset_id).qty == "0.02000000"
    assert refused(client.get_open_position, "ETH/USD").message == "position does not exist"

    half = client.close_position("SOL/USD", ClosePositionRequest(percentage="50"))
    assert (half.side, Decimal(half.qty), half.status) == (OrderSide.SELL, Decimal("1.5"), OrderStatus.FILLED)
    too_much = refused(client.close_position, "SOL/USD", ClosePositionRequest(qty="2"))
    assert too_much.status_code == 403 and "insufficient qty" in too_much.message
    closed = client.close_all_positions(cancel_orders=True)
    assert sorted(c.symbol for c in closed) == ["BTC/USD", "SOL/USD"] and {c.status for c in closed} == {200}
    assert client.get_all_positions() == [] and client.get_orders() == []
    assert trader.v1("/v1/portfolio")["positions"] == []


def test_crypto_assets_are_listed_as_pairs(trader: Trader) -> None:
    assets = trader.client.get_all_assets(GetAssetsRequest(asset_class=AssetClass.CRYPTO))
    ours = trader.v1("/v1/assets")
    assert [a.symbol for a in assets] == [f"{a['symbol']}/USD" for a in ours]
    btc = trader.client.get_asset("BTC/USD")
    assert btc.tradable and btc.fractionable and btc.min_trade_increment == 1e-8
    assert trader.client.get_asset(btc.id).symbol == "BTC/USD"
    assert trader.client.get_all_assets(GetAssetsRequest(asset_class=AssetClass.US_EQUITY)) == []
    assert refused(trader.client.get_asset, "NOPE/USD").status_code == 404
    assert refused(trader.client.get_asset, "BTC/EUR").status_code == 404


def test_errors_are_in_alpaca_shape_and_change_nothing(trader: Trader, url: str) -> None:
    client = trader.client
    poor = refused(client.submit_order, MarketOrderRequest(symbol="BTC/USD", qty=1000, side=OrderSide.BUY,
                                                           time_in_force=TimeInForce.GTC))
    assert (poor.status_code, poor.code) == (403, 40310000) and "insufficient funds" in poor.message
    for body, status, words in [
        ({"symbol": "BTC/USD", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}, 422,
         "gtc or ioc"),
        ({"symbol": "BTC/USD", "qty": "1", "side": "buy", "type": "trailing_stop", "time_in_force": "gtc",
          "trail_percent": "1"}, 422, "trailing stop"),
        ({"symbol": "BTC/USD", "qty": 0.123456789, "side": "buy", "type": "market", "time_in_force": "gtc"}, 422,
         "8 decimal places"),
        ({"symbol": "BTC/USD", "notional": "10", "side": "buy", "type": "limit", "limit_price": "5",
          "time_in_force": "gtc"}, 422, "not a USD amount"),
        ({"symbol": "ETH/BTC", "qty": "1", "side": "buy", "type": "market", "time_in_force": "gtc"}, 404,
         "against USD"),
        ({"symbol": "BTC/USD", "qty": "1", "side": "short", "type": "market", "time_in_force": "gtc"}, 422,
         "buy or sell"),
    ]:
        answer = trader.raw("POST", "/v2/orders", json=body)
        assert answer.status_code == status and words in answer.json()["message"], (body, answer.text)
        assert answer.json()["code"] == status * 100000 + 10000
    for raw in (b"{nope", b"[" * 5000, b"\xff\xfe", b"null", b"[1]"):
        not_json = trader.raw("POST", "/v2/orders", content=raw, headers={"Content-Type": "application/json"})
        assert (not_json.status_code, not_json.json()["code"]) == (400, 40010001), raw[:10]
    form = trader.raw("POST", "/v2/orders", content=b"a=1", headers={"Content-Type": "text/plain"})
    assert (form.status_code, form.json()["code"]) == (415, 41510000)
    assert trader.raw("GET", "/v2/no-such-thing").json() == {"code": 40410000, "message": "no such route",
                                                             "reason": "not_found"}
    assert refused(client.get_order_by_id, uuid.UUID(int=2**62)).status_code == 404
    assert trader.v1("/v1/orders")["total"] == 0 and trader.v1("/v1/cash")["cash"] == "10000.00"

    stranger = TradingClient("PK" + "A" * 18, "not-the-secret", paper=True, url_override=url)
    assert "not authorized" in refused(stranger.get_account).message
    close_client(stranger)
    nobody = httpx.get(f"{url}/v2/account")
    assert (nobody.status_code, nobody.json()["code"]) == (401, 40110000)
    with closing(Trader(url, read_only=True)) as reader:
        assert Decimal(reader.client.get_account().cash) == 10000
        read_only = refused(reader.client.submit_order, MarketOrderRequest(
            symbol="BTC/USD", qty=0.001, side=OrderSide.BUY, time_in_force=TimeInForce.GTC))
        assert (read_only.status_code, json.loads(str(read_only))["reason"]) == (403, "read_only_key")
        assert reader.v1("/v1/orders")["total"] == 0


def alpaca_routes() -> list[tuple[str, str]]:
    """(method, path) of every `/v2` route, path parameters filled in."""
    app = create_app(engine=None, settings=QUIET)  # type: ignore[arg-type]  # only its routes are read
    return sorted({(method, re.sub(r"\{[^}]+\}", "BTC", route.path)) for route in app.routes
                   if isinstance(route, APIRoute) and route.path.startswith("/v2/") for method in route.methods})


@pytest.mark.parametrize(("method", "path"), alpaca_routes())
async def test_every_v2_route_without_a_key_answers_401_in_alpaca_shape_and_does_nothing(
        engine: LocalEngine, token: str, method: str, path: str) -> None:
    before = await ledger_state(engine)
    body = {"symbol": "BTC/USD", "qty": "0.001", "side": "buy", "type": "market", "time_in_force": "gtc"}
    async with client(create_app(engine, QUIET)) as http:
        for headers in ({}, {"APCA-API-KEY-ID": "PK" + "B" * 18, "APCA-API-SECRET-KEY": "wrong"},
                        {"Authorization": "Bearer not-a-token"}):
            answer = await http.request(method, path, json=body if method == "POST" else None, headers=headers)
            assert answer.status_code == 401, (headers, answer.text)
            assert answer.json()["code"] == 40110000 and answer.json()["reason"] == "auth_required"
    assert await ledger_state(engine) == before


HOSTILE_ORDERS = [
    {}, {"type": [], "time_in_force": "gtc"}, {"type": {"a": 1}, "time_in_force": {}, "symbol": ["BTC/USD"]},
    {"symbol": 5, "qty": "1", "side": "buy", "type": "market", "time_in_force": "gtc"},
    {"symbol": "BTC/USD", "qty": [1], "side": "buy", "type": "market", "time_in_force": "gtc"},
    {"symbol": "BTC/USD", "qty": "NaN", "side": "buy", "type": "market", "time_in_force": "gtc"},
    {"symbol": "BTC/USD", "qty": "1e400", "side": "buy", "type": "market", "time_in_force": "gtc"},
    {"symbol": "BTC/USD", "qty": "1", "side": ["buy"], "type": "market", "time_in_force": "gtc"},
    {"symbol": "BTC/USD", "qty": "1", "side": "buy", "type": "market", "time_in_force": "gtc",
     "client_order_id": {"x": 1}},
    {"symbol": "BTC/USD", "qty": "1", "side": "buy", "type": "market", "time_in_force": "gtc", "order_class": []},
    {"symbol": "/USD", "qty": "1", "side": "buy", "type": "market", "time_in_force": "gtc"},
    {"symbol": "BTC/USD", "qty": "1", "notional": "5", "side": "buy", "type": "market", "time_in_force": "gtc"},
]


@pytest.mark.parametrize("body", HOSTILE_ORDERS)
async def test_a_malformed_order_is_refused_in_alpaca_shape_and_changes_nothing(
        engine: LocalEngine, body: dict[str, Any]) -> None:
    await engine.register("mallory", PASSWORD)
    token = (await engine.login("mallory", PASSWORD)).token
    await engine.deposit(token, "100000")
    before = await ledger_state(engine)
    async with client(create_app(engine, QUIET)) as http:
        answer = await http.post("/v2/orders", json=body, headers={"Authorization": f"Bearer {token}"})
    assert 400 <= answer.status_code < 500, answer.text
    assert set(answer.json()) == ALPACA_ERROR and answer.json()["code"] // 100000 == answer.status_code
    assert await ledger_state(engine) == before


@pytest.mark.parametrize(("text", "symbol"), [("BTC/USD", "BTC"), ("btc/usd", "BTC"), ("BTCUSD", "BTC"),
                                              ("BTC", "BTC"), ("USDT/USD", "USDT"), ("USDTUSD", "USDT")])
def test_pairs_are_read_as_alpaca_writes_them(text: str, symbol: str) -> None:
    assert base_symbol(text) == symbol



def readme_bot() -> str:
    """The Python example of README.md's section on bots written for Alpaca, as it is printed."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("### Bots written for Alpaca", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_bot_runs_unmodified_and_its_orders_are_the_cli_s(served: tuple[str, Path],
                                                                      tmp_path: Path) -> None:
    url, ledger = served
    with closing(Trader(url, cash="5000")) as bot:
        script = tmp_path / "bot.py"
        script.write_text(readme_bot())
        env = orderproc_env(tmp_path, APCA_API_KEY_ID=bot.key_id, APCA_API_SECRET_KEY=bot.secret, ORDERPROC_SERVER=url)
        ran = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0, ran.stderr
        said = ran.stdout.splitlines()
        assert said[0] == "cash 5000.00" and said[1].startswith("bought ") and said[2].startswith("resting ")
        assert said[3].startswith("sold ") and said[4].split(" ", 1)[0] in ("24", "25"), said  # bars since 24h ago

        # the same account through our own CLI: its orders, its cash
        name = bot.v1("/v1/me")["username"]
        cli_env = orderproc_env(tmp_path / "cli", ORDERPROC_PASSWORD=PASSWORD)
        assert run_orderproc("--server", url, "login", name, env=cli_env).returncode == 0
        listed = run_orderproc("--server", url, "orders", "--json", env=cli_env)
        orders = json.loads(listed.stdout)["items"]
        assert [(o["side"], o["type"], o["status"]) for o in orders] == [
            ("sell", "market", "filled"), ("buy", "limit", "canceled"), ("buy", "market", "filled")]
        resting = said[2].split()[1]
        assert orders[1]["id"] == number(resting)
        balance = json.loads(run_orderproc("--server", url, "balance", "--json", env=cli_env).stdout)
        assert said[4].endswith(f"cash {balance['cash']}")
        assert Decimal(balance["cash"]) == Decimal("5000") - Decimal(orders[2]["notional"]) - \
            Decimal(orders[2]["receipt"]["fee"]) + Decimal(orders[0]["receipt"]["total"])
        verified = run_orderproc("--db", str(ledger), "admin", "verify", env=cli_env)
        assert verified.returncode == 0, verified.stdout + verified.stderr
