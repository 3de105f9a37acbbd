"""The built-in templates through the CLI against a real mcpd: `get templates`,
`describe template`, and `create server --from-template` with each way it is refused.

The catalogue the package ships is the oracle: mcpd seeded it at its first start.
"""

from __future__ import annotations

import re
from importlib import resources

import pytest

from mcpctl.manifests.builtins import builtin_templates
from tests.support.manifests import manifest

from .conftest import Cli, one_error_line

pytestmark = pytest.mark.integration

#: A credential given where it must not go: it may appear in no output and no log.
LEAKED = "ghp_leaked-0123456789abcdef"


def shipped_spec_lines(name: str) -> list[str]:
    """The spec of a shipped template, as its catalogue file writes it (indented by 2)."""
    text = (resources.files("mcpctl.manifests") / "templates" / f"{name}.yaml").read_text()
    return text.split("spec:\n", 1)[1].splitlines()


def cells(line: str) -> list[str]:
    return re.split(r" {3,}", line.strip())


def test_get_templates_lists_the_built_in_catalogue(cli_db: Cli) -> None:
    table = cli_db.run("get", "templates")
    names = cli_db.run("get", "templates", "-l", "mcpctl.dev/builtin=true", "-o", "name")

    assert table.exit_code == names.exit_code == 0
    header, *rows = table.stdout.splitlines()
    assert cells(header) == ["NAME", "SOURCE", "TRANSPORT", "PARAMETERS", "AGE"]
    by_name = {cells(row)[0]: cells(row)[1:4] for row in rows}
    assert set(builtin_templates()) <= set(by_name)
    assert by_name["time"] == ["command/uvx mcp-server-time", "stdio", "1"]
    assert by_name["github"] == ["image/ghcr.io/github/github-mcp-server", "stdio", "4"]
    # a long source is cut to 60 characters
    assert (
        by_name["filesystem"][0] == "command/sh -c 'exec npx -y @modelcontextprotocol/server-f..."
    )
    assert names.stdout == "".join(f"template/{n}\n" for n in sorted(builtin_templates()))


def test_describe_template_shows_the_shipped_spec_and_its_label(cli_db: Cli) -> None:
    result = cli_db.run("describe", "template", "time")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "Name:             time",
        "Kind:             Template",
        "Labels:           mcpctl.dev/builtin=true",
    ]
    assert lines[3].endswith(" by mcpd")
    start = lines.index("Spec:") + 1
    assert lines[start : lines.index("Status: <none>")] == shipped_spec_lines("time")


def test_create_server_from_a_template_stores_it(cli_db: Cli) -> None:
    name = cli_db.name("time")

    result = cli_db.run(
        "create", "server", name, "--from-template", "time", "--env", "TZ=Europe/Paris",
        "--replicas", "2",
    )  # fmt: skip

    assert (result.exit_code, result.stdout) == (0, f"server/{name} created\n")
    stored = cli_db.fetch("servers", name)
    assert stored is not None
    assert stored["spec"] == {
        "template": "time",
        "replicas": 2,
        "env": [{"name": "TZ", "value": "Europe/Paris"}],
    }


def test_create_server_gives_a_secret_parameter_from_a_secret(cli_db: Cli) -> None:
    name = cli_db.name("gh")
    cli_db.create(manifest("Secret", f"{name}-token", {"data": {"token": LEAKED}}))

    result = cli_db.run(
        "create", "server", name, "--from-template", "github",
        "--env-from-secret", f"GITHUB_PERSONAL_ACCESS_TOKEN={name}-token/token",
        "--env", "GITHUB_READ_ONLY=true",
    )  # fmt: skip

    assert (result.exit_code, result.stdout) == (0, f"server/{name} created\n")
    stored = cli_db.fetch("servers", name)
    assert stored is not None
    assert stored["spec"]["env"] == [
        {"name": "GITHUB_READ_ONLY", "value": "true"},
        {
            "name": "GITHUB_PERSONAL_ACCESS_TOKEN",
            "valueFrom": {"secretRef": {"name": f"{name}-token", "key": "token"}},
        },
    ]
    assert LEAKED not in result.output


REFUSED = [
    pytest.param(
        ["--from-template", "github"],
        "error: --env/--env-from-secret: Server '{x}' uses template 'github', which requires "
        "parameter GITHUB_PERSONAL_ACCESS_TOKEN: add env GITHUB_PERSONAL_ACCESS_TOKEN from a "
        "Secret (--env-from-secret)",
        id="missing-required-parameter",
    ),
    pytest.param(
        ["--from-template", "github", "--env", f"GITHUB_PERSONAL_ACCESS_TOKEN={LEAKED}"],
        "error: --env: Server '{x}': env GITHUB_PERSONAL_ACCESS_TOKEN is a secret parameter of "
        "template 'github': give it from a Secret (--env-from-secret), not as a value",
        id="secret-parameter-as-a-value",
    ),
    pytest.param(
        ["--from-template", "playwright", "--env", "PLAYWRIGHT_MCP_BROWSER=safari"],
        "error: --env: Server '{x}': env PLAYWRIGHT_MCP_BROWSER must be one of chrome, firefox, "
        "webkit, msedge: it fills parameter PLAYWRIGHT_MCP_BROWSER of template 'playwright'",
        id="value-outside-the-enum",
    ),
    pytest.param(
        ["--from-template", "sequential-thinking", "--env", "DISABLE_THOUGHT_LOGGING=yes"],
        "error: --env: Server '{x}': env DISABLE_THOUGHT_LOGGING must be true or false: it fills "
        "parameter DISABLE_THOUGHT_LOGGING of template 'sequential-thinking'",
        id="value-of-the-wrong-type",
    ),
    pytest.param(
        ["--from-template", "{x}-nope"],
        "error: --from-template: '{x}-nope': Server '{x}' refers to Template/{x}-nope, which "
        "does not exist (neither declared nor built in)",
        id="unknown-template",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("flags", "first"), REFUSED)
def test_create_server_from_a_template_is_refused_with_the_reason(
    cli: Cli, flags: list[str], first: str
) -> None:
    x = cli.name("bad")
    flags = [f.replace("{x}", x) for f in flags]

    result = cli.run("create", "server", x, *flags)

    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == first.replace("{x}", x)
    assert result.stderr.splitlines()[-1] == f"error: cannot create Server '{x}': mcpd refused it"
    assert result.stdout == ""
    assert cli.fetch("servers", x) is None
    assert LEAKED not in result.output
    assert LEAKED not in cli.mcpd.logged()


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        (
            ["--env", "TZ"],
            "error: Invalid value for --env: expected KEY=VALUE, got 'TZ' "
            "(see `mcpctl create server --help`)",
        ),
        (
            ["--env-from-secret", "TZ=zones"],
            "error: Invalid value for --env-from-secret: expected SECRET/KEY, got 'zones' "
            "(see `mcpctl create server --help`)",
        ),
    ],
    ids=["env", "env-from-secret"],
)
def test_create_server_with_a_flag_in_the_wrong_shape_sends_nothing(
    cli: Cli, flags: list[str], line: str
) -> None:
    x = cli.name("shape")

    result = cli.run("create", "server", x, "--from-template", "time", *flags)

    assert result.exit_code == 2
    assert one_error_line(result.stderr) == line
    assert cli.fetch("servers", x) is None
