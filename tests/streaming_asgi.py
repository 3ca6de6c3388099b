"""An httpx transport into an ASGI app that hands the response body over as the app sends it.

httpx's own `ASGITransport` returns a response only once the app has sent all of it, so an
endless event stream (`/v1/stream/account`) would never return; this one returns at the start
of the response and tells the app the client went away when the response is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

import httpx
from starlette.types import ASGIApp, Message


class StreamingASGITransport(httpx.AsyncBaseTransport):
    def __init__(self, app: ASGIApp, client: tuple[str, int] = ("127.0.0.1", 123)) -> None:
        self.app = app
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": request.method,
            "headers": [(k.lower(), v) for (k, v) in request.headers.raw], "scheme": request.url.scheme,
            "path": request.url.path, "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query, "server": (request.url.host, request.url.port),
            "client": self.client, "root_path": "",
        }
        started = asyncio.Event()
        gone = asyncio.Event()
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        head: dict[str, Any] = {}
        sent_request = False

        async def receive() -> Message:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                head.update(status=message["status"], headers=message.get("headers", []))
                started.set()
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    chunks.put_nowait(message["body"])
                if not message.get("more_body", False):
                    chunks.put_nowait(None)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            finally:
                chunks.put_nowait(None)
                started.set()

        task = asyncio.create_task(run())
        await started.wait()
        if not head:
            await task  # the app failed before it answered: its error
            raise AssertionError("the app sent no response")

        class Body(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                while (chunk := await chunks.get()) is not None:
                    yield chunk

            async def aclose(self) -> None:
                gone.set()
                with suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(task), 2)
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

        return httpx.Response(head["status"], headers=head["headers"], stream=Body())
