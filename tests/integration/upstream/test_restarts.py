"""The pool keeps one channel per instance: a server killed mid-requests fails them at
once, naming the instance, and the next use after its restart opens a new channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

import pytest

from mcpctl.runtime.base import Endpoint
from mcpctl.upstream import (
    ChannelClosed,
    ChannelPool,
    ChannelSettings,
    EraChoice,
    Notification,
    Target,
)
from tests.support.channels import call_tool, until
from tests.support.mcpservers import HttpServer, http_testserver, project_server_command
from tests.support.stdiopipe import Child, running_child

pytestmark = pytest.mark.integration


class Instances:
    """What the runtime driver would say: how to reach each instance now."""

    def __init__(self) -> None:
        self.targets: dict[str, Target] = {}

    def resolve(self, instance: str) -> Target | None:
        return self.targets.get(instance)


@asynccontextmanager
async def stdio_instance(instances: Instances, name: str) -> AsyncIterator[Child]:
    async with running_child(project_server_command("--name", name)) as child:
        instances.targets[name] = child.pipe
        try:
            yield child
        finally:
            instances.targets.pop(name, None)


async def _fails_with_closed(tasks: list[asyncio.Task[str]], instance: str) -> None:
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        assert isinstance(result, ChannelClosed), result
        assert result.instance == instance
        assert f"instance {instance}:" in str(result)
        assert "tools/call" in str(result)


def test_a_stdio_instance_killed_mid_requests_fails_them_and_its_restart_gets_a_new_channel() -> (
    None
):
    async def scenario() -> None:
        instances = Instances()
        pool = ChannelPool(instances.resolve)
        heard: list[tuple[str, Notification]] = []
        pool.subscribe(lambda instance, note: heard.append((instance, note)))
        try:
            async with stdio_instance(instances, "web-0") as first:
                channel = await pool.get("web-0")
                assert await pool.get("web-0") is channel
                assert await call_tool(channel, "whoami") == f"web-0 {first.pid}"
                stuck = [
                    asyncio.create_task(call_tool(channel, "sleep", seconds=3600))
                    for _ in range(10)
                ]
                await until(lambda: channel.in_flight == 10, "ten requests in flight")
                await first.kill()
                await _fails_with_closed(stuck, "web-0")
                assert channel.closed
                assert channel.close_reason is not None
                assert "stdout closed" in channel.close_reason
            with pytest.raises(ChannelClosed, match="instance web-0: it is not running"):
                await pool.get("web-0")
            async with stdio_instance(instances, "web-0") as second:
                again = await pool.get("web-0")
                assert again is not channel
                assert await call_tool(again, "whoami") == f"web-0 {second.pid}"
                assert pool.opened() == {"web-0": again}
        finally:
            await pool.aclose()

    asyncio.run(scenario())


@pytest.mark.parametrize("era", ["auto", "legacy"])
@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_an_http_instance_killed_mid_requests_fails_them_and_the_next_use_after_its_restart_works(
    tmp_path: Path, transport: str, era: EraChoice
) -> None:
    async def scenario(server: HttpServer) -> None:
        kind: Literal["sse", "streamable-http"] = "sse" if transport == "sse" else "streamable-http"
        instances = Instances()
        instances.targets["api-0"] = Endpoint(kind, server.url)
        pool = ChannelPool(instances.resolve, ChannelSettings(era=era))
        try:
            channel = await pool.get("api-0")
            first = await call_tool(channel, "whoami")
            stuck = [
                asyncio.create_task(call_tool(channel, "sleep", seconds=3600)) for _ in range(5)
            ]
            await until(lambda: channel.in_flight == 5, "five requests in flight")
            server.kill()
            await _fails_with_closed(stuck, "api-0")
            server.start()
            again = await pool.get("api-0")
            assert await call_tool(again, "whoami") != first, "the restarted server has a new pid"
            if era == "legacy" or transport == "sse":
                assert again is not channel, "a session (or event stream) ends with its server"
        finally:
            await pool.aclose()

    with http_testserver(transport, "--name", "api-0", log=tmp_path / "log") as server:
        asyncio.run(scenario(server))


def test_the_pool_opens_one_channel_for_many_callers_and_closes_what_it_is_told_to() -> None:
    async def scenario() -> None:
        instances = Instances()
        pool = ChannelPool(instances.resolve)
        try:
            async with stdio_instance(instances, "db-0"):
                channels = await asyncio.gather(*(pool.get("db-0") for _ in range(20)))
                assert all(channel is channels[0] for channel in channels)
                stuck = asyncio.create_task(call_tool(channels[0], "sleep", seconds=3600))
                await until(lambda: channels[0].in_flight == 1, "a request in flight")
                await pool.close("db-0", "the instance was stopped by the reconciler")
                with pytest.raises(
                    ChannelClosed, match="stopped by the reconciler; tools/call got no answer"
                ):
                    await stuck
                reopened = await pool.get("db-0")
                assert reopened is not channels[0]
                assert await call_tool(reopened, "echo", text="x") == "x"
        finally:
            await pool.aclose()
        with pytest.raises(ChannelClosed, match="pool is closed"):
            await pool.get("db-0")

    asyncio.run(scenario())
