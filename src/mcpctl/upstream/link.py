"""What a channel asks of its transport, and the record of one request in flight.

A channel (`channel.Channel`) owns the JSON-RPC side: ids, answers, notifications, the
era. Under it, one `Link` per transport moves bytes: `stdio.StdioLink` over the pipe the
runtime driver holds, `sse.SseLink` (an event stream and a POST per message) and
`streamable.StreamableLink` (a POST per message, its answer in the POST's own response).
A link hands every message it reads to the channel's `Inbox`, bound to the request whose
response stream carried it where there is one, and says when it cannot go on (`lost`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from mcpctl.upstream.protocol import Era
from mcpctl.upstream.wire import Json, JsonObject

__all__ = ["Answer", "Call", "Inbox", "Link", "Notification", "NotificationCallback"]

#: An answer as it came: its bytes and their parsed form (the channel parsed it once).
Answer = tuple[bytes, JsonObject]


@dataclass(frozen=True, slots=True)
class Notification:
    """A notification from the server. `raw` is the message's bytes (for a request's own
    notifications, with the caller's progress token or listen id put back)."""

    method: str
    params: JsonObject | None
    raw: bytes


NotificationCallback = Callable[[Notification], None]


@dataclass(eq=False, slots=True)
class Call:
    """One request in flight, under the channel's own id."""

    id: int
    method: str
    future: asyncio.Future[Answer]
    #: The protocol version this request goes with (its HTTP header); None for `initialize`.
    version: str | None = None
    #: The target mirrored into `Mcp-Name` (modern HTTP): a tool's or prompt's name, a URI.
    name: str | None = None
    #: A modern `tools/call`'s `Mcp-Param-*` headers (`params`), for streamable HTTP.
    headers: dict[str, str] | None = None
    #: The caller's own id as JSON bytes (`forward`), put back into the answer.
    caller_id: bytes | None = None
    #: The caller's progress token, replaced upstream by this call's id (callers share a
    #: channel, and their tokens may collide) and put back into its progress notifications.
    caller_token: Json = None
    has_token: bool = False
    on_notification: NotificationCallback | None = None
    #: Whether abandoning it sends `notifications/cancelled` (never for the handshake).
    cancellable: bool = True


class Inbox(Protocol):
    """The channel, as its link sees it."""

    def receive(self, raw: bytes, bound: Call | None) -> None:
        """One message from the server (`bound`: the request whose response carried it)."""
        ...

    def lost(self, reason: str) -> None:
        """The link cannot go on (the instance exited, its session ended): fail what is in
        flight with `reason` and close."""
        ...


class Link(Protocol):
    transport: str

    async def start(self, inbox: Inbox) -> None:
        """Begin reading (and, for SSE, wait for the server's message endpoint)."""
        ...

    async def exchange(self, raw: bytes, call: Call) -> None:
        """Send a request. Over streamable HTTP this returns once its response is read (its
        answer handed to the inbox); over stdio and SSE once it is sent (the answer comes
        through the reader). Raises `ChannelClosed` if it cannot be sent."""
        ...

    async def send(self, raw: bytes) -> None:
        """Send a notification or an answer to a server's request (over HTTP, awaiting its
        POST: the handshake's `notifications/initialized` must arrive before what follows)."""
        ...

    def post(self, raw: bytes) -> None:
        """`send`, without waiting."""
        ...

    def abandon(self, call: Call, cancel: bytes) -> None:
        """The caller gave up on `call`: tell the server (`cancel` is the era's
        `notifications/cancelled`) where that is how the transport cancels."""
        ...

    def adopt(self, era: Era, version: str) -> None:
        """The handshake is over: every later message goes with `version` (and, over
        legacy streamable HTTP, the session; its stream of server messages opens)."""
        ...

    async def opened(self) -> None:
        """The handshake is complete: legacy streamable HTTP opens its GET stream, and
        returns once the server answered it (what the server sends before then, outside
        any request, is lost: its first `ping` would be)."""
        ...

    async def close(self) -> None:
        """Stop reading and writing; end an HTTP session. The stdio pipe stays the driver's."""
        ...
