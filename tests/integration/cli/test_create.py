"""`mcpctl create KIND NAME --flags` against a real mcpd: what is stored, what is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.manifests import manifest

from .conftest import PASSWORD, Cli, one_error_line

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def base(cli: Cli) -> str:
    """Objects the created ones refer to: `<base>-ai` (Secret), `-srv`, `-alice`, `-proj`."""
    n = cli.name("base")
    cli.create(manifest("Secret", f"{n}-ai", {"data": {"KEY": "sk-test"}}))
    cli.create(manifest("Server", f"{n}-srv", {"command": ["x"]}))
    cli.create(manifest("User", f"{n}-alice", {"email": "alice@example.com"}))
    cli.create(manifest("Project", f"{n}-proj", {}))
    return n


def fill(template: Any, **names: str) -> Any:
    """`template` with `{base}` and `{x}` replaced in every string."""
    text = json.dumps(template)
    for key, value in names.items():
        text = text.replace("{" + key + "}", value)
    return json.loads(text)


def words(*lines: str) -> list[str]:
    """The words of some lines of a command line (no quoting needed here)."""
    return " ".join(lines).split()


#: (kind, flags, where it is stored, the spec fields it must have)
CREATES = [
    pytest.param(
        "llm",
        words(
            "--type anthropic --model claude-haiku-4-5 --tier heavy",
            "--api-key-ref {base}-ai/KEY --extra temperature=0.2",
        ),
        "llms",
        {
            "type": "anthropic",
            "model": "claude-haiku-4-5",
            "tier": "heavy",
            "apiKeyRef": {"name": "{base}-ai", "key": "KEY"},
            "extra": {"temperature": 0.2},
        },
        id="llm",
    ),
    pytest.param(
        "server",
        words(
            "--env TZ=UTC --env-secret TOKEN={base}-ai/KEY --replicas 2",
            "-- uvx mcp-server-time --local-timezone=UTC",
        ),
        "servers",
        {
            "command": ["uvx", "mcp-server-time", "--local-timezone=UTC"],
            "replicas": 2,
            "env": [
                {"name": "TZ", "value": "UTC"},
                {"name": "TOKEN", "valueFrom": {"secretRef": {"name": "{base}-ai", "key": "KEY"}}},
            ],
        },
        id="server-command",
    ),
    pytest.param(
        "server",
        ["--url", "https://mcp.example.com/mcp", "--transport", "sse"],
        "servers",
        {"externalUrl": "https://mcp.example.com/mcp", "transport": "sse"},
        id="server-url",
    ),
    pytest.param(
        "project",
        ["--servers", "{base}-srv", "--gated", "--description", "for tests"],
        "projects",
        {"servers": ["{base}-srv"], "gated": True, "description": "for tests"},
        id="project",
    ),
    pytest.param(
        "user",
        ["--email", "bob@example.com", "--display-name", "Bob"],
        "users",
        {"email": "bob@example.com", "displayName": "Bob"},
        id="user",
    ),
    pytest.param(
        "group",
        ["--member", "{base}-alice", "--description", "ops"],
        "groups",
        {"members": ["{base}-alice"], "description": "ops"},
        id="group",
    ),
    pytest.param(
        "serviceaccount",
        ["--description", "CI"],
        "serviceaccounts",
        {"description": "CI"},
        id="serviceaccount",
    ),
    pytest.param(
        "rbac",
        words(
            "--subject user:{base}-alice --binding edit:servers",
            "--binding view:secrets/{base}-ai --operation logs",
        ),
        "rbacs",
        {
            "subjects": [{"kind": "User", "name": "{base}-alice"}],
            "bindings": [
                {"role": "edit", "resource": "servers"},
                {"role": "view", "resource": "secrets", "name": "{base}-ai"},
                {"role": "run", "action": "logs"},
            ],
        },
        id="rbac",
    ),
]


@pytest.mark.parametrize(("kind", "flags", "plural", "spec"), CREATES)
def test_create_stores_the_object_the_flags_describe(
    cli: Cli, base: str, kind: str, flags: list[str], plural: str, spec: dict[str, Any]
) -> None:
    name = cli.name(kind)

    result = cli.run("create", kind, name, "--label", "made=by-test", *fill(flags, base=base))

    assert result.exit_code == 0, result.output
    assert result.stdout == f"{kind}/{name} created\n"
    stored = cli.fetch(plural, name)
    assert stored is not None
    assert stored["metadata"]["labels"] == {"made": "by-test"}
    expected = fill(spec, base=base)
    assert {key: stored["spec"].get(key) for key in expected} == expected


def test_create_secret_reads_literals_files_and_env_files(cli: Cli, tmp_path: Path) -> None:
    name = cli.name("secret")
    (tmp_path / "ca.pem").write_text("PEM")
    (tmp_path / ".env").write_text("# comment\nexport A=1\nB=two words\n")

    result = cli.run(
        "create",
        "secret",
        name,
        "--from-literal",
        "TOKEN=s3cret",
        "--from-file",
        str(tmp_path / "ca.pem"),
        "--from-file",
        f"key={tmp_path / 'ca.pem'}",
        "--from-env-file",
        str(tmp_path / ".env"),
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == f"secret/{name} created\n"
    assert "s3cret" not in result.output
    revealed = cli.admin.get(f"/api/v1/secrets/{name}", params={"showSecrets": "true"}).json()
    assert revealed["spec"]["data"] == {
        "TOKEN": "s3cret",
        "ca.pem": "PEM",
        "key": "PEM",
        "A": "1",
        "B": "two words",
    }


def test_create_prompt_goes_under_its_project(cli: Cli, base: str) -> None:
    name = cli.name("prompt")

    result = cli.run(
        "create", "prompt", name, "-p", f"{base}-proj", "--content", "hi", "--priority", "8"
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == f"prompt/{base}-proj/{name} created\n"
    stored = cli.fetch("prompts", name, project=f"{base}-proj")
    assert stored is not None
    assert (stored["spec"]["content"], stored["spec"]["priority"]) == ("hi", 8)


def test_create_user_with_a_password_from_stdin_can_log_in(cli: Cli) -> None:
    name = cli.name("user")

    result = cli.run(
        "create",
        "user",
        name,
        "--email",
        f"{name}@example.com",
        "--password-stdin",
        input=PASSWORD + "\n",
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == f"user/{name} created\nuser/{name} password set\n"
    login = cli.admin.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert login.status_code == 200, login.text


def test_create_mcptoken_prints_only_the_token_and_the_token_works(cli: Cli, base: str) -> None:
    name = cli.name("tok")
    cli.create(manifest("Secret", f"{name}-hidden", {"data": {"K": "v"}}))

    result = cli.run(
        "create",
        "mcptoken",
        name,
        "--project",
        f"{base}-proj",
        "--binding",
        "view:servers",
        "--expires",
        "2w",
    )

    assert result.exit_code == 0, result.output
    token = result.stdout.removesuffix("\n")
    assert "\n" not in token
    assert token.startswith("mcpctl_pat_")
    assert f"mcptoken/{name} created" in result.stderr
    assert token not in result.stderr
    allowed = cli.run("--token", token, "get", "server", f"{base}-srv", "-o", "name")
    refused = cli.run("--token", token, "get", "secrets")
    assert (allowed.exit_code, allowed.stdout) == (0, f"server/{base}-srv\n")
    assert refused.exit_code == 2
    assert one_error_line(refused.stderr) == "error: forbidden: needs view on secrets"
    stored = cli.fetch("mcptokens", name)
    assert stored is not None
    assert stored["spec"]["project"] == f"{base}-proj"
    assert stored["spec"]["expiresAt"].endswith("Z")
    assert token not in json.dumps(stored)


def test_create_prints_the_stored_object_when_asked(cli: Cli) -> None:
    as_name, as_yaml = cli.name("sa"), cli.name("sa")

    named = cli.run("create", "serviceaccount", as_name, "-o", "name")
    printed = cli.run("create", "serviceaccount", as_yaml, "-o", "yaml")

    assert named.stdout == f"serviceaccount/{as_name}\n"
    doc = yaml.safe_load(printed.stdout)
    assert doc["metadata"]["name"] == as_yaml
    stored = cli.fetch("serviceaccounts", as_yaml)
    assert stored is not None
    assert doc["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]


def test_create_dry_run_sends_nothing(cli: Cli) -> None:
    name = cli.name("dry")

    result = cli.run("create", "server", name, "--dry-run", "--", "uvx", "mcp-server-time")

    assert (result.exit_code, result.stdout) == (0, f"server/{name} created (dry run)\n")
    assert cli.fetch("servers", name) is None


@pytest.mark.parametrize(
    ("args", "flag", "what"),
    [
        (["server", "{x}", "--from-template", "{x}-nope"], "--from-template", "Template/{x}-nope"),
        (["project", "{x}", "--servers", "{x}-nope"], "--servers", "Server/{x}-nope"),
        (
            ["llm", "{x}", "--type", "openai", "--model", "m", "--api-key-ref", "{x}-nope/KEY"],
            "--api-key-ref",
            "Secret/{x}-nope",
        ),
    ],
    ids=["template", "servers", "api-key-ref"],
)
def test_a_reference_mcpd_refuses_is_reported_with_its_flag(
    cli: Cli, args: list[str], flag: str, what: str
) -> None:
    x = cli.name("ref")
    args, what = fill(args, x=x), fill(what, x=x)

    result = cli.run("create", *args)

    assert result.exit_code == 1
    first, last = result.stderr.splitlines()
    assert first.startswith(f"error: {flag}: ")
    assert what in first
    assert last == f"error: cannot create {args[0].capitalize()} {x!r}: mcpd refused it"
    assert cli.fetch(f"{args[0]}s", x) is None


def test_creating_an_existing_object_is_one_line(cli: Cli) -> None:
    name = cli.name("user")
    cli.run("create", "user", name, "--email", f"{name}@example.com")

    result = cli.run("create", "user", name, "--email", f"{name}@example.com")

    assert result.exit_code == 2
    assert f"User/{name}" in one_error_line(result.stderr)
