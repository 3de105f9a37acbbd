"""ServiceAccount tokens and McpTokens through the real CLI against a real mcpd.

`mcpctl create token`, the tokens `mcpctl describe serviceaccount` lists,
`mcpctl revoke token` (by prefix, or all after a confirmation) and
`mcpctl revoke mcptoken`. A revoked token never authenticates again; every
refusal is one `error:` line and revokes nothing.
"""

from __future__ import annotations

import pytest

from tests.support.manifests import binding, manifest

from .conftest import Cli, one_error_line

pytestmark = pytest.mark.integration


@pytest.fixture
def account(cli: Cli) -> str:
    """A ServiceAccount that may view servers."""
    name = cli.name("sa")
    cli.create(manifest("ServiceAccount", name, {}))
    spec = {
        "subjects": [{"kind": "ServiceAccount", "name": name}],
        "bindings": [binding("view", "servers")],
    }
    cli.create(manifest("Rbac", f"{name}-rbac", spec))
    return name


def create_token(cli: Cli, *args: str) -> str:
    result = cli.run("create", "token", *args)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1
    assert "the token is shown only now" in result.stderr
    return result.stdout.strip()


def prefix_of(token: str) -> str:
    return token[: len("mcpctl_sat_") + 4]


def test_tokens_are_created_listed_by_describe_and_revoked_by_prefix(
    cli: Cli, account: str
) -> None:
    first = create_token(cli, f"serviceaccount/{account}", "--expires", "30d")
    second = create_token(cli, account)
    if prefix_of(first) == prefix_of(second):  # 4 random characters can collide
        pytest.skip("the two tokens share their prefix")
    assert cli.identity(first) == f"serviceaccount:{account}"

    described = cli.run("describe", "serviceaccount", account)

    assert described.exit_code == 0, described.output
    section = described.stdout.split("Tokens:\n", 1)[1].split("Events:", 1)[0].splitlines()
    assert section[0].split() == ["PREFIX", "CREATED", "BY", "AGE", "EXPIRES", "STATE"]
    rows = {line.split()[0]: line.split() for line in section[1:]}
    assert rows[prefix_of(first)][1] == "admin"
    assert rows[prefix_of(first)][-1] == "active"
    assert rows[prefix_of(second)][-2:] == ["never", "active"]
    assert first not in described.stdout

    revoked = cli.run("revoke", "token", f"serviceaccount/{account}", prefix_of(first))

    assert revoked.exit_code == 0, revoked.output
    assert revoked.stdout == (
        f"revoked 1 token of serviceaccount/{account} starting {prefix_of(first)}\n"
    )
    assert cli.identity(first) is None
    assert cli.identity(second) == f"serviceaccount:{account}"
    after = cli.run("describe", "serviceaccount", account).stdout
    assert any(
        line.split()[:1] == [prefix_of(first)] and line.endswith("revoked")
        for line in after.splitlines()
    )


def test_revoking_an_unknown_prefix_is_one_error_line(cli: Cli, account: str) -> None:
    token = create_token(cli, account)

    result = cli.run("revoke", "token", f"serviceaccount/{account}", "mcpctl_sat_nope")

    assert result.exit_code == 2
    assert one_error_line(result.stderr) == (
        f"error: ServiceAccount/{account} has no live token starting 'mcpctl_sat_nope'"
    )
    assert cli.identity(token) == f"serviceaccount:{account}"


def test_revoking_every_token_asks_first_unless_told_yes(cli: Cli, account: str) -> None:
    tokens = [create_token(cli, account) for _ in range(2)]

    declined = cli.run("revoke", "token", f"serviceaccount/{account}", input="n\n")

    assert declined.exit_code == 2
    assert (
        f"Revoke every token of serviceaccount/{account} (2 tokens not revoked yet)? [y/N]: "
        in declined.stderr
    )
    assert declined.stderr.endswith("error: nothing was revoked (answer y, or give --yes)\n")
    assert all(cli.identity(t) for t in tokens)

    accepted = cli.run("revoke", "token", f"serviceaccount/{account}", input="y\n")

    assert accepted.exit_code == 0, accepted.output
    assert accepted.stdout == f"revoked 2 tokens of serviceaccount/{account}\n"
    assert not any(cli.identity(t) for t in tokens)

    third = create_token(cli, account)
    told = cli.run("revoke", "token", account, "--yes")
    nothing = cli.run("revoke", "token", account)

    assert told.stdout == f"revoked 1 token of serviceaccount/{account}\n"
    assert cli.identity(third) is None
    assert nothing.stdout == f"serviceaccount/{account} has no token to revoke\n"


def test_revoke_token_refuses_what_is_not_a_serviceaccount(cli: Cli) -> None:
    result = cli.run("revoke", "token", "server/x")

    assert result.exit_code == 2
    assert one_error_line(result.stderr).startswith(
        "error: expected serviceaccount/NAME or NAME, got 'server/x'"
    )


def test_revoke_mcptoken_stops_the_token_and_keeps_the_object_revoked(cli_db: Cli) -> None:
    name = cli_db.name("tok")
    created = cli_db.admin.post(
        "/api/v1/mcptokens", json=manifest("McpToken", name, {"rbacMode": "clone"})
    )
    assert created.status_code == 201, created.text
    token = created.json()["token"]

    result = cli_db.run("revoke", "mcptoken", name)
    missing = cli_db.run("revoke", "mcptoken", f"{name}-nope")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"mcptoken/{name} revoked\n"
    assert cli_db.identity(token) is None
    stored = cli_db.fetch("mcptokens", name)
    assert stored is not None
    assert stored["spec"]["revoked"] is True
    assert missing.exit_code == 2
    assert one_error_line(missing.stderr) == f"error: McpToken/{name}-nope not found"
