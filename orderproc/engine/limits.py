"""Token buckets: `rate` tokens a second, up to `burst`; each request takes one.

The arithmetic alone (public, like `rules`), for the server's in-memory request limit (`server/gateway.py`) and the
login limits kept in the ledger (`usecases/auth.throttle`), which every server shares.
"""

from __future__ import annotations

Bucket = tuple[str, float, float]  # a bucket's key, its rate (tokens a second) and its burst


def take(tokens: float, last: float, now: float, rate: float, burst: float) -> tuple[float, float]:
    """A bucket that held `tokens` at `last`, asked for a token at `now`: what it holds after,
    and how many seconds to wait (0: the token was taken). A clock that went back (another
    server's) refills nothing."""
    tokens = min(burst, tokens + max(0.0, now - last) * rate)
    if tokens < 1.0:
        return tokens, (1.0 - tokens) / rate
    return tokens - 1.0, 0.0


def full_at(tokens: float, now: float, rate: float, burst: float) -> float:
    """When a bucket holding `tokens` at `now` is full again: from then on it can be forgotten."""
    return now + (burst - tokens) / rate
