"""A raw JSON-RPC client of MCP's streamable HTTP, and a load driver, for `benchmarks/proxy.py`.

The proxy benchmark measures servers, so its client must cost little and hide nothing:
no SDK session machinery, one `httpx.AsyncClient` (one connection) per virtual client,
requests built as bytes, answers parsed with orjson. It speaks both protocol eras
(docs/architecture.md, "The MCP channel (`upstream`)"; the words are `mcpctl.upstream.
protocol`'s):

- legacy (2025-11-25): `initialize`, then `notifications/initialized`; the
  `Mcp-Session-Id` the server answered and `MCP-Protocol-Version` on every later POST;
- modern (2026-07-28): no handshake and no session; each request carries the protocol
  version, the client's info and capabilities in its `_meta`, mirrored by the
  `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers.

An answer may come as `application/json` or as `text/event-stream` (the answer is the
event whose id is the request's; notifications before it are skipped). Anything but a
JSON-RPC success raises `EndpointError`, naming the endpoint, the method and what came
back (the status and the start of the body: never the request's headers, which hold
the caller's token).

`Counts` reads, by method, what the echo servers a path started received (their counts
files: `tests/support/servers/echoserver.py --counts DIR`), at the upstream itself.
`drive` runs a round of calls over N virtual clients, bounded by a count and by a time,
and keeps each call's latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from mcpctl.upstream.protocol import (
    CLIENT_CAPABILITIES_KEY,
    CLIENT_INFO_KEY,
    LATEST_HANDSHAKE_VERSION,
    LATEST_MODERN_VERSION,
    METHOD_HEADER,
    NAME_BEARING_METHODS,
    NAME_HEADER,
    PROTOCOL_VERSION_HEADER,
    PROTOCOL_VERSION_KEY,
    SESSION_HEADER,
    Era,
)

__all__ = ["Counts", "EndpointError", "McpHttpClient", "Round", "Tally", "drive"]

#: A hang guard: an echo server that has not written its counts after this long is hung.
COUNTS_TIMEOUT = 120.0

#: A hang guard, not a budget: a request unanswered this long is hung, not slow.
REQUEST_TIMEOUT = 120.0
#: How much of an unexpected body an error quotes.
EXCERPT = 300
CLIENT_INFO = {"name": "mcpctl-bench", "version": "1"}

JsonObject = dict[str, Any]


class EndpointError(Exception):
    """An MCP endpoint answered something other than a JSON-RPC success."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def excerpt(body: bytes) -> str:
    text = body[:EXCERPT].decode("utf-8", "replace").replace("\n", " ")
    return text + ("..." if len(body) > EXCERPT else "")


def answer_in_events(body: bytes, request_id: int) -> JsonObject | None:
    """The JSON-RPC message of an SSE body whose id is `request_id` (None if none is)."""
    for event in body.replace(b"\r\n", b"\n").split(b"\n\n"):
        data = b"\n".join(
            line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:")
        )
        if not data:
            continue
        message = orjson.loads(data)
        if isinstance(message, dict) and message.get("id") == request_id:
            return message
    return None


@dataclass
class McpHttpClient:
    """One virtual client of a streamable HTTP endpoint: its connection, its session."""

    url: str
    era: Era
    #: sent on every request (an `Authorization` header, say): never shown
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    session: str | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)
    _http: httpx.AsyncClient = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._http = httpx.AsyncClient(
            timeout=REQUEST_TIMEOUT, limits=httpx.Limits(max_connections=1)
        )

    @property
    def version(self) -> str:
        return LATEST_MODERN_VERSION if self.era == "modern" else LATEST_HANDSHAKE_VERSION

    async def open(self) -> JsonObject | None:
        """Legacy: the handshake (its `initialize` result); modern: nothing to do."""
        if self.era == "modern":
            return None
        result = await self.request(
            "initialize",
            {"protocolVersion": self.version, "capabilities": {}, "clientInfo": CLIENT_INFO},
        )
        await self.notify("notifications/initialized")
        return result

    async def request(self, method: str, params: JsonObject | None = None) -> JsonObject:
        """Send one request; its result."""
        request_id = next(self._ids)
        params = dict(params or {})
        if self.era == "modern":
            params["_meta"] = {
                **params.get("_meta", {}),
                PROTOCOL_VERSION_KEY: self.version,
                CLIENT_INFO_KEY: CLIENT_INFO,
                CLIENT_CAPABILITIES_KEY: {},
            }
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        response = await self._post(method, params, orjson.dumps(body))
        if response.status_code == 202:
            raise EndpointError(f"{self.url} answered {method} with 202 and no answer", 202)
        if method == "initialize":
            self.session = response.headers.get(SESSION_HEADER)
        kind = response.headers.get("content-type", "")
        message = (
            answer_in_events(response.content, request_id)
            if kind.startswith("text/event-stream")
            else orjson.loads(response.content)
        )
        if not isinstance(message, dict) or message.get("id") != request_id:
            raise EndpointError(
                f"{self.url} answered {method} without its answer ({kind or 'no content type'}): "
                f"{excerpt(response.content)}",
                response.status_code,
            )
        if "error" in message:
            error = message["error"]
            raise EndpointError(
                f"{self.url} answered {method} with error {error.get('code')}: "
                f"{error.get('message')}",
                response.status_code,
            )
        result: JsonObject = message["result"]
        return result

    async def notify(self, method: str) -> None:
        body = orjson.dumps({"jsonrpc": "2.0", "method": method})
        await self._post(method, None, body)

    async def call_tool(self, name: str, arguments: JsonObject) -> JsonObject:
        result = await self.request("tools/call", {"name": name, "arguments": arguments})
        if result.get("isError"):
            raise EndpointError(f"{self.url}: tool {name} failed: {result.get('content')}")
        return result

    async def _post(self, method: str, params: JsonObject | None, body: bytes) -> httpx.Response:
        headers = {
            **self.headers,
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
        }
        if self.era == "modern":
            headers[PROTOCOL_VERSION_HEADER] = self.version
            headers[METHOD_HEADER] = method
            key = NAME_BEARING_METHODS.get(method)
            if key is not None and params is not None and key in params:
                headers[NAME_HEADER] = str(params[key])
        elif method != "initialize":
            headers[PROTOCOL_VERSION_HEADER] = self.version
            if self.session is not None:
                headers[SESSION_HEADER] = self.session
        try:
            response = await self._http.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as e:
            raise EndpointError(
                f"POST {self.url} ({method}) failed: {type(e).__name__}: {e}"
            ) from None
        if response.status_code >= 300:
            raise EndpointError(
                f"{self.url} answered {method} with HTTP {response.status_code}: "
                f"{excerpt(response.content)}",
                response.status_code,
            )
        return response

    async def close(self) -> None:
        """Close the connection (a legacy session stays open at the server: idle)."""
        await self._http.aclose()


@dataclass
class Tally:
    """Messages an upstream received, by method."""

    requests: Counter[str] = field(default_factory=Counter)
    notifications: Counter[str] = field(default_factory=Counter)

    def __sub__(self, other: Tally) -> Tally:
        return Tally(self.requests - other.requests, self.notifications - other.notifications)

    @property
    def total(self) -> int:
        return sum(self.requests.values()) + sum(self.notifications.values())

    def shown(self, calls: int) -> str:
        parts = [f"{m} {n / calls:.3g}" for m, n in self.requests.most_common()]
        parts += [f"{m} {n / calls:.3g}" for m, n in self.notifications.most_common()]
        return ", ".join(parts) or "none"


@dataclass(frozen=True)
class Counts:
    """The counts files of the echo servers a path started (`echoserver.py --counts DIR`)."""

    directory: Path

    def read(self) -> Tally:
        """Every upstream's counts now: each live one is asked (SIGUSR1) and waited for;
        one that ended wrote its last counts as it did."""
        tally = Tally()
        for path in sorted(self.directory.glob("*.json")):
            pid = int(path.stem)
            body = orjson.loads(path.read_bytes())
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGUSR1)
                deadline = time.monotonic() + COUNTS_TIMEOUT
                while alive(pid):
                    latest = orjson.loads(path.read_bytes())
                    if latest["dumps"] > body["dumps"]:
                        body = latest
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"echo server {pid} did not write its counts")
                    time.sleep(0.01)
                else:
                    body = orjson.loads(path.read_bytes())
            tally.requests.update(body["requests"])
            tally.notifications.update(body["notifications"])
        return tally

    def upstreams(self) -> int:
        return len(list(self.directory.glob("*.json")))


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@dataclass(frozen=True)
class Round:
    """What one round of calls gave: each call's latency, the wall time, this process's CPU."""

    latencies: list[float]
    wall: float
    cpu: float

    @property
    def calls(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.calls / self.wall

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p95(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def load_share(self) -> float:
        """The load generator's CPU over the round, as a share of its one core."""
        return self.cpu / self.wall


async def drive(
    call: Callable[[int, int], Awaitable[object]], clients: int, calls: int, seconds: float
) -> Round:
    """`call(client, n)` for n in 0..calls-1, shared by `clients` concurrent callers, each
    one call after the other; no call starts after `seconds` (the round's time bound)."""
    latencies: list[float] = []
    numbers = iter(range(calls))
    clock = time.perf_counter
    cpu, began = time.process_time(), clock()
    deadline = began + seconds

    async def caller(client: int) -> None:
        for n in numbers:
            start = clock()
            if start > deadline:
                return
            await call(client, n)
            latencies.append(clock() - start)

    await asyncio.gather(*(caller(c) for c in range(clients)))
    return Round(latencies, clock() - began, time.process_time() - cpu)
