"""The starlette application of mcpd: `/api/v1`, the state repo's `/git`, the probes.

`build_app` assembles the route table from the handlers of each group:
`objects` (the object routes and apply), `auth` (sessions), `tokens`
(McpTokens, ServiceAccount tokens), `history` (audit entries, events),
`gitops`, `health` (probes) and `openapi`; the git endpoint adds its own.
Handlers parse the request and call the services; they hold no logic of their
own. `endpoints` wraps each: errors are mapped once (`problems`), and a denied
attempt is an audit entry too. Called by the daemon (`daemon/main.py`).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mcpctl.api import auth, cluster, gitops, health, history, logs, objects, tokens
from mcpctl.api.endpoints import Endpoint, Handler, bind, endpoint
from mcpctl.api.forwarding import LeaderOnly
from mcpctl.api.openapi import serve_openapi
from mcpctl.api.problems import problem
from mcpctl.api.services import Services
from mcpctl.client.relay import Relay

__all__ = ["Services", "build_app"]


def build_app(services: Services) -> Starlette:
    """The ASGI app over `services`."""

    def api(handler: Handler, operation: str | None = None) -> Endpoint:
        return endpoint(services, handler, operation)

    routes: list[BaseRoute] = [
        Route("/healthz", health.healthz),
        Route("/readyz", bind(services, health.readyz)),
        Route("/cluster/v1/sealing-key", bind(services, cluster.sealing_key)),
        Route("/api/v1/openapi.json", serve_openapi),
        Route("/api/v1/auth/login", api(auth.login), methods=["POST"]),
        Route("/api/v1/auth/logout", api(auth.logout), methods=["POST"]),
        Route("/api/v1/auth/me", api(auth.me)),
        Route("/api/v1/apply", api(objects.apply, "apply"), methods=["POST"]),
        Route("/api/v1/auditevents", api(history.audit)),
        Route("/api/v1/events", api(history.events)),
        Route("/api/v1/gitops/status", api(gitops.status)),
        Route("/api/v1/gitops/verify", api(gitops.verify)),
        Route("/api/v1/gitops/restore", api(gitops.restore, "restore"), methods=["POST"]),
        Route("/api/v1/gitops/timelines", api(gitops.timelines)),
        Route("/api/v1/gitops/sync", api(gitops.sync, "sync"), methods=["POST"]),
        Route("/api/v1/gitops/seal", api(gitops.seal, "seal"), methods=["POST"]),
        Route("/api/v1/mcptokens/introspect", api(tokens.introspect)),
        Route("/api/v1/mcptokens", api(tokens.create_token), methods=["POST"]),
        Route(
            "/api/v1/mcptokens/{name}/revoke", api(tokens.revoke_token, "revoke"), methods=["POST"]
        ),
        Route(
            "/api/v1/serviceaccounts/{name}/tokens",
            api(tokens.sa_tokens, "token"),
            methods=["GET", "POST", "DELETE"],
        ),
        Route("/api/v1/users/{name}/password", api(auth.password, "set-password"), methods=["PUT"]),
        Route("/api/v1/instances/{name}/log", api(logs.instance_log, "logs")),
        Route("/api/v1/servers/{name}/log", api(logs.server_log, "logs")),
        # before the project-scoped routes: /api/v1/projects/NAME/references is a Project's
        Route("/api/v1/{plural}/{name}/references", api(objects.references, "get")),
        Route(
            "/api/v1/projects/{project}/{plural}/{name}/references",
            api(objects.references, "get"),
        ),
        Route(
            "/api/v1/projects/{project}/{plural}",
            api(objects.list_or_create),
            methods=["GET", "POST"],
        ),
        Route(
            "/api/v1/projects/{project}/{plural}/{name}",
            api(objects.item),
            methods=["GET", "PUT", "DELETE"],
        ),
        Route("/api/v1/{plural}", api(objects.list_or_create), methods=["GET", "POST"]),
        Route("/api/v1/{plural}/{name}", api(objects.item), methods=["GET", "PUT", "DELETE"]),
    ]
    if services.git is not None:
        routes.extend(services.git.routes())
    routes.extend(services.mounted)
    app = Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_found})
    if services.leadership is not None and not services.leadership.single:
        # what only the leader answers, a follower relays to it (api/forwarding.py)
        app.add_middleware(LeaderOnly, leadership=services.leadership, relay=Relay())
    return app


async def _not_found(request: Request, exc: Exception) -> Response:
    """A path no route serves (404), or a method its route does not (405)."""
    status = getattr(exc, "status_code", 404)
    if status == 405:
        response = problem(
            405,
            "method-not-allowed",
            "Method not allowed",
            f"{request.method} is not allowed here",
        )
        response.headers.update(getattr(exc, "headers", None) or {})  # Allow (RFC 9110)
        return response
    return problem(404, "not-found", "Not found", f"no route {request.url.path}")
