"""The session routes: log in, log out, who am I, set a password (`/api/v1/auth`, `/users`).

Each parses the request and calls `IdentityService`, which checks access (and,
for a login, throttles failures by user name and by the client's address).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mcpctl.api.endpoints import JSONResponse
from mcpctl.api.requests import json_body, principal_of
from mcpctl.api.services import Services
from mcpctl.errors import InvalidInput
from mcpctl.manifests.canonical import format_timestamp


async def login(request: Request, services: Services) -> Response:
    body = await json_body(request, services.max_body)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("username"), str)
        or not isinstance(body.get("password"), str)
    ):
        raise InvalidInput("the body needs username and password (strings)")
    if "\x00" in body["username"]:
        raise InvalidInput("a user name cannot contain NUL characters")
    # the peer, or the client a trusted proxy forwards (uvicorn's X-Forwarded-For handling)
    address = request.client.host if request.client else None
    done = await services.identity.login(body["username"], body["password"], address)
    return JSONResponse(
        {"token": done.token, "user": done.user, "expiresAt": format_timestamp(done.expires_at)}
    )


async def logout(request: Request, services: Services) -> Response:
    await principal_of(request, services.identity)
    raw = request.headers.get("authorization", "").partition(" ")[2].strip()
    await services.identity.logout(raw)
    return Response(status_code=204)


async def me(request: Request, services: Services) -> Response:
    return JSONResponse(await services.identity.me(await principal_of(request, services.identity)))


async def password(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    body = await json_body(request, services.max_body)
    if not isinstance(body, dict) or not isinstance(body.get("password"), str):
        raise InvalidInput("the body needs password (a string)")
    current = body.get("currentPassword")
    if current is not None and not isinstance(current, str):
        raise InvalidInput("currentPassword must be a string")
    await services.identity.set_password(
        principal, request.path_params["name"], body["password"], current
    )
    return Response(status_code=204)
