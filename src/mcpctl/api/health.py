"""The probes: `/healthz` (mcpd answers) and `/readyz` (its database answers, at head).

Served as they are, with no authentication and no error mapping: each answers
for itself. Called by orchestrators and by `dev.py up`'s wait.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mcpctl.api.endpoints import JSONResponse
from mcpctl.api.problems import problem
from mcpctl.api.services import Services
from mcpctl.store.database import check_database


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request, services: Services) -> Response:
    health = await check_database(services.engine)
    if health.unreachable is not None:
        return problem(
            503, "unavailable", "Not ready", f"database unreachable: {health.unreachable}"
        )
    if not health.at_head:
        return problem(503, "unavailable", "Not ready", f"schema at {health.revision}, not at head")
    follower = services.follower
    if follower is not None and follower.unable is not None:
        return problem(503, "unavailable", "Not ready", follower.unable)
    leadership = services.leadership
    role = None
    if leadership is not None:
        role = (
            "single" if leadership.single else ("leader" if leadership.in_office() else "follower")
        )
    return JSONResponse({"status": "ready", "schema": health.revision, "role": role})
