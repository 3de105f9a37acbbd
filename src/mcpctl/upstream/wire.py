"""JSON-RPC as bytes: build the few messages the channel writes itself, and give an answer
back its caller's id without rebuilding it.

The proxy puts thousands of calls a second through one channel, so nothing here makes
pydantic models: orjson parses a message once (the channel must know its id and method
anyway) and an answer, which may be a large tool result, gets its id back by splicing
bytes wherever the id sits where servers put it (first after `jsonrpc`, as the Python SDK
writes, or last, as the TypeScript SDK does); any other layout is dumped again from the
parsed message, which is always right, only slower.
"""

from __future__ import annotations

from typing import TypeAlias

import orjson

__all__ = [
    "Json",
    "JsonObject",
    "encode_error",
    "encode_notification",
    "encode_request",
    "encode_result",
    "restore_id",
]

Json: TypeAlias = bool | int | float | str | list["Json"] | dict[str, "Json"] | None
JsonObject: TypeAlias = dict[str, Json]

_JSONRPC_FIRST = b'{"jsonrpc":"2.0",'


def encode_request(request_id: int, method: str, params: JsonObject | None) -> bytes:
    message: JsonObject = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return orjson.dumps(message)


def encode_notification(method: str, params: JsonObject | None) -> bytes:
    message: JsonObject = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return orjson.dumps(message)


def encode_result(request_id: Json, result: JsonObject) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "result": result})


def encode_error(request_id: Json, code: int, message: str, data: Json = None) -> bytes:
    error: JsonObject = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "error": error})


def restore_id(raw: bytes, parsed: JsonObject, ours: int, theirs: bytes) -> bytes:
    """The answer `raw` (whose parsed form is `parsed`, with our id `ours`) with the caller's
    id, given as its JSON bytes `theirs`.

    Splicing is sound only where the id is a top-level member for certain: right after
    the opening `{"jsonrpc":"2.0",`, or the very first member, or the very last one
    (the closing brace ends the top-level object, so the member before it is top-level).
    The byte after the spliced number must end it, so id 5 never matches 55."""
    token = b'"id":%d' % ours
    head = _JSONRPC_FIRST + token
    if raw.startswith(head) and raw[len(head) : len(head) + 1] in (b",", b"}"):
        return _JSONRPC_FIRST + b'"id":' + theirs + raw[len(head) :]
    first = b"{" + token
    if raw.startswith(first) and raw[len(first) : len(first) + 1] in (b",", b"}"):
        return b'{"id":' + theirs + raw[len(first) :]
    tail = b"," + token + b"}"
    if raw.endswith(tail):
        return raw[: -len(tail)] + b',"id":' + theirs + b"}"
    rebuilt = dict(parsed)
    rebuilt["id"] = orjson.loads(theirs)
    return orjson.dumps(rebuilt)
