"""What the MCP channel's tests share: waiting for a condition, reading a tool's text."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from mcpctl.runtime.base import Secret
from mcpctl.upstream import (
    Channel,
    ChannelSettings,
    Json,
    JsonObject,
    NotificationCallback,
    ServerRequestHandler,
)

#: A hang guard for a condition polled in a test, not a time budget.
WAIT = 120.0


class OpenChannel(Protocol):
    """The `testserver` and `everything` fixtures: `async with testserver("stdio") as channel`
    opens a channel to that server over that transport, closed at the end of the block."""

    def __call__(
        self,
        transport: str,
        settings: ChannelSettings | None = None,
        *,
        handlers: Mapping[str, ServerRequestHandler] | None = None,
        headers: Mapping[str, str | Secret] | None = None,
        subscribers: tuple[NotificationCallback, ...] = (),
        instance: str = "server-0",
    ) -> AbstractAsyncContextManager[Channel]: ...


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait until `condition` holds; fail naming `what` after the hang guard."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"hung waiting for {what}"
        await asyncio.sleep(0.01)


def text_of(result: JsonObject) -> str:
    """The text of a tool result's first content item."""
    content = result["content"]
    assert isinstance(content, list)
    first = content[0]
    assert isinstance(first, dict)
    text = first["text"]
    assert isinstance(text, str)
    return text


async def call_tool(channel: Channel, tool: str, /, **arguments: Json) -> str:
    """Call a tool through `request` and give its text."""
    return text_of(
        await channel.request("tools/call", {"name": tool, "arguments": dict(arguments)})
    )
