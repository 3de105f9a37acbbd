"""What every `/api/v1` route shares: its wrapper, and JSON rendered by orjson.

`endpoint` turns a handler of a group (`objects`, `auth`, `tokens`, `history`,
`gitops`) into the route's endpoint: it names the request, refuses NUL in the
URL, maps mcpctl's errors to problem+json once (`problems`), and writes a
denied attempt to the audit log. `app` assembles the routes from it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse as _StarletteJSONResponse
from starlette.responses import Response

from mcpctl.access.audit import record_audit_apart
from mcpctl.api.problems import problem, problem_for
from mcpctl.api.requests import reject_nul
from mcpctl.api.services import Services
from mcpctl.errors import Forbidden, McpctlError
from mcpctl.schemas import API_VERSION, BY_PLURAL

log = logging.getLogger(__name__)

#: What starlette calls for a route.
Endpoint = Callable[[Request], Awaitable[Response]]

#: A handler of a group: the request and the services it calls.
Handler = Callable[[Request, Services], Awaitable[Response]]


class JSONResponse(_StarletteJSONResponse):
    """JSON rendered by orjson (a 10,000-object list is most of its time in encoding)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def list_response(items: list[Any]) -> JSONResponse:
    """A `kind: List` answer of `items` (audit entries, events, timelines, sealed Secrets)."""
    return JSONResponse({"apiVersion": API_VERSION, "kind": "List", "items": items})


def endpoint(services: Services, handler: Handler, operation: str | None = None) -> Endpoint:
    """`handler` with errors mapped; `operation` names it in denied audit entries."""

    async def wrapped(request: Request) -> Response:
        request.state.request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.operation = operation
        try:
            reject_nul(request)
            return await handler(request, services)
        except Forbidden as e:
            await _audit_denied(services, request, str(e))
            return problem_for(e)
        except McpctlError as e:
            return problem_for(e)
        except Exception:
            log.exception("unexpected error in %s %s", request.method, request.url.path)
            return problem(500, "internal", "Internal error", "unexpected error; see mcpd's log")

    return wrapped


def bind(services: Services, handler: Handler) -> Endpoint:
    """`handler` given `services` and nothing more: for the probes, which map their own."""

    async def bound(request: Request) -> Response:
        return await handler(request, services)

    return bound


#: The audit verb of a request to an object route, as its success entry names it.
_VERBS = {"POST": "create", "PUT": "update", "DELETE": "delete"}


def _denied_target(request: Request) -> tuple[str, str | None, str | None, str | None]:
    """(verb, kind, name, project) of a request, for the audit entry of its denial."""
    params = request.path_params
    # /api/v1/PLURAL/...: the third segment of every route about a kind names it
    segments = request.url.path.strip("/").split("/")
    model = BY_PLURAL.get(params.get("plural") or (segments[2] if len(segments) > 2 else ""))
    name = params.get("name") or getattr(request.state, "target", None)
    project = params.get("project")
    verb = request.state.operation
    if verb is None and request.method == "GET":
        verb = "get" if "name" in params else "list"
    elif verb is None:
        verb = _VERBS.get(request.method, request.method.lower())
    return verb, model.KIND if model else None, name, project


async def _audit_denied(services: Services, request: Request, detail: str) -> None:
    principal = getattr(request.state, "principal", None)
    verb, kind, name, project = _denied_target(request)
    await record_audit_apart(
        services.sessions,
        principal,
        verb=verb,
        kind=kind,
        name=name,
        project=project,
        outcome="denied",
        request_id=getattr(request.state, "request_id", None),
        details={"path": request.url.path, "reason": detail},
    )
