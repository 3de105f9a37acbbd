"""The channel to reference servers others wrote: PyPI's `mcp-server-time` (the `mcp`
SDK, so the modern era) over stdio, and npm's `server-everything` (the TypeScript SDK,
which speaks only the handshake era: `auto` must find that out) over stdio, SSE and
streamable HTTP, kept on 127.0.0.1."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from mcpctl.upstream import ChannelSettings, EraChoice, JsonObject, Notification, open_channel
from tests.support.channels import OpenChannel, call_tool, until
from tests.support.mcpservers import time_server_command
from tests.support.stdiopipe import running_child

pytestmark = pytest.mark.integration

TRANSPORTS = ["stdio", "sse", "streamable-http"]


@pytest.mark.parametrize("era", ["auto", "legacy"])
def test_mcp_server_time_over_stdio(era: EraChoice) -> None:
    async def scenario() -> None:
        async with running_child(time_server_command()) as child:
            channel = await open_channel("time-0", child.pipe, ChannelSettings(era=era))
            try:
                assert channel.era == ("modern" if era == "auto" else "legacy")
                assert channel.server_info is not None
                assert channel.server_info["name"] == "mcp-time"
                listed = orjson.loads(
                    await channel.forward(b'{"jsonrpc":"2.0","id":"t","method":"tools/list"}')
                )
                assert {"get_current_time", "convert_time"} <= {
                    tool["name"] for tool in listed["result"]["tools"]
                }
                now = orjson.loads(await call_tool(channel, "get_current_time", timezone="Etc/UTC"))
                assert now["timezone"] == "Etc/UTC"
            finally:
                await channel.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_everything_is_found_to_speak_the_handshake_era(
    everything: OpenChannel, transport: str
) -> None:
    async def scenario() -> None:
        heard: list[Notification] = []
        async with everything(transport, subscribers=(heard.append,)) as channel:
            assert channel.era == "legacy"
            assert channel.protocol_version == "2025-11-25"
            assert channel.server_info is not None
            assert channel.server_info["name"] == "mcp-servers/everything"
            assert channel.instructions is not None
            assert "Everything Server" in channel.instructions
            assert await call_tool(channel, "echo", message="hi") == "Echo: hi"
            assert await call_tool(channel, "get-sum", a=2, b=40) == "The sum of 2 and 40 is 42."
            await channel.ping()
            if transport != "streamable-http":
                # It announces its tools after the handshake; over streamable HTTP that goes to
                # no stream (nothing listens yet), over stdio and SSE it reaches the channel.
                await until(
                    lambda: any(
                        note.method == "notifications/tools/list_changed" for note in heard
                    ),
                    "the tool list change it sends after the handshake",
                )

    asyncio.run(scenario())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_everything_log_and_progress_notifications_arrive(
    everything: OpenChannel, transport: str
) -> None:
    async def scenario() -> None:
        heard: list[Notification] = []
        async with everything(transport, subscribers=(heard.append,)) as channel:
            await channel.request("logging/setLevel", {"level": "debug"})
            await call_tool(channel, "toggle-simulated-logging")
            try:
                await until(
                    lambda: any(note.method == "notifications/message" for note in heard),
                    "a log message",
                )
            finally:
                await call_tool(channel, "toggle-simulated-logging")
            progress: list[JsonObject] = []
            done = await channel.forward(
                orjson.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": "long",
                        "method": "tools/call",
                        "params": {
                            "name": "trigger-long-running-operation",
                            "arguments": {"duration": 0.3, "steps": 3},
                            "_meta": {"progressToken": 42},
                        },
                    }
                ),
                on_notification=lambda note: progress.append(orjson.loads(note.raw)["params"]),
            )
            assert orjson.loads(done)["id"] == "long"
            assert [(p["progress"], p["progressToken"]) for p in progress] == [
                (1, 42),
                (2, 42),
                (3, 42),
            ]

    asyncio.run(scenario())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_sampling_handler_answers_server_everythings_request(
    everything: OpenChannel, transport: str
) -> None:
    asked: list[JsonObject | None] = []

    async def sample(params: JsonObject | None) -> JsonObject:
        asked.append(params)
        return {
            "role": "assistant",
            "content": {"type": "text", "text": "sampled by mcpctl"},
            "model": "none",
        }

    async def scenario() -> None:
        async with everything(transport, handlers={"sampling/createMessage": sample}) as channel:
            # The tool exists only for a client that declared sampling, which a handler does.
            text = await call_tool(
                channel, "trigger-sampling-request", prompt="say hi", maxTokens=5
            )
            assert "sampled by mcpctl" in text
            assert asked
            assert asked[0] is not None
            assert asked[0]["maxTokens"] == 5

    asyncio.run(scenario())
