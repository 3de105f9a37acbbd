"""`apply -f`, `diff -f` and `delete` against a fake mcpd."""

from __future__ import annotations

import json

import pytest

from .conftest import Run, Write
from .fakeapi import FakeMcpd, problem

SET = """
apiVersion: mcpctl/v1
kind: Secret
metadata:
  name: gh
spec:
  data:
    TOKEN: ghp_value
---
apiVersion: mcpctl/v1
kind: Server
metadata:
  name: time
  labels: {team: infra}
spec:
  command: [uvx, mcp-server-time]
---
apiVersion: mcpctl/v1
kind: Project
metadata:
  name: demo
spec:
  servers: [time]
"""


def test_apply_sends_one_request_and_prints_what_happened(
    run: Run, write: Write, mcpd: FakeMcpd
) -> None:
    write("m/set.yaml", SET)
    mcpd.put(
        {
            "apiVersion": "mcpctl/v1",
            "kind": "Project",
            "metadata": {"name": "demo"},
            "spec": {"servers": ["time"]},
        }
    )

    result = run("apply", "-f", "m")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "secret/gh created",
        "server/time created",
        "project/demo unchanged",
    ]
    assert mcpd.paths() == ["/api/v1/apply"]
    body = mcpd.requests[0].body
    assert (body["dryRun"], body["prune"]) == (False, False)
    assert [item["kind"] for item in body["items"]] == ["Secret", "Server", "Project"]
    assert body["items"][0]["spec"]["data"] == {"TOKEN": "ghp_value"}  # values go to mcpd


def test_apply_again_reports_configured_and_unchanged(
    run: Run, write: Write, mcpd: FakeMcpd
) -> None:
    path = write("m/set.yaml", SET)
    run("apply", "-f", "m")
    path.write_text(SET.replace("mcp-server-time]", "mcp-server-time, --local-timezone=UTC]"))

    result = run("apply", "-f", "m")

    assert result.stdout.splitlines() == [
        "secret/gh unchanged",
        "server/time configured",
        "project/demo unchanged",
    ]


def test_apply_dry_run_changes_nothing(run: Run, write: Write, mcpd: FakeMcpd) -> None:
    write("m/set.yaml", SET)

    result = run("apply", "-f", "m", "--dry-run")

    assert result.stdout.splitlines()[0] == "secret/gh created (dry run)"
    assert mcpd.requests[0].body["dryRun"] is True
    assert mcpd.objects == {}


def test_apply_prune_needs_a_selector_and_reports_pruned(
    run: Run, write: Write, mcpd: FakeMcpd
) -> None:
    write("m/set.yaml", SET)
    mcpd.put(
        {
            "apiVersion": "mcpctl/v1",
            "kind": "Server",
            "metadata": {"name": "old", "labels": {"team": "infra"}},
            "spec": {"command": ["old"]},
        }
    )

    refused = run("apply", "-f", "m", "--prune")
    result = run("apply", "-f", "m", "--prune", "-l", "team=infra")

    assert refused.exit_code == 2
    assert "--prune needs -l SELECTOR" in refused.stderr
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "server/old pruned"
    assert mcpd.requests[-1].body["selector"] == "team=infra"


def test_invalid_local_manifests_print_every_issue_and_send_nothing(
    run: Run, write: Write, mcpd: FakeMcpd
) -> None:
    write(
        "m/bad.yaml",
        """
        apiVersion: mcpctl/v1
        kind: Server
        metadata:
          name: Bad
        spec:
          replicas: -1
        """,
    )

    result = run("apply", "-f", "m")

    assert result.exit_code == 1
    assert "m/bad.yaml:4:3: error: invalid name 'Bad'" in result.stderr
    assert "m/bad.yaml:6:3: error:" in result.stderr
    assert result.stderr.splitlines()[-1] == "error: the manifests are invalid: nothing was sent"
    assert mcpd.requests == []


def test_issues_found_by_mcpd_point_at_the_file_and_line(
    run: Run, write: Write, mcpd: FakeMcpd
) -> None:
    write("m/set.yaml", SET)
    issue = {
        "message": "unknown Server 'time2'",
        "code": "reference",
        "kind": "Project",
        "name": "demo",
        "field": "spec.servers[0]",
    }
    mcpd.script = [problem(422, "invalid", "1 issue", issues=[issue])]

    result = run("apply", "-f", "m")

    assert result.exit_code == 1
    assert result.stderr.startswith(
        "m/set.yaml:22:13: error: unknown Server 'time2' (document 3, Project/demo, "
        "field spec.servers[0]) [reference]"
    )
    assert result.stderr.splitlines()[-1] == "error: nothing was changed (see the issues above)"


def test_apply_without_files_is_a_usage_error(run: Run, mcpd: FakeMcpd) -> None:
    result = run("apply")

    assert result.exit_code == 2
    assert "give the manifests with -f PATH" in result.stderr


def test_apply_reads_stdin(run: Run, mcpd: FakeMcpd) -> None:
    result = run("apply", "-f", "-", input=SET)

    assert result.exit_code == 0, result.output
    assert len(mcpd.requests[0].body["items"]) == 3


def test_diff_f_exits_1_with_changes_and_0_without(run: Run, write: Write, mcpd: FakeMcpd) -> None:
    write("m/set.yaml", SET)

    before = run("diff", "-f", "m")
    run("apply", "-f", "m")
    after = run("diff", "-f", "m")

    assert before.exit_code == 1
    assert before.stdout.splitlines() == [
        "+ Secret/gh",
        "+ Server/time",
        "+ Project/demo",
        "3 to add, 0 to change, 0 to remove (0 unchanged)",
    ]
    assert mcpd.requests[0].body["dryRun"] is True
    assert after.exit_code == 0
    assert after.stdout == "0 to add, 0 to change, 0 to remove (3 unchanged)\n"


def test_diff_f_renders_field_changes_and_json(run: Run, write: Write, mcpd: FakeMcpd) -> None:
    path = write("m/set.yaml", SET)
    run("apply", "-f", "m")
    path.write_text(SET.replace("[uvx, mcp-server-time]", "[uvx, mcp-server-time, -v]"))

    text = run("diff", "-f", "m")
    as_json = run("diff", "-f", "m", "-o", "json")

    assert text.exit_code == 1
    assert "~ Server/time" in text.stdout
    body = json.loads(as_json.stdout)
    assert body["changed"] is True
    assert body["changes"][0]["kind"] == "Server"


def test_diff_f_unified_compares_with_the_stored_object(
    run: Run, write: Write, mcpd: FakeMcpd
) -> None:
    path = write("m/set.yaml", SET)
    run("apply", "-f", "m")
    path.write_text(SET.replace("[uvx, mcp-server-time]", "[uvx, mcp-server-time, -v]"))

    result = run("diff", "-f", "m", "-o", "unified")

    assert result.exit_code == 1
    assert "--- a/Server/time\n+++ b/Server/time\n" in result.stdout
    assert "+  - -v\n" in result.stdout
    assert "ghp_value" not in result.stdout


def test_diff_f_errors_exit_2(run: Run, write: Write, mcpd: FakeMcpd) -> None:
    write("m/set.yaml", SET)
    write("bad/x.yaml", "kind: Nope\n")
    mcpd.script = [problem(403, "forbidden", "needs view on secrets")]

    refused = run("diff", "-f", "m")
    invalid = run("diff", "-f", "bad")
    mixed = run("diff", "-f", "m", "a", "b")

    assert (refused.exit_code, refused.stderr) == (2, "error: forbidden: needs view on secrets\n")
    assert invalid.exit_code == 2
    assert "unknown kind 'Nope'" in invalid.stderr
    assert mixed.exit_code == 2


@pytest.fixture
def servers(mcpd: FakeMcpd) -> FakeMcpd:
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        mcpd.put(
            {
                "apiVersion": "mcpctl/v1",
                "kind": "Server",
                "metadata": {"name": name, "labels": {"team": team}},
                "spec": {"command": [name]},
            }
        )
    return mcpd


def test_delete_by_name_and_by_selector(run: Run, servers: FakeMcpd) -> None:
    by_name = run("delete", "server", "a")
    by_label = run("delete", "servers", "-l", "team=y")

    assert by_name.stdout == "server/a deleted\n"
    assert by_label.stdout == "server/c deleted\n"
    assert [key[2] for key in servers.objects] == ["b"]


def test_delete_goes_on_after_a_failure_and_exits_2(run: Run, servers: FakeMcpd) -> None:
    result = run("delete", "server", "nope", "b")

    assert result.exit_code == 2
    assert result.stdout == "server/b deleted\n"
    assert result.stderr == "error: server/nope not found\n"
    assert run("delete", "server", "nope", "--ignore-not-found").exit_code == 0


def test_delete_of_a_referenced_object_names_the_referrers(run: Run, servers: FakeMcpd) -> None:
    servers.script = [problem(409, "conflict", "Server 'a' is used by Project/demo")]

    result = run("delete", "server", "a")

    assert result.exit_code == 2
    assert result.stderr == "error: server/a: Server 'a' is used by Project/demo\n"


def test_delete_f_goes_in_reverse_dependency_order(run: Run, write: Write, mcpd: FakeMcpd) -> None:
    write("m/set.yaml", SET)
    run("apply", "-f", "m")
    mcpd.requests.clear()

    result = run("delete", "-f", "m")

    assert result.exit_code == 0, result.output
    assert mcpd.paths("DELETE") == [
        "/api/v1/projects/demo",
        "/api/v1/servers/time",
        "/api/v1/secrets/gh",
    ]


def test_delete_needs_something_to_delete(run: Run, mcpd: FakeMcpd) -> None:
    for args in (["delete"], ["delete", "servers"], ["delete", "server", "a", "-f", "x.yaml"]):
        result = run(*args)
        assert result.exit_code == 2
    assert mcpd.requests == []


def test_issues_about_objects_not_in_the_files_say_mcpd_found_them(
    run: Run, write: Write, mcpd: FakeMcpd
) -> None:
    write("m/set.yaml", SET)
    issue = {
        "message": "Project 'other' would lose Server 'time'",
        "code": "reference",
        "file": None,
        "line": 1,
        "column": 1,
        "document": 0,
        "kind": "Project",
        "name": "other",
    }
    mcpd.script = [problem(422, "invalid", "1 issue", issues=[issue])]

    result = run("apply", "-f", "m")

    assert result.stderr.splitlines()[0] == (
        "mcpd: error: Project 'other' would lose Server 'time' (Project/other) [reference]"
    )
