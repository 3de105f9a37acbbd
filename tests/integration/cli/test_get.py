"""`mcpctl get` and `mcpctl describe` against a real mcpd."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from mcpctl.cli import resources
from mcpctl.store import EventRow
from tests.support.manifests import JSON, binding, manifest

from .conftest import Cli, one_error_line

pytestmark = pytest.mark.integration


def two_servers(cli: Cli) -> tuple[str, str, str]:
    """Servers `<n>-a` (team=infra) and `<n>-b` (team=dev), both labelled set=<n>."""
    n = cli.name("get")
    for suffix, team in (("a", "infra"), ("b", "dev")):
        spec = {"command": ["uvx", f"mcp-server-{suffix}"], "replicas": 2}
        cli.create(manifest("Server", f"{n}-{suffix}", spec, labels={"set": n, "team": team}))
    return n, f"{n}-a", f"{n}-b"


@pytest.mark.parametrize("kind", ["servers", "server", "Server"])
def test_get_takes_any_spelling_of_the_kind(cli: Cli, kind: str) -> None:
    n, a, b = two_servers(cli)

    result = cli.run("get", kind, "-l", f"set={n}", "-o", "name")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"server/{a}\nserver/{b}\n"


def test_get_prints_each_output_format(cli_db: Cli) -> None:
    n, a, b = two_servers(cli_db)
    selected = ("-l", f"set={n}")

    table = cli_db.run("get", "servers", *selected)
    wide = cli_db.run("get", "servers", *selected, "-o", "wide")
    names = cli_db.run("get", "servers", *selected, "-l", f"set={n},team=infra", "-o", "name")
    as_json = cli_db.run("get", "servers", *selected, "-o", "json")
    as_yaml = cli_db.run("get", "servers", *selected, "-o", "yaml")

    for result in (table, wide, names, as_json, as_yaml):
        assert result.exit_code == 0, result.output
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["NAME", "SOURCE", "TRANSPORT", "READY", "HEALTH", "AGE"]
    assert [row.split()[:4] for row in rows] == [
        [a, "command/uvx", "mcp-server-a", "stdio"],
        [b, "command/uvx", "mcp-server-b", "stdio"],
    ]
    assert wide.stdout.splitlines()[0].split()[-1] == "LABELS"
    assert f"set={n},team=infra" in wide.stdout.splitlines()[1]
    assert names.stdout == f"server/{a}\n"
    listed = json.loads(as_json.stdout)
    assert [item["metadata"]["name"] for item in listed["items"]] == [a, b]
    # the status is the runtime's, and moves on (these servers cannot start here)
    fetched = cli_db.fetch("servers", a)
    assert fetched is not None
    assert {k: v for k, v in listed["items"][0].items() if k != "status"} == {
        k: v for k, v in fetched.items() if k != "status"
    }
    docs = list(yaml.safe_load_all(as_yaml.stdout))
    assert [d["metadata"]["name"] for d in docs] == [a, b]
    assert docs[0]["spec"] == {"command": ["uvx", "mcp-server-a"], "replicas": 2}


def test_get_yaml_applies_again_unchanged_and_edited(cli_db: Cli) -> None:
    n, a, b = two_servers(cli_db)
    listed = cli_db.run("get", "servers", "-l", f"set={n}", "-o", "yaml").stdout
    one = cli_db.run("get", "server", a, "-o", "yaml").stdout

    again = cli_db.run("apply", "-f", "-", input=listed)
    edited = cli_db.run("apply", "-f", "-", input=one.replace("replicas: 2", "replicas: 3"))

    assert again.exit_code == 0, again.output
    assert again.stdout == f"server/{a} unchanged\nserver/{b} unchanged\n"
    assert edited.exit_code == 0, edited.output
    assert edited.stdout == f"server/{a} configured\n"
    stored = cli_db.fetch("servers", a)
    assert stored is not None
    assert stored["spec"]["replicas"] == 3
    assert (
        yaml.safe_load(one)["metadata"]["resourceVersion"] != stored["metadata"]["resourceVersion"]
    )


def test_get_one_as_json_is_the_api_object(cli: Cli) -> None:
    _, a, _ = two_servers(cli)

    result = cli.run("get", "server", a, "-o", "json")

    assert json.loads(result.stdout) == cli.fetch("servers", a)


def test_get_follows_continue_tokens(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of two (the CLI asks 500 a page; mcpd pages the same way at any size)."""
    n = cli.name("page")
    for i in range(5):
        cli.create(manifest("Server", f"{n}-{i}", {"command": ["x"]}, labels={"set": n}))
    monkeypatch.setattr(resources, "PAGE_SIZE", 2)

    result = cli.run("get", "servers", "-l", f"set={n}", "-o", "name")

    assert result.stdout.splitlines() == [f"server/{n}-{i}" for i in range(5)]


def test_a_missing_name_is_reported_and_the_others_printed(cli: Cli) -> None:
    _, a, _ = two_servers(cli)

    result = cli.run("get", "servers", a, "nope-x", "-o", "name")

    assert result.exit_code == 2
    assert result.stdout == f"server/{a}\n"
    assert one_error_line(result.stderr) == "error: Server/nope-x not found"


def test_an_empty_list_says_so_on_stderr(cli: Cli) -> None:
    result = cli.run("get", "llms", "-l", f"set={cli.name()}")

    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "No llms found.\n")


def test_an_unknown_kind_suggests_the_closest(cli: Cli) -> None:
    result = cli.run("get", "sever")

    assert result.exit_code == 2
    assert one_error_line(result.stderr).startswith(
        "error: unknown kind 'sever' (did you mean 'server'?)"
    )


def project_with_prompt(cli: Cli) -> tuple[str, str]:
    project = cli.name("proj")
    cli.create(manifest("Project", project, {}))
    cli.create(manifest("Prompt", "intro", {"content": "hello"}, project=project))
    return project, "intro"


def test_prompts_need_a_project(cli: Cli) -> None:
    project, prompt = project_with_prompt(cli)

    missing = cli.run("get", "prompts")
    given = cli.run("get", "prompts", "-p", project, "-o", "name")
    everywhere = cli.run("get", "prompts", "-A", "-o", "name")

    assert missing.exit_code == 2
    assert missing.stderr == "error: prompts belong to a project: give --project/-p NAME\n"
    assert given.stdout == f"prompt/{project}/{prompt}\n"
    assert f"prompt/{project}/{prompt}" in everywhere.stdout.splitlines()


def test_mcptokens_can_be_listed_for_one_project(cli: Cli) -> None:
    mine, other = cli.name("proj"), cli.name("proj")
    for project in (mine, other):
        cli.create(manifest("Project", project, {}))
        cli.create(manifest("McpToken", f"{project}-tok", {"project": project}))

    result = cli.run("get", "mcptokens", "-p", mine, "-o", "name")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"mcptoken/{mine}-tok\n"


# ---- secret values ---------------------------------------------------------------------


def stored_secret(cli: Cli) -> tuple[str, str]:
    name = cli.name("sec")
    value = f"s3cr3t-{name}"
    cli.create(manifest("Secret", name, {"data": {"TOKEN": value}}, labels={"set": name}))
    return name, value


def test_secret_values_are_never_shown_without_show_values(cli: Cli) -> None:
    name, value = stored_secret(cli)

    outputs = [
        cli.run("get", "secrets", "-l", f"set={name}", "-o", fmt)
        for fmt in ("table", "wide", "yaml", "json", "name")
    ]
    outputs.append(cli.run("get", "secret", name, "-o", "yaml"))
    outputs.append(cli.run("describe", "secret", name))

    for result in outputs:
        assert result.exit_code == 0, result.output
        assert value not in result.output
    assert "TOKEN: null" in outputs[-2].stdout
    assert "  TOKEN: (hidden)\n" in outputs[-1].stdout


def test_show_values_shows_them_to_the_admin(cli: Cli) -> None:
    name, value = stored_secret(cli)

    as_yaml = cli.run("get", "secret", name, "-o", "yaml", "--show-values")
    as_json = cli.run("get", "secrets", "-l", f"set={name}", "-o", "json", "--show-values")
    described = cli.run("describe", "secret", name, "--show-values")
    refused = cli.run("get", "secret", name, "--show-values")

    assert yaml.safe_load(as_yaml.stdout)["spec"]["data"] == {"TOKEN": value}
    assert json.loads(as_json.stdout)["items"][0]["spec"]["data"] == {"TOKEN": value}
    assert f"  TOKEN: {value}\n" in described.stdout
    assert refused.exit_code == 2
    assert refused.stderr == "error: --show-values needs -o yaml or -o json\n"


def test_yaml_of_a_secret_applies_again_without_losing_the_values(cli: Cli) -> None:
    name, value = stored_secret(cli)
    shown = cli.run("get", "secret", name, "-o", "yaml").stdout

    result = cli.run("apply", "-f", "-", input=shown.replace(f"set: {name}", "set: relabelled"))

    assert result.stdout == f"secret/{name} configured\n"
    revealed = cli.admin.get(f"/api/v1/secrets/{name}", params={"showSecrets": "true"}).json()
    assert revealed["metadata"]["labels"] == {"set": "relabelled"}
    assert revealed["spec"]["data"] == {"TOKEN": value}


def test_show_values_needs_the_reveal_permission(cli: Cli) -> None:
    name, value = stored_secret(cli)
    viewer = cli.user(cli.name("viewer"), binding("view", "secrets"))

    shown = cli.run("get", "secret", name, "-o", "yaml", "--token", viewer)
    refused = cli.run("get", "secret", name, "-o", "yaml", "--show-values", "--token", viewer)

    assert shown.exit_code == 0, shown.output
    assert refused.exit_code == 2
    assert one_error_line(refused.stderr) == "error: forbidden: needs run reveal-secrets"
    assert value not in shown.output + refused.output


# ---- describe --------------------------------------------------------------------------


def used_server(cli: Cli) -> str:
    """`<n>-gh` (Secret) <- `<n>-time` (Server) <- `<n>-demo` (Project)."""
    n = cli.name("desc")
    cli.create(manifest("Secret", f"{n}-gh", {"data": {"TOKEN": "v"}}))
    env = [{"name": "TOKEN", "valueFrom": {"secretRef": {"name": f"{n}-gh", "key": "TOKEN"}}}]
    spec: JSON = {"command": ["uvx", "mcp-server-time"], "env": env}
    cli.create(manifest("Server", f"{n}-time", spec, labels={"team": "infra"}))
    cli.create(manifest("Project", f"{n}-demo", {"servers": [f"{n}-time"]}))
    return n


def record_event(cli: Cli, kind: str, name: str, reason: str, message: str) -> None:
    """An Event row written into mcpd's database.

    The test writes an event of its own (an old one, repeated) into the row that
    mcpd serves from, through mcpd's own table model.
    """
    now = datetime.now(UTC)
    engine = create_engine(cli.database_url)
    try:
        with Session(engine) as session, session.begin():
            session.add(
                EventRow(
                    type="Warning",
                    reason=reason,
                    message=message,
                    kind=kind,
                    project="",
                    name=name,
                    count=3,
                    first_timestamp=now - timedelta(minutes=5),
                    last_timestamp=now - timedelta(minutes=2),
                    source="reconciler",
                )
            )
    finally:
        engine.dispose()


def test_describe_shows_spec_references_both_ways_and_events(cli: Cli) -> None:
    n = used_server(cli)
    record_event(cli, "Server", f"{n}-time", "BackOff", "restarting the failed container")

    result = cli.run("describe", "server", f"{n}-time")

    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith(f"Name:             {n}-time\nKind:             Server\n")
    assert "Labels:           team=infra\n" in text
    assert "Spec:\n  command:\n  - uvx\n  - mcp-server-time\n" in text
    assert f"Uses:\n  Secret/{n}-gh\n" in text
    assert f"Used By:\n  Project/{n}-demo\n" in text
    events = text.split("Events:\n", 1)[1].splitlines()
    assert events[0].split() == ["TYPE", "REASON", "AGE", "FROM", "MESSAGE"]
    # the runtime's own events come too (uvx is not on this machine: it cannot start)
    recorded = [e for e in events[1:] if e.endswith("restarting the failed container")]
    assert len(recorded) == 1, events
    assert recorded[0].split()[:4] == ["Warning", "BackOff", "2m", "(x3)"]
    assert recorded[0].split()[4:] == ["reconciler", "restarting", "the", "failed", "container"]


def test_describe_says_none_where_there_is_nothing(cli: Cli) -> None:
    n = used_server(cli)

    result = cli.run("describe", "project", f"{n}-demo")

    assert result.exit_code == 0, result.output
    assert f"Uses:\n  Server/{n}-time\n" in result.stdout
    assert result.stdout.endswith("Used By: <none>\nEvents: <none>\n")


def test_describe_still_helps_when_events_are_forbidden(cli: Cli, viewer: str) -> None:
    n = used_server(cli)

    result = cli.run("describe", "server", f"{n}-time", "--token", viewer)

    assert result.exit_code == 0, result.output
    assert f"Uses:\n  Secret/{n}-gh\n" in result.stdout
    assert result.stdout.endswith("Events: <cannot list: forbidden: needs view on events>\n")


def test_describe_a_prompt_asks_under_its_project(cli: Cli) -> None:
    project, prompt = project_with_prompt(cli)

    result = cli.run("describe", "prompt", prompt, "-p", project)

    assert result.exit_code == 0, result.output
    assert f"Project:          {project}\n" in result.stdout
    assert "Spec:\n  content: hello\n" in result.stdout


def test_describe_without_names_describes_what_the_selector_picks(cli: Cli) -> None:
    n, a, b = two_servers(cli)

    result = cli.run("describe", "servers", "-l", f"set={n}")

    assert result.exit_code == 0, result.output
    assert [line for line in result.stdout.splitlines() if line.startswith("Name:")] == [
        f"Name:             {a}",
        f"Name:             {b}",
    ]


def test_a_user_name_holding_a_newline_cannot_forge_an_audit_row(cli_db: Cli) -> None:
    forged = f"{cli_db.name('x')}\nadmin   create   Rbac   admin   success   0s\x1b[2K"
    answer = cli_db.admin.post("/api/v1/auth/login", json={"username": forged, "password": "x"})
    assert answer.status_code == 401, answer.text

    result = cli_db.run("get", "auditevents")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(line.isprintable() for line in lines), [ln for ln in lines if not ln.isprintable()]
    shown = forged.replace("\n", "\\n").replace("\x1b", "\\x1b")
    rows = [line for line in lines if shown in line]
    assert len(rows) == 1, lines
    assert rows[0].startswith("audit-")
    assert f"   {shown}   login " in rows[0]
    assert rows[0].split()[-2] == "denied"
    assert not any(line.startswith("admin") for line in lines)
