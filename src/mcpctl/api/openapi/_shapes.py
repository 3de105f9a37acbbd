"""The pieces every part of the OpenAPI document is built of: references, answers, bodies.

Shared by `components` (the schemas) and `paths` (the routes).
"""

from __future__ import annotations

from typing import Any

#: What a JSON body of each list page or object looks like.
JSON = "application/json"
PROBLEM = "application/problem+json"
#: Routes of their own that shadow `/api/v1/{plural}` for some methods.
OWN_LIST_ROUTES = ("events", "auditevents")  # GET
OWN_CREATE_ROUTES = (
    "auditevents",
    "mcptokens",
    "events",
)  # POST: only mcpd writes events and audit


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def problem_responses(*codes: int) -> dict[str, Any]:
    return {
        str(c): {"description": "a problem", "content": {PROBLEM: {"schema": ref("Problem")}}}
        for c in codes
    }


def answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def object_schema(required: list[str], properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, **extra}


def whole(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An object that always holds every property (null where it has no value)."""
    return object_schema(list(properties), properties, **extra)


def query(name: str, schema: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "schema": schema}
    if description:
        param["description"] = description
    return param
