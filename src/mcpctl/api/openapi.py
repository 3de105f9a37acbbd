"""The OpenAPI 3.1 document of `/api/v1`, built from the kind registry and the schemas."""

from __future__ import annotations

from typing import Any

from mcpctl import __version__
from mcpctl.schemas import KINDS
from mcpctl.schemas.jsonschema import manifest_schema


def _problem_responses(*codes: int) -> dict[str, Any]:
    return {
        str(c): {
            "description": "a problem",
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        for c in codes
    }


def openapi_document() -> dict[str, Any]:
    manifest = manifest_schema()
    defs = manifest.pop("$defs")
    manifest.pop("$schema", None)

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (
                    v.replace("#/$defs/", "#/components/schemas/")
                    if k == "$ref" and isinstance(v, str)
                    else rewrite(v)
                )
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    schemas = {name: rewrite(body) for name, body in defs.items()}
    schemas["Manifest"] = rewrite(manifest)
    schemas["Manifest"]["allOf"] = [
        {**branch, "then": {"$ref": branch["then"]["$ref"].replace("#", "#", 1)}}
        for branch in schemas["Manifest"]["allOf"]
    ]
    for branch in schemas["Manifest"]["allOf"]:
        if branch["then"]["$ref"] == "#":
            branch["then"]["$ref"] = "#/components/schemas/Manifest"
    schemas["Problem"] = {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "issues": {"type": "array", "items": {"type": "object"}},
        },
    }
    cluster = [m.PLURAL for m in KINDS if not m.PROJECT_SCOPED]
    scoped = [m.PLURAL for m in KINDS if m.PROJECT_SCOPED]
    name = {
        "name": "name",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
    }
    project = {**name, "name": "project"}
    plural = {"name": "plural", "in": "path", "required": True, "schema": {"enum": cluster}}
    scoped_plural = {**plural, "schema": {"enum": scoped}}
    body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Manifest"}}},
    }
    obj = {
        "200": {
            "description": "the object",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }
    listing = {
        "parameters": [
            {"name": "labelSelector", "in": "query", "schema": {"type": "string"}},
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 5000},
            },
            {"name": "continue", "in": "query", "schema": {"type": "string"}},
        ]
    }

    def collection(params: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "parameters": params,
            "get": {
                "summary": "list",
                **listing,
                "responses": {**obj, **_problem_responses(400, 401, 403, 404, 422)},
            },
            "post": {
                "summary": "create",
                "requestBody": body,
                "responses": {
                    "201": obj["200"],
                    **_problem_responses(400, 401, 403, 404, 409, 413, 422),
                },
            },
        }

    def item(params: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "parameters": params,
            "get": {
                "summary": "get",
                "responses": {**obj, **_problem_responses(401, 403, 404, 422)},
            },
            "put": {
                "summary": "replace",
                "requestBody": body,
                "responses": {**obj, **_problem_responses(400, 401, 403, 404, 409, 413, 422)},
            },
            "delete": {
                "summary": "delete",
                "responses": {
                    "204": {"description": "deleted"},
                    **_problem_responses(401, 403, 404, 409, 422),
                },
            },
        }

    apply_body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["items"],
                    "properties": {
                        "items": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Manifest"},
                        },
                        "dryRun": {"type": "boolean"},
                        "prune": {"type": "boolean"},
                        "selector": {"type": "string"},
                    },
                }
            }
        },
    }
    login_body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
                }
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mcpd",
            "version": __version__,
            "description": "The mcpctl control plane API.",
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/{plural}": collection([plural]),
            "/api/v1/{plural}/{name}": item([plural, name]),
            "/api/v1/projects/{project}/{plural}": collection([project, scoped_plural]),
            "/api/v1/projects/{project}/{plural}/{name}": item([project, scoped_plural, name]),
            "/api/v1/apply": {
                "post": {
                    "summary": "apply a batch",
                    "requestBody": apply_body,
                    "responses": {**obj, **_problem_responses(400, 401, 403, 409, 413, 422)},
                }
            },
            "/api/v1/auth/login": {
                "post": {
                    "summary": "log in",
                    "security": [],
                    "requestBody": login_body,
                    "responses": {**obj, **_problem_responses(400, 401, 413, 422)},
                }
            },
            "/api/v1/auth/me": {
                "get": {"summary": "who am I", "responses": {**obj, **_problem_responses(401)}}
            },
            "/api/v1/auditevents": {
                "get": {
                    "summary": "audit entries",
                    "parameters": [
                        {"name": k, "in": "query", "schema": {"type": "string"}}
                        for k in ("user", "kind", "project", "since", "until")
                    ],
                    "responses": {**obj, **_problem_responses(400, 401, 403, 422)},
                }
            },
        },
    }
