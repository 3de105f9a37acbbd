"""The object routes: list, create, get, replace, delete, references, and apply.

`/api/v1/{plural}[/{name}]` and `/api/v1/projects/{project}/{plural}[/{name}]`
for every kind in `schemas`, and `POST /api/v1/apply` for a set of manifests.
Each parses the request and calls `ObjectService`, which checks access.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from mcpctl.api.endpoints import JSONResponse
from mcpctl.api.problems import ReadOnly
from mcpctl.api.requests import json_body, name_in, principal_of
from mcpctl.api.services import Services
from mcpctl.errors import InvalidInput, NotFound
from mcpctl.manifests import ChangeSet
from mcpctl.objects import Selector
from mcpctl.parameters import int_param
from mcpctl.schemas import API_VERSION, BY_PLURAL, Resource


def model_for(request: Request, *, scoped: bool) -> type[Resource]:
    """The kind a route's `{plural}` names, if it lives where the route is."""
    plural = request.path_params["plural"]
    model = BY_PLURAL.get(plural)
    if model is None:
        raise NotFound(f"unknown resource type {plural!r}")
    if scoped != model.PROJECT_SCOPED:
        where = "/api/v1/projects/{project}/" if model.PROJECT_SCOPED else "/api/v1/"
        raise NotFound(f"{plural} live under {where}{plural}")
    if plural in ("auditevents",):
        raise NotFound("audit entries are read at /api/v1/auditevents")
    if plural == "events" and request.method != "GET":
        raise ReadOnly("events are written by mcpd only; read them at /api/v1/events")
    if plural == "instances" and request.method in ("POST", "PUT"):
        raise ReadOnly(
            "instances are made by mcpd for Servers: change the Server (DELETE one to have "
            "it replaced)"
        )
    return model


async def list_or_create(request: Request, services: Services) -> Response:
    scoped = "project" in request.path_params
    model = model_for(request, scoped=scoped)
    project = request.path_params.get("project")
    principal = await principal_of(request, services.identity)
    if request.method == "POST":
        body = await json_body(request, services.max_body)
        request.state.target = name_in(body)
        created = await services.objects.create(principal, model, project, body)
        return JSONResponse(created, status_code=201)
    query = request.query_params
    selector = Selector.parse(query["labelSelector"]) if query.get("labelSelector") else None
    items, token = await services.objects.list_page(
        principal,
        model,
        project,
        selector=selector,
        spec_equals={"project": query["project"]}
        if model.KIND == "McpToken" and query.get("project")
        else None,
        limit=int_param(query.get("limit"), "limit", 500),
        continue_token=query.get("continue"),
    )
    meta = orjson.dumps({"continue": token} if token else {})
    body = b"".join(
        (
            b'{"apiVersion":"' + API_VERSION.encode() + b'","kind":"List","items":[',
            ",".join(items).encode("utf-8"),
            b'],"metadata":',
            meta,
            b"}",
        )
    )
    return Response(body, media_type="application/json")


async def item(request: Request, services: Services) -> Response:
    scoped = "project" in request.path_params
    model = model_for(request, scoped=scoped)
    project = request.path_params.get("project")
    name = request.path_params["name"]
    principal = await principal_of(request, services.identity)
    objects = services.objects
    if request.method == "GET":
        if request.query_params.get("showSecrets", "").lower() in ("1", "true", "yes"):
            return JSONResponse(await objects.get(principal, model, project, name, reveal=True))
        text = await objects.get_text(principal, model, project, name)
        return Response(text, media_type="application/json")
    if request.method == "PUT":
        body = await json_body(request, services.max_body)
        return JSONResponse(await objects.replace(principal, model, project, name, body))
    await objects.delete(principal, model, project, name)
    return Response(status_code=204)


async def references(request: Request, services: Services) -> Response:
    project = request.path_params.get("project")
    model = model_for(request, scoped=project is not None)
    principal = await principal_of(request, services.identity)
    return JSONResponse(
        await services.objects.references(principal, model, project, request.path_params["name"])
    )


async def apply(request: Request, services: Services) -> Response:
    principal = await principal_of(request, services.identity)
    body = await json_body(request, services.max_body)
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise InvalidInput("the body needs items: a list of manifests")
    unknown = set(body) - {"items", "dryRun", "prune", "selector"}
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}")
    flags = {k: body.get(k, False) for k in ("dryRun", "prune")}
    if not all(isinstance(v, bool) for v in flags.values()):
        raise InvalidInput("dryRun and prune must be booleans")
    selector_text = body.get("selector")
    if selector_text is not None and not isinstance(selector_text, str):
        raise InvalidInput("selector must be a string")
    result = await services.objects.apply(
        principal,
        body["items"],
        dry_run=flags["dryRun"],
        prune=flags["prune"],
        selector=Selector.parse(selector_text) if selector_text else None,
    )
    return JSONResponse(_changes_json(result.changes, result.dry_run))


def _changes_json(changes: ChangeSet, dry_run: bool) -> dict[str, Any]:
    return {"dryRun": dry_run, **changes.to_json()}
