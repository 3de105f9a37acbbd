"""`mcplocal`: a project's MCP endpoint on a user's machine, over STDIO, for clients that
start their servers as commands (Claude Code's and Claude Desktop's `.mcp.json`).

    mcplocal PROJECT [--server URL] [--context NAME]

It reads the client's JSON-RPC messages from stdin, one per line, and posts each to
`<server>/mcp/<project>` with an McpToken, whose answers (a JSON body, or an event
stream's events) it writes to stdout, one per line. It holds no upstream credential:
the token comes from `MCPCTL_TOKEN` or the CLI's context (`~/.mcpctl/config`), never
from the client's configuration, and the server's URL from `MCPCTL_SERVER` or the same
context.

The client speaks either era; mcplocal carries what each needs: the session of the
handshake era (`Mcp-Session-Id`, the protocol version header, the GET stream of the
server's messages, opened once the session is), and the 2026-07-28 era's headers,
mirrored from each request's `_meta` (`MCP-Protocol-Version`, `Mcp-Method`,
`Mcp-Name`).

mcpd restarting, failing over or unreachable for a while does not break the client's
pipe: a request that cannot reach mcpd is tried again for `--retry-for` seconds (then
answered with a JSON-RPC error naming why), and a session mcpd no longer knows (404)
is opened again by replaying the client's own `initialize`, then the request goes
again. Requests are handled concurrently; what goes to stdout is written whole, one
message per line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from mcpctl.client.contexts import load_config
from mcpctl.upstream.protocol import (
    HANDSHAKE_VERSIONS,
    METHOD_HEADER,
    NAME_BEARING_METHODS,
    NAME_HEADER,
    PROTOCOL_VERSION_HEADER,
    PROTOCOL_VERSION_KEY,
    SESSION_HEADER,
    encode_header_value,
)
from mcpctl.upstream.wire import encode_error

log = logging.getLogger("mcplocal")

__all__ = ["LocalProxy", "main"]

#: What mcplocal answers a request it could not deliver.
UNREACHABLE = -32000
#: Seconds a request keeps trying to reach mcpd (mcpd restarting, a failover).
RETRY_FOR = 60.0


class _Gone(Exception):
    """mcpd does not know the session (404): open it again."""


@dataclass
class LocalProxy:
    """One client's link to one project's endpoint (see the module's docstring)."""

    url: str
    token: str
    retry_for: float = RETRY_FOR
    out: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    _http: httpx.AsyncClient | None = None
    _session: str | None = None
    _version: str | None = None
    #: the client's `initialize`, replayed when mcpd forgot the session
    _initialize: dict[str, Any] | None = None
    _reopening: asyncio.Lock = field(default_factory=asyncio.Lock)
    _stream: asyncio.Task[None] | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(30.0, read=None), trust_env=False, follow_redirects=False
            )
        return self._http

    async def aclose(self) -> None:
        for task in [*self._tasks, *([self._stream] if self._stream else [])]:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            with contextlib.suppress(httpx.HTTPError):
                await self.http.delete(self.url, headers=self._headers(None), timeout=5.0)
        if self._http is not None:
            await self._http.aclose()

    # ---- from the client --------------------------------------------------------------

    def take(self, line: bytes) -> None:
        """One line from the client: handled in a task of its own."""
        if not line.strip():
            return
        task = asyncio.create_task(self._handle(line))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, line: bytes) -> None:
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            self.out.put_nowait(encode_error(None, -32700, f"not JSON: {e}"))
            return
        if not isinstance(message, dict):
            self.out.put_nowait(encode_error(None, -32600, "not one JSON-RPC message"))
            return
        request_id = message.get("id")
        method = message.get("method")
        if method == "initialize":
            self._initialize = message
        try:
            await self._deliver(message, line)
        except Exception as e:  # the client's pipe stays open; it hears why
            if "id" in message and isinstance(method, str):
                self.out.put_nowait(encode_error(request_id, UNREACHABLE, f"mcplocal: {e}"))
            else:
                log.warning("mcplocal: a message could not be delivered: %s", e)

    async def _deliver(self, message: dict[str, Any], raw: bytes) -> None:
        try:
            await self._post(message, raw)
        except _Gone:
            await self._reopen()
            await self._post(message, raw)

    async def _reopen(self) -> None:
        """mcpd forgot the session (restarted, failed over): open it again with the
        client's own `initialize`, so that the client never notices."""
        async with self._reopening:
            if self._session is not None:
                return  # another request reopened it meanwhile
            if self._initialize is None:
                raise RuntimeError("mcpd lost the session and the client never initialized")
            replay = dict(self._initialize)
            replay["id"] = "mcplocal-reopen"
            await self._post(replay, orjson.dumps(replay), quiet=True)
            note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            await self._post(note, orjson.dumps(note), quiet=True)
            log.info("mcplocal: the session was opened again")

    # ---- to mcpd ----------------------------------------------------------------------

    def _headers(self, message: dict[str, Any] | None) -> dict[str, str]:
        headers = {
            "authorization": f"Bearer {self.token}",
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
        }
        params = message.get("params") if message else None
        meta = params.get("_meta") if isinstance(params, dict) else None
        modern = meta.get(PROTOCOL_VERSION_KEY) if isinstance(meta, dict) else None
        if isinstance(modern, str) and modern not in HANDSHAKE_VERSIONS:
            assert message is not None
            headers[PROTOCOL_VERSION_HEADER] = modern
            method = message.get("method")
            if isinstance(method, str):
                headers[METHOD_HEADER] = method
                key = NAME_BEARING_METHODS.get(method)
                value = params.get(key) if key and isinstance(params, dict) else None
                if isinstance(value, str):
                    headers[NAME_HEADER] = encode_header_value(value)
            return headers
        if self._session is not None:
            headers[SESSION_HEADER] = self._session
        if self._version is not None:
            headers[PROTOCOL_VERSION_HEADER] = self._version
        return headers

    async def _post(self, message: dict[str, Any], raw: bytes, *, quiet: bool = False) -> None:
        deadline = asyncio.get_running_loop().time() + self.retry_for
        delay = 0.1
        while True:
            try:
                async with self.http.stream(
                    "POST", self.url, content=raw, headers=self._headers(message)
                ) as response:
                    await self._answer(message, response, quiet=quiet)
                return
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as e:
                if asyncio.get_running_loop().time() + delay > deadline:
                    raise RuntimeError(f"mcpd at {self.url} cannot be reached: {e}") from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _answer(
        self, message: dict[str, Any], response: httpx.Response, *, quiet: bool
    ) -> None:
        method = message.get("method")
        if response.status_code == 404 and self._session is not None and method != "initialize":
            self._session = None
            raise _Gone()
        if response.status_code == 202:
            return
        kind = response.headers.get("content-type", "").partition(";")[0].strip()
        if method == "initialize" and response.status_code == 200:
            self._session = response.headers.get(SESSION_HEADER)
        bodies: list[bytes] = []
        if kind == "text/event-stream":
            async for data in _events(response):
                bodies.append(data)
                if not quiet:
                    self.out.put_nowait(data)
        else:
            body = await response.aread()
            if body:
                bodies.append(body)
                if not quiet:
                    self.out.put_nowait(body)
        if method == "initialize":
            self._learn_version(bodies)

    def _learn_version(self, bodies: list[bytes]) -> None:
        for body in bodies:
            with contextlib.suppress(orjson.JSONDecodeError):
                result = orjson.loads(body).get("result")
                if isinstance(result, dict) and isinstance(result.get("protocolVersion"), str):
                    self._version = result["protocolVersion"]
        if self._session is not None and self._stream is None:
            self._stream = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        """The session's GET stream: what mcpd sends outside requests (list changes)."""
        delay = 0.5
        while True:
            session = self._session
            if session is None:
                await asyncio.sleep(delay)
                continue
            try:
                headers = self._headers(None)
                headers["accept"] = "text/event-stream"
                async with self.http.stream("GET", self.url, headers=headers) as response:
                    if response.status_code == 200:
                        delay = 0.5
                        async for data in _events(response):
                            self.out.put_nowait(data)
            except httpx.HTTPError:
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


async def _events(response: httpx.Response) -> AsyncIterator[bytes]:
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield "\n".join(data).encode()
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))


async def _serve(proxy: LocalProxy) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    writer = asyncio.create_task(_write(proxy.out))
    try:
        while line := await reader.readline():
            proxy.take(line)
        # stdin closed: the client is done; what it asked is still answered
        while proxy._tasks:
            await asyncio.gather(*list(proxy._tasks), return_exceptions=True)
        while not proxy.out.empty():
            await asyncio.sleep(0)
    finally:
        writer.cancel()
        await proxy.aclose()


async def _write(out: asyncio.Queue[bytes]) -> None:
    stdout = sys.stdout.buffer
    while True:
        message = await out.get()
        stdout.write(message.replace(b"\n", b"") + b"\n")
        stdout.flush()


def _settings(args: argparse.Namespace) -> tuple[str, str]:
    server, token = os.environ.get("MCPCTL_SERVER"), os.environ.get("MCPCTL_TOKEN")
    if args.server:
        server = args.server
    if server is None or token is None:
        context = load_config().get(args.context)
        server = server or context.server
        token = token or context.token
    if not token:
        raise SystemExit("mcplocal: no token: set MCPCTL_TOKEN or log in (mcpctl login)")
    return server.rstrip("/"), token


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="mcplocal", description="A project's MCP endpoint over STDIO."
    )
    parser.add_argument("project", help="the Project whose endpoint to serve")
    parser.add_argument("--server", help="mcpd's URL (default: MCPCTL_SERVER, or the context's)")
    parser.add_argument("--context", help="the CLI context to take the server and token from")
    parser.add_argument(
        "--retry-for",
        type=float,
        default=RETRY_FOR,
        help="seconds a request keeps trying while mcpd cannot be reached",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    try:
        server, token = _settings(args)
    except Exception as e:  # a missing context, an unreadable config: said, not a trace
        raise SystemExit(f"mcplocal: {e}") from None
    proxy = LocalProxy(f"{server}/mcp/{args.project}", token, retry_for=args.retry_for)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(proxy))


if __name__ == "__main__":
    main()
