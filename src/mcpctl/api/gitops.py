"""The GitOps routes (`/api/v1/gitops/...`): status, verify, timelines, restore, sync, seal.

Each parses the request and calls the reconciler's loops (`GitReplica`,
`Restorer`, `GitMirror`) or `ObjectService.seal`.
TODO(issue 8): the `run sync` and `run restore` checks below belong in those
operations, not in the handlers; they move there with the reconciler's rework.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mcpctl.access.audit import list_events
from mcpctl.access.policy import policy_of, require_run
from mcpctl.api.endpoints import JSONResponse
from mcpctl.api.requests import json_body, principal_of
from mcpctl.api.services import Services
from mcpctl.errors import Conflict, InvalidInput
from mcpctl.schemas import API_VERSION


async def status(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    async with services.sessions() as session:
        require_run(await policy_of(session, principal), "sync")
    answer = (await services.replica.status()).to_json()
    answer["publicKey"] = services.public_key
    answer["remote"] = services.mirror.status() if services.mirror is not None else None
    async with services.sessions() as session:
        conflicts = await list_events(session, reason="GitConflict", limit=20)
    answer["conflicts"] = [
        {
            "object": c["spec"]["involvedObject"],
            "message": c["spec"]["message"],
            "time": c["spec"]["lastTimestamp"],
        }
        for c in conflicts
    ]
    return JSONResponse(answer)


async def sync(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    async with services.sessions() as session:
        require_run(await policy_of(session, principal), "sync")
    if services.mirror is None:
        raise Conflict("no remote to sync with: start mcpd with --git-remote URL")
    report = await services.mirror.sync(principal)
    return JSONResponse(report.to_json())


async def verify(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    async with services.sessions() as session:
        require_run(await policy_of(session, principal), "sync")
    different, diff = await services.replica.verify()
    return JSONResponse({"inSync": not different, "differences": different, "diff": diff})


async def restore(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    body = await json_body(request, services.max_body)
    if not isinstance(body, dict) or not isinstance(body.get("to"), str):
        raise InvalidInput('the body needs "to": the revision to restore (a sha, main~2, ...)')
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 1000 or not _git_text(reason):
        raise InvalidInput('"reason" must be a string of at most 1000 characters, no NUL')
    async with services.sessions() as session:
        require_run(await policy_of(session, principal), "restore")
    assert services.restorer is not None
    report = await services.restorer.restore(principal, body["to"], reason)
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
    return JSONResponse({"apiVersion": API_VERSION, "kind": "List", "items": items})


async def timelines(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    async with services.sessions() as session:
        require_run(await policy_of(session, principal), "sync")
    assert services.restorer is not None
    items = await services.restorer.timelines()
    return JSONResponse({"apiVersion": API_VERSION, "kind": "List", "items": items})


def _git_text(value: str) -> bool:
    """`value` can go into a git commit message or note: UTF-8, no NUL."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which JSON's \ud800 escape can carry
        return False
    return "\x00" not in value
