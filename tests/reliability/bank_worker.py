"""One client process of the bank workload (`bank.py`): its own LocalEngine on the shared ledger.

Run as `python bank_worker.py CONFIG.json`. The config names the ledger, the clients this process
runs (spec, tokens, journal file) and two files: `ready` (written once the engine is open) and
`go` (waited for, so that every process starts at once; already there when a killed worker is
restarted). A client's journal is a file: a worker started again after a SIGKILL reads it, re-sends
every op it had sent without seeing an answer (same key, same request) and goes on from there.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from bank import Client, ClientSpec, Journal

from orderproc.engine.service import LocalEngine


async def main(config: dict[str, Any]) -> None:
    engine = LocalEngine(config["db"], hash_profile="fast", synchronous=config["synchronous"])
    journals: list[Journal] = []
    try:
        clients = []
        for c in config["clients"]:
            journal = Journal(Path(c["journal"]))
            journals.append(journal)
            clients.append(Client(ClientSpec.from_json(c), engine, c["tokens"], journal,
                                  retry_in_doubt=config["retry_in_doubt"]))
        Path(config["ready"]).write_text("ready")
        deadline = time.monotonic() + 60
        while not Path(config["go"]).exists():
            if time.monotonic() > deadline:
                raise TimeoutError("never told to go")
            await asyncio.sleep(0.002)
        await asyncio.gather(*(c.run() for c in clients))
    finally:
        for journal in journals:
            journal.close()
        await engine.close()


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
