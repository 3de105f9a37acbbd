"""What happened: audit entries (`/api/v1/auditevents`) and events (`/api/v1/events`).

Both are read-only lists, newest first, filtered by the query.
TODO(issue 8): their `view` checks belong in the listings of `access.audit`,
not here (see the handlers).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mcpctl.access.audit import list_audit, list_events
from mcpctl.access.policy import policy_of, require
from mcpctl.api.endpoints import JSONResponse
from mcpctl.api.requests import int_param, parse_timestamp, principal_of
from mcpctl.api.services import Services
from mcpctl.schemas import API_VERSION


async def audit(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    query = request.query_params
    async with services.sessions() as session:
        require(await policy_of(session, principal), "view", "auditevents")
        items = await list_audit(
            session,
            user=query.get("user"),
            kind=query.get("kind"),
            project=query.get("project"),
            since=parse_timestamp(query["since"]) if query.get("since") else None,
            until=parse_timestamp(query["until"]) if query.get("until") else None,
            limit=min(int_param(query.get("limit"), "limit", 500), 5000),
        )
    return JSONResponse({"apiVersion": API_VERSION, "kind": "List", "items": items})


async def events(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    query = request.query_params
    async with services.sessions() as session:
        require(await policy_of(session, principal), "view", "events")
        items = await list_events(
            session,
            kind=query.get("kind"),
            name=query.get("name"),
            project=query.get("project"),
            limit=min(int_param(query.get("limit"), "limit", 100), 1000),
        )
    return JSONResponse({"apiVersion": API_VERSION, "kind": "List", "items": items})
