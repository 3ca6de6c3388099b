"""How the remote client (`remote.py`) puts values into requests (a path segment, query
parameters, an amount in a JSON body) and reads the server-sent events of a stream."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from decimal import Decimal
from urllib.parse import quote as _quote

from orderproc.engine import errors


def path_segment(value: object) -> str:
    """One URL path segment: everything quoted, and no '.' or '..' for the URL to resolve away."""
    text = _quote(str(value), safe="")
    return text.replace(".", "%2E") if text in (".", "..") else text


def query(**values: object) -> dict[str, str]:
    """Query parameters: None left out, booleans as true/false."""
    out: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def json_amount(amount: object) -> object:
    """A money amount as JSON: a Decimal (or int) as a plain decimal string, anything else as it is."""
    if isinstance(amount, Decimal):
        return format(amount, "f")
    if isinstance(amount, int) and not isinstance(amount, bool):
        return str(amount)  # the local engine takes an int too
    if amount is None or isinstance(amount, str | int | float):
        return amount  # the server judges it
    raise errors.InvalidAmount("amount must be a decimal", {"field": "amount"})  # not even JSON


async def sse_events(lines: AsyncIterator[str]) -> AsyncGenerator[tuple[str, str, str], None]:
    """(event name, data, id) of each server-sent event; the name is "" when the event gave none,
    the id the last one given (the stream's, as the SSE standard has it)."""
    event, data, event_id = "", list[str](), ""
    async for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data), event_id
            event, data = "", list[str]()
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
        elif field == "id" and value.isascii() and value.isprintable() and len(value) <= 100:
            event_id = value  # it goes back as a header: nothing a header could not carry
