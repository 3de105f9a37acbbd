"""schemathesis hooks for `test_openapi_schemathesis.py` (loaded via SCHEMATHESIS_HOOKS).

The fuzzer calls mcpd as the bootstrap admin, whose powers come from the Rbac
named `admin`. A generated request could take them away (replace or delete
that Rbac, or prune it with a selector such as `!team`), and every later
request would then be a 403 that tests nothing. So, just before each call:
such requests aim at another Rbac name, and pruning runs as a dry run (the
same code path, rolled back).
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis import Case, HookContext

ADMIN = "admin"
ELSEWHERE = "fuzzed-admin"


def _spare_admin(item: Any) -> None:
    if not isinstance(item, dict) or item.get("kind") != "Rbac":
        return
    metadata = item.get("metadata")
    if isinstance(metadata, dict) and metadata.get("name") == ADMIN:
        metadata["name"] = ELSEWHERE


@schemathesis.hook
def before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    params = case.path_parameters or {}
    if params.get("plural") == "rbacs" and params.get("name") == ADMIN:
        params["name"] = ELSEWHERE
    body = case.body
    if case.path == "/api/v1/apply" and isinstance(body, dict):
        if body.get("prune"):
            body["dryRun"] = True
        items = body.get("items")
        for item in items if isinstance(items, list) else []:
            _spare_admin(item)
    elif case.path.startswith("/api/v1/{plural}"):
        _spare_admin(body)
