"""The channel to the project's own test server (the `mcp` SDK's `MCPServer`) over stdio,
streamable HTTP and SSE, in both protocol eras: the SDK's server speaks 2026-07-28 to
a client that probes `server/discover` (its default, what `auto` finds), and the
initialize handshake to one that starts with it (`era="legacy"`)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Coroutine
from typing import Any

import orjson
import pytest

from mcpctl.upstream import (
    ChannelSettings,
    EraChoice,
    JsonObject,
    Notification,
    Refusal,
    UpstreamError,
)
from tests.support.channels import OpenChannel, call_tool, text_of, until

pytestmark = pytest.mark.integration

TRANSPORTS = ["stdio", "streamable-http", "sse"]
ERAS: list[EraChoice] = ["auto", "legacy"]


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coroutine)


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_sdk_server_speaks_the_modern_era_unless_the_channel_starts_with_initialize(
    testserver: OpenChannel, transport: str, era: EraChoice
) -> None:
    async def scenario() -> None:
        async with testserver(transport, ChannelSettings(era=era)) as channel:
            if era == "auto":
                assert channel.era == "modern"
                assert channel.protocol_version == "2026-07-28"
                assert channel.agreement is not None
                assert "2026-07-28" in channel.agreement.supported_versions
            else:
                assert channel.era == "legacy"
                assert channel.protocol_version == "2025-11-25"
            assert channel.server_info is not None
            assert channel.server_info["name"] == "testserver"
            assert "tools" in channel.capabilities
            assert channel.instructions == "The mcpctl test server."
            assert channel.transport == transport
            await channel.ping()

    _run(scenario())


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_forwarded_requests_come_back_as_bytes_with_the_callers_own_ids(
    testserver: OpenChannel, transport: str, era: EraChoice
) -> None:
    async def scenario() -> None:
        async with testserver(transport, ChannelSettings(era=era)) as channel:
            listed = orjson.loads(
                await channel.forward(b'{"jsonrpc":"2.0","id":"list-1","method":"tools/list"}')
            )
            assert listed["id"] == "list-1"
            assert {"echo", "sleep", "progress"} <= {
                tool["name"] for tool in listed["result"]["tools"]
            }

            call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
            call["params"] = {"name": "echo", "arguments": {"text": "héllo"}}
            echoed = orjson.loads(await channel.forward(orjson.dumps(call)))
            assert echoed["id"] == 1
            assert text_of(echoed["result"]) == "héllo"

            unknown = orjson.loads(
                await channel.forward(b'{"jsonrpc":"2.0","id":"u","method":"no/such"}')
            )
            assert unknown["id"] == "u"
            assert unknown["error"]["code"] == -32601

            with pytest.raises(UpstreamError) as refused:
                await channel.request("no/such")
            assert refused.value.code == -32601
            assert refused.value.instance == "server-0"
            assert await call_tool(channel, "add", a=2, b=3) == "5"

    _run(scenario())


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_progress_reaches_its_own_request_with_its_own_token_even_when_callers_share_one(
    testserver: OpenChannel, transport: str, era: EraChoice
) -> None:
    async def scenario() -> None:
        async with testserver(transport, ChannelSettings(era=era)) as channel:
            heard: dict[str, list[Any]] = {"a": [], "b": []}
            stray: list[Notification] = []
            channel.subscribe(stray.append)

            async def caller(name: str, steps: int) -> bytes:
                message = {
                    "jsonrpc": "2.0",
                    "id": name,
                    "method": "tools/call",
                    "params": {
                        "name": "progress",
                        "arguments": {"steps": steps},
                        "_meta": {"progressToken": "tok"},
                    },
                }
                return await channel.forward(
                    orjson.dumps(message),
                    on_notification=lambda note: heard[name].append(orjson.loads(note.raw)),
                )

            answers = await asyncio.gather(caller("a", 3), caller("b", 5))
            assert [orjson.loads(answer)["id"] for answer in answers] == ["a", "b"]
            for name, steps in (("a", 3), ("b", 5)):
                assert [note["method"] for note in heard[name]] == [
                    "notifications/progress"
                ] * steps
                assert [note["params"]["progressToken"] for note in heard[name]] == ["tok"] * steps
                assert [note["params"]["progress"] for note in heard[name]] == list(
                    range(1, steps + 1)
                )
            assert not [note for note in stray if note.method == "notifications/progress"]

    _run(scenario())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_legacy_servers_tool_list_change_reaches_the_subscribers(
    testserver: OpenChannel, transport: str
) -> None:
    async def scenario() -> None:
        heard: list[Notification] = []
        async with testserver(
            transport, ChannelSettings(era="legacy"), subscribers=(heard.append,)
        ) as channel:
            assert await call_tool(channel, "tools_changed") == "told"
            await until(
                lambda: any(note.method == "notifications/tools/list_changed" for note in heard),
                "notifications/tools/list_changed",
            )

    _run(scenario())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_modern_servers_tool_list_change_comes_on_the_listen_stream_under_the_callers_id(
    testserver: OpenChannel, transport: str
) -> None:
    async def scenario() -> None:
        async with testserver(transport) as channel:
            assert channel.era == "modern"
            frames: list[Any] = []
            listen = {
                "jsonrpc": "2.0",
                "id": "listen-1",
                "method": "subscriptions/listen",
                "params": {"notifications": {"toolsListChanged": True}},
            }
            stream = asyncio.create_task(
                channel.forward(
                    orjson.dumps(listen),
                    timeout=math.inf,
                    on_notification=lambda n: frames.append(orjson.loads(n.raw)),
                )
            )
            await until(
                lambda: any(
                    f["method"] == "notifications/subscriptions/acknowledged" for f in frames
                ),
                "the ack",
            )
            assert await call_tool(channel, "tools_changed") == "told"
            await until(
                lambda: any(f["method"] == "notifications/tools/list_changed" for f in frames),
                "the event",
            )
            for frame in frames:
                assert (
                    frame["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "listen-1"
                )
            stream.cancel()
            with pytest.raises(asyncio.CancelledError):
                await stream
            await until(lambda: channel.in_flight == 0, "the listen to end")
            assert await call_tool(channel, "echo", text="after") == "after"

    _run(scenario())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_servers_own_requests_are_answered_refused_or_handled(
    testserver: OpenChannel, transport: str
) -> None:
    async def roots(params: JsonObject | None) -> JsonObject:
        return {"roots": [{"uri": "file:///srv/a", "name": "a"}, {"uri": "file:///srv/b"}]}

    async def refuse(params: JsonObject | None) -> JsonObject:
        raise Refusal(-32001, "no roots for you")

    async def scenario() -> None:
        legacy = ChannelSettings(era="legacy")
        async with testserver(transport, legacy) as channel:
            assert await call_tool(channel, "ping_client") == "pong"
            assert (
                await call_tool(channel, "list_roots") == "error -32600: List roots not supported"
            )
        async with testserver(transport, legacy, handlers={"roots/list": roots}) as channel:
            assert await call_tool(channel, "list_roots") == "file:///srv/a file:///srv/b"
        async with testserver(transport, legacy, handlers={"roots/list": refuse}) as channel:
            assert await call_tool(channel, "list_roots") == "error -32001: no roots for you"

    _run(scenario())


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_marked_tool_arguments_are_mirrored_into_headers_once_the_tool_was_listed(
    testserver: OpenChannel, transport: str, era: EraChoice
) -> None:
    async def scenario() -> None:
        async with testserver(transport, ChannelSettings(era=era)) as channel:
            if channel.era == "modern" and transport == "streamable-http":
                # As with the SDK's client: a tool never listed gets no headers, and its server
                # refuses the call.
                with pytest.raises(UpstreamError) as refused:
                    await call_tool(channel, "routed", region="eu-west")
                assert refused.value.code == -32020
                await channel.request("tools/list")
                assert await call_tool(channel, "routed", region="eu-west") == "eu-west eu-west"
                assert (
                    await call_tool(channel, "routed", region="naïve")
                    == "naïve =?base64?bmHDr3Zl?="
                )
            else:
                # Only a modern HTTP server reads them.
                await channel.request("tools/list")
                assert await call_tool(channel, "routed", region="eu-west") == "eu-west -"

    _run(scenario())


def test_the_channel_refuses_to_forward_what_it_owns_or_what_is_no_request(
    testserver: OpenChannel,
) -> None:
    from mcpctl.upstream import InvalidMessage

    async def scenario() -> None:
        async with testserver("stdio") as channel:
            for message, why in [
                (
                    b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}',
                    "initialize itself",
                ),
                (b"not json", "not JSON"),
                (b'{"jsonrpc":"2.0","method":"tools/list"}', "has no id"),
                (b'{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}', "string or an integer"),
                (b'[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]', "no JSON-RPC request"),
            ]:
                with pytest.raises(InvalidMessage, match=why):
                    await channel.forward(message)
            with pytest.raises(InvalidMessage, match="cancelling its task"):
                await channel.notify(
                    b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}'
                )
            assert await call_tool(channel, "echo", text="still fine") == "still fine"

    _run(scenario())
