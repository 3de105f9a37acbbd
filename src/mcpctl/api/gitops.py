"""The GitOps routes (`/api/v1/gitops/...`): status, verify, timelines, restore, sync, seal.

Each parses the request and calls an operation: the reconciler's
`GitOperations` (which checks `run sync` or `run restore`) or
`ObjectService.seal` (which checks create or edit of each Secret).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mcpctl.api.endpoints import JSONResponse, list_response
from mcpctl.api.requests import json_body, principal_of
from mcpctl.api.services import Services
from mcpctl.errors import InvalidInput
from mcpctl.reconciler.operations import GitOperations


async def status(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    return JSONResponse(await _gitops(services).status(principal))


async def sync(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    report = await _gitops(services).sync(principal)
    return JSONResponse(report.to_json())


async def verify(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    different, diff = await _gitops(services).verify(principal)
    return JSONResponse({"inSync": not different, "differences": different, "diff": diff})


async def restore(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    body = await json_body(request, services.max_body)
    if not isinstance(body, dict) or not isinstance(body.get("to"), str):
        raise InvalidInput('the body needs "to": the revision to restore (a sha, main~2, ...)')
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 1000 or not _git_text(reason):
        raise InvalidInput('"reason" must be a string of at most 1000 characters, no NUL')
    report = await _gitops(services).restore(principal, body["to"], reason)
    return JSONResponse(report.to_json())


async def seal(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    body = await json_body(request, services.max_body)
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise InvalidInput("the body needs items: a list of Secret manifests")
    unknown = set(body) - {"items"}
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}")
    items = await services.objects.seal(principal, body["items"], services.replica.seal)
    return list_response(items)


async def timelines(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    items = await _gitops(services).timelines(principal)
    return list_response(items)


def _gitops(services: Services) -> GitOperations:
    assert services.gitops is not None, "mcpd's wiring builds the gitops operations"
    return services.gitops


def _git_text(value: str) -> bool:
    """`value` can go into a git commit message or note: UTF-8, no NUL."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which JSON's \ud800 escape can carry
        return False
    return "\x00" not in value
