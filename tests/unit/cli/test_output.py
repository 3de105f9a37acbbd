"""What `get` and `describe` print: tables per kind, ages, YAML, JSON, names, descriptions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from mcpctl.cli.rendering.description import render_describe
from mcpctl.cli.rendering.objects import format_age, render, render_table

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
CREATED = "2026-03-01T11:55:00Z"  # five minutes before NOW


def obj(kind: str, name: str, spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "mcpctl/v1",
        "kind": kind,
        "metadata": {"name": name, "createdAt": CREATED, "resourceVersion": "7", **meta},
        "spec": spec,
    }


SERVERS = [
    obj("Server", "github", {"template": "github"}),
    {
        **obj("Server", "time", {"command": ["uvx", "mcp-server-time"], "replicas": 2}),
        "status": {"readyReplicas": 1, "health": "Degraded"},
    },
    obj("Server", "docs", {"externalUrl": "https://docs.example.com/mcp", "transport": "sse"}),
    obj("Server", "web", {"image": "ghcr.io/x/web:1", "transport": "sse", "containerPort": 80}),
]


@pytest.mark.parametrize(
    ("seconds", "age"),
    [
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (20 * 3600, "20h"),
        (3 * 86400 + 3600, "3d1h"),
        (40 * 86400, "40d"),
        (3 * 365 * 86400 + 86400, "3y1d"),
        (-30, "0s"),
    ],
)
def test_ages_read_like_kubectl(seconds: int, age: str) -> None:
    assert format_age(NOW - timedelta(seconds=seconds), NOW) == age


def test_server_table_shows_source_transport_readiness_and_health() -> None:
    assert render_table("Server", SERVERS, now=NOW).splitlines() == [
        "NAME     SOURCE                             TRANSPORT    READY   HEALTH     AGE",
        "github   template/github                    <template>   1       -          5m",
        "time     command/uvx mcp-server-time        stdio        1/2     Degraded   5m",
        "docs     url/https://docs.example.com/mcp   sse          -       -          5m",
        "web      image/ghcr.io/x/web:1              sse          1       -          5m",
    ]


def test_wide_adds_columns_and_labels() -> None:
    server = {**obj("Server", "time", {"command": ["t"]}, labels={"team": "infra", "a": "b"})}

    header, row = render_table("Server", [server], wide=True, now=NOW).splitlines()

    assert header.split() == [
        "NAME",
        "SOURCE",
        "TRANSPORT",
        "READY",
        "HEALTH",
        "AGE",
        "PORT",
        "ENV",
        "RUNTIME",
        "LABELS",
    ]
    assert row.split()[-1] == "a=b,team=infra"


@pytest.mark.parametrize(
    ("kind", "spec", "meta", "columns"),
    [
        ("Project", {"servers": ["a", "b"], "gated": True}, {}, ["SERVERS", "GATED"]),
        ("Llm", {"type": "openai", "model": "gpt", "tier": "heavy"}, {}, ["TYPE", "MODEL", "TIER"]),
        ("Secret", {"data": {"A": None, "B": None}}, {}, ["BACKEND", "KEYS"]),
        ("Prompt", {"content": "x", "priority": 8}, {"project": "demo"}, ["PROJECT", "PRIORITY"]),
        ("User", {"email": "a@example.com"}, {}, ["EMAIL"]),
        ("McpToken", {"project": "demo"}, {}, ["PROJECT", "EXPIRES", "REVOKED"]),
        (
            "Rbac",
            {
                "subjects": [{"kind": "User", "name": "alice"}],
                "bindings": [
                    {"role": "view", "resource": "servers"},
                    {"role": "run", "action": "logs"},
                ],
            },
            {},
            ["SUBJECTS", "BINDINGS"],
        ),
    ],
)
def test_each_kind_has_its_columns(
    kind: str, spec: dict[str, Any], meta: dict[str, Any], columns: list[str]
) -> None:
    header, row = render_table(kind, [obj(kind, "x", spec, **meta)], now=NOW).splitlines()

    assert header.split() == ["NAME", *columns, "AGE"]
    expected = {
        "Project": ["x", "a,b", "true", "5m"],
        "Llm": ["x", "openai", "gpt", "heavy", "5m"],
        "Secret": ["x", "<default>", "2", "5m"],
        "Prompt": ["x", "demo", "8", "5m"],
        "User": ["x", "a@example.com", "5m"],
        "McpToken": ["x", "demo", "never", "false", "5m"],
        "Rbac": ["x", "User/alice", "view:servers,run:logs", "5m"],
    }
    assert row.split() == expected[kind]


def test_a_secret_table_never_shows_values() -> None:
    secret = obj("Secret", "gh", {"data": {"TOKEN": "ghp_supersecret"}})

    for fmt in ("table", "wide"):
        assert "ghp_supersecret" not in render(fmt, "Secret", [secret], now=NOW)


def test_yaml_is_canonical_with_server_metadata_and_status() -> None:
    text = render("yaml", "Server", [SERVERS[1]], single=True)

    assert text == (
        "apiVersion: mcpctl/v1\n"
        "kind: Server\n"
        "metadata:\n"
        "  name: time\n"
        "  resourceVersion: '7'\n"
        "  createdAt: '2026-03-01T11:55:00Z'\n"
        "spec:\n"
        "  command:\n"
        "  - uvx\n"
        "  - mcp-server-time\n"
        "  replicas: 2\n"
        "status:\n"
        "  health: Degraded\n"
        "  readyReplicas: 1\n"
    )


def test_yaml_of_a_list_is_one_document_per_object() -> None:
    docs = list(yaml.safe_load_all(render("yaml", "Server", SERVERS[:2])))

    assert [d["metadata"]["name"] for d in docs] == ["github", "time"]


def test_yaml_masks_secret_values_unless_asked() -> None:
    secret = obj("Secret", "gh", {"data": {"TOKEN": "ghp_x"}})

    assert "ghp_x" not in render("yaml", "Secret", [secret], single=True)
    assert "TOKEN: ghp_x" in render("yaml", "Secret", [secret], single=True, show_secrets=True)


def test_an_object_this_mcpctl_cannot_read_still_prints() -> None:
    future = obj("Server", "x", {"template": "t", "newField": 1})

    assert "newField: 1" in render("yaml", "Server", [future], single=True)
    assert render("name", "Server", [future]) == "server/x\n"


def test_json_is_the_object_for_one_name_and_a_list_otherwise() -> None:
    assert json.loads(render("json", "Server", SERVERS[:1], single=True)) == SERVERS[0]
    listed = json.loads(render("json", "Server", SERVERS[:1]))
    assert listed == {"apiVersion": "mcpctl/v1", "kind": "List", "items": SERVERS[:1]}


def test_names_are_kind_slash_name() -> None:
    prompt = obj("Prompt", "intro", {"content": "x"}, project="demo")

    assert render("name", "Server", SERVERS[:2]) == "server/github\nserver/time\n"
    assert render("name", "Prompt", [prompt]) == "prompt/demo/intro\n"


EVENT = {
    "apiVersion": "mcpctl/v1",
    "kind": "Event",
    "metadata": {"name": "e1"},
    "spec": {
        "type": "Warning",
        "reason": "Unhealthy",
        "message": "tools/list timed out",
        "involvedObject": {"kind": "Server", "name": "time"},
        "count": 3,
        "firstTimestamp": "2026-03-01T11:00:00Z",
        "lastTimestamp": "2026-03-01T11:58:00Z",
        "source": "reconciler",
    },
}


def test_describe_shows_spec_status_references_and_events() -> None:
    server = {**SERVERS[1], "metadata": {**SERVERS[1]["metadata"], "createdBy": "admin"}}

    text = render_describe(
        server,
        references={"uses": ["Secret/gh"], "usedBy": ["Project/demo"]},
        events=[EVENT],
        now=NOW,
    )

    assert text == (
        "Name:             time\n"
        "Kind:             Server\n"
        "Labels:           <none>\n"
        "Created:          2026-03-01T11:55:00Z (5m ago) by admin\n"
        "Resource Version: 7\n"
        "Spec:\n"
        "  command:\n"
        "  - uvx\n"
        "  - mcp-server-time\n"
        "  replicas: 2\n"
        "Status:\n"
        "  health: Degraded\n"
        "  readyReplicas: 1\n"
        "Uses:\n"
        "  Secret/gh\n"
        "Used By:\n"
        "  Project/demo\n"
        "Events:\n"
        "  TYPE      REASON      AGE       FROM         MESSAGE\n"
        "  Warning   Unhealthy   2m (x3)   reconciler   tools/list timed out\n"
    )


def test_describe_says_why_a_section_is_missing() -> None:
    text = render_describe(
        SERVERS[0], references="cannot tell: forbidden", events="cannot list: forbidden", now=NOW
    )

    assert "Uses: <cannot tell: forbidden>" in text
    assert "Events: <cannot list: forbidden>" in text


def test_describe_secret_lists_keys_and_shows_values_only_when_asked() -> None:
    secret = obj("Secret", "gh", {"data": {"TOKEN": "ghp_x", "USER": None}})

    hidden = render_describe(secret, now=NOW)
    shown = render_describe(secret, show_values=True, now=NOW)

    assert "Data:\n  TOKEN: (hidden)\n  USER: (hidden)\n" in hidden
    assert "ghp_x" not in hidden
    assert "Data:\n  TOKEN: ghp_x\n  USER: (hidden)\n" in shown


def test_describe_serviceaccount_lists_its_tokens_and_their_state() -> None:
    tokens = [
        {
            "prefix": "mcpctl_sat_Ab3x",
            "createdBy": "admin",
            "createdAt": "2026-02-01T12:00:00Z",
            "expiresAt": None,
            "revokedAt": "2026-02-02T12:00:00Z",
            "active": False,
        },
        {
            "prefix": "mcpctl_sat_Zz9q",
            "createdBy": "serviceaccount:deployer",
            "createdAt": CREATED,
            "expiresAt": "2026-03-31T12:00:00Z",
            "revokedAt": None,
            "active": True,
        },
        {
            "prefix": "mcpctl_sat_Old1",
            "createdBy": "alice",
            "createdAt": "2026-01-01T12:00:00Z",
            "expiresAt": "2026-01-02T12:00:00Z",
            "revokedAt": None,
            "active": False,
        },
    ]
    sa = obj("ServiceAccount", "ci", {})

    text = render_describe(sa, tokens=tokens, now=NOW)
    none = render_describe(sa, tokens=[], now=NOW)
    forbidden = render_describe(sa, tokens="cannot list: forbidden", now=NOW)

    assert (
        "Tokens:\n"
        "  PREFIX            CREATED BY                AGE   EXPIRES                STATE\n"
        "  mcpctl_sat_Ab3x   admin                     28d   never                  revoked\n"
        "  mcpctl_sat_Zz9q   serviceaccount:deployer   5m    2026-03-31T12:00:00Z   active\n"
        "  mcpctl_sat_Old1   alice                     59d   2026-01-02T12:00:00Z   expired\n"
        "Events: <none>\n"
    ) in text
    assert "Tokens: <none>\n" in none
    assert "Tokens: <cannot list: forbidden>\n" in forbidden
    assert "Tokens:" not in render_describe(SERVERS[0], now=NOW)


def test_describe_shows_events_oldest_first_as_kubectl_does() -> None:
    def event(reason: str, at: str) -> dict[str, Any]:
        return {"spec": {"type": "Normal", "reason": reason, "message": "", "lastTimestamp": at}}

    newest_first = [  # as mcpd lists them
        event("BackOff", "2026-03-01T11:59:00Z"),
        event("Started", "2026-03-01T11:58:00Z"),
        event("Created", "2026-03-01T11:58:00Z"),
    ]
    text = render_describe(SERVERS[1], references=None, events=newest_first, now=NOW)

    reasons = [line.split()[1] for line in text.split("Events:\n", 1)[1].splitlines()[1:]]
    assert reasons == ["Created", "Started", "BackOff"]


def test_audit_events_and_events_age_from_their_own_times() -> None:
    audit = {
        "apiVersion": "mcpctl/v1",
        "kind": "AuditEvent",
        "metadata": {"name": "audit-1"},
        "spec": {
            "time": "2026-03-01T11:59:00Z",
            "user": "carol",
            "verb": "create",
            "kind": "Project",
            "name": "x",
            "outcome": "denied",
        },
    }

    assert render_table("AuditEvent", [audit], now=NOW).splitlines()[1].split() == [
        "audit-1",
        "carol",
        "create",
        "Project",
        "x",
        "denied",
        "60s",
    ]
    assert render_table("Event", [EVENT], now=NOW).splitlines()[1].split()[-1] == "2m"


def test_a_cell_holding_a_newline_or_an_escape_sequence_stays_in_its_row() -> None:
    forged = "a\nb   create   Rbac   admin   success"
    audit = [
        {
            "apiVersion": "mcpctl/v1",
            "kind": "AuditEvent",
            "metadata": {"name": f"audit-{i}"},
            "spec": {"time": CREATED, "user": user, "verb": "login", "outcome": "denied"},
        }
        for i, user in enumerate((forged, "x\x1b]0;owned\x07\x1b[2J", "ok"), 1)
    ]

    text = render_table("AuditEvent", audit, now=NOW)

    lines = text.splitlines()
    assert len(lines) == 4  # the header and one row per entry
    assert lines[1].split()[:2] == ["audit-1", "a\\nb"]
    assert lines[2].split()[:2] == ["audit-2", "x\\x1b]0;owned\\x07\\x1b[2J"]
    assert all(line.isprintable() for line in lines)


def test_describe_keeps_each_field_on_its_line() -> None:
    server = obj(
        "Server",
        "s",
        {"command": ["x"]},
        annotations={"note": "first\nLabels:  forged"},
        createdBy="ann\r\x1b[1A",
    )

    text = render_describe(server, now=NOW)

    lines = text.splitlines()
    assert all(line.isprintable() for line in lines)
    assert [line.split()[1:] for line in lines if line.startswith("Annotations:")] == [
        ["note=first\\nLabels:", "forged"]
    ]
    assert [line.split()[-2:] for line in lines if line.startswith("Created:")] == [
        ["by", "ann\\r\\x1b[1A"]
    ]
    assert len([line for line in lines if line.startswith("Labels:")]) == 1


def test_names_are_escaped_too() -> None:
    assert render("name", "Server", [obj("Server", "a\nb", {})]) == "server/a\\nb\n"
