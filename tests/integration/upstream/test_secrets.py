"""An endpoint's secret headers reach the server and nothing else: no log line (the
channel's, httpx's, httpcore's, at DEBUG), no error, no repr."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path

import pytest

from mcpctl.runtime.base import Endpoint, Secret
from mcpctl.upstream import (
    ChannelClosed,
    ChannelError,
    ChannelPool,
    ChannelSettings,
    EraChoice,
    Target,
    open_channel,
)
from tests.support.channels import OpenChannel, call_tool, until
from tests.support.mcpservers import http_testserver
from tests.support.postgres import free_port

pytestmark = pytest.mark.integration

TOKEN = "mcpctl-test-secret-4f1d9a7c"
API_KEY = "second-secret-value-91be"


def _secrets_absent(texts: list[str]) -> None:
    for text in texts:
        assert TOKEN not in text
        assert API_KEY not in text


@pytest.mark.parametrize("era", ["auto", "legacy"])
@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_secret_headers_reach_the_server_and_no_log_error_or_repr(
    testserver: OpenChannel, caplog: pytest.LogCaptureFixture, transport: str, era: EraChoice
) -> None:
    caplog.set_level(logging.DEBUG)
    headers: dict[str, str | Secret] = {
        "Authorization": Secret(f"Bearer {TOKEN}"),
        "X-Api-Key": Secret(API_KEY),
    }
    shown: list[str] = []

    async def scenario() -> None:
        async with testserver(transport, ChannelSettings(era=era), headers=headers) as channel:
            sent = await call_tool(channel, "header_sha256", name="Authorization")
            assert sent == hashlib.sha256(f"Bearer {TOKEN}".encode()).hexdigest()
            assert (
                await call_tool(channel, "header_sha256", name="X-Api-Key")
                == hashlib.sha256(API_KEY.encode()).hexdigest()
            )
            shown.append(repr(channel))
            with pytest.raises(ChannelError) as timed_out:
                await channel.request(
                    "tools/call", {"name": "sleep", "arguments": {"seconds": 60}}, timeout=0.2
                )
            shown.extend([str(timed_out.value), repr(timed_out.value)])

    asyncio.run(scenario())
    shown.extend(record.getMessage() for record in caplog.records)
    shown.extend(str(record.args) for record in caplog.records)
    assert any("HTTP Request" in text for text in shown), "httpx's own log lines were captured"
    _secrets_absent(shown)


def test_a_failing_endpoint_with_secrets_in_its_url_and_headers_shows_none(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    port = free_port()  # nothing listens there
    endpoint = Endpoint(
        "streamable-http",
        f"http://user:{TOKEN}@127.0.0.1:{port}/mcp?key={API_KEY}",
        {"Authorization": Secret(f"Bearer {TOKEN}")},
    )

    async def scenario() -> None:
        with pytest.raises(ChannelClosed) as refused:
            await open_channel("down-0", endpoint, ChannelSettings(open_timeout=30))
        shown.extend([str(refused.value), repr(refused.value)])
        assert f"127.0.0.1:{port}/mcp" in str(refused.value)

        with http_testserver("streamable-http", log=tmp_path / "log") as server:
            reached: dict[str, Target] = {
                "api-0": Endpoint(
                    "streamable-http", server.url, {"Authorization": Secret(f"Bearer {TOKEN}")}
                )
            }
            pool = ChannelPool(reached.get, ChannelSettings(era="legacy"))
            try:
                channel = await pool.get("api-0")
                stuck = asyncio.create_task(call_tool(channel, "sleep", seconds=3600))
                await until(lambda: channel.in_flight == 1, "a request in flight")
                server.kill()
                with pytest.raises(ChannelClosed) as lost:
                    await stuck
                shown.extend([str(lost.value), repr(channel), str(channel.close_reason)])
            finally:
                await pool.aclose()

    asyncio.run(scenario())
    shown.extend(record.getMessage() for record in caplog.records)
    shown.extend(str(record.args) for record in caplog.records)
    _secrets_absent(shown)
