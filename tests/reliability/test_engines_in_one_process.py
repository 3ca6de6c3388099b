"""Two LocalEngines on one ledger in one process, while other processes use the file too.

Found by the crash tests: `LocalEngine.__init__` calls `Database.create_file()`
(orderproc/engine/store/sqlite.py), which used to open the ledger file with `os.open` and close
that descriptor even when the file existed (now it only creates a missing file). Closing any descriptor of a file drops every POSIX lock
this process holds on it, including the SHARED lock that SQLite keeps on the database file for
the first engine's connections in WAL mode (https://www.sqlite.org/howtocorrupt.html, 2.2).
Another process that then closes its connection believes it is the file's last user: it
checkpoints and deletes the WAL and the shared-memory index, while the first engine goes on with
the old ones. From then on the two see different ledgers: one's acknowledged commits are lost
when the other checkpoints over them. (In the crash tests it showed as "database disk image is
malformed" in the test process.)
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from bank import PASSWORD

from orderproc.engine.service import LocalEngine

OTHER_PROCESS = """
import asyncio, sys
from orderproc.engine.service import LocalEngine

async def main() -> None:
    engine = LocalEngine(sys.argv[1], hash_profile="fast")
    try:
        token = (await engine.login("alice", sys.argv[2])).token
        if sys.argv[3] != "0":
            await engine.deposit(token, sys.argv[3], key="other-process")
        print((await engine.balance(token)).cash)
    finally:
        await engine.close()

asyncio.run(main())
"""


def other_process(path: Path, deposit: str) -> Decimal:
    """Another process opens the ledger, deposits `deposit` ("0": none) and closes it; the balance it saw."""
    done = subprocess.run([sys.executable, "-c", OTHER_PROCESS, str(path), PASSWORD, deposit],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return Decimal(done.stdout.strip())


async def test_opening_a_second_engine_in_a_process_loses_no_other_processs_acknowledged_deposit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.db"
    first = LocalEngine(path, hash_profile="fast")
    try:
        await first.register("alice", PASSWORD)
        token = (await first.login("alice", PASSWORD)).token
        await first.deposit(token, "100.00", key="first-1")
        second = LocalEngine(path, hash_profile="fast")  # e.g. an operator's admin_verify in the same process
        await second.close()
        assert other_process(path, "0") == Decimal("100.00")  # it reads, closes, and leaves
        await first.deposit(token, "50.00", key="first-2")
        seen_by_other = other_process(path, "7.00")  # acknowledged to the other process
        seen_by_first = (await first.balance(token)).cash
    finally:
        await first.close()

    after = LocalEngine(path, hash_profile="fast")
    try:
        report = await after.admin_verify(after.operator_token)
        balance = (await after.balance((await after.login("alice", PASSWORD)).token)).cash
    finally:
        await after.close()
    assert report.ok, report.problems
    seen = {"by the other process": seen_by_other, "by the first engine": seen_by_first, "at the end": balance,
            "entries at the end": Decimal(report.entries)}
    expected = {"by the other process": Decimal("157.00"), "by the first engine": Decimal("157.00"),
                "at the end": Decimal("157.00"), "entries at the end": Decimal(3)}
    assert seen == expected, "alice's balance: the processes saw different ledgers and a deposit was lost"
