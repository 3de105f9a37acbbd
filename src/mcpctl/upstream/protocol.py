"""The words of the MCP wire the channel needs: versions, methods, `_meta` keys, headers, codes.

Spelled out here rather than imported from the `mcp` SDK, whose modules cost most of a
second to import and would load pydantic's models into every process that only forwards
bytes. They are the protocol's, not the SDK's: `tests/unit/upstream/test_protocol.py`
checks each one against the SDK (`mcp_types`, `mcp.shared.inbound`), so an SDK that
moves makes that test fail rather than the channel drift.

Two eras (docs/architecture.md, "The MCP channel (`upstream`)"): the initialize
handshake up to 2025-11-25 ("legacy", with `Mcp-Session-Id` over HTTP), and 2026-07-28
("modern": no handshake and no session; `server/discover`, and every request carries the
protocol version and the client's capabilities in its `_meta`, mirrored over HTTP by the
`Mcp-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers).
"""

from __future__ import annotations

import base64
import re
from typing import Final, Literal

__all__ = [
    "CLIENT_CAPABILITIES_KEY",
    "CLIENT_INFO_KEY",
    "CONNECTION_CLOSED",
    "HANDSHAKE_VERSIONS",
    "INTERNAL_ERROR",
    "INVALID_REQUEST",
    "LATEST_HANDSHAKE_VERSION",
    "LATEST_MODERN_VERSION",
    "LOG_LEVEL_KEY",
    "METHOD_HEADER",
    "METHOD_NOT_FOUND",
    "MODERN_VERSIONS",
    "NAME_BEARING_METHODS",
    "NAME_HEADER",
    "PROTOCOL_VERSION_HEADER",
    "PROTOCOL_VERSION_KEY",
    "REQUEST_TIMEOUT",
    "SERVER_INFO_KEY",
    "SESSION_HEADER",
    "SUBSCRIPTION_ID_KEY",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "Era",
    "encode_header_value",
]

#: Which protocol era a channel speaks: the initialize handshake, or per-request envelopes.
Era = Literal["legacy", "modern"]

#: The revisions reached through `initialize`, oldest first.
HANDSHAKE_VERSIONS: Final = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST_HANDSHAKE_VERSION: Final = HANDSHAKE_VERSIONS[-1]
#: The revisions without a handshake, oldest first.
MODERN_VERSIONS: Final = ("2026-07-28",)
LATEST_MODERN_VERSION: Final = MODERN_VERSIONS[-1]

#: Reserved request `_meta` keys of the modern envelope.
PROTOCOL_VERSION_KEY: Final = "io.modelcontextprotocol/protocolVersion"
CLIENT_INFO_KEY: Final = "io.modelcontextprotocol/clientInfo"
CLIENT_CAPABILITIES_KEY: Final = "io.modelcontextprotocol/clientCapabilities"
LOG_LEVEL_KEY: Final = "io.modelcontextprotocol/logLevel"
#: The result `_meta` key where a modern server names itself.
SERVER_INFO_KEY: Final = "io.modelcontextprotocol/serverInfo"
#: The `_meta` key on every frame of a `subscriptions/listen` stream: the listen's request id.
SUBSCRIPTION_ID_KEY: Final = "io.modelcontextprotocol/subscriptionId"
#: The `_meta` keys only the modern envelope carries: stripped from what goes to a legacy server.
MODERN_META_KEYS: Final = frozenset(
    {PROTOCOL_VERSION_KEY, CLIENT_INFO_KEY, CLIENT_CAPABILITIES_KEY, LOG_LEVEL_KEY}
)

#: HTTP headers (lower case, as the SDK compares them).
PROTOCOL_VERSION_HEADER: Final = "mcp-protocol-version"
METHOD_HEADER: Final = "mcp-method"
NAME_HEADER: Final = "mcp-name"
SESSION_HEADER: Final = "mcp-session-id"

#: Methods whose target is mirrored into `Mcp-Name` (modern HTTP): method -> params key.
NAME_BEARING_METHODS: Final = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}

#: JSON-RPC error codes the channel reads or writes.
CONNECTION_CLOSED: Final = -32000
REQUEST_TIMEOUT: Final = -32001
UNSUPPORTED_PROTOCOL_VERSION: Final = -32022
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INTERNAL_ERROR: Final = -32603

_HEADER_SAFE = re.compile(r"[\x20-\x7e]*")
_SENTINEL = re.compile(r"=\?base64\?.*\?=")


def encode_header_value(value: str) -> str:
    """`value` as an HTTP header value that gives back exactly `value` (the spec's rule).

    Printable ASCII without whitespace at either end goes as it is; anything else (a
    control character, non-ASCII text, edge whitespace, or text that already looks like
    the wrapper) goes as `=?base64?<base64 of its UTF-8>?=`."""
    if _HEADER_SAFE.fullmatch(value) and value == value.strip() and not _SENTINEL.fullmatch(value):
        return value
    return "=?base64?" + base64.b64encode(value.encode()).decode("ascii") + "?="
