"""`orderproc alert`: price alerts from the command line, the ones the terminal sets and rings
for: add --above/--below, list (waiting or --fired, as a table or JSON), remove; a CLI user
with no price loop running sees an alert fired when they list them (the ticks since are looked
at then). Bad input is `error[code]` and exit 1, or a usage error (2)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from decimal import Decimal

from test_cli_commands import alice, cli, fails, ok_json  # noqa: F401 - `alice` is a fixture


def test_add_list_and_remove(alice: dict[str, str]) -> None:
    assert "No alerts" in cli("alert").stdout
    added = cli("alert", "add", "eth", "--above", "1000000")
    assert added.exit_code == 0, added.stderr
    assert "ETH at or above $1,000,000.00" in added.stdout
    low = ok_json("alert", "add", "BTC", "--below", "$1.50", "--json")
    assert (low["symbol"], low["direction"], low["price"], low["fired_at"]) == ("BTC", "below", "1.50", None)
    listed = ok_json("alert", "list", "--json")["items"]
    assert [(a["symbol"], a["direction"]) for a in listed] == [("ETH", "above"), ("BTC", "below")]
    assert ok_json("alert", "list", "--fired", "--json")["items"] == []
    assert len(ok_json("alert", "list", "--waiting", "--json")["items"]) == 2
    table = cli("alert", "list").stdout
    assert "at or above" in table and "waiting" in table
    assert cli("alert", "remove", str(low["id"])).exit_code == 0
    assert [a["symbol"] for a in ok_json("alert", "--json")["items"]] == ["ETH"]
    fails(cli("alert", "remove", str(low["id"])), "not_found")


def test_an_alert_fires_for_a_cli_user_when_they_look(alice: dict[str, str]) -> None:
    now = Decimal(ok_json("quote", "ETH", "--json")["price"])
    # a level a hair above the price: the replayed market crosses it within seconds, or, if it
    # falls, the one a hair below; either way the alert fires once the price gets there
    up = ok_json("alert", "add", "ETH", "--above", str((now * Decimal("1.00001")).quantize(Decimal("0.01"))), "--json")
    down = ok_json("alert", "add", "ETH", "--below", str((now * Decimal("0.99999")).quantize(Decimal("0.01"))),
                   "--json")
    for _ in range(120):
        fired = ok_json("alert", "list", "--fired", "--json")["items"]
        if fired:
            break
        time.sleep(0.5)
    assert fired and fired[0]["id"] in (up["id"], down["id"])
    assert datetime.fromisoformat(fired[0]["fired_at"]) and Decimal(fired[0]["fired_price"]) > 0
    assert "fired" in cli("alert", "list", "--fired").stdout


def test_bad_alerts(alice: dict[str, str]) -> None:
    fails(cli("alert", "add", "NOPE", "--above", "10"), "unknown_asset")
    fails(cli("alert", "add", "ETH", "--above", "1"), "validation_error")  # reached already
    fails(cli("alert", "add", "ETH", "--above", "abc"), "invalid_amount")
    assert cli("alert", "add", "ETH").exit_code == 2
    assert cli("alert", "add", "ETH", "--above", "5", "--below", "4").exit_code == 2
    assert json.loads(cli("alert", "list", "--json").stdout)["items"] == []
