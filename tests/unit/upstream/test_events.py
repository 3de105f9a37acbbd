"""Event streams are read as the HTML standard says, and an oversized event is refused."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from mcpctl.upstream.errors import ChannelError
from mcpctl.upstream.http import Event, read_events


def _read(body: bytes, limit: int = 1 << 20) -> list[Event]:
    async def go() -> list[Event]:
        response = httpx.Response(200, content=body)
        return [event async for event in read_events("s-0", response, limit)]

    return asyncio.run(go())


def test_events_fields_comments_and_line_endings() -> None:
    body = (
        b": a comment\r\n"
        b"id: 1\r\n"
        b"data:\r\n\r\n"  # a priming event: empty data, only an id
        b"event: endpoint\ndata: /messages/?session_id=abc\n\n"
        b'event: message\rdata: {"a":\rdata: 1}\r\r'
        b"retry: 2500\ndata: x\n\n"
        b"data: cut off before its blank line"
    )
    assert _read(body) == [
        Event("endpoint", "/messages/?session_id=abc", "1"),
        Event("message", '{"a":\n1}', "1"),
        Event("message", "x", "1", 2500),
    ]


def test_an_event_larger_than_the_limit_is_refused() -> None:
    with pytest.raises(ChannelError, match="larger than 100 bytes"):
        _read(b"data: " + b"x" * 200 + b"\n\n", limit=100)
