"""The token routes: McpTokens (create, revoke, introspect) and ServiceAccount tokens.

Each parses the request and calls `IdentityService`, which checks access.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mcpctl.api.endpoints import JSONResponse
from mcpctl.api.requests import json_body, name_in, principal_of
from mcpctl.api.services import Services
from mcpctl.parameters import parse_timestamp


async def create_token(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    body = await json_body(request, services.max_body)
    request.state.target = name_in(body)
    raw, created = await services.identity.create_mcptoken(principal, body)
    return JSONResponse({"token": raw, "object": created}, status_code=201)


async def revoke_token(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    return JSONResponse(
        await services.identity.revoke_mcptoken(principal, request.path_params["name"])
    )


async def introspect(request: Request, services: Services) -> Response:
    raw = request.headers.get("authorization", "").partition(" ")[2].strip()
    return JSONResponse(await services.identity.introspect(raw))


async def sa_tokens(request: Request, services: Services) -> Response:
    """GET: list a ServiceAccount's tokens; POST: mint one; DELETE: revoke (by prefix)."""
    if request.method == "POST":
        return await sa_token(request, services)
    principal = await principal_of(request, services.identity)
    name = request.path_params["name"]
    if request.method == "DELETE":
        prefix = request.query_params.get("prefix") or None
        count = await services.identity.revoke_sa_tokens(principal, name, prefix)
        return JSONResponse({"revoked": count})
    return JSONResponse({"items": await services.identity.sa_tokens(principal, name)})


async def sa_token(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    body = await json_body(request, services.max_body, optional=True)
    expires = body.get("expiresAt") if isinstance(body, dict) else None
    raw = await services.identity.create_sa_token(
        principal, request.path_params["name"], parse_timestamp(expires) if expires else None
    )
    return JSONResponse({"token": raw}, status_code=201)
