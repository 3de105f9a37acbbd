"""`mcpctl get` and `mcpctl describe` against a fake mcpd."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from .conftest import Run
from .fakeapi import Canned, FakeMcpd, problem


def server(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "mcpctl/v1",
        "kind": "Server",
        "metadata": {"name": name, "labels": labels},
        "spec": {"command": ["uvx", f"mcp-server-{name}"]},
    }


@pytest.fixture
def stored(mcpd: FakeMcpd) -> FakeMcpd:
    mcpd.put(server("time", team="infra"))
    mcpd.put(server("git", team="dev"))
    mcpd.put(
        {
            "apiVersion": "mcpctl/v1",
            "kind": "Secret",
            "metadata": {"name": "gh"},
            "spec": {"data": {"TOKEN": None}},
        }
    )
    mcpd.put(
        {
            "apiVersion": "mcpctl/v1",
            "kind": "Project",
            "metadata": {"name": "demo"},
            "spec": {"servers": ["time"]},
        }
    )
    mcpd.put(
        {
            "apiVersion": "mcpctl/v1",
            "kind": "Prompt",
            "metadata": {"name": "intro", "project": "demo"},
            "spec": {"content": "hello"},
        }
    )
    return mcpd


@pytest.mark.parametrize("kind", ["servers", "server", "Server"])
def test_get_takes_any_spelling_of_the_kind(run: Run, stored: FakeMcpd, kind: str) -> None:
    result = run("get", kind, "-o", "name")

    assert result.exit_code == 0, result.output
    assert result.stdout == "server/git\nserver/time\n"
    assert stored.paths() == ["/api/v1/servers"]


def test_get_sends_the_label_selector(run: Run, stored: FakeMcpd) -> None:
    result = run("get", "servers", "-l", "team=infra", "-o", "name")

    assert result.stdout == "server/time\n"
    assert stored.requests[0].query == {"labelSelector": "team=infra", "limit": "500"}


def test_get_follows_continue_tokens(run: Run, stored: FakeMcpd) -> None:
    page = {"apiVersion": "mcpctl/v1", "kind": "List", "items": [server("a")]}
    stored.script = [
        Canned(200, {**page, "metadata": {"continue": "next-1"}}),
        Canned(200, {**page, "items": [server("b")]}),
    ]

    result = run("get", "servers", "-o", "name")

    assert result.stdout == "server/a\nserver/b\n"
    assert stored.requests[1].query["continue"] == "next-1"


def test_get_one_as_yaml_can_be_applied_again(run: Run, stored: FakeMcpd) -> None:
    result = run("get", "server", "time", "-o", "yaml")

    doc = yaml.safe_load(result.stdout)
    assert doc["metadata"]["name"] == "time"
    assert doc["metadata"]["resourceVersion"] == "1"
    assert doc["spec"] == {"command": ["uvx", "mcp-server-time"]}


def test_get_one_as_json_is_the_api_object(run: Run, stored: FakeMcpd) -> None:
    result = run("get", "server", "time", "-o", "json")

    assert json.loads(result.stdout) == stored.objects[("servers", None, "time")]


def test_a_missing_name_is_reported_and_the_others_printed(run: Run, stored: FakeMcpd) -> None:
    result = run("get", "servers", "time", "nope", "-o", "name")

    assert result.exit_code == 2
    assert result.stdout == "server/time\n"
    assert result.stderr == "error: Server 'nope' not found\n"


def test_an_empty_list_says_so_on_stderr(run: Run, mcpd: FakeMcpd) -> None:
    result = run("get", "llms")

    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "No llms found.\n"


def test_an_unknown_kind_suggests_the_closest(run: Run, mcpd: FakeMcpd) -> None:
    result = run("get", "sever")

    assert result.exit_code == 2
    assert result.stderr.startswith("error: unknown kind 'sever' (did you mean 'server'?)")
    assert result.stderr.count("\n") == 1
    assert mcpd.requests == []


def test_prompts_need_a_project(run: Run, stored: FakeMcpd) -> None:
    missing = run("get", "prompts")
    given = run("get", "prompts", "-p", "demo", "-o", "name")
    everywhere = run("get", "prompts", "-A", "-o", "name")

    assert missing.exit_code == 2
    assert missing.stderr == "error: prompts belong to a project: give --project/-p NAME\n"
    assert given.stdout == everywhere.stdout == "prompt/demo/intro\n"
    assert "/api/v1/projects/demo/prompts" in stored.paths()


def test_show_values_asks_for_secrets_and_needs_yaml_or_json(run: Run, stored: FakeMcpd) -> None:
    refused = run("get", "secret", "gh", "--show-values")
    result = run("get", "secret", "gh", "-o", "yaml", "--show-values")

    assert refused.exit_code == 2
    assert refused.stderr == "error: --show-values needs -o yaml or -o json\n"
    assert result.exit_code == 0
    assert stored.requests[-1].query == {"showSecrets": "true"}


def test_a_forbidden_list_names_the_permission(run: Run, mcpd: FakeMcpd) -> None:
    mcpd.script = [problem(403, "forbidden", "needs view on secrets")]

    result = run("get", "secrets")

    assert result.exit_code == 2
    assert result.stderr == "error: forbidden: needs view on secrets\n"


def test_describe_fetches_references_and_events(run: Run, stored: FakeMcpd) -> None:
    stored.references = {"uses": [], "usedBy": ["Project/demo"]}

    result = run("describe", "server", "time")

    assert result.exit_code == 0, result.output
    assert "Used By:\n  Project/demo\n" in result.stdout
    assert stored.paths() == [
        "/api/v1/servers/time",
        "/api/v1/servers/time/references",
        "/api/v1/events",
    ]
    assert stored.requests[2].query == {"kind": "Server", "name": "time"}


def test_describe_still_helps_when_events_are_forbidden(run: Run, stored: FakeMcpd) -> None:
    stored.script = [
        Canned(200, stored.objects[("servers", None, "time")]),
        Canned(200, {"uses": [], "usedBy": []}),
        problem(403, "forbidden", "needs view on events"),
    ]

    result = run("describe", "server", "time")

    assert result.exit_code == 0
    assert "Events: <cannot list: forbidden: needs view on events>" in result.stdout


def test_describe_a_prompt_asks_under_its_project(run: Run, stored: FakeMcpd) -> None:
    result = run("describe", "prompt", "intro", "-p", "demo")

    assert result.exit_code == 0, result.output
    assert "Project:          demo" in result.stdout
    assert stored.requests[2].query == {"kind": "Prompt", "name": "intro", "project": "demo"}


def test_mcptokens_can_be_listed_for_one_project(run: Run, mcpd: FakeMcpd) -> None:
    result = run("get", "mcptokens", "-p", "demo")

    assert result.exit_code == 0
    assert mcpd.requests[0].query == {"limit": "500", "project": "demo"}
