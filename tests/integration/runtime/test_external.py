"""The external driver: a server someone else runs, reached at its URL through the
driver's endpoint (docs/architecture.md, "The runtime")."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client

from mcpctl.errors import InvalidInput
from mcpctl.runtime import ExternalDriver, Launch, Secret
from tests.support.runtime import HANG, NODE, OWNER, guard, http_testserver

pytestmark = pytest.mark.integration

SECRET = "external-secret-never-shown-42"


@pytest.fixture
def external_server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A test server on 127.0.0.1 over streamable HTTP, run by the test: its URL and pid."""
    with http_testserver(tmp_path / "external.log") as server:
        yield server


def external(url: str | None, *, instance: str = "ext-1", transport: str = "") -> Launch:
    return Launch(
        server="ext",
        instance=instance,
        generation=2,
        runtime="external",
        transport="stdio" if transport == "stdio" else "streamable-http",
        external_url=url,
        headers={"Authorization": Secret(f"Bearer {SECRET}")},
        owner=OWNER,
    )


def test_an_external_server_is_reached_at_its_url(external_server: tuple[str, int]) -> None:
    url, pid = external_server

    async def main() -> None:
        driver = ExternalDriver(OWNER, NODE)
        await driver.check()
        exits = driver.exits()
        waiting = asyncio.ensure_future(anext(exits))
        observed = await driver.start(external(url))
        assert observed.running
        assert (observed.ref, observed.node, observed.owner) == (url, NODE, OWNER)
        assert observed.endpoint is not None
        assert observed.endpoint.transport == "streamable-http"
        assert observed.endpoint.url == url
        assert observed.endpoint.headers["Authorization"] == Secret(f"Bearer {SECRET}")
        assert SECRET not in repr(observed)
        assert await driver.list() == [observed]
        assert driver.stdio("ext-1") is None
        assert [line async for line in driver.logs("ext-1", follow=True)] == []

        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANG
        while True:
            try:
                async with Client(observed.endpoint.url) as client:
                    result = await client.call_tool("whoami", {})
                break
            except Exception:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.1)
        assert result.content[0].type == "text"
        assert result.content[0].text == f"testserver {pid}"

        await driver.stop("ext-1")
        await driver.stop("ext-1")
        assert await driver.list() == []
        assert not waiting.done()  # no exit is ever seen
        await driver.close()
        with pytest.raises(StopAsyncIteration):
            await guard(waiting)

    asyncio.run(main())


def test_an_external_launch_needs_a_url_and_http() -> None:
    url = "http://127.0.0.1:9/mcp"

    async def main() -> None:
        driver = ExternalDriver(OWNER, NODE)
        for bad in (external(None), external(url, transport="stdio")):
            with pytest.raises(InvalidInput) as refused:
                await driver.start(bad)
            assert "ext-1" in str(refused.value)
            assert SECRET not in str(refused.value)
        assert await driver.list() == []

    asyncio.run(main())
