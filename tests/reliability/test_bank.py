"""The bank workload (bank.py) on each way of reaching a ledger: every acknowledged op is in the
ledger exactly once, nothing else is, no invariant breaks while it runs or after, and no client
sees anything but an answer or a domain rejection (RELIABILITY.md, promises 1-5)."""

from __future__ import annotations

import copy
from pathlib import Path

from bank import Workload, assert_sound, judge, run_processes, run_server, run_tasks


async def test_clients_as_tasks_on_one_local_engine_lose_invent_and_duplicate_nothing(tmp_path: Path) -> None:
    run = await run_tasks(tmp_path / "ledger.db", Workload(seed=11, clients=8, ops=60))
    assert_sound(run, min_acked=250)
    assert run.verdict.checks_during >= 1


async def test_processes_each_with_its_own_engine_on_one_file_lose_invent_and_duplicate_nothing(
    tmp_path: Path,
) -> None:
    run = await run_processes(tmp_path, Workload(seed=12, clients=6, ops=60), processes=3)
    assert_sound(run, min_acked=200)
    assert run.verdict.checks_during >= 1


async def test_clients_on_the_real_server_lose_invent_and_duplicate_nothing(tmp_path: Path) -> None:
    run = await run_server(tmp_path, Workload(seed=13, clients=6, ops=50))
    assert_sound(run, min_acked=180)
    assert run.verdict.checks_during >= 1


async def test_clients_spread_over_two_servers_on_postgresql_lose_invent_and_duplicate_nothing(
    tmp_path: Path, pg_url: str,
) -> None:
    """Two real `orderproc serve` processes on one PostgreSQL database, the clients spread over
    them: the clients sharing a user write through both servers at once."""
    run = await run_server(tmp_path, Workload(seed=15, clients=6, ops=50), ledger=pg_url, servers=2)
    assert_sound(run, min_acked=180)
    assert run.verdict.checks_during >= 1


async def test_the_checker_finds_a_lost_an_invented_and_a_doubly_answered_op(tmp_path: Path) -> None:
    """The checker itself: journals edited to disagree with the ledger are caught."""
    path = tmp_path / "ledger.db"
    run = await run_tasks(path, Workload(seed=14, clients=3, ops=40, shared=1))
    assert_sound(run)
    events = run.events
    sent = {e["op"]["id"]: e["op"] for e in events if e["e"] == "sent"}
    acked = [e for e in events if e["e"] == "answer" and e["outcome"] == "acked" and sent[e["id"]]["key"] == e["id"]
             and not e["id"].startswith("setup")]  # a client's own ops: no probe, no key sent for another user
    cash = next(e for e in acked if sent[e["id"]]["kind"] == "deposit")
    order = next(e for e in acked if sent[e["id"]]["kind"] == "order")

    # an ack the ledger does not have: lost
    ghost = {**copy.deepcopy(sent[cash["id"]]), "id": "ghost", "key": "ghost"}
    lost = await judge(path, [*events, {"e": "sent", "op": ghost}, {**cash, "id": "ghost"}])
    assert len(lost.lost) == 1 and "ghost" in lost.lost[0], lost.report()

    # a ledger entry no journal sent: invented
    forgotten = [e for e in events if (e.get("id") or e["op"]["id"]) != order["id"]]
    invented = await judge(path, forgotten)
    assert invented.invented and all(order["id"] in text for text in invented.invented), invented.report()

    # one key answered with two different results: a duplicate
    twice = [*events, {**copy.deepcopy(order), "result": {**order["result"], "id": order["result"]["id"] + 10_000}}]
    doubled = await judge(path, twice)
    assert doubled.duplicates, doubled.report()

    # an op its client saw rejected, but in the ledger: invented
    rejected = [{**e, "outcome": "rejected", "code": "insufficient_funds"} if e is cash else e for e in events]
    left = await judge(path, rejected)
    assert left.invented, left.report()
