"""Keeping Python's cyclic garbage collector off the paths a person or a client waits on.

A full collection walks every object the process holds; orderproc holds many for good (the
price models, the assets, the terminal's pages), so one took 30-150 ms, landing on a random
request or key press. `freeze()` moves what exists now out of the collector's reach (Python's
documented recipe, `gc.freeze()` after start-up) and makes collections rarer; the objects made
later are still collected.
"""

from __future__ import annotations

import gc


def freeze(*, collect: bool = False) -> None:
    """Exempt every object alive now from collection (after a collection first, with `collect`:
    a pause, at a moment nobody waits) and raise the first generation's threshold."""
    if collect:
        gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)
