"""Reading a request: who sent it, its JSON body (within a size limit), its names.

Called by the handlers of every group (`objects`, `auth`, `tokens`, `history`,
`gitops`) and by `endpoints`; each raises `InvalidInput` (or `TooLarge`), which
`endpoints` maps to problem+json.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from mcpctl.access import Principal
from mcpctl.api.problems import TooLarge
from mcpctl.errors import InvalidInput
from mcpctl.identity import IdentityService

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
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise InvalidInput(f"the body is not valid JSON: {e}") from None


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
