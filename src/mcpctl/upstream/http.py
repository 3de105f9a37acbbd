"""What both HTTP transports share: the httpx client, the endpoint's headers, event streams.

The channel's is the only httpx client that talks to MCP servers (the import-linter
contract lets `upstream` use httpx beside `client`). It never follows redirects, reads no
proxy settings from the environment (an instance on 127.0.0.1 is reached directly), and
sends the upstream's own `Host` (the URL's: the SDK's servers answer 421 to any other).

The endpoint's header values may be secrets (`runtime.base.Secret`): they are revealed
only into the headers of each request, and checked once when the link is made, so that a
bad value is refused naming its header, never showing the value.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from mcpctl.errors import InvalidInput
from mcpctl.runtime.base import Endpoint, Secret
from mcpctl.upstream.errors import ChannelError
from mcpctl.upstream.settings import ChannelSettings

__all__ = [
    "OWNED_HEADERS",
    "EndpointHeaders",
    "Event",
    "HttpLink",
    "describe_http_error",
    "make_client",
    "read_events",
    "safe_url",
]

#: Headers the channel sets itself: an endpoint may not set them.
OWNED_HEADERS = frozenset(
    {
        "host",
        "accept",
        "content-type",
        "content-length",
        "connection",
        "transfer-encoding",
        "last-event-id",
        "mcp-session-id",
        "mcp-protocol-version",
        "mcp-method",
        "mcp-name",
    }
)
#: What h11 sends as a header value: tabs and printable ASCII (its errors would show the value).
_PRINTABLE = re.compile(r"[\t\x20-\x7e]*")
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")


def safe_url(url: str) -> str:
    """The URL without credentials or query (either may hold a secret): for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class EndpointHeaders:
    """An endpoint's headers, checked once; `reveal()` gives them for one request."""

    def __init__(self, instance: str, endpoint: Endpoint) -> None:
        parts = urlsplit(endpoint.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(
                f"instance {instance}: endpoint URL {safe_url(endpoint.url)!r} is not http(s)://host/..."
            )
        for name, value in endpoint.headers.items():
            lowered = name.lower()
            if not lowered or not set(lowered) <= _TOKEN_CHARS:
                raise InvalidInput(
                    f"instance {instance}: endpoint header name {name!r} is not a valid header name"
                )
            if lowered in OWNED_HEADERS:
                raise InvalidInput(
                    f"instance {instance}: endpoint header {name!r} is the MCP channel's to set"
                )
            text = value.reveal() if isinstance(value, Secret) else value
            if not isinstance(text, str) or not _PRINTABLE.fullmatch(text):
                raise InvalidInput(
                    f"instance {instance}: endpoint header {name!r} is not printable ASCII"
                )
        self._headers: Mapping[str, str | Secret] = dict(endpoint.headers)

    def reveal(self) -> dict[str, str]:
        return {k: v.reveal() if isinstance(v, Secret) else v for k, v in self._headers.items()}

    def __repr__(self) -> str:
        return f"EndpointHeaders({sorted(self._headers)})"


def make_client(settings: ChannelSettings) -> httpx.AsyncClient:
    """One connection pool per channel, as wide as the requests it lets in flight."""
    connections = settings.max_in_flight + 4
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            connect=settings.connect_timeout, read=None, write=settings.connect_timeout, pool=None
        ),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        follow_redirects=False,
        trust_env=False,
    )


def describe_http_error(e: httpx.HTTPError) -> str:
    """What went wrong, in words that hold no header value (the server's own words for
    network and protocol failures; only the type for errors in what we would send)."""
    if isinstance(
        e, httpx.NetworkError | httpx.TimeoutException | httpx.RemoteProtocolError
    ) and str(e):
        return f"{type(e).__name__}: {e}"
    return type(e).__name__


class HttpLink:
    """What both HTTP links hold: the endpoint (its URL, shown without credentials, and
    its checked headers), the settings, one client, and the background tasks (posts
    sent without waiting, event streams) that `close` cancels."""

    def __init__(self, instance: str, endpoint: Endpoint, settings: ChannelSettings) -> None:
        self.instance = instance
        self.url = endpoint.url
        self.where = safe_url(endpoint.url)
        self._headers = EndpointHeaders(instance, endpoint)
        self._settings = settings
        self._client = make_client(settings)
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


@dataclass(frozen=True, slots=True)
class Event:
    """One server-sent event (only the fields MCP uses)."""

    event: str
    data: str
    id: str | None = None
    retry: int | None = None


async def read_events(
    instance: str, response: httpx.Response, max_bytes: int
) -> AsyncIterator[Event]:
    """The events of a `text/event-stream` body, as the HTML standard's parser reads them.

    An event larger than `max_bytes` ends the stream with a `ChannelError` rather than
    filling memory."""
    kind = ""
    data: list[str] = []
    size = 0
    last_id: str | None = None
    retry: int | None = None
    async for line in response.aiter_lines():
        if not line:
            joined = "\n".join(data)
            if joined:  # an event with empty data (a priming event, say) is not dispatched
                yield Event(kind or "message", joined, last_id, retry)
            kind, data, size, retry = "", [], 0, None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            size += len(value) + 1
            if size > max_bytes:
                raise ChannelError(instance, f"sent an event larger than {max_bytes} bytes")
            data.append(value)
        elif name == "event":
            kind = value
        elif name == "id" and "\0" not in value:
            last_id = value
        elif name == "retry" and value.isdigit():
            retry = int(value)
    # An event the stream cut off before its blank line is not dispatched (the standard's rule).
