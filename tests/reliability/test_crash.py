"""The bank workload while a nemesis SIGKILLs the process that holds the ledger (crash.py).

Durability setting: ORDERPROC_SYNCHRONOUS is left at its default, NORMAL, in WAL mode: a commit is
acknowledged once it is in the WAL in the operating system's cache, so it survives the kill of
any process, but the last commits may be lost on a power cut (FULL survives that too; not
simulated). A SIGKILL must therefore lose no acknowledged op: after each kill, while the process
is down, the checker of `admin_verify` passes on the file, and at the end every op a client saw
acknowledged is in the ledger exactly once, nothing was invented, and no key has two effects.
"""

from __future__ import annotations

from pathlib import Path

from bank import Workload, assert_sound
from crash import run_process_crash, run_server_crash

KILLS = 3


async def test_a_server_killed_three_times_under_load_loses_no_acknowledged_op(tmp_path: Path) -> None:
    """Clients on `orderproc serve`; the server's process group is SIGKILLed at random moments
    and restarted on the same ledger and port; clients send every op left in doubt again, with
    the same key, until it is answered."""
    run = await run_server_crash(tmp_path, Workload(seed=21, clients=6, ops=60), KILLS)
    assert run.verdict.crashes == KILLS, run.verdict.report()
    assert_sound(run, min_acked=200)
    assert run.verdict.checks_after == KILLS + 1, run.verdict.report()
    assert run.verdict.in_doubt >= 1, f"no op was in flight at any kill\n{run.verdict.report()}"
    assert run.verdict.unresolved == 0, run.verdict.report()


async def test_servers_on_postgresql_killed_three_times_under_load_lose_no_acknowledged_op(
    tmp_path: Path, pg_url: str,
) -> None:
    """Two servers on one PostgreSQL database; one of them, at random, is SIGKILLed at random
    moments (its transaction, if any, dies with its connection) while the other goes on
    writing; its clients fail over to the other server and send what was in doubt again there,
    with the same key; the killed one is restarted."""
    run = await run_server_crash(tmp_path, Workload(seed=23, clients=6, ops=150), KILLS, ledger=pg_url,
                                 servers=2)
    assert run.verdict.crashes == KILLS, run.verdict.report()
    assert run.verdict.failovers >= 1, run.verdict.report()
    assert_sound(run, min_acked=200)
    assert run.verdict.checks_after == KILLS + 1, run.verdict.report()
    assert run.verdict.in_doubt >= 1, f"no op was in flight at any kill\n{run.verdict.report()}"
    assert run.verdict.unresolved == 0, run.verdict.report()


async def test_worker_processes_killed_three_times_mid_commit_lose_no_acknowledged_op(tmp_path: Path) -> None:
    """Worker processes on one ledger file; a random one is SIGKILLed at a random moment (often
    inside a commit) and restarted; it sends the op it had in flight again with the same key."""
    run = await run_process_crash(tmp_path, Workload(seed=22, clients=3, ops=120), KILLS, processes=3)
    assert run.verdict.crashes == KILLS, run.verdict.report()
    assert_sound(run, min_acked=200)
    assert run.verdict.checks_after == KILLS + 1, run.verdict.report()
    assert run.verdict.in_doubt >= 1, f"no op was in flight at any kill\n{run.verdict.report()}"
    assert run.verdict.unresolved == 0, run.verdict.report()
