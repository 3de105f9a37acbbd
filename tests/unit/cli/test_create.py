"""`mcpctl create KIND NAME --flags`: the manifests built, and bad flags named before sending.

No mcpd is needed: `--dry-run` prints the manifest, and a flag refused here
stops the command before it connects (no context is configured, so a
command that tried to send would fail with another error). What mcpd
stores or refuses is tested in tests/integration/cli/test_create.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from mcpctl.cli.flags import parse_expiry

from .conftest import Run


def built(run: Run, *args: str, input: str | None = None) -> dict[str, Any]:
    """The manifest `create ... --dry-run -o json` prints (no server involved)."""
    kind, *rest = args
    result = run("create", kind, "--dry-run", "-o", "json", *rest, input=input)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_create_llm_builds_the_manifest(run: Run) -> None:
    manifest = built(
        run,
        "llm",
        "haiku",
        "--type",
        "anthropic",
        "--model",
        "claude-haiku-4-5",
        "--tier",
        "fast",
        "--api-key-ref",
        "ai/KEY",
        "--extra",
        "temperature=0.2",
        "--extra",
        "style=terse",
        "--label",
        "team=ml",
    )

    assert manifest == {
        "apiVersion": "mcpctl/v1",
        "kind": "Llm",
        "metadata": {"name": "haiku", "labels": {"team": "ml"}},
        "spec": {
            "type": "anthropic",
            "model": "claude-haiku-4-5",
            "tier": "fast",
            "apiKeyRef": {"name": "ai", "key": "KEY"},
            "extra": {"temperature": 0.2, "style": "terse"},
        },
    }


def test_create_server_from_a_command_after_double_dash(run: Run) -> None:
    manifest = built(
        run,
        "server",
        "time",
        "--env",
        "TZ=UTC",
        "--env-secret",
        "TOKEN=gh/TOKEN",
        "--",
        "uvx",
        "mcp-server-time",
        "--local-timezone=UTC",
    )

    assert manifest["spec"] == {
        "command": ["uvx", "mcp-server-time", "--local-timezone=UTC"],
        "env": [
            {"name": "TZ", "value": "UTC"},
            {"name": "TOKEN", "valueFrom": {"secretRef": {"name": "gh", "key": "TOKEN"}}},
        ],
    }


def test_create_server_from_a_template_builds_the_manifest(run: Run) -> None:
    manifest = built(
        run,
        "server",
        "gh",
        "--from-template",
        "github",
        "--env",
        "GITHUB_READ_ONLY=true",
        "--env-from-secret",
        "GITHUB_PERSONAL_ACCESS_TOKEN=github/token",
        "--replicas",
        "2",
    )

    assert manifest["spec"] == {
        "template": "github",
        "replicas": 2,
        "env": [
            {"name": "GITHUB_READ_ONLY", "value": "true"},
            {
                "name": "GITHUB_PERSONAL_ACCESS_TOKEN",
                "valueFrom": {"secretRef": {"name": "github", "key": "token"}},
            },
        ],
    }


def test_the_older_template_and_env_secret_flags_still_work(run: Run) -> None:
    old = built(run, "server", "gh", "--template", "github", "--env-secret", "T=gh/token")
    new = built(run, "server", "gh", "--from-template", "github", "--env-from-secret", "T=gh/token")
    assert old == new


def test_an_env_value_is_never_echoed_in_an_error(run: Run) -> None:
    """A token given with --env by mistake is still a token: the error names the flag."""
    token = "ghp_" + "x" * 32768
    named = run("create", "server", "s", "--from-template", "t", "--env", f"bad name={token}")
    long = run("create", "server", "s", "--from-template", "t", "--env", f"TOKEN={token}")

    assert named.stderr.splitlines()[0] == (
        "error: --env: 'bad name': String should match pattern '^[A-Za-z_][A-Za-z0-9_]*$'"
    )
    assert long.stderr.splitlines()[0] == (
        "error: --env: String should have at most 32768 characters"
    )
    for result in (named, long):
        assert result.exit_code == 1
        assert "ghp_" not in result.output


def test_create_project_prompt_user_group_and_serviceaccount(run: Run) -> None:
    project = built(run, "project", "demo", "--servers", "a,b", "--servers", "c", "--gated")
    prompt = built(run, "prompt", "intro", "-p", "demo", "--content", "hi", "--priority", "8")
    user = built(run, "user", "alice", "--email", "alice@example.com")
    group = built(run, "group", "ops", "--member", "alice")
    account = built(run, "serviceaccount", "ci", "--description", "CI")

    assert project["spec"] == {"servers": ["a", "b", "c"], "gated": True}
    assert prompt["metadata"] == {"name": "intro", "project": "demo"}
    assert prompt["spec"] == {"content": "hi", "priority": 8}
    assert user["spec"] == {"email": "alice@example.com"}
    assert group["spec"] == {"members": ["alice"]}
    assert account["spec"] == {"description": "CI"}


def test_create_rbac_reads_subjects_bindings_and_operations(run: Run) -> None:
    manifest = built(
        run,
        "rbac",
        "ops",
        "--subject",
        "user:alice",
        "--subject",
        "Group/ops",
        "--binding",
        "edit:servers",
        "--binding",
        "view:secrets/gh",
        "--binding",
        "run:projects/demo",
        "--operation",
        "logs",
    )

    assert manifest["spec"] == {
        "subjects": [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "ops"}],
        "bindings": [
            {"role": "edit", "resource": "servers"},
            {"role": "view", "resource": "secrets", "name": "gh"},
            {"role": "run", "resource": "projects", "name": "demo"},
            {"role": "run", "action": "logs"},
        ],
    }


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            [
                "llm",
                "x",
                "--type",
                "anthropic",
                "--model",
                "m",
                "--api-key-ref",
                "a/b",
                "--tier",
                "slow",
            ],
            "error: --tier: 'slow': Input should be 'fast' or 'heavy'",
        ),
        (
            ["llm", "x", "--type", "anthropic", "--model", "m"],
            "error: an anthropic Llm needs apiKeyRef (--api-key-ref)",
        ),
        (
            ["llm", "x", "--type", "vllm", "--model", "m", "--url", "ftp://x"],
            "error: --url: 'ftp://x': String should match pattern",
        ),
        (
            ["server", "x", "--image", "img", "--port", "99999", "--transport", "sse"],
            "error: --port: 99999: Input should be less than or equal to 65535",
        ),
        (["server", "x"], "error: set one of template / image / command / externalUrl"),
        (
            ["rbac", "r", "--subject", "user:a", "--binding", "view:serverz"],
            "error: --binding: 'serverz': Input should be '*', 'secretbackends'",
        ),
        (
            ["rbac", "r", "--subject", "user:a", "--operation", "nuke"],
            "error: --operation: 'nuke': Input should be '*', 'backup'",
        ),
        (["user", "Bob", "--email", "bob@example.com"], "error: NAME: invalid name 'Bob'"),
        (["user", "bob", "--email", "bob"], "error: --email: 'bob': String should match"),
        (
            ["project", "p", "--servers", "a,a"],
            "error: servers lists 'a' more than once (--servers)",
        ),
        (["mcptoken", "t", "--rbac-mode", "copy"], "error: --rbac-mode: 'copy': Input should be"),
    ],
)
def test_bad_values_name_the_flag_and_send_nothing(run: Run, args: list[str], line: str) -> None:
    result = run("create", *args)

    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(line), result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: cannot create")
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["llm", "x", "--type", "openai", "--model", "m", "--api-key-ref", "nokey"], "SECRET/KEY"),
        (["llm", "x", "--type", "openai", "--model", "m", "--extra", "k"], "KEY=VALUE"),
        (["server", "x", "--from-template", "time", "--env", "TZ"], "KEY=VALUE"),
        (["server", "x", "--from-template", "t", "--env-from-secret", "T=gh"], "SECRET/KEY"),
        (["rbac", "r", "--subject", "robot:x", "--binding", "view:*"], "KIND:NAME"),
        (["rbac", "r", "--subject", "user:x", "--binding", "view"], "ROLE:RESOURCE"),
        (["rbac", "r", "--subject", "user:x", "--binding", "run:restore"], "--operation"),
        (["mcptoken", "t", "--expires", "tomorrow"], "a duration (30d, 12h, 2w)"),
        (["secret", "s", "--from-literal", "A=1", "--from-literal", "A=2"], "'A' is given twice"),
        (["secret", "s", "--from-file", "/nonexistent/file"], "/nonexistent/file"),
    ],
)
def test_flags_in_the_wrong_shape_are_usage_errors(run: Run, args: list[str], message: str) -> None:
    result = run("create", *args)

    assert result.exit_code == 2
    assert message in result.stderr


def test_a_secret_value_is_never_echoed_in_an_error(run: Run) -> None:
    result = run("create", "secret", "s", "--from-literal", "bad key=hunter2")

    assert result.exit_code == 1
    assert "hunter2" not in result.output


def test_expiry_durations_and_times() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)

    assert parse_expiry("30d", now=now) == "2026-01-31T00:00:00Z"
    assert parse_expiry("12h", now=now) == "2026-01-01T12:00:00Z"
    assert parse_expiry("2026-02-01T10:00:00+02:00", now=now) == "2026-02-01T08:00:00Z"
