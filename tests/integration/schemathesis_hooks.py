"""schemathesis hooks for `test_openapi_schemathesis.py` (loaded via SCHEMATHESIS_HOOKS).

The fuzzer calls mcpd as the bootstrap admin, whose powers come from the Rbac
named `admin`. A generated request could take them away (replace or delete
that Rbac, prune it with a selector such as `!team`, or restore the database
to a commit from before the admin existed), and every later request would then
be a 403 that tests nothing. So, just before each call: such requests aim at
another Rbac name, pruning runs as a dry run (the same code path, rolled
back), and a restore to a revision that names a commit goes to `main` instead
(where main already is: nothing changes). A revision that names nothing is
sent as generated: its 404 or 422 is what fuzzing restore is for. (The hook
reads the repo on disk, which an export may not have caught up with yet;
only a revision counting back from `main` past its current depth could tell
the difference, and generated strings do not count commits.)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis import Case, HookContext

from mcpctl.errors import McpctlError
from mcpctl.staterepo import StateRepo
from mcpctl.staterepo.timelines import resolve

ADMIN = "admin"
ELSEWHERE = "fuzzed-admin"
#: The environment variable naming the state repo of the mcpd under test.
STATE_REPO = "MCPD_STATE_REPO"


def _spare_admin(item: Any) -> None:
    if not isinstance(item, dict) or item.get("kind") != "Rbac":
        return
    metadata = item.get("metadata")
    if isinstance(metadata, dict) and metadata.get("name") == ADMIN:
        metadata["name"] = ELSEWHERE


def _harmless_revision(body: Any) -> None:
    """A restore's `to`, if it names a commit (as mcpd would resolve it), becomes `main`."""
    if not isinstance(body, dict) or not isinstance(body.get("to"), str):
        return
    repo = StateRepo.open_or_init(Path(os.environ[STATE_REPO]))
    try:
        resolve(repo, body["to"])
    except McpctlError:
        return
    body["to"] = "main"


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
    elif case.path == "/api/v1/gitops/restore":
        _harmless_revision(body)
    elif case.path.startswith("/api/v1/{plural}"):
        _spare_admin(body)
