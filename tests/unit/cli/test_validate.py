"""`mcpctl validate`: exit codes, every issue reported, each output format, stdin, colour."""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from tests.support.manifests import Write

from .conftest import EXAMPLES, Run

ALICE = (
    "apiVersion: mcpctl/v1\nkind: User\nmetadata: {name: alice}\nspec: {email: alice@example.com}\n"
)

SERVER_WITH_TWO_ISSUES = """
    apiVersion: mcpctl/v1
    kind: Server
    metadata:
      name: Bad_Name
    spec:
      command: [mcp-server-time]
      colour: red
    ---
    apiVersion: mcpctl/v1
    kind: Project
    metadata:
      name: demo
    spec:
      servers: [ghost]
    """

TWO_DEFAULT_BACKENDS_AND_A_MISSING_FIELD = """
    apiVersion: mcpctl/v1
    kind: SecretBackend
    metadata:
      name: one
    spec:
      type: plaintext
      default: true
    ---
    apiVersion: mcpctl/v1
    kind: SecretBackend
    metadata:
      name: two
    spec:
      type: plaintext
      default: true
    ---
    apiVersion: mcpctl/v1
    kind: User
    metadata:
      name: carol
    spec: {}
    """

#: (file, line, column, code) of every issue in the two files above.
EXPECTED_ISSUES = {
    ("bad/a.yaml", 4, 3, "invalid-name"),
    ("bad/a.yaml", 7, 3, "unknown-field"),
    ("bad/a.yaml", 14, 13, "reference"),
    ("bad/b.yaml", 7, 3, "default-backend"),
    ("bad/b.yaml", 15, 3, "default-backend"),
    ("bad/b.yaml", 21, 1, "missing-field"),
}


@pytest.fixture
def invalid_set(write: Write) -> str:
    """Two files with six issues between them, of four kinds; the directory's name."""
    write("bad/a.yaml", SERVER_WITH_TWO_ISSUES)
    write("bad/b.yaml", TWO_DEFAULT_BACKENDS_AND_A_MISSING_FIELD)
    return "bad"


def json_report(text: str) -> dict[str, Any]:
    body = json.loads(text)
    assert isinstance(body, dict)
    return body


def test_examples_are_valid_and_exit_zero(run: Run) -> None:
    result = run("validate", str(EXAMPLES))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].endswith(": valid")
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("text", "code", "field"),
    [
        pytest.param(
            """
            apiVersion: mcpctl/v1
            kind: Server
            metadata: {name: time}
            spec: {command: [mcp-server-time], replicaz: 2}
            """,
            "unknown-field",
            "spec.replicaz",
            id="unknown field",
        ),
        pytest.param(
            """
            apiVersion: mcpctl/v1
            kind: User
            metadata: {name: Alice}
            spec: {email: alice@example.com}
            """,
            "invalid-name",
            "metadata.name",
            id="bad name",
        ),
        pytest.param(
            """
            apiVersion: mcpctl/v1
            kind: Project
            metadata: {name: demo}
            spec: {servers: [ghost]}
            """,
            "reference",
            "spec.servers[0]",
            id="dangling reference",
        ),
        pytest.param(
            """
            apiVersion: mcpctl/v1
            kind: Secret
            metadata: {name: github}
            spec: {data: {token: t}}
            ---
            apiVersion: mcpctl/v1
            kind: Server
            metadata: {name: github}
            spec:
              command: [github-mcp]
              env:
              - name: TOKEN
                valueFrom: {secretRef: {name: github, key: tokn}}
            """,
            "reference",
            "spec.env[0].valueFrom.secretRef.key",
            id="missing secret key",
        ),
        pytest.param(
            """
            apiVersion: mcpctl/v1
            kind: SecretBackend
            metadata: {name: vault}
            spec:
              type: openbao
              default: true
              url: https://bao.example.com:8200
              tokenSecretRef: {name: bao-token, key: token}
            ---
            apiVersion: mcpctl/v1
            kind: Secret
            metadata: {name: bao-token}
            spec: {data: {token: t}}
            """,
            "cycle",
            "spec.tokenSecretRef.name",
            id="cycle",
        ),
        pytest.param(
            """
            apiVersion: mcpctl/v1
            kind: User
            metadata: {name: alice}
            spec: {email: alice@example.com}
            ---
            apiVersion: mcpctl/v1
            kind: User
            metadata: {name: alice}
            spec: {email: alice@example.org}
            """,
            "duplicate",
            "metadata.name",
            id="duplicate",
        ),
        pytest.param(
            """
            apiVersion: mcpctl/v1
            kind: SecretBackend
            metadata: {name: one}
            spec: {type: plaintext, default: true}
            ---
            apiVersion: mcpctl/v1
            kind: SecretBackend
            metadata: {name: two}
            spec: {type: plaintext, default: true}
            """,
            "default-backend",
            "spec.default",
            id="two default backends",
        ),
        pytest.param(
            """
            apiVersion: mcpctl/v1
            kind: Servr
            metadata: {name: time}
            spec: {}
            """,
            "unknown-kind",
            "kind",
            id="unknown kind",
        ),
        pytest.param(
            """
            apiVersion: mcpctl/v1
            kind: Server
            metadata: {name: time
            """,
            "yaml-syntax",
            None,
            id="YAML syntax",
        ),
    ],
)
def test_an_invalid_manifest_exits_one_naming_the_issue(
    run: Run, write: Write, text: str, code: str, field: str | None
) -> None:
    write("set.yaml", text)

    result = run("validate", "-o", "json", "set.yaml")

    assert result.exit_code == 1, result.output
    report = json_report(result.stdout)
    assert report["valid"] is False
    assert (code, field) in {(i["code"], i.get("field")) for i in report["issues"]}


def test_every_issue_of_every_file_is_reported_not_only_the_first(
    run: Run, invalid_set: str
) -> None:
    result = run("validate", "-o", "json", invalid_set)

    assert result.exit_code == 1
    found = {
        (i["file"], i["line"], i["column"], i["code"]) for i in json_report(result.stdout)["issues"]
    }
    assert found == EXPECTED_ISSUES


def test_a_missing_path_exits_two_with_one_error_line(run: Run, write: Write) -> None:
    result = run("validate", "nowhere/")

    assert result.exit_code == 2
    assert result.stderr == "error: nowhere/: no such file or directory\n"
    assert result.stdout == ""


def test_no_path_is_a_usage_error(run: Run) -> None:
    result = run("validate")

    assert result.exit_code == 2
    assert "Missing argument 'PATH...'" in result.stderr


def test_an_unknown_output_format_is_a_usage_error(run: Run) -> None:
    result = run("validate", "-o", "yaml", str(EXAMPLES))

    assert result.exit_code == 2
    assert "'yaml' is not one of" in result.stderr


class TestTextFormat:
    def test_each_issue_is_one_line_with_file_line_and_column_then_a_summary(
        self, run: Run, invalid_set: str
    ) -> None:
        result = run("validate", invalid_set)

        *issue_lines, summary = result.stdout.splitlines()
        pattern = re.compile(r"^(\S+):(\d+):(\d+): error: .+ \[([a-z-]+)\]$")
        parsed = set()
        for line in issue_lines:
            match = pattern.match(line)
            assert match, line
            parsed.add((match[1], int(match[2]), int(match[3]), match[4]))
        assert parsed == EXPECTED_ISSUES
        assert len(issue_lines) == len(EXPECTED_ISSUES)
        assert summary == "5 objects in 2 files: 6 issues"

    def test_an_issue_line_names_document_object_and_field(
        self, run: Run, invalid_set: str
    ) -> None:
        result = run("validate", invalid_set)

        assert (
            "bad/a.yaml:7:3: error: unknown field 'colour' "
            "(document 1, Server/Bad_Name, field spec.colour) [unknown-field]"
        ) in result.stdout.splitlines()

    def test_a_valid_set_prints_only_the_summary(self, run: Run, write: Write) -> None:
        write("users.yaml", ALICE)

        result = run("validate", "users.yaml")

        assert result.exit_code == 0
        assert result.stdout == "1 object in 1 file: valid\n"


class TestJsonFormat:
    def test_issues_carry_file_line_column_field_kind_name_and_code(
        self, run: Run, invalid_set: str
    ) -> None:
        result = run("validate", "-o", "json", invalid_set)

        report = json_report(result.stdout)
        assert report["valid"] is False
        assert report["files"] == 2
        unknown = next(i for i in report["issues"] if i["code"] == "unknown-field")
        assert unknown == {
            "message": "unknown field 'colour'",
            "code": "unknown-field",
            "file": "bad/a.yaml",
            "line": 7,
            "column": 3,
            "document": 0,
            "kind": "Server",
            "name": "Bad_Name",
            "field": "spec.colour",
        }

    def test_a_valid_set_is_reported_valid_with_its_counts(self, run: Run) -> None:
        result = run("validate", "-o", "json", str(EXAMPLES))

        report = json_report(result.stdout)
        assert result.exit_code == 0
        assert report["valid"] is True
        assert report["issues"] == []
        assert report["files"] >= 1
        assert report["objects"] >= report["files"]


class TestJunitFormat:
    def test_each_object_with_issues_is_one_failing_test_case(
        self, run: Run, invalid_set: str
    ) -> None:
        result = run("validate", "-o", "junit", invalid_set)

        assert result.exit_code == 1
        root = ET.fromstring(result.stdout)
        suite = root.find("testsuite")
        assert suite is not None
        # Server/Bad_Name, Project/demo, SecretBackend/one, SecretBackend/two, User/carol
        assert suite.get("failures") == "5"
        failures = suite.findall("testcase/failure")
        assert sorted(f.get("type") or "" for f in failures) == sorted(
            code for *_, code in EXPECTED_ISSUES
        )
        server = suite.find("testcase[@name='Server/Bad_Name']")
        assert server is not None
        assert server.get("classname") == "bad/a.yaml"
        assert len(server.findall("failure")) == 2

    def test_a_valid_set_has_no_failures(self, run: Run) -> None:
        result = run("validate", "-o", "junit", str(EXAMPLES))

        suite = ET.fromstring(result.stdout).find("testsuite")
        assert result.exit_code == 0
        assert suite is not None
        assert suite.get("failures") == "0"
        assert int(suite.get("tests") or 0) >= 1


class TestGithubFormat:
    def test_each_issue_is_an_error_annotation_on_its_line(
        self, run: Run, invalid_set: str
    ) -> None:
        result = run("validate", "-o", "github", invalid_set)

        assert result.exit_code == 1
        *annotations, summary = result.stdout.splitlines()
        pattern = re.compile(r"^::error file=([^,]+),line=(\d+),col=(\d+),title=[^,:]+::(.+)$")
        parsed = set()
        for line in annotations:
            match = pattern.match(line)
            assert match, line
            parsed.add((match[1], int(match[2]), int(match[3])))
        assert parsed == {(f, line, col) for f, line, col, _ in EXPECTED_ISSUES}
        assert summary == "5 objects in 2 files: 6 issues"

    def test_commas_colons_and_percents_are_escaped(self, run: Run, write: Write) -> None:
        write(
            "a,b:c.yaml",
            ALICE.replace("spec: {", "spec: {'100%': 1, "),
        )

        result = run("validate", "-o", "github", "a,b:c.yaml")

        annotation = result.stdout.splitlines()[0]
        assert annotation.startswith("::error file=a%2Cb%3Ac.yaml,line=4,col=")
        assert "title=mcpctl validate%3A unknown-field::" in annotation
        assert annotation.endswith("::unknown field '100%25' (User/alice, field spec.'100%25')")


def test_standard_input_is_read_for_a_dash(run: Run) -> None:
    text = ALICE.replace("{email", "{name: Alice, email")

    result = run("validate", "-", input=text)

    assert result.exit_code == 1
    assert result.stdout.startswith("<stdin>:4:8: error: unknown field 'name'")


def test_valid_standard_input_exits_zero(run: Run) -> None:
    result = run("validate", "-", input=ALICE)

    assert result.exit_code == 0
    assert result.stdout == "1 object in 1 file: valid\n"


def test_schema_only_skips_references_across_the_set(run: Run, write: Write) -> None:
    write(
        "project.yaml",
        "apiVersion: mcpctl/v1\nkind: Project\nmetadata: {name: p}\nspec: {servers: [ghost]}\n",
    )

    assert run("validate", "project.yaml").exit_code == 1
    assert run("validate", "--schema-only", "project.yaml").exit_code == 0


def test_schema_only_still_reports_schema_issues(run: Run, write: Write) -> None:
    write(
        "project.yaml",
        "apiVersion: mcpctl/v1\nkind: Project\nmetadata: {name: p}\nspec: {servrs: []}\n",
    )

    result = run("validate", "--schema-only", "-o", "json", "project.yaml")

    assert result.exit_code == 1
    assert [i["code"] for i in json_report(result.stdout)["issues"]] == ["unknown-field"]


def test_a_file_over_the_size_limit_is_an_issue(run: Run, write: Write) -> None:
    write("big.yaml", "apiVersion: mcpctl/v1\nkind: User\nmetadata: {name: alice}\n")

    result = run("validate", "--max-file-size", "10", "-o", "json", "big.yaml")

    assert result.exit_code == 1
    assert [i["code"] for i in json_report(result.stdout)["issues"]] == ["file-too-large"]


class TestColour:
    def test_output_has_no_colour_when_not_on_a_terminal(self, run: Run, invalid_set: str) -> None:
        result = run("validate", invalid_set)

        assert "\x1b[" not in result.output

    def test_color_forces_colour_even_off_a_terminal(self, run: Run, invalid_set: str) -> None:
        result = run("validate", "--color", invalid_set)

        assert "\x1b[" in result.stdout
        plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
        assert plain.splitlines()[-1] == "5 objects in 2 files: 6 issues"

    def test_no_color_wins(self, run: Run, invalid_set: str) -> None:
        assert "\x1b[" not in run("validate", "--no-color", invalid_set).output

    @pytest.mark.parametrize("fmt", ["json", "junit", "github"])
    def test_machine_formats_are_never_coloured(self, run: Run, invalid_set: str, fmt: str) -> None:
        assert "\x1b[" not in run("validate", "--color", "-o", fmt, invalid_set).output


def test_a_server_using_a_built_in_template_is_checked_offline(run: Run, write: Write) -> None:
    """The catalogue ships in the package: validate knows its parameters without mcpd."""
    write(
        "servers.yaml",
        """
        apiVersion: mcpctl/v1
        kind: Server
        metadata:
          name: db
        spec:
          template: postgres
          env:
          - name: DATABASE_URI
            value: postgresql://app:hunter2@db/app
          - name: POSTGRES_ACCESS_MODE
            value: admin
        """,
    )

    result = run("validate", "servers.yaml")

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "servers.yaml:9:5: error: Server 'db': env DATABASE_URI is a secret parameter of "
        "template 'postgres': give it from a Secret (valueFrom.secretRef), not as a value "
        "(document 1, Server/db, field spec.env[0].value) [template-parameter]",
        "servers.yaml:11:5: error: Server 'db': env POSTGRES_ACCESS_MODE must be one of "
        "restricted, unrestricted: it fills parameter POSTGRES_ACCESS_MODE of template "
        "'postgres' (document 1, Server/db, field spec.env[1].value) [template-parameter]",
        "1 object in 1 file: 2 issues",
    ]
    assert "hunter2" not in result.output
