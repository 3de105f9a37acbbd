"""What happened: audit entries (`/api/v1/auditevents`) and events (`/api/v1/events`).

Both are read-only lists, newest first, filtered by the query; the operations
(`access.audit.read_audit`, `objects.events.read_events`) check that the caller
may view them before they read the filters.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mcpctl.access.audit import HistoryQuery, read_audit
from mcpctl.api.endpoints import list_response
from mcpctl.api.requests import principal_of
from mcpctl.api.services import Services
from mcpctl.objects.events import read_events


def _query(request: Request) -> HistoryQuery:
    query = request.query_params
    return HistoryQuery(
        user=query.get("user"),
        kind=query.get("kind"),
        name=query.get("name"),
        project=query.get("project"),
        since=query.get("since"),
        until=query.get("until"),
        limit=query.get("limit"),
    )


async def audit(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    async with services.sessions() as session:
        items = await read_audit(session, principal, _query(request))
    return list_response(items)


async def events(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    async with services.sessions() as session:
        items = await read_events(session, principal, _query(request))
    return list_response(items)
