"""Real MCP servers for the channel's tests, and a way to open a channel to each.

HTTP servers are shared by the tests of a module (each test opens its own channel, and
so its own session); a test that kills its server starts one of its own. Stdio servers
are children of each test's event loop. Everything listens on 127.0.0.1 and is stopped
at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager

import pytest

from mcpctl.runtime.base import Endpoint, Secret
from mcpctl.upstream import Channel, ChannelSettings, NotificationCallback, ServerRequestHandler, open_channel
from tests.support.channels import OpenTestserver
from tests.support.mcpservers import HttpServer, everything_http, http_testserver, testserver_command
from tests.support.stdiopipe import running_child


@pytest.fixture(scope="module")
def testserver_streamable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with http_testserver("streamable-http", log=tmp_path_factory.mktemp("testserver") / "log") as server:
        yield server


@pytest.fixture(scope="module")
def testserver_sse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with http_testserver("sse", log=tmp_path_factory.mktemp("testserver") / "log") as server:
        yield server


@pytest.fixture(scope="module")
def everything_streamable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with everything_http("streamableHttp", log=tmp_path_factory.mktemp("everything") / "log") as server:
        yield server


@pytest.fixture(scope="module")
def everything_sse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with everything_http("sse", log=tmp_path_factory.mktemp("everything") / "log") as server:
        yield server


@pytest.fixture
def testserver(request: pytest.FixtureRequest) -> OpenTestserver:
    """A channel to the project's test server over a transport (its HTTP servers start on
    first use in the module), closed at the end of the block."""

    @asynccontextmanager
    async def opened(
        transport: str,
        settings: ChannelSettings | None = None,
        *,
        handlers: Mapping[str, ServerRequestHandler] | None = None,
        headers: Mapping[str, str | Secret] | None = None,
        subscribers: tuple[NotificationCallback, ...] = (),
        instance: str = "testserver-0",
    ) -> AsyncIterator[Channel]:
        if transport == "stdio":
            async with running_child(testserver_command()) as child:
                channel = await open_channel(instance, child.pipe, settings, handlers, subscribers)
                try:
                    yield channel
                finally:
                    await channel.close()
            return
        fixture = "testserver_streamable" if transport == "streamable-http" else "testserver_sse"
        server: HttpServer = request.getfixturevalue(fixture)
        kind = "sse" if transport == "sse" else "streamable-http"
        endpoint = Endpoint(kind, server.url, dict(headers or {}))
        channel = await open_channel(instance, endpoint, settings, handlers, subscribers)
        try:
            yield channel
        finally:
            await channel.close()

    return opened
