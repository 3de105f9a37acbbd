"""The document's component schemas: every kind's manifest, lists, problems, GitOps answers.

The kinds' schemas come from the models (`schemas.jsonschema`), rewritten to
live under `#/components/schemas`; the answers of the GitOps routes are the
`to_json` forms of the reconciler's reports. Called by `openapi_document`.
"""

from __future__ import annotations

from typing import Any

from mcpctl.api.openapi._shapes import (
    object_schema,
    ref,
    whole,
)
from mcpctl.schemas import API_VERSION
from mcpctl.schemas.jsonschema import manifest_schema


def component_schemas() -> dict[str, Any]:
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
    schemas["Problem"] = object_schema(
        ["type", "title", "status", "detail"],
        {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "issues": {"type": "array", "items": {"type": "object"}},
            "limit": {"enum": ["user", "address"], "description": "a 429: which limit refused"},
            "retryAfter": {"type": "integer", "description": "a 429: seconds to wait"},
        },
    )
    schemas["ObjectList"] = object_schema(
        ["apiVersion", "kind", "items", "metadata"],
        {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": "List"},
            "items": {"type": "array", "items": ref("Manifest")},
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
        schemas[f"{kind}List"] = object_schema(
            ["apiVersion", "kind", "items"],
            {
                "apiVersion": {"const": API_VERSION},
                "kind": {"const": "List"},
                "items": {"type": "array", "items": ref(kind)},
            },
            additionalProperties=False,
        )
    count = {"type": "integer", "minimum": 0}
    summary = object_schema(
        ["add", "change", "remove", "unchanged"],
        dict.fromkeys(("add", "change", "remove", "unchanged"), count),
    )
    changes = {
        "type": "array",
        "items": object_schema(
            ["action", "kind", "name", "fields"],
            {
                "action": {"enum": ["add", "change", "remove"]},
                "kind": {"type": "string"},
                "project": {"type": "string"},
                "name": {"type": "string"},
                "fields": {
                    "type": "array",
                    "items": object_schema(
                        ["path"], {"path": {"type": "string"}, "secret": {"const": True}}
                    ),
                },
            },
        ),
    }
    schemas["ApplyResult"] = object_schema(
        ["changes", "summary", "dryRun"],
        {"dryRun": {"type": "boolean"}, "summary": summary, "changes": changes},
    )
    schemas["Login"] = object_schema(
        ["token", "user", "expiresAt"],
        {
            "token": {"type": "string"},
            "user": {"type": "string"},
            "expiresAt": {"type": "string", "format": "date-time"},
        },
    )
    schemas["Me"] = object_schema(
        ["user", "kind", "name", "permissions"],
        {
            "user": {"type": "string"},
            "kind": {"enum": ["User", "ServiceAccount", "McpToken", "System"]},
            "name": {"type": "string"},
            "permissions": {"type": "array", "items": ref("Binding")},
            "token": {"type": "string"},
            "project": {"type": "string"},
        },
    )
    token_request = dict(schemas["McpToken"])
    token_request["properties"] = {
        **token_request["properties"],
        "bindings": {
            "type": "array",
            "items": ref("Binding"),
            "description": "become the Rbac `token-<name>`; no more than the creator holds",
        },
    }
    schemas["McpTokenRequest"] = token_request
    schemas["McpTokenCreated"] = object_schema(
        ["token", "object"], {"token": {"type": "string"}, "object": ref("McpToken")}
    )
    schemas["Introspection"] = object_schema(
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
    stamp = {"type": "string", "format": "date-time"}
    schemas["ServiceAccountTokenList"] = object_schema(
        ["items"],
        {
            "items": {
                "type": "array",
                "items": object_schema(
                    ["prefix", "createdBy", "createdAt", "active"],
                    {
                        "prefix": {"type": "string"},
                        "createdBy": {"type": "string"},
                        "createdAt": stamp,
                        "expiresAt": {"anyOf": [stamp, {"type": "null"}]},
                        "revokedAt": {"anyOf": [stamp, {"type": "null"}]},
                        "active": {"type": "boolean"},
                    },
                ),
            }
        },
    )
    schemas["References"] = object_schema(
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
    schemas["GitConflict"] = object_schema(
        ["kind", "name", "commit", "overriddenBy"],
        {
            "kind": text,
            "name": text,
            "project": text,
            "commit": {**sha, "description": "the imported commit whose change lost"},
            "overriddenBy": object_schema(
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
    schemas["ImportReport"] = object_schema(
        ["commit", "summary", "changes", "conflicts", "skippedSecretValues"],
        {
            "commit": sha,
            "summary": summary,
            "changes": changes,
            "conflicts": {"type": "array", "items": ref("GitConflict")},
            "skippedSecretValues": {"type": "array", "items": text},
        },
    )
    schemas["MirrorStatus"] = whole(
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
            "conflicts": {"type": "array", "items": ref("GitConflict"), "maxItems": 20},
        },
    )
    schemas["GitopsStatus"] = whole(
        {
            "head": {**nullable(sha), "description": "main of the state repo"},
            "exportedChange": {**count, "description": "the last change main reflects"},
            "lastChange": {**count, "description": "the last change in the database"},
            "pending": {"type": "boolean", "description": "exportedChange < lastChange"},
            "lastImported": nullable(
                object_schema(
                    ["commit", "via"],
                    {
                        "commit": sha,
                        "via": {**text, "description": "push, sync, restore or recover"},
                    },
                )
            ),
            "publicKey": {**nullable(text), "description": "mcpd's deploy key (ssh)"},
            "remote": {**nullable(ref("MirrorStatus")), "description": "null: no --git-remote"},
            "conflicts": {
                "type": "array",
                "maxItems": 20,
                "description": "the newest GitConflict events",
                "items": object_schema(
                    ["object", "message", "time"],
                    {"object": ref("ObjectReference"), "message": text, "time": time},
                ),
            },
            "contention": {
                **whole(
                    {
                        "loops": {
                            "type": "object",
                            "additionalProperties": count,
                            "description": "by loop (git-replica, git-mirror): its rounds, "
                            "start and stop that met contention and were retried",
                        },
                        "requests": whole(dict.fromkeys(("push", "restore", "sync"), count)),
                    }
                ),
                "description": "how often another writer of the state repo (a ref moved, a "
                "lock file held) made mcpd retry, since it started",
            },
        },
    )
    schemas["GitopsVerify"] = object_schema(
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
    schemas["RestoreReport"] = object_schema(
        ["target", "head", "timeline", "changed", "summary"],
        {
            "target": {**sha, "description": "the commit restored to"},
            "head": {**nullable(sha), "description": "main before the restore"},
            "timeline": {
                **nullable(text),
                "description": "the branch timelines/<name> keeping the abandoned head",
            },
            "changed": {"type": "boolean", "description": "false: main already held the target"},
            "summary": object_schema(
                [],
                dict.fromkeys(("add", "change", "remove"), count),
                additionalProperties=False,
                description="empty when nothing changed",
            ),
        },
    )
    schemas["Timeline"] = object_schema(
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
    schemas["TimelineList"] = object_schema(
        ["apiVersion", "kind", "items"],
        {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": "List"},
            "items": {"type": "array", "items": ref("Timeline")},
        },
        additionalProperties=False,
    )
    schemas["SyncReport"] = object_schema(
        ["remote", "action", "fetched", "head"],
        {
            "remote": text,
            "action": {
                "enum": ["none", "pushed", "imported"],
                "description": "imported: the remote had commits mcpd lacked",
            },
            "fetched": {**nullable(sha), "description": "the remote's main (null: empty)"},
            "head": {**nullable(sha), "description": "main after the sync"},
            "imported": ref("ImportReport"),
        },
    )
    return schemas
