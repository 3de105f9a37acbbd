"""The `Mcp-Param-*` headers of a modern `tools/call` over streamable HTTP.

A 2026-07-28 tool may mark arguments of its input schema with `x-mcp-header: <token>`,
asking a client to mirror each such argument's value into an `Mcp-Param-<token>` header
(so that an intermediary can route on it without reading the body); the SDK's server
refuses a call whose headers and arguments disagree. The channel learns the marks from
the `tools/list` answers that pass through it (the proxy lists before it calls, as the
SDK's client must), and adds the headers to the calls.

The rules are the spec's, as the SDK applies them (`mcp.shared.inbound`, compared by
`tests/unit/upstream/test_params.py`): a mark counts only on a property reached from the
root through `properties` alone, naming an RFC 9110 token, on a string, integer or
boolean property, unique (case-insensitively) in its schema; a schema with any mark
that breaks them gets no headers at all. A value is mirrored when present and not null:
`true`/`false` for booleans, the number or text as it is otherwise, wrapped where it
would not survive a header (`protocol.encode_header_value`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Final

from mcpctl.upstream.protocol import encode_header_value
from mcpctl.upstream.wire import Json

__all__ = ["PARAM_HEADER_PREFIX", "ParamMap", "header_map", "param_headers"]

PARAM_HEADER_PREFIX: Final = "Mcp-Param-"
MARK: Final = "x-mcp-header"
#: Which arguments go into which header: the argument's path -> the header's token.
ParamMap = dict[tuple[str, ...], str]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PRIMITIVE = frozenset({"string", "integer", "boolean"})
# JSON Schema keywords whose values are schemas (one, a list, a map of them): the walk
# enters these only, never instance data (`default`, `const`, `enum`, `examples`).
_ONE = frozenset(
    {
        "items",
        "contains",
        "unevaluatedItems",
        "additionalProperties",
        "propertyNames",
        "unevaluatedProperties",
        "not",
        "if",
        "then",
        "else",
        "contentSchema",
    }
)
_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_MAP = frozenset({"patternProperties", "dependentSchemas", "$defs", "definitions"})


def _positions(schema: Json) -> Iterator[tuple[tuple[str, ...] | None, dict[str, Json]]]:
    """Every schema in `schema`, with its `properties` path from the root (None once the
    walk went through any other keyword)."""
    stack: list[tuple[tuple[str, ...] | None, Json]] = [((), schema)]
    while stack:
        path, node = stack.pop()
        if not isinstance(node, dict):
            continue
        yield path, node
        for keyword, value in node.items():
            if keyword == "properties" and isinstance(value, dict):
                stack.extend(
                    ((*path, name) if path is not None else None, sub)
                    for name, sub in value.items()
                )
            elif keyword in _ONE:
                stack.append((None, value))
            elif keyword in _LIST and isinstance(value, list):
                stack.extend((None, sub) for sub in value)
            elif keyword in _MAP and isinstance(value, dict):
                stack.extend((None, sub) for sub in value.values())


def header_map(input_schema: Json) -> ParamMap:
    """The marked arguments of a tool's input schema (none if any mark is invalid)."""
    found: ParamMap = {}
    seen: set[str] = set()
    for path, node in _positions(input_schema):
        if MARK not in node:
            continue
        token = node[MARK]
        if (
            not path
            or not isinstance(token, str)
            or not _TOKEN.fullmatch(token)
            or not isinstance(kind := node.get("type"), str)
            or kind not in _PRIMITIVE
            or token.lower() in seen
        ):
            return {}
        seen.add(token.lower())
        found[path] = token
    return found


def _rendered(value: Json) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        try:
            return str(value)
        except ValueError:  # an integer past Python's digit limit
            return None
    return None


def param_headers(marks: Mapping[tuple[str, ...], str], arguments: Json) -> dict[str, str]:
    """The headers a call with `arguments` carries for a tool marked as `marks`."""
    headers: dict[str, str] = {}
    for path, token in marks.items():
        node = arguments
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None and (text := _rendered(node)) is not None:
            headers[PARAM_HEADER_PREFIX + token] = encode_header_value(text)
    return headers
