"""Errors as `application/problem+json`, mapped once from mcpctl's exception tree.

A throttled login (429) also says which limit refused it and, in seconds, when to
try again: `limit` and `retryAfter` in the body, and the `Retry-After` header. A
request that kept meeting contention in the state repo (503) says `Retry-After: 1`:
another writer held it, and will not for long.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.responses import JSONResponse

from mcpctl.errors import (
    BackendUnavailable,
    Conflict,
    Contention,
    Forbidden,
    InvalidInput,
    InvalidManifest,
    McpctlError,
    NotFound,
)
from mcpctl.identity import Throttled, Unauthenticated


class ReadOnly(InvalidInput):
    """A resource only mcpd writes (405)."""


class TooLarge(InvalidInput):
    """The request body is larger than mcpd accepts (413)."""


PROBLEM_BASE = "https://mcpctl.dev/problems/"
#: Seconds to wait before trying again a request that kept meeting contention.
CONTENTION_RETRY_AFTER = "1"

#: exception class -> (status, slug, title), most specific first.
_TABLE: tuple[tuple[type[McpctlError], int, str, str], ...] = (
    (TooLarge, 413, "too-large", "Request too large"),
    (ReadOnly, 405, "method-not-allowed", "Method not allowed"),
    (Unauthenticated, 401, "unauthenticated", "Authentication required"),
    (Throttled, 429, "rate-limited", "Too many requests"),
    (Forbidden, 403, "forbidden", "Forbidden"),
    (NotFound, 404, "not-found", "Not found"),
    (Conflict, 409, "conflict", "Conflict"),
    (InvalidManifest, 422, "invalid", "Invalid manifest"),
    (InvalidInput, 422, "invalid", "Invalid input"),
    (BackendUnavailable, 503, "unavailable", "Unavailable"),
)


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    body.update(extra)
    headers = {"WWW-Authenticate": 'Bearer realm="mcpd"'} if status == 401 else None
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def problem_for(error: McpctlError) -> JSONResponse:
    for cls, status, slug, title in _TABLE:
        if isinstance(error, cls):
            extra: dict[str, Any] = {}
            if isinstance(error, InvalidManifest):
                extra["issues"] = [
                    {k: v for k, v in asdict(i).items() if v is not None} for i in error.issues
                ]
            elif isinstance(error, Throttled):
                extra = {"limit": error.limit, "retryAfter": error.retry_after}
            response = problem(status, slug, title, str(error), **extra)
            if isinstance(error, Throttled):  # whole seconds (RFC 9110)
                response.headers["Retry-After"] = str(error.retry_after)
            elif isinstance(error, Contention):
                response.headers["Retry-After"] = CONTENTION_RETRY_AFTER
            return response
    return problem(500, "internal", "Internal error", "unexpected error")
