"""Many requests share one channel: each gets its own answer, a bounded number are in
flight at once, one that never gets an answer times out alone, and a server that answers
nothing at all cannot hang the opening."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from mcpctl.upstream import ChannelSettings, EraChoice, UpstreamTimeout, open_channel
from tests.support.channels import OpenChannel, call_tool, until
from tests.support.mcpservers import project_server_command
from tests.support.stdiopipe import running_child

pytestmark = pytest.mark.integration

TRANSPORTS = ["stdio", "streamable-http", "sse"]


def _call(caller_id: str | int, tool: str, **arguments: object) -> bytes:
    params = {"name": tool, "arguments": arguments}
    return orjson.dumps(
        {"jsonrpc": "2.0", "id": caller_id, "method": "tools/call", "params": params}
    )


@pytest.mark.parametrize("era", ["auto", "legacy"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_two_hundred_requests_in_flight_at_once_each_get_their_own_answer(
    testserver: OpenChannel, transport: str, era: EraChoice
) -> None:
    async def scenario() -> None:
        async with testserver(transport, ChannelSettings(era=era, max_in_flight=256)) as channel:
            most = 0

            def count() -> bool:
                nonlocal most
                most = max(most, channel.in_flight)
                return False

            async def caller(n: int) -> tuple[object, str]:
                # Half sleep (all in flight together), half echo their own number.
                if n % 2:
                    answer = orjson.loads(
                        await channel.forward(_call(f"call-{n}", "sleep", seconds=1.0))
                    )
                else:
                    answer = orjson.loads(
                        await channel.forward(_call(n, "echo", text=f"caller {n}"))
                    )
                return answer["id"], answer["result"]["content"][0]["text"]

            watcher = asyncio.create_task(until(count, "never"))
            answers = await asyncio.gather(*(caller(n) for n in range(200)))
            watcher.cancel()
            assert answers == [
                (f"call-{n}", "slept") if n % 2 else (n, f"caller {n}") for n in range(200)
            ]
            assert most >= 100, f"at most {most} requests were in flight together"
            assert channel.in_flight == 0

    asyncio.run(scenario())


@pytest.mark.parametrize("transport", ["stdio", "streamable-http"])
def test_requests_beyond_the_bound_wait_for_a_slot(testserver: OpenChannel, transport: str) -> None:
    async def scenario() -> None:
        async with testserver(transport, ChannelSettings(max_in_flight=4)) as channel:
            seen: list[int] = []
            calls = [
                asyncio.create_task(call_tool(channel, "sleep", seconds=0.1)) for _ in range(24)
            ]
            while not all(call.done() for call in calls):
                seen.append(channel.in_flight)
                await asyncio.sleep(0.005)
            assert [call.result() for call in calls] == ["slept"] * 24
            assert max(seen) == 4
            # None got a slot while four held them: the rest waited, none was refused.

    asyncio.run(scenario())


@pytest.mark.parametrize("era", ["auto", "legacy"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_request_that_gets_no_answer_times_out_alone_and_the_channel_goes_on(
    testserver: OpenChannel, transport: str, era: EraChoice
) -> None:
    async def scenario() -> None:
        async with testserver(transport, ChannelSettings(era=era), instance="slow-0") as channel:
            stuck = asyncio.create_task(
                channel.request(
                    "tools/call", {"name": "sleep", "arguments": {"seconds": 3600}}, timeout=0.5
                )
            )
            others = await asyncio.gather(
                *(call_tool(channel, "echo", text=str(n)) for n in range(20))
            )
            assert others == [str(n) for n in range(20)]
            with pytest.raises(UpstreamTimeout) as timed_out:
                await stuck
            assert timed_out.value.instance == "slow-0"
            assert timed_out.value.method == "tools/call"
            assert "slow-0" in str(timed_out.value)
            assert "tools/call" in str(timed_out.value)
            assert channel.in_flight == 0
            assert not channel.closed
            assert await call_tool(channel, "echo", text="after") == "after"

    asyncio.run(scenario())


def test_a_request_waiting_for_a_slot_times_out_saying_so(testserver: OpenChannel) -> None:
    async def scenario() -> None:
        async with testserver("stdio", ChannelSettings(max_in_flight=1)) as channel:
            holder = asyncio.create_task(call_tool(channel, "sleep", seconds=3600))
            await until(lambda: channel.in_flight == 1, "the first request in flight")
            with pytest.raises(UpstreamTimeout, match="no free slot"):
                await channel.request("tools/list", timeout=0.3)
            holder.cancel()
            with pytest.raises(asyncio.CancelledError):
                await holder
            assert channel.in_flight == 0
            assert await call_tool(channel, "echo", text="free") == "free"

    asyncio.run(scenario())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_cancelled_caller_frees_its_slot_and_others_go_on(
    testserver: OpenChannel, transport: str
) -> None:
    async def scenario() -> None:
        async with testserver(transport) as channel:
            waiting = [
                asyncio.create_task(call_tool(channel, "sleep", seconds=3600)) for _ in range(5)
            ]
            await until(lambda: channel.in_flight == 5, "five requests in flight")
            for task in waiting:
                task.cancel()
            results = await asyncio.gather(*waiting, return_exceptions=True)
            assert all(isinstance(result, asyncio.CancelledError) for result in results)
            assert channel.in_flight == 0
            assert await call_tool(channel, "echo", text="on") == "on"

    asyncio.run(scenario())


@pytest.mark.parametrize(("era", "step"), [("auto", "initialize"), ("modern", "server/discover")])
def test_a_server_that_never_answers_fails_the_opening_naming_the_step(
    era: EraChoice, step: str
) -> None:
    settings = ChannelSettings(era=era, discover_timeout=0.3, open_timeout=1.0)

    async def scenario() -> None:
        async with running_child(project_server_command("--never-answer")) as child:
            with pytest.raises(UpstreamTimeout) as timed_out:
                await open_channel("mute-0", child.pipe, settings)
            assert timed_out.value.instance == "mute-0"
            assert timed_out.value.method == step
            assert f"instance mute-0: no answer to {step}" in str(timed_out.value)

    asyncio.run(scenario())
