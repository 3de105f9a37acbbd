"""The `Mcp-Param-*` headers are the ones the SDK's client would send, for the same schemas."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp.shared import inbound

from mcpctl.upstream.params import header_map, param_headers

SCHEMAS: list[Any] = [
    {"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}},
    {
        "type": "object",
        "properties": {
            "where": {
                "type": "object",
                "properties": {
                    "zone": {"type": "integer", "x-mcp-header": "Zone"},
                    "fast": {"type": "boolean", "x-mcp-header": "Fast"},
                },
            },
            "plain": {"type": "string"},
        },
    },
    # invalid marks: the SDK's client drops the tool's headers, and so does the channel
    {"type": "object", "properties": {"n": {"type": "number", "x-mcp-header": "N"}}},
    {"type": "object", "properties": {"a": {"type": "string", "x-mcp-header": "bad token"}}},
    {
        "type": "object",
        "properties": {
            "a": {"type": "string", "x-mcp-header": "Dup"},
            "b": {"type": "string", "x-mcp-header": "dup"},
        },
    },
    {"type": "object", "allOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]},
    {"type": "string", "x-mcp-header": "Root"},
    {"type": "object", "properties": {"a": {"type": ["string", "null"], "x-mcp-header": "A"}}},
    # a mark inside instance data is no mark
    {"type": "object", "properties": {"a": {"type": "string", "default": {"x-mcp-header": "No"}}}},
    None,
]


def _sdk_map(schema: Any) -> dict[tuple[str, ...], str]:
    if inbound.find_invalid_x_mcp_header(schema) is not None:
        return {}
    return inbound.x_mcp_header_map(schema)


@pytest.mark.parametrize("schema", SCHEMAS)
def test_marks_are_read_as_the_sdk_reads_them(schema: Any) -> None:
    assert header_map(schema) == _sdk_map(schema)


arguments = st.dictionaries(
    st.sampled_from(["region", "where", "plain", "other"]),
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=10)
    | st.dictionaries(
        st.sampled_from(["zone", "fast"]), st.none() | st.booleans() | st.integers() | st.text()
    ),
)


@given(arguments)
def test_headers_are_rendered_as_the_sdk_renders_them(args: dict[str, Any]) -> None:
    for schema in SCHEMAS[:2]:
        marks = header_map(schema)
        assert param_headers(marks, args) == inbound.mcp_param_headers(marks, args)
