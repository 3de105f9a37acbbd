"""Real MCP servers for the channel's tests, and a way to open a channel to each.

HTTP servers are shared by the tests of a module (each test opens its own channel, and
so its own session); a test that kills its server starts one of its own. Stdio servers
are children of each test's event loop. Everything listens on 127.0.0.1 (server-everything
is checked to) and is stopped at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Literal

import pytest

from mcpctl.runtime.base import Endpoint, Secret
from mcpctl.upstream import (
    Channel,
    ChannelSettings,
    NotificationCallback,
    ServerRequestHandler,
    open_channel,
)
from tests.support import everything as npm_everything
from tests.support.channels import OpenChannel
from tests.support.mcpservers import (
    HttpServer,
    everything_http,
    http_testserver,
    project_server_command,
)
from tests.support.stdiopipe import running_child


@pytest.fixture(scope="module")
def testserver_streamable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with http_testserver(
        "streamable-http", log=tmp_path_factory.mktemp("testserver") / "log"
    ) as server:
        yield server


@pytest.fixture(scope="module")
def testserver_sse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with http_testserver("sse", log=tmp_path_factory.mktemp("testserver") / "log") as server:
        yield server


@pytest.fixture(scope="module")
def everything_streamable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with everything_http(
        "streamableHttp", log=tmp_path_factory.mktemp("everything") / "log"
    ) as server:
        assert npm_everything.listening_addresses(server.port) == {npm_everything.LOOPBACK_V4}
        yield server


@pytest.fixture(scope="module")
def everything_sse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with everything_http("sse", log=tmp_path_factory.mktemp("everything") / "log") as server:
        assert npm_everything.listening_addresses(server.port) == {npm_everything.LOOPBACK_V4}
        yield server


def _opener(
    request: pytest.FixtureRequest, stdio: Sequence[str], sse: str, streamable: str
) -> OpenChannel:
    @asynccontextmanager
    async def opened(
        transport: str,
        settings: ChannelSettings | None = None,
        *,
        handlers: Mapping[str, ServerRequestHandler] | None = None,
        headers: Mapping[str, str | Secret] | None = None,
        subscribers: tuple[NotificationCallback, ...] = (),
        instance: str = "server-0",
    ) -> AsyncIterator[Channel]:
        if transport == "stdio":
            async with running_child(stdio) as child:
                channel = await open_channel(instance, child.pipe, settings, handlers, subscribers)
                try:
                    yield channel
                finally:
                    await channel.close()
            return
        server: HttpServer = request.getfixturevalue(sse if transport == "sse" else streamable)
        kind: Literal["sse", "streamable-http"] = "sse" if transport == "sse" else "streamable-http"
        endpoint = Endpoint(kind, server.url, dict(headers or {}))
        channel = await open_channel(instance, endpoint, settings, handlers, subscribers)
        try:
            yield channel
        finally:
            await channel.close()

    return opened


@pytest.fixture
def testserver(request: pytest.FixtureRequest) -> OpenChannel:
    """A channel to the project's test server (the `mcp` SDK's `MCPServer`)."""
    return _opener(request, project_server_command(), "testserver_sse", "testserver_streamable")


@pytest.fixture
def everything(request: pytest.FixtureRequest) -> OpenChannel:
    """A channel to npm's server-everything (the TypeScript SDK)."""
    return _opener(
        request, npm_everything.command("stdio"), "everything_sse", "everything_streamable"
    )
