"""An answer gets its caller's id back, whatever the server's layout, and nothing else changes."""

from __future__ import annotations

import json

import orjson
from hypothesis import given
from hypothesis import strategies as st

from mcpctl.upstream.wire import Json, restore_id

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)
caller_ids = st.integers(-(2**53), 2**53) | st.text(max_size=12)


def _layouts(ours: int, result: Json) -> list[bytes]:
    """The same answer as the Python SDK, the TypeScript SDK and others lay it out."""
    return [
        orjson.dumps({"jsonrpc": "2.0", "id": ours, "result": result}),
        orjson.dumps({"result": result, "jsonrpc": "2.0", "id": ours}),
        orjson.dumps({"id": ours, "jsonrpc": "2.0", "result": result}),
        orjson.dumps({"jsonrpc": "2.0", "result": result, "id": ours, "extra": 1}),
        json.dumps({"jsonrpc": "2.0", "id": ours, "result": result}, indent=1).encode(),
        orjson.dumps({"jsonrpc": "2.0", "id": ours, "error": {"code": -1, "message": "no"}}),
    ]


@given(st.integers(1, 10**9), caller_ids, json_values)
def test_the_callers_id_replaces_ours_and_the_rest_is_unchanged(
    ours: int, theirs: Json, result: Json
) -> None:
    for raw in _layouts(ours, result):
        parsed = orjson.loads(raw)
        restored = orjson.loads(restore_id(raw, parsed, ours, orjson.dumps(theirs)))
        assert restored == {**parsed, "id": theirs}


def test_an_id_inside_the_result_is_not_the_answers_id() -> None:
    raw = b'{"result":{"x":{"id":5}},"jsonrpc":"2.0","id":55}'
    restored = restore_id(raw, orjson.loads(raw), 55, b'"mine"')
    assert orjson.loads(restored) == {"result": {"x": {"id": 5}}, "jsonrpc": "2.0", "id": "mine"}
    raw = b'{"jsonrpc":"2.0","id":5,"result":{"text":",\\"id\\":5}"}}'
    assert orjson.loads(restore_id(raw, orjson.loads(raw), 5, b"7"))["result"] == {
        "text": ',"id":5}'
    }


def test_the_common_layouts_are_spliced_not_dumped_again() -> None:
    # Splicing keeps the server's bytes: a float's spelling survives, as a dump would not.
    python = b'{"jsonrpc":"2.0","id":3,"result":{"n":1.50}}'
    typescript = b'{"result":{"n":1.50},"jsonrpc":"2.0","id":3}'
    assert (
        restore_id(python, orjson.loads(python), 3, b'"a"')
        == b'{"jsonrpc":"2.0","id":"a","result":{"n":1.50}}'
    )
    assert (
        restore_id(typescript, orjson.loads(typescript), 3, b"9")
        == b'{"result":{"n":1.50},"jsonrpc":"2.0","id":9}'
    )
