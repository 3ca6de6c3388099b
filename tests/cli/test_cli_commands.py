"""Every `orderproc` command through Typer's runner: output a script can rely on, exit codes, sessions.

The runner shares this process, so each test isolates itself with the `cli_env` fixture
(own data and config dirs, cheap hashing, ORDERPROC_DB in tmp_path).
"""

from __future__ import annotations

import json
import os
import re
import stat
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from orderproc.cli.main import app
from conftest import PASSWORD

NEW_PASSWORD = "a brand new passphrase"
CENT = Decimal("0.01")
# A decimal as JSON carries it: a plain string, never a float and never "1E-8".
PLAIN_DECIMAL = re.compile(r"-?\d+(\.\d+)?")
ORDER_KEYS = {"id", "symbol", "side", "status", "quantity", "price", "notional", "client_order_id", "created_at"}
ORDER_DECIMALS = ("quantity", "price", "notional")
POSITION_KEYS = {"symbol", "quantity", "average_cost", "price", "market_value", "unrealized_pnl"}
POSITION_DECIMALS = ("quantity", "average_cost", "price", "market_value", "unrealized_pnl")
TX_KEYS = {"id", "kind", "created_at", "cash", "symbol", "quantity", "order_id", "client_key"}

runner = CliRunner()


def cli(*args: str, input: str | None = None, env: dict[str, str | None] | None = None) -> Result:
    return runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)


def _no_float(text: str) -> Any:
    raise AssertionError(f"JSON carries a fractional number {text}: decimals must be strings")


def ok_json(*args: str, input: str | None = None) -> Any:
    """Run a command that must succeed and print exactly one JSON document."""
    result = cli(*args, input=input)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout, parse_float=_no_float)


def fails(result: Result, code: str) -> None:
    """A domain error: exit 1, `error[code]` on stderr and nothing on stdout; under --json the
    API's envelope on stdout and nothing on stderr."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    if result.stdout:
        assert json.loads(result.stdout)["error"]["code"] == code, result.stdout
        assert result.stderr == ""
    else:
        assert f"error[{code}]" in result.stderr


def assert_plain_decimals(doc: dict[str, Any], *fields: str) -> None:
    for field in fields:
        value = doc[field]
        assert isinstance(value, str) and PLAIN_DECIMAL.fullmatch(value), (field, value)


def register(username: str = "alice", password: str = PASSWORD) -> None:
    result = cli("register", username, "--password-stdin", input=password + "\n")
    assert result.exit_code == 0, result.stderr


def cash() -> Decimal:
    return Decimal(ok_json("balance", "--json")["cash"])


def state() -> tuple[Decimal, int]:
    """What a bad request must leave alone: cash and the transaction count (orders included)."""
    return cash(), ok_json("history", "--json")["total"]


def sessions_dir(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "orderproc" / "sessions"


def session_files(env: dict[str, str]) -> list[Path]:
    folder = sessions_dir(env)
    return sorted(folder.glob("*.json")) if folder.exists() else []


@pytest.fixture
def alice(cli_env: dict[str, str]) -> dict[str, str]:
    """`alice` registered (and so logged in) on the ledger in ORDERPROC_DB."""
    register()
    return cli_env


@pytest.fixture
def funded(alice: dict[str, str]) -> dict[str, str]:
    """`alice` logged in with $10,000."""
    assert cli("deposit", "10000").exit_code == 0
    return alice


# -- users and sessions ------------------------------------------------------------------------


def test_register_with_password_stdin_logs_the_new_user_in(cli_env: dict[str, str]) -> None:
    result = cli("register", "alice", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.stderr
    assert "alice" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    me = ok_json("whoami", "--json")
    assert me["username"] == "alice"
    assert me["role"] == "customer"
    assert cli("whoami").stdout.strip() == "alice (customer)"


def test_register_json_prints_the_new_user(cli_env: dict[str, str]) -> None:
    user = ok_json("register", "alice", "--password-stdin", "--json", input=PASSWORD + "\n")
    assert user["username"] == "alice"
    assert user["role"] == "customer"
    assert "password" not in json.dumps(user) and PASSWORD not in json.dumps(user)


def test_register_and_login_read_the_password_from_orderproc_password(cli_env: dict[str, str]) -> None:
    assert cli("register", "alice", env={"ORDERPROC_PASSWORD": PASSWORD}).exit_code == 0
    assert ok_json("whoami", "--json")["username"] == "alice"
    assert cli("logout").exit_code == 0
    assert cli("login", "alice", env={"ORDERPROC_PASSWORD": PASSWORD}).exit_code == 0
    assert ok_json("whoami", "--json")["username"] == "alice"


def test_register_with_no_password_source_and_no_terminal_is_a_usage_error(cli_env: dict[str, str]) -> None:
    result = cli("register", "alice")
    assert result.exit_code == 2
    assert "--password-stdin" in result.stderr
    assert ok_json("admin", "users", "--json")["items"] == []


def test_registering_a_taken_username_fails_with_username_taken(alice: dict[str, str]) -> None:
    fails(cli("register", "alice", "--password-stdin", input="another password\n"), "username_taken")
    assert len(ok_json("admin", "users", "--json")["items"]) == 1


def test_login_logout_and_whoami_follow_the_session(alice: dict[str, str]) -> None:
    assert cli("logout").exit_code == 0
    fails(cli("whoami"), "auth_required")
    result = cli("login", "alice", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.stderr
    assert ok_json("whoami", "--json")["username"] == "alice"
    assert ok_json("login", "alice", "--password-stdin", "--json", input=PASSWORD + "\n")["username"] == "alice"


def test_login_with_a_wrong_password_fails_with_invalid_credentials(alice: dict[str, str]) -> None:
    assert cli("logout").exit_code == 0
    fails(cli("login", "alice", "--password-stdin", input="not the password\n"), "invalid_credentials")
    fails(cli("login", "nobody", "--password-stdin", input=PASSWORD + "\n"), "invalid_credentials")
    fails(cli("whoami"), "auth_required")


def test_profile_updates_are_shown_by_profile_json(alice: dict[str, str]) -> None:
    result = cli("profile", "--display-name", "Alice Liddell", "--email", "alice@example.com")
    assert result.exit_code == 0, result.stderr
    assert "Alice Liddell" in result.stdout
    shown = ok_json("profile", "--json")
    assert shown["username"] == "alice"
    assert shown["display_name"] == "Alice Liddell"
    assert shown["email"] == "alice@example.com"


def test_profile_with_a_bad_email_fails_and_keeps_the_old_one(alice: dict[str, str]) -> None:
    assert cli("profile", "--email", "alice@example.com").exit_code == 0
    fails(cli("profile", "--email", "not an email"), "validation_error")
    assert ok_json("profile", "--json")["email"] == "alice@example.com"


def test_passwd_from_stdin_makes_the_new_password_work_and_the_old_one_fail(alice: dict[str, str]) -> None:
    result = cli("passwd", "--password-stdin", input=f"{PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.stderr
    assert ok_json("whoami", "--json")["username"] == "alice"  # this session carries on
    assert cli("logout").exit_code == 0
    old = cli("login", "alice", "--password-stdin", input=PASSWORD + "\n")
    fails(old, "invalid_credentials")
    assert cli("login", "alice", "--password-stdin", input=NEW_PASSWORD + "\n").exit_code == 0
    assert ok_json("whoami", "--json")["username"] == "alice"


def test_passwd_reads_both_passwords_from_the_environment(alice: dict[str, str]) -> None:
    env: dict[str, str | None] = {"ORDERPROC_PASSWORD": PASSWORD, "ORDERPROC_NEW_PASSWORD": NEW_PASSWORD}
    assert cli("passwd", env=env).exit_code == 0
    assert cli("login", "alice", env={"ORDERPROC_PASSWORD": NEW_PASSWORD}).exit_code == 0


def test_passwd_with_a_wrong_current_password_changes_nothing(alice: dict[str, str]) -> None:
    fails(cli("passwd", "--password-stdin", input=f"wrong password\n{NEW_PASSWORD}\n"), "invalid_credentials")
    fails(cli("passwd", "--password-stdin", input=f"{PASSWORD}\nshort\n"), "validation_error")
    assert cli("login", "alice", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    fails(cli("login", "alice", "--password-stdin", input=NEW_PASSWORD + "\n"), "invalid_credentials")


def test_passwd_ends_a_session_saved_before_the_change(alice: dict[str, str]) -> None:
    [cache] = session_files(alice)
    before = cache.read_bytes()
    assert cli("passwd", "--password-stdin", input=f"{PASSWORD}\n{NEW_PASSWORD}\n").exit_code == 0
    cache.write_bytes(before)  # someone kept the old token
    fails(cli("whoami"), "auth_required")


def test_the_session_cache_is_owner_only_in_the_config_dir_and_logout_removes_it(cli_env: dict[str, str]) -> None:
    old_umask = os.umask(0)  # even a careless umask must not expose the token
    try:
        register()
    finally:
        os.umask(old_umask)
    [cache] = session_files(cli_env)
    assert cache.parent == sessions_dir(cli_env)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) & 0o077 == 0
    token = json.loads(cache.read_text())["token"]
    assert token and token not in cli("whoami").stdout
    assert cli("logout").exit_code == 0
    assert session_files(cli_env) == []


def test_a_logged_out_token_is_revoked_not_only_forgotten(alice: dict[str, str]) -> None:
    [cache] = session_files(alice)
    saved = cache.read_bytes()
    assert cli("logout").exit_code == 0
    cache.write_bytes(saved)
    fails(cli("whoami"), "auth_required")


def test_a_corrupt_session_cache_means_logged_out_not_a_crash(alice: dict[str, str]) -> None:
    [cache] = session_files(alice)
    cache.write_text("{not json")
    fails(cli("balance"), "auth_required")
    assert cli("login", "alice", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    assert ok_json("balance", "--json")["cash"] == "0.00"


@pytest.mark.parametrize(
    "args",
    [
        ("whoami",),
        ("profile", "--json"),
        ("balance", "--json"),
        ("deposit", "5"),
        ("withdraw", "5"),
        ("history", "--json"),
        ("buy", "BTC", "0.001"),
        ("sell", "BTC", "0.001"),
        ("orders", "--json"),
        ("portfolio", "--json"),
        ("logout",),
    ],
)
def test_a_private_command_while_logged_out_fails_with_auth_required(
    cli_env: dict[str, str], args: tuple[str, ...]
) -> None:
    fails(cli(*args), "auth_required")


# -- cash -------------------------------------------------------------------------------------------


def test_deposit_and_withdraw_json_print_the_transaction_with_string_decimals(alice: dict[str, str]) -> None:
    dep = ok_json("deposit", "250.50", "--json")
    assert TX_KEYS <= dep.keys()
    assert dep["kind"] == "deposit"
    assert dep["cash"] == "250.50"
    wd = ok_json("withdraw", "0.5", "--json")
    assert wd["kind"] == "withdrawal"
    assert Decimal(wd["cash"]) == Decimal("-0.50")
    assert_plain_decimals(wd, "cash")
    assert wd["id"] != dep["id"]
    assert ok_json("balance", "--json") == {"cash": "250.00", "available": "250.00", "reserved": "0.00", "currency": "USD"}


def test_deposit_and_withdraw_without_json_print_a_readable_line(alice: dict[str, str]) -> None:
    assert "$1,234.56" in cli("deposit", "1234.56").stdout
    assert "$1,234.56" in cli("balance").stdout


def test_withdrawing_more_than_the_balance_fails_and_changes_nothing(funded: dict[str, str]) -> None:
    before = state()
    fails(cli("withdraw", "10000.01"), "insufficient_funds")
    assert state() == before
    assert ok_json("withdraw", "10000", "--json")["kind"] == "withdrawal"
    assert cash() == 0


def test_history_json_is_a_page_newest_first_and_filters_by_kind(funded: dict[str, str]) -> None:
    assert cli("withdraw", "100").exit_code == 0
    assert cli("buy", "ETH", "0.01").exit_code == 0
    page = ok_json("history", "--json")
    assert {"items", "total", "offset", "limit"} <= page.keys()
    assert page["total"] == 3
    assert [t["kind"] for t in page["items"]] == ["buy", "withdrawal", "deposit"]
    buy = page["items"][0]
    assert TX_KEYS <= buy.keys()
    assert buy["symbol"] == "ETH"
    assert_plain_decimals(buy, "cash", "quantity")
    assert Decimal(buy["quantity"]) == Decimal("0.01") and Decimal(buy["cash"]) < 0
    deposits = ok_json("history", "--kind", "deposit", "--json")
    assert [t["kind"] for t in deposits["items"]] == ["deposit"] and deposits["total"] == 1
    second = ok_json("history", "--offset", "1", "--limit", "1", "--json")
    assert [t["kind"] for t in second["items"]] == ["withdrawal"]
    assert second["total"] == 3


# -- assets and prices --------------------------------------------------------------------------


def test_assets_json_lists_the_inventory_with_string_prices(cli_env: dict[str, str]) -> None:
    found = ok_json("assets", "--json")["items"]
    assert len(found) >= 98
    symbols = [a["symbol"] for a in found]
    assert len(set(symbols)) == len(symbols)
    assert {"BTC", "ETH"} <= set(symbols)
    for asset in found:
        assert {"symbol", "name", "category", "rank", "price", "change_24h"} <= asset.keys()
        assert_plain_decimals(asset, "price", "change_24h")
        assert Decimal(asset["price"]) > 0
    ranks = [a["rank"] for a in found if a["rank"] is not None]
    assert ranks == sorted(ranks)  # rank is the default order


def test_assets_search_finds_by_symbol_or_name(cli_env: dict[str, str]) -> None:
    by_symbol = ok_json("assets", "--search", "btc", "--json")["items"]
    assert "BTC" in [a["symbol"] for a in by_symbol]
    by_name = ok_json("assets", "--search", "Ethereum", "--json")["items"]
    assert "ETH" in [a["symbol"] for a in by_name]
    assert all("ethereum" in a["name"].lower() or "ethereum" in a["symbol"].lower() for a in by_name)
    assert ok_json("assets", "--search", "no such coin anywhere", "--json")["items"] == []


def test_assets_category_keeps_only_that_category(cli_env: dict[str, str]) -> None:
    memes = ok_json("assets", "--category", "meme", "--json")["items"]
    assert len(memes) >= 3
    assert {a["category"] for a in memes} == {"meme"}
    assert "DOGE" in [a["symbol"] for a in memes]


def test_assets_sort_by_price_descending_puts_the_dearest_first(cli_env: dict[str, str]) -> None:
    found = ok_json("assets", "--sort", "price", "--desc", "--json")["items"]
    prices = [Decimal(a["price"]) for a in found]
    assert prices == sorted(prices, reverse=True)
    by_symbol = [a["symbol"] for a in ok_json("assets", "--sort", "symbol", "--json")["items"]]
    assert by_symbol == sorted(by_symbol)


def test_assets_with_an_unknown_sort_is_a_usage_error(cli_env: dict[str, str]) -> None:
    # Like --kind and --role, a value outside the documented choices is a usage error (exit 2).
    result = cli("assets", "--sort", "bogus")
    assert result.exit_code == 2, result.stderr
    assert "--sort" in result.stderr


def test_quote_json_gives_a_string_price_for_any_case_of_symbol(cli_env: dict[str, str]) -> None:
    q = ok_json("quote", "btc", "--json")
    assert {"symbol", "price", "change_24h", "at"} <= q.keys()
    assert q["symbol"] == "BTC"
    assert_plain_decimals(q, "price", "change_24h")
    assert "BTC" in cli("quote", "BTC").stdout
    fails(cli("quote", "NOPE"), "unknown_asset")


# -- orders and portfolio -----------------------------------------------------------------------------


def test_buy_json_prints_the_order_with_the_notional_rounded_up_to_the_cent(funded: dict[str, str]) -> None:
    order = ok_json("buy", "BTC", "0.01", "--json")
    assert ORDER_KEYS <= order.keys()
    assert_plain_decimals(order, *ORDER_DECIMALS)
    assert (order["symbol"], order["side"], order["status"]) == ("BTC", "buy", "filled")
    assert order["client_order_id"] is None
    qty, price, notional = (Decimal(order[k]) for k in ORDER_DECIMALS)
    assert qty == Decimal("0.01")
    assert notional == (qty * price).quantize(CENT, rounding=ROUND_CEILING)
    assert cash() == Decimal(10000) - notional


def test_sell_json_prints_the_order_with_the_notional_rounded_down_to_the_cent(funded: dict[str, str]) -> None:
    assert cli("buy", "ETH", "0.3").exit_code == 0
    before = cash()
    order = ok_json("sell", "ETH", "0.1234", "--json")
    assert ORDER_KEYS <= order.keys()
    assert_plain_decimals(order, *ORDER_DECIMALS)
    assert (order["symbol"], order["side"], order["status"]) == ("ETH", "sell", "filled")
    qty, price, notional = (Decimal(order[k]) for k in ORDER_DECIMALS)
    assert qty == Decimal("0.1234")
    assert notional == (qty * price).quantize(CENT, rounding=ROUND_FLOOR)
    assert cash() == before + notional


def test_buy_by_usd_spends_at_most_that_amount(funded: dict[str, str]) -> None:
    order = ok_json("buy", "ETH", "--usd", "250", "--json")
    assert Decimal("0") < Decimal(order["notional"]) <= Decimal("250")
    assert Decimal(order["quantity"]) > 0
    assert cash() == Decimal(10000) - Decimal(order["notional"])


def test_selling_more_than_held_fails_with_insufficient_funds_and_changes_nothing(funded: dict[str, str]) -> None:
    assert cli("buy", "ETH", "0.1").exit_code == 0
    before = state()
    fails(cli("sell", "ETH", "0.2"), "insufficient_funds")
    fails(cli("sell", "SOL", "1"), "insufficient_funds")
    assert state() == before


def test_a_price_guard_the_market_is_past_rejects_the_order_and_changes_nothing(funded: dict[str, str]) -> None:
    assert cli("buy", "ETH", "0.1").exit_code == 0
    before = state()
    fails(cli("buy", "BTC", "0.001", "--max-price", "1"), "price_moved")
    fails(cli("sell", "ETH", "0.1", "--min-price", "100000000"), "price_moved")
    assert state() == before


def test_orders_json_is_a_page_of_orders_filterable_by_symbol(funded: dict[str, str]) -> None:
    buy = ok_json("buy", "BTC", "0.001", "--key", "first", "--json")
    sell = ok_json("sell", "BTC", "0.0005", "--json")
    ok_json("buy", "ETH", "0.01", "--json")
    page = ok_json("orders", "--json")
    assert {"items", "total", "offset", "limit"} <= page.keys()
    assert page["total"] == 3
    for order in page["items"]:
        assert ORDER_KEYS <= order.keys()
        assert_plain_decimals(order, *ORDER_DECIMALS)
    btc = ok_json("orders", "--symbol", "BTC", "--json")
    assert [o["id"] for o in btc["items"]] == [sell["id"], buy["id"]]
    assert btc["items"][1] == buy  # the listing shows what the buy reported
    assert btc["items"][1]["client_order_id"] == "first"
    fails(cli("orders", "--symbol", "NOPE"), "unknown_asset")


def test_orders_show_reads_one_order_and_another_users_is_not_found(funded: dict[str, str]) -> None:
    buy = ok_json("buy", "BTC", "0.001", "--key", "mine", "--json")
    assert ok_json("orders", "show", str(buy["id"]), "--json") == buy
    shown = cli("orders", "show", str(buy["id"]))
    assert shown.exit_code == 0 and f"#{buy['id']}" in shown.stdout and "mine" in shown.stdout
    fails(cli("orders", "show", "999"), "not_found")
    register("bob")  # now logged in as bob: alice's order reads like a missing one
    fails(cli("orders", "show", str(buy["id"])), "not_found")
    assert cli("orders", "show", "0").exit_code == 2


def _price(symbol: str) -> Decimal:
    return Decimal(ok_json("quote", symbol, "--json")["price"])


def test_a_limit_buy_below_the_market_rests_reserves_its_cash_and_cancel_releases_it(funded: dict[str, str]) -> None:
    limit = (_price("ETH") * Decimal("0.5")).quantize(Decimal("0.01"))
    order = ok_json("buy", "ETH", "0.5", "--limit", str(limit), "--json")
    assert (order["type"], order["time_in_force"], order["status"]) == ("limit", "gtc", "new")
    assert order["price"] is None and order["notional"] is None
    held = (Decimal("0.5") * limit).quantize(Decimal("0.01"), ROUND_CEILING)
    assert Decimal(order["reserved"]) == held
    balance = ok_json("balance", "--json")
    assert (Decimal(balance["cash"]), Decimal(balance["reserved"])) == (Decimal("10000"), held)
    assert Decimal(balance["available"]) == 10000 - held
    shown = cli("balance")
    assert "reserved by open orders" in shown.stdout
    fails(cli("withdraw", "10000"), "insufficient_funds")  # the reserved cash cannot leave
    assert [o["id"] for o in ok_json("orders", "--open", "--json")["items"]] == [order["id"]]
    details = cli("orders", "show", str(order["id"]))
    assert "limit ≤" in details.stdout and "Reserved" in details.stdout

    canceled = ok_json("orders", "cancel", str(order["id"]), "--json")
    assert canceled["status"] == "canceled"
    assert ok_json("balance", "--json")["reserved"] == "0.00"
    assert ok_json("orders", "--open", "--json")["total"] == 0
    fails(cli("orders", "cancel", str(order["id"])), "order_not_open")


def test_stop_stop_limit_and_ioc_orders_from_the_command_line(funded: dict[str, str]) -> None:
    price = _price("ETH")
    above, below = (price * 2).quantize(Decimal("0.01")), (price / 2).quantize(Decimal("0.01"))
    stop = ok_json("buy", "ETH", "0.1", "--stop", str(above), "--json")
    assert (stop["type"], stop["stop_price"], stop["status"]) == ("stop", str(above), "new")
    stop_limit = ok_json("buy", "ETH", "0.1", "--stop", str(above), "--limit", str(above + 1), "--json")
    assert stop_limit["type"] == "stop_limit"
    fails(cli("buy", "ETH", "0.1", "--stop", str(below)), "invalid_amount")  # a buy stop the price is past
    expired = ok_json("buy", "ETH", "0.1", "--limit", str(below), "--ioc", "--json")
    assert expired["status"] == "expired" and expired["reserved"] == "0.00"
    filled = ok_json("buy", "ETH", "0.1", "--limit", str(above), "--ioc", "--json")
    assert filled["status"] == "filled" and Decimal(filled["price"]) <= above
    assert ok_json("orders", "--status", "expired", "--json")["total"] == 1
    assert ok_json("orders", "--closed", "--json")["total"] == 2
    assert cli("buy", "ETH", "0.1", "--stop", str(above), "--ioc").exit_code == 2
    assert cli("buy", "ETH", "0.1", "--limit", str(above), "--max-price", "1").exit_code == 2
    assert cli("orders", "--status", "resting").exit_code == 2
    fails(cli("buy", "ETH", "--usd", "100", "--limit", str(below)), "invalid_amount")  # limit orders take a quantity

    result = cli("orders", "cancel", "--all", "--json")
    assert result.exit_code == 0
    assert sorted(o["id"] for o in json.loads(result.stdout)["items"]) == [stop["id"], stop_limit["id"]]
    assert cli("orders", "cancel", "--all").stdout.strip() == "No open orders to cancel."
    assert cli("orders", "cancel").exit_code == 2
    assert ok_json("admin", "verify", "--json")["ok"]


def test_portfolio_json_values_positions_and_adds_up(funded: dict[str, str]) -> None:
    assert cli("buy", "BTC", "0.01").exit_code == 0
    assert cli("buy", "ETH", "0.5").exit_code == 0
    folio = ok_json("portfolio", "--json")
    assert {"cash", "equity", "positions"} <= folio.keys()
    assert_plain_decimals(folio, "cash", "equity")
    assert Decimal(folio["cash"]) == cash()
    assert sorted(p["symbol"] for p in folio["positions"]) == ["BTC", "ETH"]
    for pos in folio["positions"]:
        assert POSITION_KEYS <= pos.keys()
        assert_plain_decimals(pos, *POSITION_DECIMALS)
        qty, price, value = Decimal(pos["quantity"]), Decimal(pos["price"]), Decimal(pos["market_value"])
        assert abs(value - qty * price) <= Decimal("0.005")
    values = sum(Decimal(p["market_value"]) for p in folio["positions"])
    assert Decimal(folio["equity"]) == Decimal(folio["cash"]) + values
    assert {p["symbol"]: Decimal(p["quantity"]) for p in folio["positions"]} == {
        "BTC": Decimal("0.01"),
        "ETH": Decimal("0.5"),
    }


def test_an_empty_portfolio_is_all_cash(funded: dict[str, str]) -> None:
    folio = ok_json("portfolio", "--json")
    assert folio["positions"] == []
    assert Decimal(folio["cash"]) == Decimal(folio["equity"]) == Decimal(10000)
    assert "no positions" in cli("portfolio").stdout


# -- usage errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("deposit", "5", "--bogus"),
        ("--bogus", "balance"),
        ("buy", "BTC", "0.001", "--usd", "5"),
        ("sell", "BTC", "0.001", "--usd", "5"),
        ("buy", "BTC"),
        ("sell", "BTC"),
        ("buy",),
        ("deposit",),
        ("history", "--kind", "bogus"),
        ("history", "--limit", "0"),
        ("history", "--limit", "abc"),
        ("orders", "--offset", "-1"),
        ("admin", "grant", "alice", "--role", "king"),
        ("no-such-command",),
    ],
)
def test_a_usage_error_exits_2_before_touching_the_ledger(cli_env: dict[str, str], args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Usage" in result.stderr
    assert "error[" not in result.stderr
    assert not Path(cli_env["ORDERPROC_DB"]).exists()


@pytest.mark.parametrize(
    "args", [("buy", "ETH", "0.1", "--usd", "100"), ("buy", "ETH"), ("sell", "ETH", "--usd", "1", "0.1")]
)
def test_an_order_with_both_or_neither_of_quantity_and_usd_exits_2_and_changes_nothing(
    funded: dict[str, str], args: tuple[str, ...]
) -> None:
    assert cli("buy", "ETH", "0.2").exit_code == 0
    before = state()
    result = cli(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "--usd" in result.stderr
    assert state() == before


def test_a_domain_error_exits_1_with_the_code_on_stderr(funded: dict[str, str]) -> None:
    result = cli("buy", "NOPE", "1")
    assert result.exit_code == 1
    assert result.stderr.startswith("error[unknown_asset]: ")
    assert result.stdout == ""


# -- idempotency keys ------------------------------------------------------------------------------------


def test_a_repeated_deposit_key_returns_the_first_transaction_and_moves_cash_once(alice: dict[str, str]) -> None:
    first = ok_json("deposit", "100", "--key", "dep-1", "--json")
    again = ok_json("deposit", "100", "--key", "dep-1", "--json")
    assert again == first
    assert first["client_key"] == "dep-1"
    assert cash() == Decimal(100)
    assert ok_json("history", "--json")["total"] == 1


def test_a_repeated_order_key_returns_the_same_order_and_moves_cash_once(funded: dict[str, str]) -> None:
    first = ok_json("buy", "ETH", "0.1", "--key", "k1", "--json")
    again = ok_json("buy", "ETH", "0.1", "--key", "k1", "--json")
    assert again["id"] == first["id"]
    assert again == first
    assert first["client_order_id"] == "k1"
    assert cash() == Decimal(10000) - Decimal(first["notional"])
    assert ok_json("orders", "--json")["total"] == 1


def test_a_key_reused_for_another_request_is_a_conflict_and_changes_nothing(funded: dict[str, str]) -> None:
    ok_json("buy", "ETH", "0.1", "--key", "k1", "--json")
    ok_json("deposit", "5", "--key", "d1", "--json")
    before = state()
    fails(cli("buy", "ETH", "0.2", "--key", "k1"), "conflict")
    fails(cli("sell", "ETH", "0.1", "--key", "k1"), "conflict")
    fails(cli("deposit", "6", "--key", "d1"), "conflict")
    fails(cli("withdraw", "5", "--key", "d1"), "conflict")
    fails(cli("buy", "ETH", "0.1", "--key", "d1"), "conflict")
    assert state() == before


def test_one_users_key_never_returns_another_users_result(funded: dict[str, str]) -> None:
    alices = ok_json("deposit", "100", "--key", "shared", "--json")
    register("bob")  # bob is now the logged-in user
    bobs = ok_json("deposit", "7", "--key", "shared", "--json")
    assert bobs["id"] != alices["id"]
    assert bobs["cash"] == "7.00"
    assert cash() == Decimal(7)
    assert cli("login", "alice", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    assert cash() == Decimal(10100)


# -- operator commands ----------------------------------------------------------------------------------


def test_admin_grant_on_the_db_file_gives_the_admin_role_without_any_login(alice: dict[str, str]) -> None:
    assert cli("logout").exit_code == 0
    db = ("--db", alice["ORDERPROC_DB"])
    result = cli(*db, "admin", "grant", "alice")
    assert result.exit_code == 0, result.stderr
    users = ok_json(*db, "admin", "users", "--json")["items"]
    assert [(u["username"], u["role"]) for u in users] == [("alice", "admin")]
    assert cli("login", "alice", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    assert ok_json("whoami", "--json")["role"] == "admin"
    back = ok_json(*db, "admin", "grant", "alice", "--role", "customer", "--json")
    assert back["role"] == "customer"
    fails(cli(*db, "admin", "grant", "nobody"), "not_found")


def test_admin_disable_ends_the_session_and_blocks_login_until_enable(alice: dict[str, str]) -> None:
    assert ok_json("admin", "disable", "alice", "--json")["disabled"] is True
    result = cli("whoami")
    assert result.exit_code == 1 and result.stdout == ""
    assert "error[auth_required]" in result.stderr or "error[forbidden]" in result.stderr
    fails(cli("login", "alice", "--password-stdin", input=PASSWORD + "\n"), "forbidden")
    assert ok_json("admin", "enable", "alice", "--json")["disabled"] is False
    assert cli("login", "alice", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    assert ok_json("whoami", "--json")["username"] == "alice"


def test_admin_audit_json_records_security_and_money_events(funded: dict[str, str]) -> None:
    assert cli("logout").exit_code == 0
    fails(cli("login", "alice", "--password-stdin", input="wrong password\n"), "invalid_credentials")
    page = ok_json("admin", "audit", "--json")
    assert {"items", "total"} <= page.keys()
    actions = [e["action"] for e in page["items"]]
    assert {"register", "login", "deposit", "logout", "login_failed"} <= set(actions)
    assert actions[0] == "login_failed"  # newest first
    assert PASSWORD not in json.dumps(page)


def test_admin_verify_json_reports_a_balanced_ledger(funded: dict[str, str]) -> None:
    assert cli("buy", "BTC", "0.01").exit_code == 0
    report = ok_json("admin", "verify", "--json")
    assert report["ok"] is True
    assert report["problems"] == []
    assert all(Decimal(total) == 0 for total in report["sums"].values())
    result = cli("admin", "verify")
    assert result.exit_code == 0 and "ok" in result.stdout


# -- the root command and the ledger path ------------------------------------------------------------------


def test_help_lists_every_command_and_opens_no_ledger(cli_env: dict[str, str]) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    assert "Usage" in result.stdout
    for command in ("register", "deposit", "buy", "portfolio", "admin"):
        assert command in result.stdout
    assert not Path(cli_env["ORDERPROC_DB"]).exists()  # help opens no ledger


def test_bare_orderproc_opens_the_terminal_on_the_chosen_ledger(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sys

    import orderproc.tui.launch
    from orderproc.entry import main

    opened: list[Path] = []
    monkeypatch.setattr(orderproc.tui.launch, "run", lambda settings: opened.append(settings.db_path))
    for args in ([], ["--db", str(tmp_path / "other.db")], ["--db=" + str(tmp_path / "third.db"), "--"]):
        monkeypatch.setattr(sys, "argv", ["orderproc", *args])
        main()
    assert opened == [Path(cli_env["ORDERPROC_DB"]), tmp_path / "other.db", tmp_path / "third.db"]


@pytest.mark.parametrize(("args", "ledger"), [
    ([], (None, None)),
    (["--db", "x.db"], ("x.db", None)),
    (["--server", "http://h:1"], (None, "http://h:1")),
    (["--db", "postgresql://u@h:5432/ledger"], ("postgresql://u@h:5432/ledger", None)),  # a URL, unmangled
    (["--db", "a.db", "--db", "b.db"], ("b.db", None)),  # the last wins, as in any command
    (["--db", "-x"], ("-x", None)),  # an option's value, whatever it looks like
    (["--db", "x.db", "--"], ("x.db", None)),
    (["--db", "x.db", "balance"], None),
    (["--", "balance"], None),
    (["--db", "x.db", "--server", "http://h:1"], None),  # the CLI reports the clash
    (["--db", "x.db", "--help"], None),
    (["--version"], None),
    (["--db"], None),  # no value: the CLI reports the usage error
])
def test_a_call_naming_no_command_opens_the_terminal_on_its_ledger(
    args: list[str], ledger: tuple[str | None, str | None] | None
) -> None:
    from orderproc.entry import terminal_ledger

    assert terminal_ledger(args) == ledger


def test_the_cli_never_imports_the_terminal(cli_env: dict[str, str]) -> None:
    import subprocess
    import sys

    import orderproc.cli.main

    source = Path(orderproc.cli.main.__file__).read_text()
    assert "orderproc.tui" not in source
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from orderproc.cli.main import app\n"
        "result = CliRunner().invoke(app, [])\n"
        "print(result.exit_code, 'Usage:' in result.stdout, 'textual' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["0", "True", "False"]  # no command: its help


def test_the_bare_executable_opens_the_terminal_without_loading_the_cli(cli_env: dict[str, str]) -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "sys.argv = ['orderproc']\n"
        "import orderproc.tui.launch as launch\n"
        "launch.run = lambda settings: print('terminal on', settings.db_path)\n"
        "from orderproc.entry import main\n"
        "main()\n"
        "print('typer loaded:', 'typer' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.splitlines() == [f"terminal on {cli_env['ORDERPROC_DB']}", "typer loaded: False"]
    with_db = probe.replace("['orderproc']", "['orderproc', '--db', '/tmp/other.db']")
    out = subprocess.run([sys.executable, "-c", with_db], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.splitlines() == ["terminal on /tmp/other.db", "typer loaded: False"]


def test_version_prints_the_installed_version(cli_env: dict[str, str]) -> None:
    from importlib.metadata import version

    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == version("orderproc")


def test_the_db_option_overrides_orderproc_db(cli_env: dict[str, str], tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "other.db"
    other.parent.mkdir()
    result = cli("--db", str(other), "register", "bob", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.stderr
    assert other.exists()
    assert not Path(cli_env["ORDERPROC_DB"]).exists()
    assert cli("--db", str(other), "deposit", "42").exit_code == 0
    # each ledger has its own users and its own cached session
    fails(cli("whoami"), "auth_required")
    register("alice")
    assert ok_json("whoami", "--json")["username"] == "alice"
    assert ok_json("--db", str(other), "whoami", "--json")["username"] == "bob"
    assert ok_json("--db", str(other), "balance", "--json")["cash"] == "42.00"
    assert ok_json("balance", "--json")["cash"] == "0.00"
    assert [u["username"] for u in ok_json("--db", str(other), "admin", "users", "--json")["items"]] == ["bob"]


def test_without_db_or_orderproc_db_the_ledger_lives_in_the_data_dir(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORDERPROC_DB")
    register()
    assert (Path(cli_env["XDG_DATA_HOME"]) / "orderproc" / "ledger.db").exists()
    assert not Path(cli_env["ORDERPROC_DB"]).exists()


def test_a_relative_db_path_is_relative_to_the_current_folder(
    cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert cli("--db", "mine.db", "register", "carol", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    assert cli("--db", "mine.db", "deposit", "12.34").exit_code == 0
    assert (here / "mine.db").exists()
    # the same file named by its absolute path from elsewhere is the same ledger, same session
    monkeypatch.chdir(tmp_path)
    assert ok_json("--db", str(here / "mine.db"), "balance", "--json")["cash"] == "12.34"


def test_a_long_error_message_stays_on_one_line_for_scripts(cli_env: dict[str, str]) -> None:
    # Scripts read `error[code]: message` from stderr; it must not be hard-wrapped at 80 columns.
    result = cli("register", "no spaces allowed", "--password-stdin", input=PASSWORD + "\n")
    fails(result, "validation_error")
    assert result.stderr.count("\n") == 1, result.stderr
