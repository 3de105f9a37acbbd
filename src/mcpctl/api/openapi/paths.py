"""The document's paths: every route of `api/app.py`, with the statuses it can answer.

The object routes come from the kind registry (cluster-scoped kinds under
`/api/v1/{plural}`, project-scoped ones under `/api/v1/projects/{project}/`),
then the routes of their own: auth, tokens, audit entries, events and the
state repo's. A unit test keeps these paths equal to the app's routes.
"""

from __future__ import annotations

from typing import Any

from mcpctl.api.openapi._shapes import (
    OWN_CREATE_ROUTES,
    OWN_LIST_ROUTES,
    PROBLEM,
    answer,
    json_body,
    object_schema,
    problem_responses,
    query,
    ref,
)
from mcpctl.schemas import API_VERSION, KINDS


def gitops_paths() -> dict[str, Any]:
    """The state repo's routes: all need `run sync`, but restore needs `run restore`."""

    def reading(summary: str, description: str, schema: str) -> dict[str, Any]:
        return {
            "get": {
                "summary": summary,
                "responses": {
                    "200": answer(description, ref(schema)),
                    **problem_responses(401, 403),
                },
            }
        }

    restore_body = json_body(
        object_schema(
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
                    "200": answer("what the restore did", ref("RestoreReport")),
                    **problem_responses(401, 403, 404, 409, 413, 422, 503),
                },
            }
        },
        "/api/v1/gitops/seal": {
            "post": {
                "summary": "seal the values of Secrets for a push to the state repo (nothing "
                "is stored; RBAC: create or edit of each Secret)",
                "requestBody": json_body(
                    object_schema(
                        ["items"],
                        {"items": {"type": "array", "items": ref("Manifest")}},
                        additionalProperties=False,
                    )
                ),
                "responses": {
                    "200": answer(
                        "the Secrets, values under sealedData",
                        object_schema(
                            ["apiVersion", "kind", "items"],
                            {
                                "apiVersion": {"const": API_VERSION},
                                "kind": {"const": "List"},
                                "items": {"type": "array", "items": ref("Manifest")},
                            },
                            additionalProperties=False,
                        ),
                    ),
                    **problem_responses(401, 403, 413, 422),
                },
            }
        },
        "/api/v1/gitops/sync": {
            "post": {
                "summary": "sync with the remote now: fetch, import, push (409: no remote)",
                "responses": {
                    "200": answer("what the sync did", ref("SyncReport")),
                    **problem_responses(401, 403, 409, 422, 503),
                },
            }
        },
    }


def api_paths() -> dict[str, Any]:
    """Every route of `/api/v1` and the probes, by path."""
    cluster = [m.PLURAL for m in KINDS if not m.PROJECT_SCOPED]
    scoped = [m.PLURAL for m in KINDS if m.PROJECT_SCOPED]
    name_schema = {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}
    name = {"name": "name", "in": "path", "required": True, "schema": name_schema}
    project = {**name, "name": "project"}

    def plural(choices: list[str]) -> dict[str, Any]:
        return {"name": "plural", "in": "path", "required": True, "schema": {"enum": choices}}

    # audit entries and events are read at their own routes, and written by mcpd only
    items = [p for p in cluster if p not in ("auditevents", "events")]
    listable = [p for p in cluster if p not in OWN_LIST_ROUTES]
    creatable = [p for p in cluster if p not in OWN_CREATE_ROUTES]
    manifest = json_body(ref("Manifest"))
    stored = answer("the stored object", ref("Manifest"))
    limit = {"type": "integer", "minimum": 1}

    def listing(extra: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "summary": "list, in creation order, a page at a time",
            "parameters": [
                *extra,
                query("labelSelector", {"type": "string"}, "e.g. `team=infra,tier!=db,canary`"),
                query("limit", limit, "page size: default 500; above 5000 reads as 5000"),
                query("continue", {"type": "string"}, "the token of the previous page"),
            ],
            "responses": {
                "200": answer("a page", ref("ObjectList")),
                **problem_responses(401, 403, 404, 422),
            },
        }

    def creating(params: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "summary": "create",
            "parameters": params,
            "requestBody": manifest,
            # 405: a kind mcpd alone writes (instances)
            "responses": {"201": stored, **problem_responses(401, 403, 404, 405, 409, 413, 422)},
        }

    def item(params: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "parameters": params,
            "get": {
                "summary": "get",
                "parameters": [
                    query(
                        "showSecrets",
                        {"type": "boolean"},
                        "Secret values in plain (needs `run reveal-secrets`)",
                    )
                ],
                "responses": {"200": stored, **problem_responses(401, 403, 404, 422)},
            },
            "put": {
                "summary": "replace",
                "requestBody": manifest,
                "responses": {
                    "200": stored,
                    **problem_responses(401, 403, 404, 405, 409, 413, 422),
                },
            },
            "delete": {
                "summary": "delete",
                "responses": {
                    "204": {"description": "deleted"},
                    **problem_responses(401, 403, 404, 409, 422),
                },
            },
        }

    def references(params: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "get": {
                "summary": "what the object refers to, and what refers to it",
                "parameters": params,
                "responses": {
                    "200": answer("references as Kind/name", ref("References")),
                    **problem_responses(401, 403, 404, 422),
                },
            }
        }

    log_query = [
        query("tail", limit, "start with the last N lines"),
        query("since", {"type": "string"}, "a duration (`10m`, `1h30m`) or an RFC 3339 time"),
        query("follow", {"type": "boolean"}, "go on with the lines to come"),
    ]
    apply_body = json_body(
        object_schema(
            ["items"],
            {
                "items": {"type": "array", "items": ref("Manifest")},
                "dryRun": {"type": "boolean"},
                "prune": {"type": "boolean"},
                "selector": {"type": "string"},
            },
            additionalProperties=False,
        )
    )
    login_body = json_body(
        object_schema(
            ["username", "password"],
            {"username": {"type": "string"}, "password": {"type": "string"}},
        )
    )
    password_body = json_body(
        object_schema(
            ["password"],
            {
                "password": {"type": "string", "minLength": 8},
                "currentPassword": {"type": "string"},
            },
        )
    )
    sa_token_body = json_body(
        object_schema([], {"expiresAt": {"type": "string", "format": "date-time"}}), required=False
    )
    no_content = {"description": "done"}
    throttled = {
        "description": "too many failed logins for the user name or from the client's address",
        "headers": {
            "Retry-After": {
                "description": "seconds to wait before trying again",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            }
        },
        "content": {PROBLEM: {"schema": ref("Problem")}},
    }
    status = object_schema(["status"], {"status": {"type": "string"}, "schema": {"type": "string"}})
    public: list[dict[str, list[str]]] = []
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {
                "summary": "the process is up",
                "security": public,
                "responses": {"200": answer("up", status)},
            }
        },
        "/readyz": {
            "get": {
                "summary": "the database is reachable and its schema at head",
                "security": public,
                "responses": {"200": answer("ready", status), **problem_responses(503)},
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "this document",
                "security": public,
                "responses": {"200": answer("the OpenAPI document", {"type": "object"})},
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
                    "200": answer("the changes", ref("ApplyResult")),
                    **problem_responses(401, 403, 409, 413, 422),
                },
            }
        },
        "/api/v1/auth/login": {
            "post": {
                "summary": "log in",
                "security": public,
                "requestBody": login_body,
                "responses": {
                    "200": answer("a session", ref("Login")),
                    **problem_responses(401, 413, 422),
                    "429": throttled,
                },
            }
        },
        "/api/v1/auth/logout": {
            "post": {
                "summary": "revoke the session token used",
                "responses": {"204": no_content, **problem_responses(401, 422)},
            }
        },
        "/api/v1/auth/me": {
            "get": {
                "summary": "who am I",
                "responses": {"200": answer("the caller", ref("Me")), **problem_responses(401)},
            }
        },
        "/api/v1/users/{name}/password": {
            "put": {
                "summary": "set a password: one's own (with currentPassword), or another "
                "user's with `run set-passwords` if they hold nothing the caller lacks; "
                "the user's other sessions end",
                "parameters": [name],
                "requestBody": password_body,
                "responses": {"204": no_content, **problem_responses(401, 403, 404, 413, 422)},
            }
        },
        "/api/v1/mcptokens": {
            "post": {
                "summary": "create an McpToken; the raw token is in the answer, once",
                "requestBody": json_body(ref("McpTokenRequest")),
                "responses": {
                    "201": answer("the token and the object", ref("McpTokenCreated")),
                    **problem_responses(401, 403, 404, 409, 413, 422),
                },
            }
        },
        "/api/v1/instances/{name}/log": {
            "get": {
                "summary": "an instance's log, streamed as text (needs `run logs` and view on "
                "its Server); on a follower, relayed to the leader",
                "parameters": [name, *log_query],
                "responses": {
                    "200": {"description": "log lines", "content": {"text/plain": {}}},
                    **problem_responses(401, 403, 404, 422, 503),
                },
            }
        },
        "/api/v1/servers/{name}/log": {
            "get": {
                "summary": "the log of a Server's instances, each line prefixed `[instance] ` "
                "when it has several (needs `run logs` and view on the Server)",
                "parameters": [
                    name,
                    *log_query,
                    query("instance", {"type": "string"}, "one instance of the Server only"),
                ],
                "responses": {
                    "200": {"description": "log lines", "content": {"text/plain": {}}},
                    **problem_responses(401, 403, 404, 422, 503),
                },
            }
        },
        "/api/v1/mcptokens/introspect": {
            "get": {
                "summary": "about the bearer token; inactive without one",
                "security": [{"bearer": []}, {}],
                "responses": {"200": answer("the token", ref("Introspection"))},
            }
        },
        "/api/v1/mcptokens/{name}/revoke": {
            "post": {
                "summary": "revoke an McpToken",
                "parameters": [name],
                "responses": {
                    "200": answer("the revoked McpToken", ref("McpToken")),
                    **problem_responses(401, 403, 404, 409, 422),
                },
            }
        },
        "/api/v1/serviceaccounts/{name}/tokens": {
            "post": {
                "summary": "a token for a ServiceAccount, shown once",
                "parameters": [name],
                "requestBody": sa_token_body,
                "responses": {
                    "201": answer(
                        "the raw token", object_schema(["token"], {"token": {"type": "string"}})
                    ),
                    **problem_responses(401, 403, 404, 413, 422),
                },
            },
            "get": {
                "summary": "the tokens of a ServiceAccount (prefixes, never the tokens)",
                "parameters": [name],
                "responses": {
                    "200": answer("the tokens", ref("ServiceAccountTokenList")),
                    **problem_responses(401, 403, 404),
                },
            },
            "delete": {
                "summary": "revoke a ServiceAccount's tokens (those starting `prefix`, or all); "
                "tokens minted through them die too",
                "parameters": [name, query("prefix", {"type": "string"})],
                "responses": {
                    "200": answer(
                        "how many were revoked",
                        object_schema(["revoked"], {"revoked": {"type": "integer"}}),
                    ),
                    **problem_responses(401, 403, 404),
                },
            },
        },
        "/api/v1/auditevents": {
            "get": {
                "summary": "audit entries, newest first",
                "parameters": [
                    *(query(k, {"type": "string"}) for k in ("user", "kind", "project")),
                    *(
                        query(k, {"type": "string", "format": "date-time"})
                        for k in ("since", "until")
                    ),
                    query("limit", limit, "default 500; above 5000 reads as 5000"),
                ],
                "responses": {
                    "200": answer("audit entries", ref("AuditEventList")),
                    **problem_responses(401, 403, 422),
                },
            }
        },
        **gitops_paths(),
        "/api/v1/events": {
            "get": {
                "summary": "events about objects, newest first",
                "parameters": [
                    *(query(k, {"type": "string"}) for k in ("kind", "name", "project")),
                    query("limit", limit, "default 100; above 1000 reads as 1000"),
                ],
                "responses": {
                    "200": answer("events", ref("EventList")),
                    **problem_responses(401, 403, 422),
                },
            }
        },
    }
    return paths
