"""The OpenAPI 3.1 document of `/api/v1`, built from the kind registry and the schemas.

It describes every route of `app.py` as it behaves: the statuses each can
answer, problem bodies as `application/problem+json`, and the shapes of the
answers (stored objects validate against `Manifest`), so that a client, or
schemathesis, can check the API against it. `serve_openapi` serves it at
`/api/v1/openapi.json`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mcpctl import __version__
from mcpctl.api.endpoints import JSONResponse
from mcpctl.schemas import API_VERSION, KINDS
from mcpctl.schemas.jsonschema import manifest_schema

#: What a JSON body of each list page or object looks like.
JSON = "application/json"
PROBLEM = "application/problem+json"
#: Routes of their own that shadow `/api/v1/{plural}` for some methods.
_OWN_LIST_ROUTES = ("events", "auditevents")  # GET
_OWN_CREATE_ROUTES = (
    "auditevents",
    "mcptokens",
    "events",
)  # POST: only mcpd writes events and audit


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem_responses(*codes: int) -> dict[str, Any]:
    return {
        str(c): {"description": "a problem", "content": {PROBLEM: {"schema": _ref("Problem")}}}
        for c in codes
    }


def _answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def _object(required: list[str], properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, **extra}


def _whole(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An object that always holds every property (null where it has no value)."""
    return _object(list(properties), properties, **extra)


def _query(name: str, schema: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "schema": schema}
    if description:
        param["description"] = description
    return param


def _component_schemas() -> dict[str, Any]:
    manifest = manifest_schema()
    defs = manifest.pop("$defs")
    manifest.pop("$schema", None)

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: rewrite_ref(v) if k == "$ref" else rewrite(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    def rewrite_ref(value: Any) -> Any:
        if not isinstance(value, str):
            return rewrite(value)
        if value == "#":  # the manifest schema itself (a List's items)
            return "#/components/schemas/Manifest"
        return value.replace("#/$defs/", "#/components/schemas/")

    schemas = {name: rewrite(body) for name, body in defs.items()}
    schemas["Manifest"] = rewrite(manifest)
    schemas["Problem"] = _object(
        ["type", "title", "status", "detail"],
        {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "issues": {"type": "array", "items": {"type": "object"}},
        },
    )
    schemas["ObjectList"] = _object(
        ["apiVersion", "kind", "items", "metadata"],
        {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": "List"},
            "items": {"type": "array", "items": _ref("Manifest")},
            "metadata": {
                "type": "object",
                "properties": {
                    "continue": {
                        "type": "string",
                        "description": "the next page's `continue`; absent at the end",
                    }
                },
                "additionalProperties": False,
            },
        },
        additionalProperties=False,
    )
    for kind in ("Event", "AuditEvent"):
        schemas[f"{kind}List"] = _object(
            ["apiVersion", "kind", "items"],
            {
                "apiVersion": {"const": API_VERSION},
                "kind": {"const": "List"},
                "items": {"type": "array", "items": _ref(kind)},
            },
            additionalProperties=False,
        )
    count = {"type": "integer", "minimum": 0}
    summary = _object(
        ["add", "change", "remove", "unchanged"],
        dict.fromkeys(("add", "change", "remove", "unchanged"), count),
    )
    changes = {
        "type": "array",
        "items": _object(
            ["action", "kind", "name", "fields"],
            {
                "action": {"enum": ["add", "change", "remove"]},
                "kind": {"type": "string"},
                "project": {"type": "string"},
                "name": {"type": "string"},
                "fields": {
                    "type": "array",
                    "items": _object(
                        ["path"], {"path": {"type": "string"}, "secret": {"const": True}}
                    ),
                },
            },
        ),
    }
    schemas["ApplyResult"] = _object(
        ["changes", "summary", "dryRun"],
        {"dryRun": {"type": "boolean"}, "summary": summary, "changes": changes},
    )
    schemas["Login"] = _object(
        ["token", "user", "expiresAt"],
        {
            "token": {"type": "string"},
            "user": {"type": "string"},
            "expiresAt": {"type": "string", "format": "date-time"},
        },
    )
    schemas["Me"] = _object(
        ["user", "kind", "name", "permissions"],
        {
            "user": {"type": "string"},
            "kind": {"enum": ["User", "ServiceAccount", "McpToken", "System"]},
            "name": {"type": "string"},
            "permissions": {"type": "array", "items": _ref("Binding")},
            "token": {"type": "string"},
            "project": {"type": "string"},
        },
    )
    token_request = dict(schemas["McpToken"])
    token_request["properties"] = {
        **token_request["properties"],
        "bindings": {
            "type": "array",
            "items": _ref("Binding"),
            "description": "become the Rbac `token-<name>`; no more than the creator holds",
        },
    }
    schemas["McpTokenRequest"] = token_request
    schemas["McpTokenCreated"] = _object(
        ["token", "object"], {"token": {"type": "string"}, "object": _ref("McpToken")}
    )
    schemas["Introspection"] = _object(
        ["active"],
        {
            "active": {"type": "boolean"},
            "kind": {"type": "string"},
            "name": {"type": "string"},
            "user": {"type": "string"},
            "project": {"type": "string"},
            "expiresAt": {"type": "string", "format": "date-time"},
        },
    )
    schemas["References"] = _object(
        ["uses", "usedBy"],
        {
            "uses": {"type": "array", "items": {"type": "string"}},
            "usedBy": {"type": "array", "items": {"type": "string"}},
        },
    )
    schemas.update(_gitops_schemas(summary, changes))
    return schemas


def _gitops_schemas(summary: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The answers of `/api/v1/gitops/...` (the to_json of the replica, restorer and mirror)."""
    sha = {"type": "string", "pattern": "^[0-9a-f]{40}$"}
    count = {"type": "integer", "minimum": 0}
    text = {"type": "string"}
    time = {"type": "string", "format": "date-time"}

    def nullable(schema: dict[str, Any]) -> dict[str, Any]:
        return {"anyOf": [schema, {"type": "null"}]}

    schemas: dict[str, Any] = {}
    schemas["GitConflict"] = _object(
        ["kind", "name", "commit", "overriddenBy"],
        {
            "kind": text,
            "name": text,
            "project": text,
            "commit": {**sha, "description": "the imported commit whose change lost"},
            "overriddenBy": _object(
                ["actor", "verb"],
                {
                    "actor": text,
                    "verb": text,
                    "change": {**count, "description": "the database change that won"},
                    "commit": {**sha, "description": "or the commit of mcpd's main that won"},
                },
            ),
        },
        description="a change of an imported commit that mcpd's own change overrode",
    )
    schemas["ImportReport"] = _object(
        ["commit", "summary", "changes", "conflicts", "skippedSecretValues"],
        {
            "commit": sha,
            "summary": summary,
            "changes": changes,
            "conflicts": {"type": "array", "items": _ref("GitConflict")},
            "skippedSecretValues": {"type": "array", "items": text},
        },
    )
    schemas["MirrorStatus"] = _whole(
        {
            "url": {**text, "description": "the remote, credentials left out"},
            "transport": {"enum": ["ssh", "https", "http", "path"]},
            "publicKey": {**text, "description": "the deploy key to grant on an ssh remote"},
            "interval": {"type": "number", "description": "seconds between syncs"},
            "lastSync": nullable(time),
            "lastFetched": nullable(sha),
            "lastImported": nullable(sha),
            "lastPushed": nullable(sha),
            "lastError": nullable(text),
            "conflicts": {"type": "array", "items": _ref("GitConflict"), "maxItems": 20},
        },
    )
    schemas["GitopsStatus"] = _whole(
        {
            "head": {**nullable(sha), "description": "main of the state repo"},
            "exportedChange": {**count, "description": "the last change main reflects"},
            "lastChange": {**count, "description": "the last change in the database"},
            "pending": {"type": "boolean", "description": "exportedChange < lastChange"},
            "lastImported": nullable(
                _object(
                    ["commit", "via"],
                    {
                        "commit": sha,
                        "via": {**text, "description": "push, sync, restore or recover"},
                    },
                )
            ),
            "publicKey": {**nullable(text), "description": "mcpd's deploy key (ssh)"},
            "remote": {**nullable(_ref("MirrorStatus")), "description": "null: no --git-remote"},
            "conflicts": {
                "type": "array",
                "maxItems": 20,
                "description": "the newest GitConflict events",
                "items": _object(
                    ["object", "message", "time"],
                    {"object": _ref("ObjectReference"), "message": text, "time": time},
                ),
            },
        },
    )
    schemas["GitopsVerify"] = _object(
        ["inSync", "differences", "diff"],
        {
            "inSync": {"type": "boolean"},
            "differences": {
                "type": "array",
                "items": text,
                "description": "the paths where main differs from the export of the database",
            },
            "diff": {**text, "description": "unified diff: a/ is main, b/ the export"},
        },
    )
    schemas["RestoreReport"] = _object(
        ["target", "head", "timeline", "changed", "summary"],
        {
            "target": {**sha, "description": "the commit restored to"},
            "head": {**nullable(sha), "description": "main before the restore"},
            "timeline": {
                **nullable(text),
                "description": "the branch timelines/<name> keeping the abandoned head",
            },
            "changed": {"type": "boolean", "description": "false: main already held the target"},
            "summary": _object(
                [],
                dict.fromkeys(("add", "change", "remove"), count),
                additionalProperties=False,
                description="empty when nothing changed",
            ),
        },
    )
    schemas["Timeline"] = _object(
        ["name", "ref", "commit", "savedAt", "note", "summary"],
        {
            "name": text,
            "ref": {**text, "pattern": "^refs/heads/timelines/"},
            "commit": sha,
            "savedAt": time,
            "note": {**text, "description": "who restored main away from it, when and why"},
            "summary": {**text, "description": "the first line of its message"},
        },
    )
    schemas["TimelineList"] = _object(
        ["apiVersion", "kind", "items"],
        {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": "List"},
            "items": {"type": "array", "items": _ref("Timeline")},
        },
        additionalProperties=False,
    )
    schemas["SyncReport"] = _object(
        ["remote", "action", "fetched", "head"],
        {
            "remote": text,
            "action": {
                "enum": ["none", "pushed", "imported"],
                "description": "imported: the remote had commits mcpd lacked",
            },
            "fetched": {**nullable(sha), "description": "the remote's main (null: empty)"},
            "head": {**nullable(sha), "description": "main after the sync"},
            "imported": _ref("ImportReport"),
        },
    )
    return schemas


def _gitops_paths() -> dict[str, Any]:
    """The state repo's routes: all need `run sync`, but restore needs `run restore`."""

    def reading(summary: str, description: str, schema: str) -> dict[str, Any]:
        return {
            "get": {
                "summary": summary,
                "responses": {
                    "200": _answer(description, _ref(schema)),
                    **_problem_responses(401, 403),
                },
            }
        }

    restore_body = _json_body(
        _object(
            ["to"],
            {
                "to": {
                    "type": "string",
                    "minLength": 1,
                    "description": "a revision of the state repo: a sha or its prefix, "
                    "`main~2`, `timelines/<name>`, a tag",
                },
                "reason": {
                    "type": "string",
                    "maxLength": 1000,
                    "description": "kept in the restore commit and the timeline's note (no NUL)",
                },
            },
            examples=[{"to": "main~1", "reason": "undo the last change"}],
        )
    )
    return {
        "/api/v1/gitops/status": reading(
            "how far main is behind the database, the remote, the last conflicts",
            "the replica's state",
            "GitopsStatus",
        ),
        "/api/v1/gitops/verify": reading(
            "main against the canonical export of the database",
            "in sync, or the differences",
            "GitopsVerify",
        ),
        "/api/v1/gitops/timelines": reading(
            "the heads restores left behind, newest first", "timelines", "TimelineList"
        ),
        "/api/v1/gitops/restore": {
            "post": {
                "summary": "bring the database and main to the objects at a revision "
                "(RBAC: `run restore`); the abandoned head is kept as a timeline",
                "requestBody": restore_body,
                "responses": {
                    "200": _answer("what the restore did", _ref("RestoreReport")),
                    **_problem_responses(401, 403, 404, 409, 413, 422, 503),
                },
            }
        },
        "/api/v1/gitops/seal": {
            "post": {
                "summary": "seal the values of Secrets for a push to the state repo (nothing "
                "is stored; RBAC: create or edit of each Secret)",
                "requestBody": _json_body(
                    _object(
                        ["items"],
                        {"items": {"type": "array", "items": _ref("Manifest")}},
                        additionalProperties=False,
                    )
                ),
                "responses": {
                    "200": _answer(
                        "the Secrets, values under sealedData",
                        _object(
                            ["apiVersion", "kind", "items"],
                            {
                                "apiVersion": {"const": API_VERSION},
                                "kind": {"const": "List"},
                                "items": {"type": "array", "items": _ref("Manifest")},
                            },
                            additionalProperties=False,
                        ),
                    ),
                    **_problem_responses(401, 403, 413, 422),
                },
            }
        },
        "/api/v1/gitops/sync": {
            "post": {
                "summary": "sync with the remote now: fetch, import, push (409: no remote)",
                "responses": {
                    "200": _answer("what the sync did", _ref("SyncReport")),
                    **_problem_responses(401, 403, 409, 422, 503),
                },
            }
        },
    }


def openapi_document() -> dict[str, Any]:
    schemas = _component_schemas()
    cluster = [m.PLURAL for m in KINDS if not m.PROJECT_SCOPED]
    scoped = [m.PLURAL for m in KINDS if m.PROJECT_SCOPED]
    name_schema = {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}
    name = {"name": "name", "in": "path", "required": True, "schema": name_schema}
    project = {**name, "name": "project"}

    def plural(choices: list[str]) -> dict[str, Any]:
        return {"name": "plural", "in": "path", "required": True, "schema": {"enum": choices}}

    # audit entries and events are read at their own routes, and written by mcpd only
    items = [p for p in cluster if p not in ("auditevents", "events")]
    listable = [p for p in cluster if p not in _OWN_LIST_ROUTES]
    creatable = [p for p in cluster if p not in _OWN_CREATE_ROUTES]
    manifest = _json_body(_ref("Manifest"))
    stored = _answer("the stored object", _ref("Manifest"))
    limit = {"type": "integer", "minimum": 1}

    def listing(extra: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "summary": "list, in creation order, a page at a time",
            "parameters": [
                *extra,
                _query("labelSelector", {"type": "string"}, "e.g. `team=infra,tier!=db,canary`"),
                _query("limit", limit, "page size: default 500; above 5000 reads as 5000"),
                _query("continue", {"type": "string"}, "the token of the previous page"),
            ],
            "responses": {
                "200": _answer("a page", _ref("ObjectList")),
                **_problem_responses(401, 403, 404, 422),
            },
        }

    def creating(params: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "summary": "create",
            "parameters": params,
            "requestBody": manifest,
            "responses": {"201": stored, **_problem_responses(401, 403, 404, 409, 413, 422)},
        }

    def item(params: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "parameters": params,
            "get": {
                "summary": "get",
                "parameters": [
                    _query(
                        "showSecrets",
                        {"type": "boolean"},
                        "Secret values in plain (needs `run reveal-secrets`)",
                    )
                ],
                "responses": {"200": stored, **_problem_responses(401, 403, 404, 422)},
            },
            "put": {
                "summary": "replace",
                "requestBody": manifest,
                "responses": {"200": stored, **_problem_responses(401, 403, 404, 409, 413, 422)},
            },
            "delete": {
                "summary": "delete",
                "responses": {
                    "204": {"description": "deleted"},
                    **_problem_responses(401, 403, 404, 409, 422),
                },
            },
        }

    def references(params: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "get": {
                "summary": "what the object refers to, and what refers to it",
                "parameters": params,
                "responses": {
                    "200": _answer("references as Kind/name", _ref("References")),
                    **_problem_responses(401, 403, 404, 422),
                },
            }
        }

    apply_body = _json_body(
        _object(
            ["items"],
            {
                "items": {"type": "array", "items": _ref("Manifest")},
                "dryRun": {"type": "boolean"},
                "prune": {"type": "boolean"},
                "selector": {"type": "string"},
            },
            additionalProperties=False,
        )
    )
    login_body = _json_body(
        _object(
            ["username", "password"],
            {"username": {"type": "string"}, "password": {"type": "string"}},
        )
    )
    password_body = _json_body(
        _object(["password"], {"password": {"type": "string", "minLength": 1}})
    )
    sa_token_body = _json_body(
        _object([], {"expiresAt": {"type": "string", "format": "date-time"}}), required=False
    )
    no_content = {"description": "done"}
    status = _object(["status"], {"status": {"type": "string"}, "schema": {"type": "string"}})
    public: list[dict[str, list[str]]] = []
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {
                "summary": "the process is up",
                "security": public,
                "responses": {"200": _answer("up", status)},
            }
        },
        "/readyz": {
            "get": {
                "summary": "the database is reachable and its schema at head",
                "security": public,
                "responses": {"200": _answer("ready", status), **_problem_responses(503)},
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "this document",
                "security": public,
                "responses": {"200": _answer("the OpenAPI document", {"type": "object"})},
            }
        },
        "/api/v1/{plural}": {
            "get": listing([plural(listable)]),
            "post": creating([plural(creatable)]),
        },
        "/api/v1/{plural}/{name}": item([plural(items), name]),
        "/api/v1/{plural}/{name}/references": references([plural(items), name]),
        "/api/v1/projects/{project}/{plural}": {
            "parameters": [project, plural(scoped)],
            "get": listing([]),
            "post": creating([]),
        },
        "/api/v1/projects/{project}/{plural}/{name}": item([project, plural(scoped), name]),
        "/api/v1/projects/{project}/{plural}/{name}/references": references(
            [project, plural(scoped), name]
        ),
        "/api/v1/apply": {
            "post": {
                "summary": "apply a batch, all or nothing",
                "requestBody": apply_body,
                "responses": {
                    "200": _answer("the changes", _ref("ApplyResult")),
                    **_problem_responses(401, 403, 409, 413, 422),
                },
            }
        },
        "/api/v1/auth/login": {
            "post": {
                "summary": "log in",
                "security": public,
                "requestBody": login_body,
                "responses": {
                    "200": _answer("a session", _ref("Login")),
                    **_problem_responses(401, 413, 422),
                },
            }
        },
        "/api/v1/auth/logout": {
            "post": {
                "summary": "revoke the session token used",
                "responses": {"204": no_content, **_problem_responses(401, 422)},
            }
        },
        "/api/v1/auth/me": {
            "get": {
                "summary": "who am I",
                "responses": {"200": _answer("the caller", _ref("Me")), **_problem_responses(401)},
            }
        },
        "/api/v1/users/{name}/password": {
            "put": {
                "summary": "set a password (one's own, or with `edit users`)",
                "parameters": [name],
                "requestBody": password_body,
                "responses": {"204": no_content, **_problem_responses(401, 403, 404, 413, 422)},
            }
        },
        "/api/v1/mcptokens": {
            "post": {
                "summary": "create an McpToken; the raw token is in the answer, once",
                "requestBody": _json_body(_ref("McpTokenRequest")),
                "responses": {
                    "201": _answer("the token and the object", _ref("McpTokenCreated")),
                    **_problem_responses(401, 403, 404, 409, 413, 422),
                },
            }
        },
        "/api/v1/mcptokens/introspect": {
            "get": {
                "summary": "about the bearer token; inactive without one",
                "security": [{"bearer": []}, {}],
                "responses": {"200": _answer("the token", _ref("Introspection"))},
            }
        },
        "/api/v1/mcptokens/{name}/revoke": {
            "post": {
                "summary": "revoke an McpToken",
                "parameters": [name],
                "responses": {
                    "200": _answer("the revoked McpToken", _ref("McpToken")),
                    **_problem_responses(401, 403, 404, 409, 422),
                },
            }
        },
        "/api/v1/serviceaccounts/{name}/tokens": {
            "post": {
                "summary": "a token for a ServiceAccount, shown once",
                "parameters": [name],
                "requestBody": sa_token_body,
                "responses": {
                    "201": _answer(
                        "the raw token", _object(["token"], {"token": {"type": "string"}})
                    ),
                    **_problem_responses(401, 403, 404, 413, 422),
                },
            }
        },
        "/api/v1/auditevents": {
            "get": {
                "summary": "audit entries, newest first",
                "parameters": [
                    *(_query(k, {"type": "string"}) for k in ("user", "kind", "project")),
                    *(
                        _query(k, {"type": "string", "format": "date-time"})
                        for k in ("since", "until")
                    ),
                    _query("limit", limit, "default 500; above 5000 reads as 5000"),
                ],
                "responses": {
                    "200": _answer("audit entries", _ref("AuditEventList")),
                    **_problem_responses(401, 403, 422),
                },
            }
        },
        **_gitops_paths(),
        "/api/v1/events": {
            "get": {
                "summary": "events about objects, newest first",
                "parameters": [
                    *(_query(k, {"type": "string"}) for k in ("kind", "name", "project")),
                    _query("limit", limit, "default 100; above 1000 reads as 1000"),
                ],
                "responses": {
                    "200": _answer("events", _ref("EventList")),
                    **_problem_responses(401, 403, 422),
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mcpd",
            "version": __version__,
            "description": "The mcpctl control plane API. The state repo is served "
            "at `/git/state.git` by git's smart HTTP protocol, which this document leaves out.",
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


async def serve_openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())
