"""Secret values never appear in what `validate` or `diff` print, in any format.

Each value below is distinctive, so finding it anywhere in stdout or stderr
is a leak. The sets include broken Secrets: error messages are where values
tend to slip out.
"""

from __future__ import annotations

import json

import pytest

from tests.support.manifests import Write

from .conftest import Run

VALUES = [f"s3cr3t-value-{letter}" for letter in "abcdefg"]

#: Secrets with every kind of issue, each holding one of VALUES.
BROKEN_SECRETS = """
    apiVersion: mcpctl/v1
    kind: Secret
    metadata: {name: Bad_Name}
    spec:
      data: {token: s3cr3t-value-a}
      tokn: s3cr3t-value-b
    ---
    apiVersion: mcpctl/v1
    kind: Secret
    metadata: {name: nested}
    spec:
      data:
        token: {value: s3cr3t-value-c}
        "bad key!": s3cr3t-value-d
    ---
    apiVersion: mcpctl/v1
    kind: Secret
    metadata: {name: flat}
    spec:
      data: s3cr3t-value-e
    ---
    apiVersion: mcpctl/v1
    kind: Secret
    metadata: {name: github}
    spec:
      backend: vault
      data: {token: s3cr3t-value-f}
    ---
    apiVersion: mcpctl/v1
    kind: Secret
    metadata: {name: github}
    spec:
      data: {token: s3cr3t-value-g}
    ---
    apiVersion: mcpctl/v1
    kind: Server
    metadata: {name: github}
    spec:
      command: [github-mcp]
      env:
      - name: TOKEN
        valueFrom: {secretRef: {name: github, key: tokn}}
    """

OLD_SECRETS = """
    apiVersion: mcpctl/v1
    kind: Secret
    metadata: {name: changed}
    spec:
      data: {token: s3cr3t-value-a, other: s3cr3t-value-b}
    ---
    apiVersion: mcpctl/v1
    kind: Secret
    metadata: {name: removed}
    spec:
      data: {token: s3cr3t-value-c}
    """

NEW_SECRETS = """
    apiVersion: mcpctl/v1
    kind: Secret
    metadata: {name: changed}
    spec:
      data: {token: s3cr3t-value-d, added: s3cr3t-value-e}
    ---
    apiVersion: mcpctl/v1
    kind: Secret
    metadata: {name: added}
    spec:
      data: {token: s3cr3t-value-f}
    """


def assert_no_value(output: str) -> None:
    leaked = [value for value in VALUES if value in output]
    assert leaked == [], output


@pytest.mark.parametrize("fmt", ["text", "json", "junit", "github"])
def test_validate_never_prints_a_secret_value(run: Run, write: Write, fmt: str) -> None:
    write("secrets.yaml", BROKEN_SECRETS)

    result = run("validate", "-o", fmt, "secrets.yaml")

    assert result.exit_code == 1
    assert_no_value(result.stdout + result.stderr)


def test_validate_reports_every_broken_secret(run: Run, write: Write) -> None:
    """The set above really is broken in each of the ways the leak test relies on."""
    write("secrets.yaml", BROKEN_SECRETS)

    result = run("validate", "-o", "json", "secrets.yaml")

    codes = sorted(issue["code"] for issue in json.loads(result.stdout)["issues"])
    assert codes == [
        "duplicate",
        "invalid-name",
        "reference",
        "reference",
        "schema",
        "schema",
        "schema",
        "unknown-field",
    ]


@pytest.mark.parametrize("fmt", ["text", "json", "unified"])
def test_diff_never_prints_a_secret_value(run: Run, write: Write, fmt: str) -> None:
    write("old/secrets.yaml", OLD_SECRETS)
    write("new/secrets.yaml", NEW_SECRETS)

    result = run("diff", "-o", fmt, "old", "new")

    assert result.exit_code == 1
    assert_no_value(result.stdout + result.stderr)


def test_diff_shows_a_changed_secret_value_as_hidden(run: Run, write: Write) -> None:
    write("old/secrets.yaml", OLD_SECRETS)
    write("new/secrets.yaml", NEW_SECRETS)

    result = run("diff", "old", "new")

    assert "    ~ spec.data.token: (hidden) -> (hidden)" in result.stdout.splitlines()


def test_diff_json_marks_a_changed_secret_value_hidden(run: Run, write: Write) -> None:
    write("old/secrets.yaml", OLD_SECRETS)
    write("new/secrets.yaml", NEW_SECRETS)

    result = run("diff", "-o", "json", "old", "new")

    changes = json.loads(result.stdout)["changes"]
    changed = next(c for c in changes if c["name"] == "changed")
    token = next(f for f in changed["fields"] if f["path"] == "spec.data.token")
    assert token == {
        "path": "spec.data.token",
        "old": "(hidden)",
        "new": "(hidden)",
        "secret": True,
    }


def test_diff_of_an_invalid_secret_never_prints_its_value(run: Run, write: Write) -> None:
    write("old/secrets.yaml", OLD_SECRETS)
    write("new/secrets.yaml", BROKEN_SECRETS)

    result = run("diff", "old", "new")

    assert result.exit_code == 2
    assert_no_value(result.stdout + result.stderr)


def test_validate_never_prints_a_secret_value_with_a_wrong_tag(run: Run, write: Write) -> None:
    write(
        "secret.yaml",
        """
        apiVersion: mcpctl/v1
        kind: Secret
        metadata: {name: tagged}
        spec:
          data: {token: !!int s3cr3t-value-a}
        """,
    )

    result = run("validate", "secret.yaml")

    assert result.exit_code == 1
    assert_no_value(result.stdout + result.stderr)
