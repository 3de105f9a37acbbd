"""The built-in catalogue seeded at the leader's start (docs/architecture.md, "Built-in
templates"): present and labelled after the first start, exported like any object,
brought back to the shipped version at a restart when still labelled, never touched
when not, and a restart that finds them as shipped writes nothing.

Each test runs a real mcpd on SQLite and on PostgreSQL, and restarts it on the same
state dir and database; the state repo's invariant is the oracle.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcpctl.manifests.builtins import BUILTIN_LABEL, builtin_templates
from tests.support.gitrepo import Clone, assert_in_sync, bare, main_of, subjects
from tests.support.manifests import manifest, to_yaml
from tests.support.mcpd import Mcpd, running_mcpd

pytestmark = pytest.mark.integration

CATALOGUE = resources.files("mcpctl.manifests") / "templates"


def shipped_file(name: str) -> str:
    return (CATALOGUE / f"{name}.yaml").read_text("utf-8")


def templates(client: httpx.Client) -> dict[str, dict[str, Any]]:
    answer = client.get("/api/v1/templates", params={"limit": "500"}).raise_for_status()
    return {item["metadata"]["name"]: item for item in answer.json()["items"]}


def change_log_length(client: httpx.Client) -> int:
    """How many changes the database has recorded (the newest exported one's seq)."""
    status: dict[str, Any] = client.get("/api/v1/gitops/status").raise_for_status().json()
    return int(status["exportedChange"])


def test_first_start_seeds_every_built_in_labelled_and_exported(
    database_url: str, tmp_path: Path
) -> None:
    with running_mcpd(tmp_path / "state", database_url) as mcpd, mcpd.client() as client:
        assert_in_sync(client)
        stored = templates(client)
        first_commit = bare(mcpd.state_dir, "rev-list", "--max-parents=0", "main").strip()
        seeding = subjects(mcpd.state_dir, first_commit)
        body = bare(mcpd.state_dir, "log", "-1", "--format=%b", "main")

    assert sorted(stored) == sorted(builtin_templates())
    for name, item in stored.items():
        assert item["metadata"]["labels"] == {BUILTIN_LABEL: "true"}, name
        assert item["metadata"]["createdBy"] == "mcpd", name
        # exported byte for byte as shipped: the catalogue files are canonical
        assert bare(mcpd.state_dir, "show", f"main:templates/{name}.yaml") == shipped_file(name)
    # the bootstrap's write, then the catalogue's: one commit of its own
    count = len(builtin_templates())
    assert seeding == [
        "mcpd <mcpd@mcpctl.invalid>|mcpd|3 objects: create 3",
        f"mcpd <mcpd@mcpctl.invalid>|mcpd|{count} objects: create {count}",
    ]
    assert [line for line in body.splitlines() if line.startswith("- ")] == [
        f"- create Template/{name}" for name in sorted(builtin_templates())
    ]


def test_a_restart_restores_labelled_built_ins_and_leaves_the_others_alone(
    database_url: str, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    mine = manifest("Template", "mine", {"command": ["my-mcp"], "description": "ours"})
    with running_mcpd(state, database_url) as mcpd, mcpd.client() as client:
        # a user's Template, a built-in kept as the user's (label removed), a built-in
        # edited with its label kept (through a push: a normal write), one deleted
        client.post("/api/v1/templates", json=mine).raise_for_status()
        fetch = client.get("/api/v1/templates/fetch").raise_for_status().json()
        fetch["metadata"]["labels"] = {"team": "web"}
        fetch["spec"]["description"] = "Our fetch, pinned"
        client.put("/api/v1/templates/fetch", json=fetch).raise_for_status()
        client.delete("/api/v1/templates/everything").raise_for_status()
        assert_in_sync(client)
        pushed = push_edited_time(mcpd, tmp_path / "clone")
        assert templates(client)["time"]["spec"]["description"] == "Edited by a push"
        assert_in_sync(client)
        before = main_of(state)

    with running_mcpd(state, database_url) as mcpd, mcpd.client() as client:
        assert_in_sync(client)
        stored = templates(client)
        restarted = subjects(state, before)
        kept_fetch = stored["fetch"]
        restored_time = bare(state, "show", "main:templates/time.yaml")
        after = main_of(state)

    assert pushed in bare(state, "rev-list", "main")  # the push stays in history
    assert restored_time == shipped_file("time")
    assert stored["everything"]["metadata"]["labels"] == {BUILTIN_LABEL: "true"}
    assert kept_fetch["metadata"]["labels"] == {"team": "web"}
    assert kept_fetch["spec"]["description"] == "Our fetch, pinned"
    assert stored["mine"]["spec"] == {"command": ["my-mcp"], "description": "ours"}
    assert restarted == ["mcpd <mcpd@mcpctl.invalid>|mcpd|2 objects: create 1, update 1"]

    with running_mcpd(state, database_url) as mcpd, mcpd.client() as client:
        exported = change_log_length(client)
        assert_in_sync(client)
        assert change_log_length(client) == exported
        again = templates(client)
    assert main_of(state) == after  # nothing differed: no write, no commit
    assert again == stored


def push_edited_time(mcpd: Mcpd, path: Path) -> str:
    """Push an edit of the built-in `time` that keeps its label; the pushed commit."""
    clone = Clone.of(mcpd, path)
    edited = clone.read("templates/time.yaml")
    edited["spec"]["description"] = "Edited by a push"
    clone.write("templates/time.yaml", to_yaml(edited))
    sha = clone.commit("time: our description")
    done = clone.push()
    assert done.returncode == 0, done.stderr
    return sha
