"""Lots, P&L, previews, receipts, the ledger's settings and named accounts from the command line
(Typer's runner on a ledger file: `admin` commands act as the file's operator).

Each test isolates itself with the `cli_env` fixture. Prices move with the real clock here, so
the tests read the amounts a command printed rather than predicting them.
"""

from __future__ import annotations

import json
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from conftest import PASSWORD
from orderproc.cli.main import app

runner = CliRunner()
CENT = Decimal("0.01")


def cli(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def _no_float(text: str) -> Any:
    raise AssertionError(f"JSON carries a fractional number {text}: decimals must be strings")


def ok_json(*args: str) -> Any:
    """Run a command that must succeed and print exactly one JSON document."""
    result = cli(*args, "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout, parse_float=_no_float)


def ok(*args: str, input: str | None = None) -> str:
    result = cli(*args, input=input)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def fails(result: Result, code: str) -> None:
    """A domain error: exit 1, `error[code]` on stderr, nothing on stdout."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert f"error[{code}]" in result.stderr
    assert result.stdout == ""


def state() -> tuple[Any, ...]:
    """What a refused command must leave alone (not what the lots are worth: the price moves)."""
    lots = [(lot["id"], lot["remaining"], lot["remaining_cost"]) for lot in ok_json("lots", "--closed")["items"]]
    return ok_json("balance"), ok_json("orders")["total"], ok_json("history")["total"], lots


@pytest.fixture
def funded(cli_env: dict[str, str]) -> dict[str, str]:
    """`alice` registered, logged in, with $20,000."""
    assert cli("register", "alice", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    assert cli("deposit", "20000").exit_code == 0
    return cli_env


# -- lots and P&L ------------------------------------------------------------------------------------


def test_lots_lists_each_buy_and_sell_with_lot_closes_that_lot_first(funded: dict[str, str]) -> None:
    first = ok_json("buy", "ETH", "0.5")
    second = ok_json("buy", "ETH", "0.25")
    btc = ok_json("buy", "BTC", "0.01")
    lots = ok_json("lots")["items"]
    assert [(lot["symbol"], lot["order_id"], lot["remaining"], lot["remaining_cost"]) for lot in lots] == [
        ("BTC", btc["id"], "0.01000000", btc["notional"]),
        ("ETH", first["id"], "0.50000000", first["notional"]),
        ("ETH", second["id"], "0.25000000", second["notional"])]
    assert [lot["id"] for lot in ok_json("lots", "ETH")["items"]] == [lots[1]["id"], lots[2]["id"]]
    table = ok("lots")
    assert all(f"#{lot['id']}" in table for lot in lots)
    assert "Unit cost" in table and "Cost basis" in table

    sale = ok_json("sell", "ETH", "0.3", "--lot", str(lots[2]["id"]))
    assert sale["lot_id"] == lots[2]["id"]
    # the named lot's 0.25 at its whole cost, then 0.05 of the 0.5 of the oldest, rounded down
    taken = Decimal(second["notional"]) + (Decimal(first["notional"]) / 10).quantize(CENT, ROUND_FLOOR)
    assert Decimal(sale["realized_pnl"]) == Decimal(sale["notional"]) - taken
    assert [lot["id"] for lot in ok_json("lots", "ETH")["items"]] == [lots[1]["id"]]
    closed = ok_json("lots", "ETH", "--closed")["items"]
    assert [(lot["id"], lot["remaining"]) for lot in closed] == [
        (lots[1]["id"], "0.45000000"), (lots[2]["id"], "0.00000000")]
    assert "realized P&L" in ok("sell", "ETH", "0.01")


def test_sell_with_a_lot_that_is_not_open_fails_and_changes_nothing(funded: dict[str, str]) -> None:
    ok_json("buy", "ETH", "0.5")
    ok_json("buy", "BTC", "0.01")
    btc_lot = ok_json("lots", "BTC")["items"][0]
    before = state()
    fails(cli("sell", "ETH", "0.1", "--lot", str(btc_lot["id"])), "not_found")
    fails(cli("sell", "ETH", "0.1", "--lot", "999"), "not_found")
    assert state() == before
    assert cli("sell", "ETH", "0.1", "--lot", "0").exit_code == 2
    assert cli("buy", "ETH", "0.1", "--lot", "1").exit_code == 2  # buy has no --lot


def test_pnl_table_and_json_reconcile_with_equity_minus_net_deposits(funded: dict[str, str]) -> None:
    assert "no trades yet" in ok("pnl")
    ok_json("buy", "ETH", "0.5")
    ok_json("buy", "SOL", "3")
    ok_json("sell", "ETH", "0.2")
    ok_json("withdraw", "100")
    report = ok_json("pnl")
    total, realized, unrealized, fees = (Decimal(report[k]) for k in ("total_pnl", "realized_pnl", "unrealized_pnl", "fees"))
    assert total == realized + unrealized - fees
    assert total == Decimal(report["equity"]) - Decimal(report["net_deposits"])
    assert report["net_deposits"] == "19900.00" and report["cost_method"] == "fifo"
    assert {line["symbol"] for line in report["lines"]} == {"ETH", "SOL"}
    table = ok("pnl")
    assert "P&L (fifo cost basis)" in table
    assert "ETH" in table and "SOL" in table
    assert "- net deposits $19,900.00" in table


# -- settings, previews and receipts ------------------------------------------------------------------


def test_admin_settings_shows_changes_and_refuses_bad_values(funded: dict[str, str]) -> None:
    shown = ok("admin", "settings")
    assert "cost method: fifo" in shown and "taker fee: 0 bps" in shown and "spread: 0 bps" in shown
    changed = ok_json("admin", "settings", "--taker-fee-bps", "10", "--spread-bps", "4.5")
    assert (changed["taker_fee_bps"], changed["spread_bps"], changed["maker_fee_bps"]) == ("10", "4.5", "0")
    assert "taker fee: 10 bps" in ok("admin", "settings")
    assert "cost method: average" in ok("admin", "settings", "--cost-method", "average")
    before = ok_json("admin", "settings")
    for args, code in ((("--taker-fee-bps=-1",), "invalid_amount"), (("--spread-bps", "1001"), "invalid_amount"),
                       (("--maker-fee-bps", "lots"), "invalid_amount"), (("--cost-method", "lifo"), "validation_error")):
        fails(cli("admin", "settings", *args), code)
    assert ok_json("admin", "settings") == before


def test_buy_preview_shows_the_receipt_and_places_nothing(funded: dict[str, str]) -> None:
    ok_json("admin", "settings", "--taker-fee-bps", "20", "--spread-bps", "10", "--maker-fee-bps", "100")
    before = state()
    preview = ok_json("buy", "ETH", "0.5", "--preview")
    assert (preview["rests"], preview["reserved"]) == (False, None)
    receipt = preview["receipt"]
    assert Decimal(receipt["price"]) > Decimal(receipt["reference_price"]) and Decimal(receipt["spread"]) > 0
    assert Decimal(receipt["fee"]) == (Decimal(receipt["notional"]) * 20 / 10_000).quantize(CENT, ROUND_CEILING)
    shown = ok("buy", "ETH", "0.5", "--preview")
    assert "Preview of a market buy of ETH" in shown
    for label in ("Ledger price", "Spread", "Slippage", "Fill price", "Fee", "Total"):
        assert label in shown
    resting = ok_json("buy", "ETH", "0.5", "--limit", "1", "--preview")
    assert (resting["rests"], resting["reserved"]) == (True, "0.51")  # $0.50 at the limit and the maker fee
    assert "it would rest until the price reaches it, reserving $0.51" in ok("buy", "ETH", "0.5", "--limit", "1",
                                                                             "--preview")
    assert state() == before


def test_orders_show_prints_the_receipt_and_a_sells_realized_pnl(funded: dict[str, str]) -> None:
    ok_json("admin", "settings", "--taker-fee-bps", "10")
    bought = ok_json("buy", "ETH", "0.5")
    sold = ok_json("sell", "ETH", "0.2")
    shown = ok("orders", "show", str(bought["id"]))
    for label in ("Ledger price", "Spread", "Slippage", "Fee", "Total"):
        assert label in shown
    assert f"${Decimal(bought['receipt']['fee'])} (10 bps)" in shown
    assert f"${Decimal(bought['receipt']['total']):,}" in shown
    assert "Realized P&L" not in shown
    shown = ok("orders", "show", str(sold["id"]))
    assert "Realized P&L" in shown
    realized = Decimal(sold["realized_pnl"])
    assert (f"+${realized:,}" if realized > 0 else f"-${-realized:,}" if realized < 0 else "$0.00") in shown
    assert "fee)" in ok("buy", "ETH", "0.01")  # the one-line result shows the fee


def test_admin_verify_names_the_fee_accounts_fees_when_there_are_any(funded: dict[str, str]) -> None:
    ok_json("buy", "ETH", "0.1")
    assert "fee account" not in ok("admin", "verify")
    ok_json("admin", "settings", "--taker-fee-bps", "25")
    fees = sum(Decimal(ok_json("buy", "ETH", amount)["receipt"]["fee"]) for amount in ("0.1", "0.2"))
    report = ok_json("admin", "verify")
    assert report["ok"] is True and Decimal(report["fees_collected"]) == fees
    assert f"the fee account's ${fees:,} included" in ok("admin", "verify")


# -- named accounts ----------------------------------------------------------------------------------


def test_accounts_create_switch_and_reset(funded: dict[str, str]) -> None:
    listed = ok("accounts")
    assert "main" in listed and "*" in listed
    made = ok_json("accounts", "create", "swing")
    assert (made["name"], made["current"]) == ("swing", False)
    assert "Opened the account long" in ok("accounts", "create", "long")
    fails(cli("accounts", "create", "swing"), "conflict")
    fails(cli("accounts", "create", "no spaces"), "validation_error")
    fails(cli("accounts", "switch", "nope"), "not_found")
    ok_json("buy", "ETH", "0.1")

    assert "Now trading the account swing as alice" in ok("accounts", "switch", "swing")
    assert ok_json("balance")["cash"] == "0.00"
    assert ok_json("orders")["total"] == 0 and ok_json("lots")["items"] == []
    assert [(a["name"], a["current"]) for a in ok_json("accounts")["items"]] == [
        ("main", False), ("swing", True), ("long", False)]
    assert "The account starts again with $750.00" in ok("accounts", "reset", "--cash", "750", "--yes")
    assert ok_json("balance")["cash"] == "750.00"
    ok_json("buy", "ETH", "0.01")
    deposit = ok_json("accounts", "reset", "--cash", "500", "--yes")
    assert (deposit["kind"], deposit["cash"]) == ("deposit", "500.00")
    assert [t["kind"] for t in ok_json("history")["items"]][:3] == ["deposit", "reset", "buy"]
    # the empty account's first reset only deposited; the second gave back the cash left and the ETH
    [reset] = ok_json("history", "--kind", "reset")["items"]
    [bought] = ok_json("history", "--kind", "buy")["items"]
    assert Decimal(reset["cash"]) == -(Decimal("750") + Decimal(bought["cash"]))
    assert ok_json("pnl")["total_pnl"] == "0.00"
    fails(cli("accounts", "reset", "--cash=-5", "--yes"), "invalid_amount")
    # without --yes it asks; a no changes nothing
    before = state()
    refused = cli("accounts", "reset", "--cash", "1", input="n\n")
    assert refused.exit_code == 1 and state() == before

    ok("accounts", "switch", "main")
    assert [lot["symbol"] for lot in ok_json("lots")["items"]] == ["ETH"]
    board = ok_json("leaderboard")["items"]
    assert {(e["username"], e["account"]) for e in board} == {("alice", "main"), ("alice", "swing")}
    assert "alice/swing" in ok("leaderboard")
    assert ok_json("admin", "verify")["ok"] is True
