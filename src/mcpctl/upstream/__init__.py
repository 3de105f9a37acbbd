"""The MCP channel to each running instance (docs/architecture.md, "The MCP channel
(`upstream`)"): one connection per instance over stdio, streamable HTTP or SSE, in the
protocol era the server speaks, shared by the reconciler's health probes and the proxy,
forwarding JSON-RPC as bytes.

    pool = ChannelPool(resolve, ChannelSettings())
    channel = await pool.get("time-0")
    answer = await channel.forward(b'{"jsonrpc":"2.0","id":7,"method":"tools/list"}')
    result = await channel.request("tools/call", {"name": "echo", "arguments": {...}})

It sits beside `objects`, below `reconciler` and `proxy`, above `runtime` (whose
`StdioPipe` and `Endpoint` it speaks over). It owns httpx for its HTTP transports, with
`client`; it needs nothing of the `mcp` SDK at run time (the protocol's words are in
`protocol`, checked against the SDK by the tests), so importing it stays cheap.
"""

from mcpctl.upstream.channel import Channel
from mcpctl.upstream.errors import (
    ChannelClosed,
    ChannelError,
    HandshakeFailed,
    InvalidMessage,
    UpstreamError,
    UpstreamTimeout,
)
from mcpctl.upstream.link import Notification, NotificationCallback
from mcpctl.upstream.negotiating import Agreement
from mcpctl.upstream.pool import ChannelPool, Resolve, Target, open_channel
from mcpctl.upstream.protocol import Era
from mcpctl.upstream.serving import Refusal, ServerRequestHandler
from mcpctl.upstream.settings import ChannelSettings, EraChoice
from mcpctl.upstream.wire import Json, JsonObject

__all__ = [
    "Agreement",
    "Channel",
    "ChannelClosed",
    "ChannelError",
    "ChannelPool",
    "ChannelSettings",
    "Era",
    "EraChoice",
    "HandshakeFailed",
    "InvalidMessage",
    "Json",
    "JsonObject",
    "Notification",
    "NotificationCallback",
    "Refusal",
    "Resolve",
    "ServerRequestHandler",
    "Target",
    "UpstreamError",
    "UpstreamTimeout",
    "open_channel",
]
