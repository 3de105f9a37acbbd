"""What only the leader answers, a follower relays to it: one state repo for the cluster.

Every replica serves `/api/v1`. The git endpoint, restore, sync, seal, verify
and timelines act on the cluster's state repo, which the leader alone moves:
on a follower, `LeaderOnly` (ASGI middleware) relays those requests to the
leader's advertised URL with the caller's own credentials, and streams the
answer back, so a clone, a push or `mcpctl restore` through any replica
reaches the same `main`. A relayed request carries `Mcpctl-Relayed-By`; a
replica that gets one while not leading (the lease moved in between) answers
503 instead of relaying again, and so does a follower while no replica leads:
the client retries (`Retry-After`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mcpctl.api.problems import problem
from mcpctl.client.relay import Relay
from mcpctl.errors import BackendUnavailable
from mcpctl.reconciler.leadership import Leadership

#: The paths only the leader answers (a prefix each).
LEADER_ONLY = (
    "/git/",
    "/api/v1/gitops/restore",
    "/api/v1/gitops/sync",
    "/api/v1/gitops/seal",
    "/api/v1/gitops/verify",
    "/api/v1/gitops/timelines",
    # the MCP endpoint: the leader runs the instances and holds their channels
    "/mcp/",
)
#: ... and the logs of running instances (the leader's drivers hold them).
LEADER_ONLY_LOGS = re.compile(r"^/api/v1/(instances|servers)/[^/]+/log$")
RELAYED_BY = "mcpctl-relayed-by"

__all__ = ["LEADER_ONLY", "LEADER_ONLY_LOGS", "RELAYED_BY", "LeaderOnly"]


class LeaderOnly:
    """Relays the requests of `LEADER_ONLY` to the leader when this replica follows."""

    def __init__(self, app: ASGIApp, leadership: Leadership, relay: Relay) -> None:
        self.app = app
        self.leadership = leadership
        self.relay = relay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        leadership = self.leadership
        if (
            scope["type"] != "http"
            or not _leader_only(str(scope["path"]))
            or leadership.in_office()
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        response: Response
        if request.headers.get(RELAYED_BY):
            response = _unavailable("the request reached a replica that does not lead: retry")
        else:
            url = leadership.leader_url()
            if url is None:
                await leadership.refresh()
                url = leadership.leader_url()
            if leadership.in_office():  # elected while it looked
                await self.app(scope, receive, send)
                return
            if url is None:
                response = _unavailable("no replica leads at the moment (an election is on): retry")
            else:
                response = await self._relay(request, url)
        await response(scope, receive, send)

    async def _relay(self, request: Request, url: str) -> Response:
        target = url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        headers = [*request.headers.items(), (RELAYED_BY, self.leadership.name)]

        async def body() -> AsyncIterator[bytes]:
            async for chunk in request.stream():
                if chunk:
                    yield chunk

        try:
            answer = await self.relay.send(request.method, target, headers, body())
        except BackendUnavailable as e:
            return _unavailable(f"{e}: retry")
        response = StreamingResponse(answer.body, status_code=answer.status)
        response.raw_headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers
        ]
        return response


def _leader_only(path: str) -> bool:
    return path.startswith(LEADER_ONLY) or LEADER_ONLY_LOGS.match(path) is not None


def _unavailable(detail: str) -> Response:
    response = problem(503, "unavailable", "No leader", detail)
    response.headers["Retry-After"] = "1"
    return response
