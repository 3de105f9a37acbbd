"""`mcpctl diff OLD NEW`: exit codes like `kubectl diff`, the three output formats."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support.manifests import Write

from .conftest import EXAMPLES, Run

OLD = """
    apiVersion: mcpctl/v1
    kind: Server
    metadata:
      name: time
    spec:
      command: [mcp-server-time]
      env:
      - name: TZ
        value: UTC
      - name: LEVEL
        value: info
    ---
    apiVersion: mcpctl/v1
    kind: User
    metadata:
      name: gone
    spec:
      email: gone@example.com
    """

NEW = """
    apiVersion: mcpctl/v1
    kind: Server
    metadata:
      name: time
    spec:
      command: [mcp-server-time]
      replicas: 3
      env:
      - name: LEVEL
        value: debug
      - name: TZ
        value: UTC
    ---
    apiVersion: mcpctl/v1
    kind: User
    metadata:
      name: new
    spec:
      email: new@example.com
    """

#: OLD's Server again, as JSON, keys reordered and defaults spelled out.
OLD_SERVER_REFORMATTED = """
    {
      "spec": {
        "env": [
          {"value": "UTC", "name": "TZ"},
          {"name": "LEVEL", "value": "info"}
        ],
        "replicas": 1,
        "headers": [],
        "command": ["mcp-server-time"]
      },
      "metadata": {"labels": {}, "name": "time"},
      "kind": "Server",
      "apiVersion": "mcpctl/v1"
    }
    """


@pytest.fixture
def two_sets(write: Write) -> tuple[str, str]:
    write("old/set.yaml", OLD)
    write("new/set.yaml", NEW)
    return "old", "new"


def test_identical_sets_exit_zero(run: Run) -> None:
    result = run("diff", str(EXAMPLES), str(EXAMPLES))

    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"0 to add, 0 to change, 0 to remove \(\d+ unchanged\)\n", result.stdout)


def test_formatting_key_order_and_spelled_out_defaults_are_not_changes(
    run: Run, write: Write
) -> None:
    write("old/set.yaml", OLD)
    write("new/server.json", OLD_SERVER_REFORMATTED)
    write(
        "new/user.yaml",
        """
        # a comment, flow style, quoted scalars
        {kind: "User", apiVersion: 'mcpctl/v1',
         spec: {email: gone@example.com}, metadata: {name: gone}}
        """,
    )

    result = run("diff", "old", "new")

    assert result.exit_code == 0, result.output
    assert result.stdout == "0 to add, 0 to change, 0 to remove (2 unchanged)\n"


def test_changes_exit_one_and_show_objects_and_field_paths(
    run: Run, two_sets: tuple[str, str]
) -> None:
    result = run("diff", *two_sets)

    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        "- User/gone",
        "~ Server/time",
        '    ~ spec.env[name=LEVEL].value: "info" -> "debug"',
        "    + spec.replicas: 3",
        "+ User/new",
        "1 to add, 1 to change, 1 to remove (0 unchanged)",
    ]
    assert result.stderr == ""


def test_json_output_lists_every_change_with_its_fields(
    run: Run, two_sets: tuple[str, str]
) -> None:
    result = run("diff", "-o", "json", *two_sets)

    assert result.exit_code == 1
    body: dict[str, Any] = json.loads(result.stdout)
    assert body["changed"] is True
    assert body["summary"] == {"add": 1, "change": 1, "remove": 1, "unchanged": 0}
    by_ref = {(c["action"], c["kind"], c["name"]): c for c in body["changes"]}
    assert set(by_ref) == {
        ("remove", "User", "gone"),
        ("change", "Server", "time"),
        ("add", "User", "new"),
    }
    assert by_ref["change", "Server", "time"]["fields"] == [
        {"path": "spec.env[name=LEVEL].value", "old": "info", "new": "debug"},
        {"path": "spec.replicas", "new": 3},
    ]


def test_json_output_of_no_change_says_so(run: Run) -> None:
    result = run("diff", "-o", "json", str(EXAMPLES), str(EXAMPLES))

    body = json.loads(result.stdout)
    assert result.exit_code == 0
    assert (body["changed"], body["changes"]) == (False, [])


def test_unified_output_is_a_diff_of_the_canonical_yaml(
    run: Run, two_sets: tuple[str, str]
) -> None:
    result = run("diff", "-o", "unified", *two_sets)

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    for header in ("--- a/Server/time", "+++ b/Server/time", "--- a/User/gone", "+++ b/User/new"):
        assert header in lines
    assert "+  replicas: 3" in lines
    assert "-    value: info" in lines
    assert "+    value: debug" in lines


def test_an_invalid_new_side_exits_two_with_its_issues_on_stderr(run: Run, write: Write) -> None:
    write("old/set.yaml", OLD)
    write("new/set.yaml", NEW.replace("replicas: 3", "replicaz: 3"))

    result = run("diff", "old", "new")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert "new/set.yaml:7:3: error: unknown field 'replicaz'" in result.stderr
    assert result.stderr.endswith("error: cannot diff invalid manifests (see the issues above)\n")


def test_an_invalid_old_side_exits_two_with_its_issues_on_stderr(run: Run, write: Write) -> None:
    write("old/set.yaml", OLD.replace("name: gone", "name: Gone"))
    write("new/set.yaml", NEW)

    result = run("diff", "old", "new")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert "old/set.yaml:16:3: error: invalid name 'Gone'" in result.stderr


def test_a_reference_outside_the_compared_paths_does_not_block_the_diff(
    run: Run, write: Write
) -> None:
    write("old/set.yaml", OLD)
    write("new/set.yaml", NEW)
    write(
        "new/project.yaml",
        "apiVersion: mcpctl/v1\nkind: Project\nmetadata: {name: p}\nspec: {servers: [ghost]}\n",
    )

    result = run("diff", "old", "new")

    assert result.exit_code == 1
    assert "+ Project/p" in result.stdout
    assert result.stderr == ""


def test_a_duplicate_on_the_new_side_exits_two(run: Run, write: Write) -> None:
    write("old/set.yaml", OLD)
    write("new/set.yaml", NEW)
    write("new/again.yaml", NEW)

    result = run("diff", "old", "new")

    assert result.exit_code == 2
    assert "[duplicate]" in result.stderr


@pytest.mark.parametrize("paths", [["only-one"], ["a", "b", "c"], []], ids=["one", "three", "none"])
def test_anything_but_two_paths_is_a_usage_error(run: Run, paths: list[str]) -> None:
    result = run("diff", *paths)

    assert result.exit_code == 2
    assert "give two paths (OLD NEW), or --base REV [PATH...]" in result.stderr


def test_a_missing_path_exits_two_with_one_error_line(run: Run, write: Write) -> None:
    write("old/set.yaml", OLD)

    result = run("diff", "old", "nowhere")

    assert result.exit_code == 2
    assert result.stderr == "error: nowhere: no such file or directory\n"


class TestColour:
    def test_output_has_no_colour_when_not_on_a_terminal(
        self, run: Run, two_sets: tuple[str, str]
    ) -> None:
        for fmt in ("text", "unified"):
            assert "\x1b[" not in run("diff", "-o", fmt, *two_sets).output

    @pytest.mark.parametrize("fmt", ["text", "unified"])
    def test_color_forces_colour_even_off_a_terminal(
        self, run: Run, two_sets: tuple[str, str], fmt: str
    ) -> None:
        assert "\x1b[" in run("diff", "--color", "-o", fmt, *two_sets).stdout

    def test_json_is_never_coloured(self, run: Run, two_sets: tuple[str, str]) -> None:
        result = run("diff", "--color", "-o", "json", *two_sets)

        assert json.loads(result.stdout)["changed"] is True

    def test_color_applies_to_the_issues_on_stderr(self, run: Run, write: Write) -> None:
        write("old/set.yaml", OLD)
        write("new/set.yaml", NEW.replace("replicas: 3", "replicaz: 3"))

        assert "\x1b[" in run("diff", "--color", "old", "new").stderr
