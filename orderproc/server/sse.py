"""The server-sent events format both streams share (`/v1/stream/quotes`, `/v1/stream/account`).

Each event has an `id:` (but the `error` event that ends the account stream); the first also says `retry:` (how long a browser's EventSource waits
before reconnecting); a `: keepalive` comment goes out when nothing was sent for
KEEPALIVE_SECONDS, so that proxies keep an idle connection. A client reconnecting with
`Last-Event-ID` gets a stream that carries on from it: the quote stream's ids go on counting,
the account stream's first event says what moved since the marks that id names.
"""

from __future__ import annotations

from fastapi import Request

RETRY_MS = 3000
KEEPALIVE_SECONDS = 15.0
KEEPALIVE = b": keepalive\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering either
MEDIA_TYPE = "text/event-stream"


def frame(event: str, data: bytes | str, event_id: str | int | None, *, first: bool = False) -> bytes:
    """One event (its data on one line: JSON never holds a raw newline); `first` adds `retry:`."""
    if isinstance(data, str):
        data = data.encode()
    head = b"retry: %d\n" % RETRY_MS if first else b""
    if event_id is not None:
        head += b"id: %s\n" % str(event_id).encode()
    return head + b"event: %s\ndata: %s\n\n" % (event.encode(), data)


def last_event_id(request: Request) -> str | None:
    """The `Last-Event-ID` a reconnecting client sent, if it is a sane one."""
    value = request.headers.get("last-event-id")
    return value if value is not None and 0 < len(value) <= 100 and value.isascii() else None
