"""The bank workload (`bank.py`) under a nemesis that SIGKILLs the process holding the ledger.

Durability setting: `synchronous=NORMAL` in WAL mode (the default; `ORDERPROC_SYNCHRONOUS`). A
commit is in the WAL file, in the operating system's cache, before the engine acknowledges it: it
survives the death of any process (what these tests do), but the last commits may be lost on a
power cut or a kernel crash (only `FULL` survives those; not simulated here). So a SIGKILL must
lose no acknowledged op.

- `run_server_crash`: clients, each with its own RemoteEngine, on `orderproc serve`; K times, at a
  random moment (a random number of answers after the last restart, the kills spread over the
  run, then a random pause of a few ms), the server's process group is SIGKILLed. While it is
  down, the checker of `admin_verify` runs on the ledger; then the server starts again on the
  same ledger and port. A client treats a transport error or `engine_unavailable` as *in doubt*
  and sends the same op with the same key again until it gets an answer (RemoteEngine itself
  retries a few times within 0.35 s; the client goes on across the restart). With several
  servers on one ledger (a PostgreSQL database, or one file), a random one is killed each time
  while the others go on writing, and its clients fail over to the next server: the op in
  doubt is sent again there, as through a load balancer.
- `run_process_crash`: worker processes (`bank_worker.py`), each with its own LocalEngine on the
  file; K times a random worker is SIGKILLed at a random moment (after a random number of bytes
  written to the journals, the kills spread over the run, then within 50 ms the moment one of its
  clients has an op in flight: often in the middle of a commit, now and then in the middle of
  its restart), the checker runs while it is down (the other workers go
  on writing), and it is started again: it reads its journal, sends again every op it had sent
  without an answer (same key, same request), then goes on.

Either way the checker (`bank.judge`) then holds the ledger to every journal: every op a client
saw acknowledged is there exactly once, nothing else is, and no key has two effects.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from bank import (
    Ledger,
    Progress,
    Run,
    Snapshots,
    Verdict,
    Worker,
    Workload,
    close_clients,
    collect,
    judge,
    prepare,
    remote_clients,
    serving,
    serving_name,
    start_together,
    verify_read_only,
    wait_all,
    worker_configs,
)

JOURNAL_BYTES_PER_OP = 550  # about: a client's journal grows by this much per op


def _gap(rng: random.Random, span: float, kills: int) -> int:
    """How far (answers, or journal bytes) to let the workload go before the next kill: random,
    and on average such that the kills spread over most of a run whose length is `span`."""
    mean = max(4, int(0.7 * span / (kills + 1)))
    return rng.randint(2, 2 * mean)


def _written(workers: list[Worker]) -> int:
    return sum(w.journal_size() for w in workers)


async def _check_while_down(ledger: Ledger, verdict: Verdict, when: str) -> None:
    problems = await asyncio.to_thread(verify_read_only, ledger)
    if problems:
        verdict.invariant.extend(f"{when}: {p}" for p in problems)
    else:
        verdict.checks_after += 1


async def run_server_crash(folder: Path, workload: Workload, kills: int, *, ledger: Ledger | None = None,
                           servers: int = 1, seed: int | None = None) -> Run:
    """The workload on `servers` processes of `orderproc serve` on one ledger (a file in
    `folder`, or the one given: a postgresql:// URL); `kills` times one of them, at random, is
    SIGKILLed and restarted. With several, the others go on serving (and the clients of the
    killed one fail over to them)."""
    folder.mkdir(parents=True, exist_ok=True)
    ledger, started_servers = serving(folder, ledger, workload, servers)
    tokens, events = await prepare(ledger, workload)
    rng = random.Random(f"{workload.seed if seed is None else seed}:server-nemesis")
    progress = Progress()
    verdict = Verdict()
    clients = []
    tasks: list[asyncio.Task[None]] = []
    try:
        for server in started_servers:
            await server.start()
        started = time.monotonic()
        clients = await remote_clients([s.url for s in started_servers], workload, tokens, retry_in_doubt=True,
                                       progress=progress)
        with Snapshots(ledger) as snapshots:
            tasks = [asyncio.create_task(c.run()) for c in clients]
            threshold = 0
            while verdict.crashes < kills:
                threshold += _gap(rng, workload.clients * workload.ops, kills)  # kill points fixed in answers
                while progress.answered < threshold and not all(t.done() for t in tasks):
                    await asyncio.sleep(0.001)
                if all(t.done() for t in tasks):
                    break
                await asyncio.sleep(rng.uniform(0, 0.005))
                victim = rng.choice(started_servers)
                victim.kill()
                verdict.crashes += 1
                await _check_while_down(ledger, verdict, f"after kill {verdict.crashes} ({victim.name})")
                await victim.start()
            await asyncio.gather(*tasks)
        seconds = time.monotonic() - started
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close_clients(clients)
        for server in started_servers:
            await server.stop()
    for c in clients:
        events.extend(c.journal.events)
        verdict.failovers += c.engine.switches
    snapshots.into(verdict)
    name = f"{serving_name(ledger, started_servers)}, SIGKILLed {verdict.crashes}x"
    return Run(name, await judge(ledger, events, verdict), seconds, events)


async def _in_flight(worker: Worker, patience: float = 0.05) -> None:
    """Wait (briefly) until one of the worker's clients has sent an op it has no answer to: the
    moment a kill leaves an op in doubt, which a run of a few kills could otherwise miss."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline and worker.running:
        for journal in worker.journals:
            try:
                with journal.open("rb") as tail:
                    tail.seek(max(0, journal.stat().st_size - 2048))
                    lines = tail.read().splitlines()
            except OSError:
                continue
            if lines and b'"e": "sent"' in lines[-1]:
                return
        await asyncio.sleep(0)


async def run_process_crash(
    folder: Path, workload: Workload, kills: int, *, processes: int = 3, seed: int | None = None,
    timeout: float = 300.0,
) -> Run:
    """The workload in worker processes on one file; a random worker is SIGKILLed `kills` times and restarted."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ledger.db"
    tokens, events = await prepare(path, workload)
    rng = random.Random(f"{workload.seed if seed is None else seed}:process-nemesis")
    configs = worker_configs(folder, path, workload, processes, tokens)
    workers = [Worker(folder, i, c) for i, c in enumerate(configs)]
    verdict = Verdict()
    started = time.monotonic()
    try:
        with Snapshots(path) as snapshots:
            await start_together(workers)
            span = workload.clients * workload.ops * JOURNAL_BYTES_PER_OP
            threshold = 0
            while verdict.crashes < kills:
                threshold += _gap(rng, span, kills)  # the kill points are fixed in bytes written
                while _written(workers) < threshold and any(w.running for w in workers):
                    await asyncio.sleep(0.001)
                alive = [w for w in workers if w.running]
                if not alive:
                    break
                victim = rng.choice(alive)
                await _in_flight(victim)
                victim.kill()
                verdict.crashes += 1
                await _check_while_down(path, verdict, f"after kill {verdict.crashes} (worker {victim.index})")
                victim.start()
            await wait_all(workers, timeout)
    finally:
        for w in workers:
            w.reap()
    seconds = time.monotonic() - started
    snapshots.into(verdict)
    verdict.unexpected.extend(f for f in (w.failure() for w in workers) if f)
    events.extend(collect(workers))
    name = f"{processes} processes, SIGKILLed {verdict.crashes}x"
    return Run(name, await judge(path, events, verdict), seconds, events)
