"""The starlette application of mcpd: `/api/v1`, health, OpenAPI.

Routes parse the request, authenticate, and call the services; they hold no
logic of their own. Errors are mapped once (`problems`); a denied attempt is
an audit entry too.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse as _StarletteJSONResponse
from starlette.responses import Response
from starlette.routing import Route

from mcpctl.access import Principal
from mcpctl.access.audit import list_audit, list_events, record_audit_apart
from mcpctl.access.policy import policy_of, require, require_run
from mcpctl.api.githttp import GitEndpoint
from mcpctl.api.openapi import openapi_document
from mcpctl.api.problems import ReadOnly, TooLarge, problem, problem_for
from mcpctl.errors import Conflict, Forbidden, InvalidInput, McpctlError, NotFound
from mcpctl.identity import IdentityService
from mcpctl.manifests import ChangeSet
from mcpctl.manifests.canonical import format_timestamp
from mcpctl.objects import ObjectService, Selector
from mcpctl.reconciler.exporting import GitReplica
from mcpctl.reconciler.importing import GitImporter
from mcpctl.reconciler.mirroring import GitMirror
from mcpctl.reconciler.restoring import Restorer
from mcpctl.schemas import API_VERSION, BY_PLURAL, Resource
from mcpctl.store import current_revision, head_revision

log = logging.getLogger(__name__)


class JSONResponse(_StarletteJSONResponse):
    """JSON rendered by orjson (a 10,000-object list is most of its time in encoding)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


#: The largest request body accepted.
MAX_BODY = 16 * 1024 * 1024


@dataclass
class Services:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    objects: ObjectService
    identity: IdentityService
    replica: GitReplica
    importer: GitImporter | None = None
    restorer: Restorer | None = None
    git: GitEndpoint | None = None
    mirror: GitMirror | None = None
    public_key: str | None = None


Handler = Callable[[Request], Awaitable[Response]]


def build_app(services: Services) -> Starlette:
    """The ASGI app over `services`."""
    objects, identity = services.objects, services.identity

    async def principal_of(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, raw = header.partition(" ")
        principal = await identity.authenticate(raw.strip() if scheme.lower() == "bearer" else None)
        request.state.principal = principal
        return principal

    def endpoint(handler: Handler, operation: str | None = None) -> Handler:
        """`handler` with errors mapped; `operation` names it in denied audit entries."""

        async def wrapped(request: Request) -> Response:
            request.state.request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
            request.state.operation = operation
            try:
                _reject_nul(request)
                return await handler(request)
            except Forbidden as e:
                await _audit_denied(services, request, str(e))
                return problem_for(e)
            except McpctlError as e:
                return problem_for(e)
            except Exception:
                log.exception("unexpected error in %s %s", request.method, request.url.path)
                return problem(
                    500, "internal", "Internal error", "unexpected error; see mcpd's log"
                )

        return wrapped

    def model_for(request: Request, *, scoped: bool) -> type[Resource]:
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
        return model

    async def list_or_create(request: Request) -> Response:
        scoped = "project" in request.path_params
        model = model_for(request, scoped=scoped)
        project = request.path_params.get("project")
        principal = await principal_of(request)
        if request.method == "POST":
            body = await _json_body(request)
            request.state.target = _name_in(body)
            created = await objects.create(principal, model, project, body)
            return JSONResponse(created, status_code=201)
        query = request.query_params
        selector = Selector.parse(query["labelSelector"]) if query.get("labelSelector") else None
        items, token = await objects.list_page(
            principal,
            model,
            project,
            selector=selector,
            spec_equals={"project": query["project"]}
            if model.KIND == "McpToken" and query.get("project")
            else None,
            limit=_int_param(query.get("limit"), "limit", 500),
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

    async def item(request: Request) -> Response:
        scoped = "project" in request.path_params
        model = model_for(request, scoped=scoped)
        project = request.path_params.get("project")
        name = request.path_params["name"]
        principal = await principal_of(request)
        if request.method == "GET":
            reveal = request.query_params.get("showSecrets", "").lower() in ("1", "true", "yes")
            return JSONResponse(await objects.get(principal, model, project, name, reveal=reveal))
        if request.method == "PUT":
            body = await _json_body(request)
            return JSONResponse(await objects.replace(principal, model, project, name, body))
        await objects.delete(principal, model, project, name)
        return Response(status_code=204)

    async def references(request: Request) -> Response:
        project = request.path_params.get("project")
        model = model_for(request, scoped=project is not None)
        principal = await principal_of(request)
        return JSONResponse(
            await objects.references(principal, model, project, request.path_params["name"])
        )

    async def apply(request: Request) -> Response:
        principal = await principal_of(request)
        body = await _json_body(request)
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
        result = await objects.apply(
            principal,
            body["items"],
            dry_run=flags["dryRun"],
            prune=flags["prune"],
            selector=Selector.parse(selector_text) if selector_text else None,
        )
        return JSONResponse(_changes_json(result.changes, result.dry_run))

    async def login(request: Request) -> Response:
        body = await _json_body(request)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("username"), str)
            or not isinstance(body.get("password"), str)
        ):
            raise InvalidInput("the body needs username and password (strings)")
        if "\x00" in body["username"]:
            raise InvalidInput("a user name cannot contain NUL characters")
        done = await identity.login(body["username"], body["password"])
        return JSONResponse(
            {"token": done.token, "user": done.user, "expiresAt": format_timestamp(done.expires_at)}
        )

    async def logout(request: Request) -> Response:
        await principal_of(request)
        raw = request.headers.get("authorization", "").partition(" ")[2].strip()
        await identity.logout(raw)
        return Response(status_code=204)

    async def me(request: Request) -> Response:
        return JSONResponse(await identity.me(await principal_of(request)))

    async def password(request: Request) -> Response:
        principal = await principal_of(request)
        body = await _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("password"), str):
            raise InvalidInput("the body needs password (a string)")
        await identity.set_password(principal, request.path_params["name"], body["password"])
        return Response(status_code=204)

    async def create_token(request: Request) -> Response:
        principal = await principal_of(request)
        body = await _json_body(request)
        request.state.target = _name_in(body)
        raw, created = await identity.create_mcptoken(principal, body)
        return JSONResponse({"token": raw, "object": created}, status_code=201)

    async def revoke_token(request: Request) -> Response:
        principal = await principal_of(request)
        return JSONResponse(await identity.revoke_mcptoken(principal, request.path_params["name"]))

    async def introspect(request: Request) -> Response:
        raw = request.headers.get("authorization", "").partition(" ")[2].strip()
        return JSONResponse(await identity.introspect(raw))

    async def sa_token(request: Request) -> Response:
        principal = await principal_of(request)
        body = await _json_body(request, optional=True)
        expires = body.get("expiresAt") if isinstance(body, dict) else None
        raw = await identity.create_sa_token(
            principal, request.path_params["name"], _parse_ts(expires) if expires else None
        )
        return JSONResponse({"token": raw}, status_code=201)

    async def audit(request: Request) -> Response:
        principal = await principal_of(request)
        query = request.query_params
        async with services.sessions() as session:
            require(await policy_of(session, principal), "view", "auditevents")
            items = await list_audit(
                session,
                user=query.get("user"),
                kind=query.get("kind"),
                project=query.get("project"),
                since=_parse_ts(query["since"]) if query.get("since") else None,
                until=_parse_ts(query["until"]) if query.get("until") else None,
                limit=min(_int_param(query.get("limit"), "limit", 500), 5000),
            )
        return JSONResponse({"apiVersion": API_VERSION, "kind": "List", "items": items})

    async def events(request: Request) -> Response:
        principal = await principal_of(request)
        query = request.query_params
        async with services.sessions() as session:
            require(await policy_of(session, principal), "view", "events")
            items = await list_events(
                session,
                kind=query.get("kind"),
                name=query.get("name"),
                project=query.get("project"),
                limit=min(_int_param(query.get("limit"), "limit", 100), 1000),
            )
        return JSONResponse({"apiVersion": API_VERSION, "kind": "List", "items": items})

    async def gitops_status(request: Request) -> Response:
        principal = await principal_of(request)
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

    async def gitops_sync(request: Request) -> Response:
        principal = await principal_of(request)
        async with services.sessions() as session:
            require_run(await policy_of(session, principal), "sync")
        if services.mirror is None:
            raise Conflict("no remote to sync with: start mcpd with --git-remote URL")
        report = await services.mirror.sync(principal)
        return JSONResponse(report.to_json())

    async def gitops_verify(request: Request) -> Response:
        principal = await principal_of(request)
        async with services.sessions() as session:
            require_run(await policy_of(session, principal), "sync")
        different, diff = await services.replica.verify()
        return JSONResponse({"inSync": not different, "differences": different, "diff": diff})

    async def gitops_restore(request: Request) -> Response:
        principal = await principal_of(request)
        body = await _json_body(request)
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

    async def gitops_seal(request: Request) -> Response:
        principal = await principal_of(request)
        body = await _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise InvalidInput("the body needs items: a list of Secret manifests")
        unknown = set(body) - {"items"}
        if unknown:
            raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}")
        items = await objects.seal(principal, body["items"], services.replica.seal)
        return JSONResponse({"apiVersion": API_VERSION, "kind": "List", "items": items})

    async def gitops_timelines(request: Request) -> Response:
        principal = await principal_of(request)
        async with services.sessions() as session:
            require_run(await policy_of(session, principal), "sync")
        assert services.restorer is not None
        items = await services.restorer.timelines()
        return JSONResponse({"apiVersion": API_VERSION, "kind": "List", "items": items})

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            async with services.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            revision = await current_revision(services.engine)
        except Exception as e:  # any database failure means not ready
            return problem(
                503, "unavailable", "Not ready", f"database unreachable: {type(e).__name__}"
            )
        if revision != head_revision():
            return problem(503, "unavailable", "Not ready", f"schema at {revision}, not at head")
        return JSONResponse({"status": "ready", "schema": revision})

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/api/v1/openapi.json", openapi),
        Route("/api/v1/auth/login", endpoint(login), methods=["POST"]),
        Route("/api/v1/auth/logout", endpoint(logout), methods=["POST"]),
        Route("/api/v1/auth/me", endpoint(me)),
        Route("/api/v1/apply", endpoint(apply, "apply"), methods=["POST"]),
        Route("/api/v1/auditevents", endpoint(audit)),
        Route("/api/v1/events", endpoint(events)),
        Route("/api/v1/gitops/status", endpoint(gitops_status)),
        Route("/api/v1/gitops/verify", endpoint(gitops_verify)),
        Route("/api/v1/gitops/restore", endpoint(gitops_restore, "restore"), methods=["POST"]),
        Route("/api/v1/gitops/timelines", endpoint(gitops_timelines)),
        Route("/api/v1/gitops/sync", endpoint(gitops_sync, "sync"), methods=["POST"]),
        Route("/api/v1/gitops/seal", endpoint(gitops_seal, "seal"), methods=["POST"]),
        Route("/api/v1/mcptokens/introspect", endpoint(introspect)),
        Route("/api/v1/mcptokens", endpoint(create_token), methods=["POST"]),
        Route(
            "/api/v1/mcptokens/{name}/revoke", endpoint(revoke_token, "revoke"), methods=["POST"]
        ),
        Route(
            "/api/v1/serviceaccounts/{name}/tokens",
            endpoint(sa_token, "create-token"),
            methods=["POST"],
        ),
        Route("/api/v1/users/{name}/password", endpoint(password, "set-password"), methods=["PUT"]),
        # before the project-scoped routes: /api/v1/projects/NAME/references is a Project's
        Route("/api/v1/{plural}/{name}/references", endpoint(references, "get")),
        Route(
            "/api/v1/projects/{project}/{plural}/{name}/references",
            endpoint(references, "get"),
        ),
        Route(
            "/api/v1/projects/{project}/{plural}", endpoint(list_or_create), methods=["GET", "POST"]
        ),
        Route(
            "/api/v1/projects/{project}/{plural}/{name}",
            endpoint(item),
            methods=["GET", "PUT", "DELETE"],
        ),
        Route("/api/v1/{plural}", endpoint(list_or_create), methods=["GET", "POST"]),
        Route("/api/v1/{plural}/{name}", endpoint(item), methods=["GET", "PUT", "DELETE"]),
    ]
    if services.git is not None:
        routes.extend(services.git.routes())

    async def not_found(request: Request, exc: Exception) -> Response:
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

    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})


async def _json_body(request: Request, *, optional: bool = False) -> Any:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise TooLarge(f"the body is larger than {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge(f"the body is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        if optional:
            return None
        raise InvalidInput("the request needs a JSON body")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise InvalidInput(f"the body is not valid JSON: {e}") from None


def _reject_nul(request: Request) -> None:
    """No name or query value holds NUL, and PostgreSQL cannot compare text with one."""
    query = (text for pair in request.query_params.multi_items() for text in pair)
    if any("\x00" in str(text) for text in (*request.path_params.values(), *query)):
        raise InvalidInput("the URL cannot contain NUL characters (%00)")


def _git_text(value: str) -> bool:
    """`value` can go into a git commit message or note: UTF-8, no NUL."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which JSON's \ud800 escape can carry
        return False
    return "\x00" not in value


def _int_param(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer") from None
    if number < 1:
        raise InvalidInput(f"{name} must be at least 1")
    return number


def _parse_ts(value: Any) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput("a timestamp must be an RFC 3339 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"invalid timestamp {value!r}") from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"timestamp {value!r} needs a time zone (e.g. Z)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00
        raise InvalidInput(f"timestamp {value!r} is out of range") from None


def _changes_json(changes: ChangeSet, dry_run: bool) -> dict[str, Any]:
    return {"dryRun": dry_run, **changes.to_json()}


#: The audit verb of a request to an object route, as its success entry names it.
_VERBS = {"POST": "create", "PUT": "update", "DELETE": "delete"}


def _name_in(body: Any) -> str | None:
    """metadata.name of a request body, for the audit entry of a denied create."""
    metadata = body.get("metadata") if isinstance(body, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def _denied_target(request: Request) -> tuple[str, str | None, str | None, str | None]:
    """(verb, kind, name, project) of a request, for the audit entry of its denial."""
    params = request.path_params
    # /api/v1/PLURAL/...: the third segment of every route about a kind names it
    segments = request.url.path.strip("/").split("/")
    model = BY_PLURAL.get(params.get("plural") or (segments[2] if len(segments) > 2 else ""))
    name = params.get("name") or getattr(request.state, "target", None)
    project = params.get("project")
    verb = request.state.operation
    if verb is None and request.method == "GET":
        verb = "get" if "name" in params else "list"
    elif verb is None:
        verb = _VERBS.get(request.method, request.method.lower())
    return verb, model.KIND if model else None, name, project


async def _audit_denied(services: Services, request: Request, detail: str) -> None:
    principal = getattr(request.state, "principal", None)
    verb, kind, name, project = _denied_target(request)
    await record_audit_apart(
        services.sessions,
        principal,
        verb=verb,
        kind=kind,
        name=name,
        project=project,
        outcome="denied",
        request_id=getattr(request.state, "request_id", None),
        details={"path": request.url.path, "reason": detail},
    )
