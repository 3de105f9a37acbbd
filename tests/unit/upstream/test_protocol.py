"""The channel's own spelling of the protocol equals the SDK's, word for word.

`mcpctl.upstream.protocol` spells the protocol out rather than importing the SDK (whose
import costs most of a second); this is what keeps the two the same."""

from __future__ import annotations

import subprocess
import sys

import mcp_types
import mcp_types.jsonrpc
import mcp_types.version
from hypothesis import given
from hypothesis import strategies as st
from mcp.shared import inbound

from mcpctl.upstream import protocol


def test_versions_are_the_sdks() -> None:
    assert protocol.HANDSHAKE_VERSIONS == mcp_types.version.HANDSHAKE_PROTOCOL_VERSIONS
    assert protocol.MODERN_VERSIONS == mcp_types.version.MODERN_PROTOCOL_VERSIONS
    assert protocol.LATEST_HANDSHAKE_VERSION == mcp_types.version.LATEST_HANDSHAKE_VERSION
    assert protocol.LATEST_MODERN_VERSION == mcp_types.version.LATEST_MODERN_VERSION


def test_meta_keys_and_headers_are_the_sdks() -> None:
    assert protocol.PROTOCOL_VERSION_KEY == mcp_types.PROTOCOL_VERSION_META_KEY
    assert protocol.CLIENT_INFO_KEY == mcp_types.CLIENT_INFO_META_KEY
    assert protocol.CLIENT_CAPABILITIES_KEY == mcp_types.CLIENT_CAPABILITIES_META_KEY
    assert protocol.LOG_LEVEL_KEY == mcp_types.LOG_LEVEL_META_KEY
    assert protocol.SERVER_INFO_KEY == mcp_types.SERVER_INFO_META_KEY
    assert protocol.PROTOCOL_VERSION_HEADER == inbound.MCP_PROTOCOL_VERSION_HEADER
    assert protocol.METHOD_HEADER == inbound.MCP_METHOD_HEADER
    assert protocol.NAME_HEADER == inbound.MCP_NAME_HEADER
    assert dict(inbound.NAME_BEARING_METHODS) == protocol.NAME_BEARING_METHODS


def test_subscription_key_is_the_sdks() -> None:
    from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY

    assert protocol.SUBSCRIPTION_ID_KEY == SUBSCRIPTION_ID_META_KEY


def test_error_codes_are_the_sdks() -> None:
    codes = mcp_types.jsonrpc
    assert protocol.CONNECTION_CLOSED == codes.CONNECTION_CLOSED
    assert protocol.REQUEST_TIMEOUT == codes.REQUEST_TIMEOUT
    assert protocol.UNSUPPORTED_PROTOCOL_VERSION == codes.UNSUPPORTED_PROTOCOL_VERSION
    assert protocol.INVALID_REQUEST == codes.INVALID_REQUEST
    assert protocol.METHOD_NOT_FOUND == codes.METHOD_NOT_FOUND
    assert protocol.INTERNAL_ERROR == codes.INTERNAL_ERROR


@given(st.text())
def test_header_values_are_encoded_as_the_sdk_encodes_them(value: str) -> None:
    assert protocol.encode_header_value(value) == inbound.encode_header_value(value)
    assert inbound.decode_header_value(protocol.encode_header_value(value)) == value


def test_header_values_that_look_like_the_wrapper_are_wrapped() -> None:
    for value in ("=?base64?abc?=", " padded", "naïve", "a\nb", "plain name"):
        assert protocol.encode_header_value(value) == inbound.encode_header_value(value)


def test_importing_the_channel_loads_neither_the_sdk_nor_pydantic() -> None:
    code = (
        "import sys, mcpctl.upstream; "
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('mcp', 'mcp_types', 'pydantic')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
