"""RemoteEngine's retries and reconnections wait a random time in a window that doubles ("full
jitter"): terminals that lost their server at the same moment (a restart) come back spread over
the window instead of all at once."""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections.abc import Iterator

import httpx
import pytest

from orderproc.engine import remote
from orderproc.engine.remote import RemoteEngine

CLIENTS = 100
QUOTE = {"symbol": "BTC", "price": "100", "change_24h": "0", "at": "2026-01-01T00:00:00Z"}


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(remote, "_jitter", random.Random(14))
    yield


def first_reconnections(clients: int) -> list[float]:
    """The wait before each client's first reconnection after the same drop."""
    return [remote._backoff(0, remote.RECONNECT_BACKOFF) for _ in range(clients)]


def test_a_hundred_clients_first_reconnections_spread_over_the_whole_window(seeded: None) -> None:
    delays = first_reconnections(CLIENTS)
    window = remote.RECONNECT_BACKOFF
    assert all(0 <= d <= window for d in delays)
    assert len(set(delays)) == CLIENTS  # no two in step
    assert min(delays) < 0.05 * window and max(delays) > 0.95 * window
    # about uniform: every tenth of the window gets some of them, none gets a crowd
    tenths = [sum(1 for d in delays if k * window / 10 <= d < (k + 1) * window / 10) for k in range(10)]
    assert min(tenths) >= 4 and max(tenths) <= 20, tenths
    assert 0.2 * window < statistics.pstdev(delays) < 0.4 * window  # uniform: window / sqrt(12) = 0.29


def test_the_spread_is_the_same_for_the_same_seed() -> None:
    remote._jitter.seed(7)
    first = first_reconnections(10)
    remote._jitter.seed(7)
    assert first_reconnections(10) == first


def test_the_window_doubles_with_each_failure_up_to_the_cap(seeded: None) -> None:
    for attempt in range(12):
        window = min(remote.BACKOFF_CAP, remote.RECONNECT_BACKOFF * 2**attempt)
        waits = [remote._backoff(attempt, remote.RECONNECT_BACKOFF) for _ in range(200)]
        assert max(waits) <= window and max(waits) > 0.9 * window
    assert remote._backoff(10_000) <= remote.BACKOFF_CAP  # no overflow, however many failures
    requests = [remote._backoff(0) for _ in range(200)]  # a request's retry: the same, from BACKOFF
    assert max(requests) <= remote.BACKOFF and len(set(requests)) == 200


async def test_a_dropped_stream_reconnects_after_its_jittered_wait_with_the_last_event_id(
    seeded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote, "RECONNECT_BACKOFF", 0.4)
    expected = random.Random(14).uniform(0, 0.4)  # what the seeded jitter draws first
    event = f"id: 41\nevent: quotes\ndata: {json.dumps([QUOTE])}\n\n".encode()
    seen: list[tuple[float, httpx.Request]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((time.monotonic(), request))
        return httpx.Response(200, content=event)  # one event, then the connection ends: a drop

    async with RemoteEngine("http://orderproc.test", transport=httpx.MockTransport(handler)) as eng:
        stream = eng.stream_quotes()
        await anext(stream)
        await asyncio.wait_for(anext(stream), 5)
        await stream.aclose()
    (first_at, first), (again_at, again) = seen[:2]
    assert "last-event-id" not in first.headers
    assert again.headers["last-event-id"] == "41"
    assert again_at - first_at >= expected - 0.01
