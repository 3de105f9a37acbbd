"""Reading a request: who sent it, its JSON body (within a size limit), its names.

Called by the handlers of every group (`objects`, `auth`, `tokens`, `history`,
`gitops`) and by `endpoints`; each raises `InvalidInput` (or `TooLarge`), which
`endpoints` maps to problem+json.

A JSON body holds only what mcpd can store and answer with, whatever handler
reads it: UTF-8 text, no lone UTF-16 surrogate (`"\\ud800"` decodes to one,
and neither a database nor an answer can encode it), no integer outside the
signed 64-bit range (the rule of manifests, `manifests.parsing.INT_MIN`..
`INT_MAX`), no NaN or Infinity (not JSON). A body that breaks it is refused
naming the field, before any handler sees it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from mcpctl.access import Principal
from mcpctl.api.problems import TooLarge
from mcpctl.errors import InvalidInput
from mcpctl.escaping import escape
from mcpctl.identity import IdentityService
from mcpctl.manifests.parsing import INT_MAX, INT_MIN, INT_RULE, Path, format_path

#: The largest request body accepted unless mcpd's settings say otherwise.
DEFAULT_MAX_BODY = 16 * 1024 * 1024


async def principal_of(request: Request, identity: IdentityService) -> Principal:
    """Who sent `request` (its bearer token), kept on it for the audit of a denial."""
    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    principal = await identity.authenticate(raw.strip() if scheme.lower() == "bearer" else None)
    request.state.principal = principal
    return principal


async def json_body(request: Request, max_body: int, *, optional: bool = False) -> Any:
    """The JSON body of `request`, refused past `max_body` bytes (None if empty and optional)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_body:
        raise TooLarge(f"the body is larger than {max_body} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            raise TooLarge(f"the body is larger than {max_body} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        if optional:
            return None
        raise InvalidInput("the request needs a JSON body")
    encoding = json.detect_encoding(raw)
    try:  # strictly: json itself would let encoded surrogates through
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        raise InvalidInput(f"the body is not valid {encoding}: {e}") from None
    reader = _Reader()
    try:
        body = json.loads(text, parse_int=reader.read_int, parse_constant=_not_json)
    except (ValueError, RecursionError) as e:
        raise InvalidInput(f"the body is not valid JSON: {e}") from None
    if reader.out_of_range or _SURROGATE_ESCAPE.search(text):  # rare: then find where
        _check_values(body)
    return body


#: A `\uD800`-`\uDFFF` escape, paired or not (the walk tells): how a lone surrogate gets
#: into text that decoded as UTF-8.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class _Reader:
    """json's reader of integers, noting whether any is out of range (then the walk finds it)."""

    def __init__(self) -> None:
        self.out_of_range = False

    def read_int(self, text: str) -> int:
        number = int(text)
        if not INT_MIN <= number <= INT_MAX:
            self.out_of_range = True
        return number


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _check_values(body: Any) -> None:
    """Refuse the first value of `body` mcpd cannot hold, naming its field."""
    stack: list[tuple[Path, Any]] = [((), body)]
    while stack:  # not recursive: json nests as deep as the interpreter's stack allows
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if _LONE_SURROGATE.search(key):
                    _refuse(path, f"the key {key!r} holds a lone UTF-16 surrogate")
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, i), item) for i, item in enumerate(value))
        elif isinstance(value, str) and _LONE_SURROGATE.search(value):
            _refuse(path, "a lone UTF-16 surrogate: strings must be valid Unicode")
        elif isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
            _refuse(path, f"an integer out of range: {INT_RULE}")


def _refuse(path: Path, what: str) -> None:
    where = escape(format_path(path)) or "the body"
    raise InvalidInput(f"{where}: {what}")


def reject_nul(request: Request) -> None:
    """No name or query value holds NUL, and PostgreSQL cannot compare text with one."""
    query = (text for pair in request.query_params.multi_items() for text in pair)
    if any("\x00" in str(text) for text in (*request.path_params.values(), *query)):
        raise InvalidInput("the URL cannot contain NUL characters (%00)")


def name_in(body: Any) -> str | None:
    """metadata.name of a request body, for the audit entry of a denied create."""
    metadata = body.get("metadata") if isinstance(body, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None
