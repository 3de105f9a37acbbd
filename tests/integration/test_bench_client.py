"""The proxy benchmark's own parts (`benchmarks/proxy.py`), against the real echo server:
the raw JSON-RPC client in both eras, the counts the echo server keeps of what it
receives, the load driver's bounds. A figure is only as good as these: a client that
misread an answer, or counts that missed a message, would print a wrong figure."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpctl.upstream import ChannelSettings, open_channel
from tests.support.mcpload import Counts, EndpointError, McpHttpClient, answer_in_events, drive
from tests.support.mcpservers import HttpServer
from tests.support.postgres import free_port
from tests.support.stdiopipe import running_child

pytestmark = pytest.mark.integration

ECHOSERVER = Path(__file__).parents[1] / "support" / "servers" / "echoserver.py"
SECRET = "mcpctl_pat_never-shown-0123456789"


def echo_command(counts: Path, *extra: str) -> list[str]:
    return [sys.executable, str(ECHOSERVER), "--counts", str(counts), *extra]


@pytest.fixture
def echo_http(tmp_path: Path) -> Iterator[tuple[HttpServer, Counts]]:
    counts = tmp_path / "counts"
    counts.mkdir()
    port = free_port()
    server = HttpServer(
        echo_command(counts, "--transport", "streamable-http", "--port", str(port), "--tools", "3"),
        port,
        "/mcp",
        log=tmp_path / "log",
    )
    server.start()
    try:
        yield server, Counts(counts)
    finally:
        server.kill()


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_each_call_reaches_the_echo_server_once_and_is_counted_there(
    echo_http: tuple[HttpServer, Counts], era: str
) -> None:
    server, counts = echo_http

    async def scenario() -> None:
        client = McpHttpClient(server.url, "legacy" if era == "legacy" else "modern")
        try:
            await client.open()
            listed = await client.request("tools/list")
            before = counts.read()
            for n in range(7):
                result = await client.call_tool("echo", {"text": f"call {n}"})
                assert result["content"][0]["text"] == f"call {n}"
        finally:
            await client.close()
        assert sorted(t["name"] for t in listed["tools"]) == ["echo", "tool_0001", "tool_0002"]
        assert (client.session is not None) == (era == "legacy")
        after = counts.read()
        assert (after - before).requests == {"tools/call": 7}
        assert (after - before).total == 7
        if era == "legacy":
            assert after.requests["initialize"] == 1
            assert after.notifications["notifications/initialized"] == 1
        else:
            assert "initialize" not in after.requests

    asyncio.run(scenario())


def test_an_endpoint_that_is_not_there_is_named_with_its_status_and_never_the_token(
    echo_http: tuple[HttpServer, Counts],
) -> None:
    server, _ = echo_http
    missing = server.url.replace("/mcp", "/mcp/bench")

    async def scenario() -> EndpointError:
        client = McpHttpClient(missing, "legacy", {"Authorization": f"Bearer {SECRET}"})
        try:
            with pytest.raises(EndpointError) as caught:
                await client.open()
        finally:
            await client.close()
        assert SECRET not in repr(client)
        return caught.value

    error = asyncio.run(scenario())
    assert error.status == 404
    assert "/mcp/bench" in str(error)
    assert "initialize" in str(error)
    assert SECRET not in str(error)


def test_an_error_answer_or_a_failed_tool_is_an_endpoint_error_naming_what_failed(
    echo_http: tuple[HttpServer, Counts],
) -> None:
    server, _ = echo_http

    async def scenario() -> None:
        client = McpHttpClient(server.url, "modern")
        try:
            with pytest.raises(EndpointError, match="no/such/method"):
                await client.request("no/such/method")
            with pytest.raises(EndpointError, match="tool no_such_tool failed"):
                await client.call_tool("no_such_tool", {})
        finally:
            await client.close()

    asyncio.run(scenario())


def test_the_answer_is_found_among_the_events_of_a_stream() -> None:
    body = (
        b'event: message\r\ndata: {"jsonrpc":"2.0","method":"notifications/progress"}\r\n\r\n'
        b'event: message\ndata: {"jsonrpc":"2.0","id":4,\ndata: "result":{"ok":true}}\n\n'
    )
    assert answer_in_events(body, 4) == {"jsonrpc": "2.0", "id": 4, "result": {"ok": True}}
    assert answer_in_events(body, 5) is None


def test_an_upstream_that_ended_leaves_its_last_counts(tmp_path: Path) -> None:
    """A peer may start an upstream per session and end it: its counts outlive it."""

    async def scenario() -> None:
        async with running_child(echo_command(tmp_path)) as child:
            channel = await open_channel("echo-0", child.pipe, ChannelSettings(era="legacy"))
            for n in range(3):
                await channel.request("tools/call", {"name": "echo", "arguments": {"text": str(n)}})
            await channel.close()
            assert child.process.stdin is not None
            child.process.stdin.close()  # stdin's end is the server's end
            await child.process.wait()

    asyncio.run(scenario())
    ended = Counts(tmp_path).read()
    assert ended.requests == {"initialize": 1, "tools/call": 3}


def test_a_round_makes_exactly_its_calls_and_starts_none_after_its_time() -> None:
    made: list[int] = []

    async def call(client: int, n: int) -> None:
        made.append(n)
        await asyncio.sleep(0)

    counted = asyncio.run(drive(call, 3, 10, 120.0))
    assert sorted(made) == list(range(10))
    assert counted.calls == 10
    made.clear()
    timed = asyncio.run(drive(call, 3, 10, -1.0))  # its time is already up
    assert made == []
    assert timed.calls == 0
