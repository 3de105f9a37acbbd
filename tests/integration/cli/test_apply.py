"""`mcpctl apply -f`, `diff -f` and `delete` against a real mcpd."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.manifests import Write, manifest, to_yaml

from .conftest import EXAMPLES, Cli, one_error_line

pytestmark = pytest.mark.integration


def server_set(n: str) -> str:
    """A Secret, a Server using it and a Project listing the Server, labelled `set=n`."""
    return f"""
        apiVersion: mcpctl/v1
        kind: Secret
        metadata:
          name: {n}-gh
          labels: {{set: {n}}}
        spec:
          data:
            TOKEN: ghp-value-{n}
        ---
        apiVersion: mcpctl/v1
        kind: Server
        metadata:
          name: {n}-time
          labels: {{set: {n}}}
        spec:
          command: [uvx, mcp-server-time]
          env:
          - name: GITHUB_TOKEN
            valueFrom: {{secretRef: {{name: {n}-gh, key: TOKEN}}}}
        ---
        apiVersion: mcpctl/v1
        kind: Project
        metadata:
          name: {n}-demo
          labels: {{set: {n}}}
        spec:
          servers: [{n}-time]
        """


def applied(cli: Cli, write: Write) -> tuple[str, Path]:
    """A fresh set, written to m-<n>/set.yaml and applied; its name and file."""
    n = cli.name("set")
    path = write(f"m-{n}/set.yaml", server_set(n))
    result = cli.run("apply", "-f", str(path))
    assert result.exit_code == 0, result.output
    return n, path


def test_apply_of_the_examples_creates_them_and_again_leaves_them_unchanged(cli_db: Cli) -> None:
    first = cli_db.run("apply", "-f", str(EXAMPLES))
    again = cli_db.run("apply", "-f", str(EXAMPLES))
    diff = cli_db.run("diff", "-f", str(EXAMPLES))

    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert len(lines) >= 10
    assert all(line.endswith(" created") for line in lines), lines
    assert "server/github created" in lines
    assert "prompt/demo/code-review created" in lines
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == [line.replace(" created", " unchanged") for line in lines]
    assert (diff.exit_code, diff.stdout) == (
        0,
        f"0 to add, 0 to change, 0 to remove ({len(lines)} unchanged)\n",
    )
    github = cli_db.fetch("servers", "github")
    assert github is not None
    assert github["metadata"]["generation"] == 1  # the second apply wrote nothing


def test_apply_prints_what_happened_to_each_object(cli: Cli, write: Write) -> None:
    n = cli.name("set")
    path = write("m/set.yaml", server_set(n))
    first = cli.run("apply", "-f", "m")
    path.write_text(
        path.read_text().replace("mcp-server-time]", "mcp-server-time, --local-timezone=UTC]")
    )

    second = cli.run("apply", "-f", "m")

    assert first.stdout.splitlines() == [
        f"secret/{n}-gh created",
        f"server/{n}-time created",
        f"project/{n}-demo created",
    ]
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines() == [
        f"secret/{n}-gh unchanged",
        f"server/{n}-time configured",
        f"project/{n}-demo unchanged",
    ]
    server = cli.fetch("servers", f"{n}-time")
    assert server is not None
    assert server["spec"]["command"] == ["uvx", "mcp-server-time", "--local-timezone=UTC"]
    assert server["metadata"]["generation"] == 2
    secret = cli.fetch("secrets", f"{n}-gh")
    assert secret is not None
    assert secret["spec"]["data"] == {"TOKEN": None}  # stored; never answered without asking


def test_apply_dry_run_reports_and_changes_nothing(cli: Cli, write: Write) -> None:
    n = cli.name("set")
    write("m/set.yaml", server_set(n))

    result = cli.run("apply", "-f", "m", "--dry-run")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"secret/{n}-gh created (dry run)",
        f"server/{n}-time created (dry run)",
        f"project/{n}-demo created (dry run)",
    ]
    assert cli.names("secrets", f"set={n}") == []
    assert cli.names("servers", f"set={n}") == []


def test_apply_reads_stdin(cli: Cli) -> None:
    n = cli.name("set")

    result = cli.run("apply", "-f", "-", input=server_set(n).replace("\n        ", "\n"))

    assert result.exit_code == 0, result.output
    assert cli.names("servers", f"set={n}") == [f"{n}-time"]


def test_apply_prune_needs_a_selector_and_deletes_only_what_it_selects(
    cli: Cli, write: Write
) -> None:
    n = cli.name("set")
    write("m/set.yaml", server_set(n))
    cli.create(manifest("Server", f"{n}-old", {"command": ["old"]}, labels={"set": n}))
    cli.create(manifest("Server", f"{n}-other", {"command": ["other"]}, labels={"set": "else"}))

    refused = cli.run("apply", "-f", "m", "--prune")
    result = cli.run("apply", "-f", "m", "--prune", "-l", f"set={n}")

    assert refused.exit_code == 2
    assert "--prune needs -l SELECTOR" in refused.stderr
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"secret/{n}-gh created",
        f"server/{n}-time created",
        f"project/{n}-demo created",
        f"server/{n}-old pruned",
    ]
    assert cli.fetch("servers", f"{n}-old") is None
    assert cli.fetch("servers", f"{n}-other") is not None


def test_invalid_local_manifests_print_every_issue_and_send_nothing(cli: Cli, write: Write) -> None:
    n = cli.name("bad")
    write(
        "m/bad.yaml",
        f"""
        apiVersion: mcpctl/v1
        kind: Server
        metadata:
          name: Bad{n}
        spec:
          replicas: -1
        ---
        apiVersion: mcpctl/v1
        kind: Server
        metadata:
          name: {n}
        spec:
          command: [x]
        """,
    )

    result = cli.run("apply", "-f", "m")

    assert result.exit_code == 1
    assert f"m/bad.yaml:4:3: error: invalid name 'Bad{n}'" in result.stderr
    assert "m/bad.yaml:6:3: error:" in result.stderr
    assert result.stderr.splitlines()[-1] == "error: the manifests are invalid: nothing was sent"
    assert cli.fetch("servers", n) is None  # the valid one was not sent either


def test_issues_mcpd_finds_point_at_the_file_and_line(cli: Cli, write: Write) -> None:
    n = cli.name("set")
    write("m/set.yaml", server_set(n).replace(f"servers: [{n}-time]", f"servers: [{n}-nope]"))

    result = cli.run("apply", "-f", "m")

    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(
        f"m/set.yaml:27:13: error: Project '{n}-demo' refers to Server/{n}-nope"
    )
    assert first.endswith(f"(document 3, Project/{n}-demo, field spec.servers[0]) [reference]")
    assert result.stderr.splitlines()[-1] == "error: nothing was changed (see the issues above)"
    assert cli.names("secrets", f"set={n}") == []  # all or nothing


def test_issues_about_stored_objects_say_mcpd_found_them(cli: Cli, write: Write) -> None:
    n = cli.name("set")
    cli.create(manifest("Server", f"{n}-used", {"command": ["x"]}, labels={"set": n}))
    cli.create(manifest("Project", f"{n}-p", {"servers": [f"{n}-used"]}))  # not selected
    write("m/other.yaml", to_yaml(manifest("Server", f"{n}-new", {"command": ["y"]})))

    result = cli.run("apply", "-f", "m", "--prune", "-l", f"set={n}")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"mcpd: error: Project '{n}-p' refers to Server/{n}-used, which does not exist"
        f" (Project/{n}-p, field spec.servers[0]) [reference]"
    )
    assert cli.fetch("servers", f"{n}-used") is not None
    assert cli.fetch("servers", f"{n}-new") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give the manifests with -f PATH"),
        (["-f", "x.yaml", "-l", "a=b"], "-l SELECTOR applies only with --prune"),
    ],
)
def test_apply_used_wrongly_is_a_usage_error(cli: Cli, args: list[str], message: str) -> None:
    result = cli.run("apply", *args)

    assert result.exit_code == 2
    assert message in one_error_line(result.stderr)


# ---- diff -f ---------------------------------------------------------------------------


def test_diff_f_exits_1_with_changes_and_0_without(cli: Cli, write: Write) -> None:
    n = cli.name("set")
    write("m/set.yaml", server_set(n))

    before = cli.run("diff", "-f", "m")
    cli.run("apply", "-f", "m")
    after = cli.run("diff", "-f", "m")

    assert before.exit_code == 1, before.output
    assert before.stdout.splitlines() == [
        f"+ Secret/{n}-gh",
        f"+ Server/{n}-time",
        f"+ Project/{n}-demo",
        "3 to add, 0 to change, 0 to remove (0 unchanged)",
    ]
    assert after.exit_code == 0, after.output
    assert after.stdout == "0 to add, 0 to change, 0 to remove (3 unchanged)\n"


def test_diff_f_shows_field_changes_as_text_json_and_unified_without_secret_values(
    cli: Cli, write: Write
) -> None:
    n, path = applied(cli, write)
    path.write_text(
        path.read_text()
        .replace("[uvx, mcp-server-time]", "[uvx, mcp-server-time, -v]")
        .replace(f"ghp-value-{n}", f"ghp-changed-{n}")
    )

    text = cli.run("diff", "-f", str(path))
    as_json = cli.run("diff", "-f", str(path), "-o", "json")
    unified = cli.run("diff", "-f", str(path), "-o", "unified")

    assert text.exit_code == as_json.exit_code == unified.exit_code == 1
    assert f"~ Server/{n}-time" in text.stdout
    assert f"~ Secret/{n}-gh" in text.stdout
    body = json.loads(as_json.stdout)
    assert body["changed"] is True
    assert {c["name"] for c in body["changes"]} == {f"{n}-time", f"{n}-gh"}
    assert f"--- a/Server/{n}-time\n+++ b/Server/{n}-time\n" in unified.stdout
    assert "+  - -v\n" in unified.stdout
    for result in (text, as_json, unified):
        assert f"ghp-value-{n}" not in result.output
        assert f"ghp-changed-{n}" not in result.output
    stored = cli.fetch("servers", f"{n}-time")
    assert stored is not None
    assert stored["spec"]["command"] == ["uvx", "mcp-server-time"]  # diff changed nothing


def test_diff_f_errors_exit_2_in_one_line(cli: Cli, viewer: str, write: Write) -> None:
    n = cli.name("set")
    write("m/set.yaml", server_set(n))
    write("bad/x.yaml", "kind: Nope\n")

    refused = cli.run("diff", "-f", "m", "--token", viewer)
    invalid = cli.run("diff", "-f", "bad")
    mixed = cli.run("diff", "-f", "m", "a", "b")

    assert refused.exit_code == 2
    assert one_error_line(refused.stderr).startswith("error: forbidden: needs ")
    assert invalid.exit_code == 2
    assert "unknown kind 'Nope'" in invalid.stderr
    assert mixed.exit_code == 2
    assert "give -f PATH alone" in one_error_line(mixed.stderr)


# ---- delete ----------------------------------------------------------------------------


def servers(cli: Cli, n: str, *teams: str) -> list[str]:
    names = []
    for i, team in enumerate(teams):
        name = f"{n}-{i}"
        cli.create(manifest("Server", name, {"command": ["x"]}, labels={"set": n, "team": team}))
        names.append(name)
    return names


def test_delete_by_name_and_by_selector(cli_db: Cli) -> None:
    n = cli_db.name("del")
    a, b, c = servers(cli_db, n, "x", "x", "y")

    by_name = cli_db.run("delete", "server", a)
    by_label = cli_db.run("delete", "servers", "-l", f"set={n},team=y")

    assert (by_name.exit_code, by_name.stdout) == (0, f"server/{a} deleted\n")
    assert (by_label.exit_code, by_label.stdout) == (0, f"server/{c} deleted\n")
    assert cli_db.names("servers", f"set={n}") == [b]


def test_delete_goes_on_after_a_failure_and_exits_2(cli: Cli) -> None:
    n = cli.name("del")
    (a,) = servers(cli, n, "x")

    result = cli.run("delete", "server", f"{n}-nope", a)
    ignored = cli.run("delete", "server", f"{n}-nope", "--ignore-not-found")

    assert result.exit_code == 2
    assert result.stdout == f"server/{a} deleted\n"
    assert result.stderr == f"error: server/{n}-nope not found\n"
    assert cli.fetch("servers", a) is None
    assert (ignored.exit_code, ignored.output) == (0, "")


def test_deleting_a_referenced_object_is_refused_in_one_line(cli_db: Cli) -> None:
    n = cli_db.name("set")
    cli_db.run("apply", "-f", "-", input=server_set(n).replace("\n        ", "\n"))

    result = cli_db.run("delete", "secret", f"{n}-gh")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert one_error_line(result.stderr) == (
        f"error: secret/{n}-gh: Secret/{n}-gh is still referenced by Server/{n}-time"
    )
    assert cli_db.fetch("secrets", f"{n}-gh") is not None


def test_delete_f_deletes_in_reverse_dependency_order(cli: Cli, write: Write) -> None:
    n, path = applied(cli, write)
    # the file lists the Secret first: deleting it first would be refused (still referenced)

    result = cli.run("delete", "-f", str(path))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"project/{n}-demo deleted",
        f"server/{n}-time deleted",
        f"secret/{n}-gh deleted",
    ]
    for plural in ("projects", "servers", "secrets"):
        assert cli.names(plural, f"set={n}") == []


@pytest.mark.parametrize(
    "args",
    [["delete"], ["delete", "servers"], ["delete", "server", "a", "-f", "x.yaml"]],
    ids=["nothing", "kind-only", "name-and-file"],
)
def test_delete_needs_one_way_of_naming_objects(cli: Cli, args: list[str]) -> None:
    result = cli.run(*args)

    assert result.exit_code == 2
    one_error_line(result.stderr)
