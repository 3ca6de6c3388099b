"""The token buckets' arithmetic (orderproc/engine/limits.py), the one the request limit and the
shared login limits both use."""

from __future__ import annotations

import pytest

from orderproc.engine import limits


def test_a_full_bucket_gives_its_burst_then_one_token_per_refill() -> None:
    tokens, now = 3.0, 100.0
    for _ in range(3):
        tokens, wait = limits.take(tokens, now, now, rate=0.5, burst=3)
        assert wait == 0
    tokens, wait = limits.take(tokens, now, now, rate=0.5, burst=3)
    assert wait == pytest.approx(2.0)  # one token at 0.5 a second
    tokens, wait = limits.take(tokens, now, now + 2.0, rate=0.5, burst=3)
    assert wait == 0 and tokens == pytest.approx(0.0)


def test_an_idle_bucket_fills_up_to_its_burst_and_no_further() -> None:
    tokens, wait = limits.take(0.0, 0.0, 3600.0, rate=1.0, burst=5)
    assert wait == 0 and tokens == pytest.approx(4.0)
    assert limits.full_at(tokens, 3600.0, rate=1.0, burst=5) == pytest.approx(3601.0)


def test_a_clock_that_went_back_refills_nothing() -> None:
    """Another server's clock, a little behind: the bucket must not drain below empty either."""
    tokens, wait = limits.take(0.5, 100.0, 99.0, rate=1.0, burst=5)
    assert tokens == pytest.approx(0.5) and wait == pytest.approx(0.5)
