"""`orderproc watch`: the watchlist from the command line, the same list the terminal shows
(kept in the ledger per user): add and remove several symbols, sort, list as a table or JSON;
bad input is `error[code]` and exit 1, the list as it was."""

from __future__ import annotations

from test_cli_commands import alice, cli, fails, ok_json  # noqa: F401 - `alice` is a fixture


def symbols(document: dict[str, object]) -> list[str]:
    return [item["symbol"] for item in document["items"]]  # type: ignore[attr-defined, index]


def test_add_sort_remove_and_list(alice: dict[str, str]) -> None:
    empty = cli("watch")
    assert empty.exit_code == 0 and "watchlist is empty" in empty.stdout
    added = cli("watch", "add", "btc", "ETH", "SOL")
    assert added.exit_code == 0, added.stderr
    assert [line.split()[0] for line in added.stdout.splitlines()[2:5]] == ["BTC", "ETH", "SOL"]
    assert "3 assets, in the order added" in added.stdout
    listed = ok_json("watch", "list", "--json")
    assert listed["sort"] == "added" and symbols(listed) == ["BTC", "ETH", "SOL"]
    assert all(isinstance(item["price"], str) for item in listed["items"])

    by_symbol = ok_json("watch", "sort", "symbol", "--json")
    assert by_symbol["sort"] == "symbol" and symbols(by_symbol) == ["BTC", "ETH", "SOL"]
    by_price = ok_json("watch", "sort", "price", "--json")
    assert symbols(by_price) == ["BTC", "ETH", "SOL"]  # highest price first
    assert symbols(ok_json("watch", "remove", "eth", "--json")) == ["BTC", "SOL"]
    assert symbols(ok_json("watch", "--json")) == ["BTC", "SOL"]
    assert "by price, highest first" in cli("watch").stdout


def test_bad_input_is_a_clear_error_and_leaves_the_list(alice: dict[str, str]) -> None:
    assert cli("watch", "add", "BTC").exit_code == 0
    fails(cli("watch", "add", "NOPE"), "unknown_asset")
    fails(cli("watch", "remove", "ETH"), "not_found")
    fails(cli("watch", "sort", "volume"), "validation_error")
    fails(cli("watch", "add", "NOPE", "--json"), "unknown_asset")
    listed = ok_json("watch", "--json")
    assert symbols(listed) == ["BTC"] and listed["sort"] == "added"


def test_watch_needs_a_session(cli_env: dict[str, str]) -> None:
    fails(cli("watch"), "auth_required")
