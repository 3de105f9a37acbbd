"""Continue tokens: how a list of objects goes on where its last page ended.

`ObjectService.list_page` hands out a token per full page; the token holds the
last object id returned, opaque to clients (the API passes it through).
"""

from __future__ import annotations

import base64
import json

from mcpctl.errors import InvalidInput

MAX_PAGE = 5000


def encode_continue(last_id: int) -> str:
    raw = json.dumps({"after": last_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("invalid continue token") from None
    if not isinstance(after, int) or not 0 <= after < 2**63:  # ids are 64-bit
        raise InvalidInput("invalid continue token")
    return after
