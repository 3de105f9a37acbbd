"""Consistency of a set: references, duplicates, default backends, template parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mcpctl.errors import ManifestIssue
from mcpctl.manifests import Catalog, Manifest, check_set, iter_references, load_text
from mcpctl.manifests.references import SEEDED_BACKEND
from mcpctl.schemas import Resource
from tests.support.manifests import document as obj

LoadClean = Callable[[str], list[Manifest]]


def ref(name: str, key: str) -> dict[str, Any]:
    return {"name": name, "key": key}


def secret(name: str, *keys: str, backend: str | None = None) -> str:
    spec: dict[str, Any] = {"data": dict.fromkeys(keys, "v")}
    if backend is not None:
        spec["backend"] = backend
    return obj("Secret", name, spec)


def command_server(name: str, **spec: Any) -> str:
    return obj("Server", name, {"command": ["run"], **spec})


def secret_env(var: str, name: str, key: str) -> dict[str, Any]:
    return {"name": var, "valueFrom": {"secretRef": ref(name, key)}}


def openbao(name: str, token: dict[str, Any], *, default: bool = False) -> str:
    spec: dict[str, Any] = {"type": "openbao", "url": "https://bao.example.com"}
    spec["tokenSecretRef"] = token
    if default:
        spec["default"] = True
    return obj("SecretBackend", name, spec)


def plaintext(name: str, *, default: bool = False) -> str:
    return obj("SecretBackend", name, {"type": "plaintext", "default": default})


def check(
    load_clean: LoadClean, text: str, existing: list[Resource] | None = None
) -> list[ManifestIssue]:
    return check_set(load_clean(text), existing or [])


def codes_and_fields(issues: list[ManifestIssue]) -> list[tuple[str, str | None, str | None]]:
    return [(i.code, i.object_ref, i.field) for i in issues]


# --- a consistent set -----------------------------------------------------------------


def test_consistent_set_has_no_issues(load_clean: LoadClean) -> None:
    text = (
        plaintext("local", default=True)
        + secret("gh", "token")
        + secret("bao-token", "token", backend="local")
        + openbao("vault", ref("bao-token", "token"))
        + secret("anthropic", "key", backend="vault")
        + obj(
            "Llm",
            "haiku",
            {"type": "anthropic", "model": "m", "apiKeyRef": ref("anthropic", "key")},
        )
        + obj("Llm", "opus", {"type": "ollama", "model": "m", "tier": "heavy"})
        + obj(
            "Server",
            "github",
            {
                "template": "github",
                "env": [secret_env("GITHUB_PERSONAL_ACCESS_TOKEN", "gh", "token")],
            },
        )
        + command_server("local-tool", env=[secret_env("TOKEN", "gh", "token")])
        + obj(
            "Project",
            "demo",
            {"servers": ["github", "local-tool"], "llm": {"fast": "haiku", "heavy": "opus"}},
        )
        + obj(
            "Prompt",
            "intro",
            {"content": "hi", "linkTarget": "demo/github:repo://readme"},
            project="demo",
        )
        + obj("User", "ann", {"email": "ann@example.com"})
        + obj("Group", "admins", {"members": ["ann"]})
        + obj("ServiceAccount", "ci")
        + obj("McpToken", "laptop", {"project": "demo"})
        + obj(
            "Rbac",
            "admins",
            {
                "subjects": [
                    {"kind": "User", "name": "ann"},
                    {"kind": "Group", "name": "admins"},
                    {"kind": "ServiceAccount", "name": "ci"},
                    {"kind": "McpToken", "name": "laptop"},
                ],
                "bindings": [{"role": "edit", "resource": "*"}, {"role": "run", "action": "*"}],
            },
        )
    )
    assert check(load_clean, text) == []


# --- dangling references --------------------------------------------------------------


def test_secret_ref_to_a_missing_secret_is_reported(load_clean: LoadClean) -> None:
    issues = check(load_clean, command_server("s", env=[secret_env("A", "nope", "k")]))
    assert codes_and_fields(issues) == [
        ("reference", "Server/s", "spec.env[0].valueFrom.secretRef.name")
    ]
    assert "Secret/nope" in issues[0].message


def test_secret_ref_to_a_missing_key_is_reported_on_the_key(load_clean: LoadClean) -> None:
    text = secret("sec", "present") + command_server("s", env=[secret_env("A", "sec", "absent")])
    issues = check(load_clean, text)
    assert codes_and_fields(issues) == [
        ("reference", "Server/s", "spec.env[0].valueFrom.secretRef.key")
    ]
    assert "'absent'" in issues[0].message


def test_secret_ref_to_a_sealed_key_is_satisfied(load_clean: LoadClean) -> None:
    text = obj("Secret", "sec", {"sealedData": {"k": "v1:abc"}}) + command_server(
        "s", env=[secret_env("A", "sec", "k")]
    )
    assert check(load_clean, text) == []


def test_header_secret_ref_is_checked(load_clean: LoadClean) -> None:
    text = obj(
        "Server",
        "remote",
        {
            "externalUrl": "https://mcp.example.com",
            "transport": "sse",
            "headers": [{"name": "Authorization", "valueFrom": {"secretRef": ref("auth", "h")}}],
        },
    )
    assert codes_and_fields(check(load_clean, text)) == [
        ("reference", "Server/remote", "spec.headers[0].valueFrom.secretRef.name")
    ]


def test_template_env_secret_ref_is_checked(load_clean: LoadClean) -> None:
    text = obj("Template", "t", {"command": ["x"], "env": [secret_env("A", "sec", "k")]})
    assert codes_and_fields(check(load_clean, text)) == [
        ("reference", "Template/t", "spec.env[0].valueFrom.secretRef.name")
    ]


def test_llm_api_key_ref_to_a_missing_secret_is_reported(load_clean: LoadClean) -> None:
    text = obj("Llm", "claude", {"type": "anthropic", "model": "m", "apiKeyRef": ref("nokey", "k")})
    assert codes_and_fields(check(load_clean, text)) == [
        ("reference", "Llm/claude", "spec.apiKeyRef.name")
    ]


def test_llm_api_key_ref_to_a_missing_key_is_reported(load_clean: LoadClean) -> None:
    text = secret("keys", "other") + obj(
        "Llm", "claude", {"type": "openai", "model": "m", "apiKeyRef": ref("keys", "k")}
    )
    assert codes_and_fields(check(load_clean, text)) == [
        ("reference", "Llm/claude", "spec.apiKeyRef.key")
    ]


def test_backend_token_secret_ref_to_a_missing_secret_is_reported(load_clean: LoadClean) -> None:
    text = plaintext("local", default=True) + openbao("bao", ref("gone", "token"))
    assert codes_and_fields(check(load_clean, text)) == [
        ("reference", "SecretBackend/bao", "spec.tokenSecretRef.name")
    ]


def test_backend_token_secret_ref_to_a_missing_key_is_reported(load_clean: LoadClean) -> None:
    text = (
        plaintext("local", default=True)
        + secret("bao-token", "other")
        + openbao("bao", ref("bao-token", "token"))
    )
    assert codes_and_fields(check(load_clean, text)) == [
        ("reference", "SecretBackend/bao", "spec.tokenSecretRef.key")
    ]


def test_template_neither_declared_nor_built_in_is_reported(load_clean: LoadClean) -> None:
    issues = check(load_clean, obj("Server", "s", {"template": "no-such-template"}))
    assert codes_and_fields(issues) == [("reference", "Server/s", "spec.template")]
    assert "Template/no-such-template" in issues[0].message


def test_built_in_template_satisfies_a_server(load_clean: LoadClean) -> None:
    assert check(load_clean, obj("Server", "clock", {"template": "time"})) == []


def test_declared_template_satisfies_a_server(load_clean: LoadClean) -> None:
    text = obj("Template", "mine", {"command": ["x"]}) + obj("Server", "s", {"template": "mine"})
    assert check(load_clean, text) == []


def test_project_server_that_does_not_exist_is_reported(load_clean: LoadClean) -> None:
    text = command_server("real") + obj("Project", "p", {"servers": ["real", "ghost"]})
    assert codes_and_fields(check(load_clean, text)) == [
        ("reference", "Project/p", "spec.servers[1]")
    ]


def test_project_llm_that_does_not_exist_is_reported(load_clean: LoadClean) -> None:
    text = obj("Project", "p", {"llm": {"heavy": "nollm"}})
    assert codes_and_fields(check(load_clean, text)) == [
        ("reference", "Project/p", "spec.llm.heavy")
    ]


def test_project_llm_of_the_wrong_tier_is_reported(load_clean: LoadClean) -> None:
    text = (
        obj("Llm", "big", {"type": "ollama", "model": "m", "tier": "heavy"})
        + obj("Llm", "small", {"type": "ollama", "model": "m"})
        + obj("Project", "p", {"llm": {"fast": "big", "heavy": "small"}})
    )
    issues = check(load_clean, text)
    assert codes_and_fields(issues) == [
        ("reference", "Project/p", "spec.llm.fast"),
        ("reference", "Project/p", "spec.llm.heavy"),
    ]


def test_prompt_in_a_missing_project_is_reported(load_clean: LoadClean) -> None:
    issues = check(load_clean, obj("Prompt", "a", {"content": "x"}, project="nope"))
    assert codes_and_fields(issues) == [("reference", "Prompt/nope/a", "metadata.project")]
    assert issues[0].project == "nope"


def test_prompt_link_target_to_a_missing_project_or_server_is_reported(
    load_clean: LoadClean,
) -> None:
    text = obj("Project", "p", {})
    text += obj("Prompt", "a", {"content": "x", "linkTarget": "q/ghost:file:///r"}, project="p")
    issues = check(load_clean, text)
    assert codes_and_fields(issues) == [
        ("reference", "Prompt/p/a", "spec.linkTarget"),
        ("reference", "Prompt/p/a", "spec.linkTarget"),
    ]
    assert "Project/q" in issues[0].message
    assert "Server/ghost" in issues[1].message


def test_prompt_link_target_server_outside_the_project_is_reported(
    load_clean: LoadClean,
) -> None:
    text = (
        command_server("inside")
        + command_server("outside")
        + obj("Project", "p", {"servers": ["inside"]})
        + obj("Prompt", "a", {"content": "x", "linkTarget": "p/outside:file:///r"}, project="p")
        + obj("Prompt", "b", {"content": "x", "linkTarget": "p/inside:file:///r"}, project="p")
    )
    issues = check(load_clean, text)
    assert codes_and_fields(issues) == [("reference", "Prompt/p/a", "spec.linkTarget")]
    assert "'outside'" in issues[0].message


@pytest.mark.parametrize("kind", ["User", "Group", "ServiceAccount", "McpToken"])
def test_rbac_subject_that_does_not_exist_is_reported(load_clean: LoadClean, kind: str) -> None:
    text = obj(
        "Rbac",
        "r",
        {
            "subjects": [{"kind": kind, "name": "ghost"}],
            "bindings": [{"role": "view", "resource": "servers"}],
        },
    )
    issues = check(load_clean, text)
    assert codes_and_fields(issues) == [("reference", "Rbac/r", "spec.subjects[0].name")]
    assert f"{kind}/ghost" in issues[0].message


def test_rbac_subject_of_another_kind_with_the_same_name_does_not_count(
    load_clean: LoadClean,
) -> None:
    text = obj("User", "ops", {"email": "o@example.com"}) + obj(
        "Rbac",
        "r",
        {
            "subjects": [{"kind": "Group", "name": "ops"}],
            "bindings": [{"role": "run", "action": "logs"}],
        },
    )
    assert [i.field for i in check(load_clean, text)] == ["spec.subjects[0].name"]


def test_group_member_that_does_not_exist_is_reported(load_clean: LoadClean) -> None:
    text = obj("User", "ann", {"email": "a@b.cd"}) + obj("Group", "g", {"members": ["ann", "bob"]})
    assert codes_and_fields(check(load_clean, text)) == [
        ("reference", "Group/g", "spec.members[1]")
    ]


def test_mcp_token_project_that_does_not_exist_is_reported(load_clean: LoadClean) -> None:
    assert codes_and_fields(check(load_clean, obj("McpToken", "t", {"project": "nop"}))) == [
        ("reference", "McpToken/t", "spec.project")
    ]


def test_reference_issue_is_located_at_the_referring_field(load_clean: LoadClean) -> None:
    text = """\
apiVersion: mcpctl/v1
kind: Project
metadata:
  name: demo
spec:
  servers:
  - ghost
"""
    [issue] = check(load_clean, text)
    assert (issue.file, issue.line, issue.column, issue.document) == ("set.yaml", 7, 5, 0)
    assert (issue.kind, issue.name, issue.field) == ("Project", "demo", "spec.servers[0]")


def test_existing_objects_satisfy_references(load_clean: LoadClean) -> None:
    stored = load_clean(command_server("stored") + secret("sec", "k"))
    text = obj("Project", "p", {"servers": ["stored"]}) + command_server(
        "s", env=[secret_env("A", "sec", "k")]
    )
    assert check(load_clean, text, [m.resource for m in stored]) == []


def test_existing_objects_are_not_themselves_checked(load_clean: LoadClean) -> None:
    stored = load_clean(obj("Project", "old", {"servers": ["ghost"]}))
    assert check(load_clean, obj("User", "ann", {"email": "a@b.cd"}), [stored[0].resource]) == []


def test_the_set_wins_over_a_stored_object_of_the_same_name(load_clean: LoadClean) -> None:
    stored = load_clean(secret("sec", "old-key"))
    text = secret("sec", "new-key") + command_server("s", env=[secret_env("A", "sec", "old-key")])
    issues = check(load_clean, text, [stored[0].resource])
    assert [i.field for i in issues] == ["spec.env[0].valueFrom.secretRef.key"]


# --- duplicates -----------------------------------------------------------------------


def test_same_kind_and_name_twice_is_a_duplicate(load_clean: LoadClean) -> None:
    text = command_server("s") + obj("Server", "s", {"image": "x"})
    issues = check(load_clean, text)
    assert codes_and_fields(issues) == [("duplicate", "Server/s", "metadata.name")]
    assert issues[0].document == 1
    assert "set.yaml:1" in issues[0].message


def test_duplicate_across_files_names_the_first_file() -> None:
    first = load_text(command_server("s"), "a.yaml").manifests
    second = load_text(command_server("s"), "b.yaml").manifests
    [issue] = check_set([*first, *second])
    assert issue.code == "duplicate"
    assert issue.file == "b.yaml"
    assert "a.yaml" in issue.message


def test_same_name_in_two_kinds_is_fine(load_clean: LoadClean) -> None:
    text = command_server("demo") + obj("Project", "demo", {"servers": ["demo"]})
    assert check(load_clean, text) == []


def test_same_prompt_name_in_two_projects_is_fine(load_clean: LoadClean) -> None:
    text = (
        obj("Project", "a", {})
        + obj("Project", "b", {})
        + obj("Prompt", "intro", {"content": "x"}, project="a")
        + obj("Prompt", "intro", {"content": "y"}, project="b")
    )
    assert check(load_clean, text) == []


def test_same_prompt_name_twice_in_one_project_is_a_duplicate(load_clean: LoadClean) -> None:
    text = (
        obj("Project", "a", {})
        + obj("Prompt", "intro", {"content": "x"}, project="a")
        + obj("Prompt", "intro", {"content": "y"}, project="a")
    )
    assert codes_and_fields(check(load_clean, text)) == [
        ("duplicate", "Prompt/a/intro", "metadata.name")
    ]


# --- secret backends ------------------------------------------------------------------


def test_no_backend_at_all_assumes_the_seeded_default(load_clean: LoadClean) -> None:
    text = secret("s", "k") + secret("t", "k", backend=SEEDED_BACKEND)
    assert check(load_clean, text) == []
    catalog = Catalog(load_clean(text))
    assert catalog.implicit_backend
    assert catalog.default_backend == "default"


def test_naming_another_backend_when_none_is_declared_is_reported(load_clean: LoadClean) -> None:
    assert codes_and_fields(check(load_clean, secret("s", "k", backend="other"))) == [
        ("reference", "Secret/s", "spec.backend")
    ]


def test_two_default_backends_are_both_reported(load_clean: LoadClean) -> None:
    text = plaintext("a", default=True) + plaintext("b", default=True) + plaintext("c")
    assert codes_and_fields(check(load_clean, text)) == [
        ("default-backend", "SecretBackend/a", "spec.default"),
        ("default-backend", "SecretBackend/b", "spec.default"),
    ]


def test_a_new_default_besides_a_stored_default_is_reported(load_clean: LoadClean) -> None:
    stored = load_clean(plaintext("old", default=True))
    issues = check(load_clean, plaintext("new", default=True), [stored[0].resource])
    assert codes_and_fields(issues) == [("default-backend", "SecretBackend/new", "spec.default")]
    assert "old" in issues[0].message


def test_zero_default_backends_is_reported(load_clean: LoadClean) -> None:
    issues = check(load_clean, plaintext("a") + plaintext("b"))
    assert codes_and_fields(issues) == [("default-backend", "SecretBackend/a", "spec")]


def test_secret_without_backend_and_without_a_single_default_is_reported(
    load_clean: LoadClean,
) -> None:
    issues = check(load_clean, plaintext("a") + secret("s", "k") + secret("t", "k", backend="a"))
    assert codes_and_fields(issues) == [
        ("default-backend", "SecretBackend/a", "spec"),
        ("reference", "Secret/s", "spec"),
    ]


def test_declared_backends_replace_the_seeded_one(load_clean: LoadClean) -> None:
    text = plaintext("local", default=True) + secret("s", "k", backend=SEEDED_BACKEND)
    assert codes_and_fields(check(load_clean, text)) == [("reference", "Secret/s", "spec.backend")]


# --- template parameters --------------------------------------------------------------


def template(params: list[dict[str, Any]]) -> str:
    return obj("Template", "tpl", {"command": ["x"], "parameters": params})


def tpl_server(env: list[dict[str, Any]]) -> str:
    return obj("Server", "s", {"template": "tpl", "env": env})


def test_required_parameter_left_out_is_reported(load_clean: LoadClean) -> None:
    text = template([{"name": "HOST", "required": True}]) + tpl_server([])
    assert codes_and_fields(check(load_clean, text)) == [
        ("template-parameter", "Server/s", "spec.env")
    ]


def test_required_parameter_with_a_default_may_be_left_out(load_clean: LoadClean) -> None:
    text = template([{"name": "HOST", "required": True, "default": "localhost"}]) + tpl_server([])
    assert check(load_clean, text) == []


def test_optional_parameter_may_be_left_out(load_clean: LoadClean) -> None:
    assert check(load_clean, template([{"name": "HOST"}]) + tpl_server([])) == []


def test_built_in_template_required_secret_parameter_is_enforced(load_clean: LoadClean) -> None:
    issues = check(load_clean, obj("Server", "gh", {"template": "github"}))
    assert codes_and_fields(issues) == [("template-parameter", "Server/gh", "spec.env")]
    assert "GITHUB_PERSONAL_ACCESS_TOKEN" in issues[0].message


def test_secret_parameter_given_inline_is_reported(load_clean: LoadClean) -> None:
    text = template([{"name": "TOKEN", "secret": True}]) + tpl_server(
        [{"name": "OTHER", "value": "x"}, {"name": "TOKEN", "value": "ghp_leaked"}]
    )
    issues = check(load_clean, text)
    assert codes_and_fields(issues) == [("template-parameter", "Server/s", "spec.env[1].value")]
    assert "ghp_leaked" not in issues[0].message


def test_secret_parameter_from_a_secret_is_accepted(load_clean: LoadClean) -> None:
    text = (
        secret("sec", "k")
        + template([{"name": "TOKEN", "secret": True, "required": True}])
        + tpl_server([secret_env("TOKEN", "sec", "k")])
    )
    assert check(load_clean, text) == []


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        ("integer", "12"),
        ("integer", "-3"),
        ("number", "1.5"),
        ("number", "1e3"),
        ("boolean", "true"),
        ("boolean", "false"),
        ("url", "https://example.com/x"),
        ("string", "anything at all"),
    ],
)
def test_typed_parameter_accepts_a_matching_literal(
    load_clean: LoadClean, type_: str, value: str
) -> None:
    text = template([{"name": "P", "type": type_}]) + tpl_server([{"name": "P", "value": value}])
    assert check(load_clean, text) == []


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        ("integer", "1.5"),
        ("integer", "twelve"),
        ("number", "abc"),
        ("number", "inf"),
        ("number", "nan"),
        ("boolean", "yes"),
        ("boolean", "True"),
        ("url", "ftp://example.com"),
        ("url", "example.com"),
    ],
)
def test_typed_parameter_refuses_a_mismatching_literal(
    load_clean: LoadClean, type_: str, value: str
) -> None:
    text = template([{"name": "P", "type": type_}]) + tpl_server([{"name": "P", "value": value}])
    assert codes_and_fields(check(load_clean, text)) == [
        ("template-parameter", "Server/s", "spec.env[0].value")
    ]


def test_typed_parameter_from_a_secret_is_not_type_checked(load_clean: LoadClean) -> None:
    text = (
        secret("sec", "k")
        + template([{"name": "P", "type": "integer"}])
        + tpl_server([secret_env("P", "sec", "k")])
    )
    assert check(load_clean, text) == []


def test_missing_template_reports_only_the_reference(load_clean: LoadClean) -> None:
    issues = check(
        load_clean, obj("Server", "s", {"template": "nope", "env": [{"name": "A", "value": "1"}]})
    )
    assert [i.code for i in issues] == ["reference"]


def test_enum_parameter_refuses_a_value_outside_it(load_clean: LoadClean) -> None:
    text = template([{"name": "MODE", "enum": ["ro", "rw"]}]) + tpl_server(
        [{"name": "MODE", "value": "root"}]
    )
    assert codes_and_fields(check(load_clean, text)) == [
        ("template-parameter", "Server/s", "spec.env[0].value")
    ]


def test_env_entries_that_are_no_parameter_are_the_process_s_own(load_clean: LoadClean) -> None:
    text = template([{"name": "HOST", "required": True}]) + tpl_server(
        [{"name": "HOST", "value": "h"}, {"name": "LOG_LEVEL", "value": "debug"}]
    )
    assert check(load_clean, text) == []


# --- template parameters: the messages, as `mcpctl validate` prints them ----------------

TEMPLATE_FILE = """\
apiVersion: mcpctl/v1
kind: Template
metadata:
  name: db
spec:
  command: [db-mcp]
  parameters:
  - name: DB_TOKEN
    required: true
    secret: true
  - name: DB_PORT
    type: integer
  - name: DB_MODE
    enum: [ro, rw]
---
"""


def issues_of(server_yaml: str) -> list[str]:
    """Each issue of a Server (in servers.yaml) using the template `db`, as printed."""
    result = load_text(TEMPLATE_FILE, "templates.yaml")
    served = load_text(server_yaml, "servers.yaml")
    assert result.issues == served.issues == []
    return [str(i) for i in check_set([*result.manifests, *served.manifests])]


SERVER_HEAD = """\
apiVersion: mcpctl/v1
kind: Server
metadata:
  name: orders
spec:
  template: db
"""


def test_a_missing_required_parameter_names_server_template_and_parameter() -> None:
    assert issues_of(SERVER_HEAD + "  replicas: 2\n") == [
        "servers.yaml:5:1: Server 'orders' uses template 'db', which requires parameter "
        "DB_TOKEN: add env DB_TOKEN from a Secret (valueFrom.secretRef) "
        "(document 1, Server/orders, field spec.env)"
    ]


def test_a_secret_parameter_given_as_a_value_is_refused_without_showing_it() -> None:
    issues = issues_of(
        SERVER_HEAD + "  env:\n  - name: DB_TOKEN\n    value: hunter2-in-plain-text\n"
    )
    assert issues == [
        "servers.yaml:9:5: Server 'orders': env DB_TOKEN is a secret parameter of template "
        "'db': give it from a Secret (valueFrom.secretRef), not as a value "
        "(document 1, Server/orders, field spec.env[0].value)"
    ]
    assert "hunter2" not in issues[0]


def test_a_literal_of_the_wrong_type_names_what_it_must_be() -> None:
    env = (
        "  env:\n"
        "  - name: DB_TOKEN\n    valueFrom: {secretRef: {name: db, key: token}}\n"
        "  - name: DB_PORT\n    value: five\n"
        "  - name: DB_MODE\n    value: admin\n"
    )
    secret = "---\napiVersion: mcpctl/v1\nkind: Secret\nmetadata: {name: db}\n"
    secret += "spec: {data: {token: t}}\n"
    assert issues_of(SERVER_HEAD + env + secret) == [
        "servers.yaml:11:5: Server 'orders': env DB_PORT must be an integer: it fills "
        "parameter DB_PORT of template 'db' (document 1, Server/orders, field spec.env[1].value)",
        "servers.yaml:13:5: Server 'orders': env DB_MODE must be one of ro, rw: it fills "
        "parameter DB_MODE of template 'db' (document 1, Server/orders, field spec.env[2].value)",
    ]


def test_a_template_declared_in_the_set_wins_over_the_built_in_one(load_clean: LoadClean) -> None:
    mine = obj("Template", "github", {"command": ["my-github-mcp"]})
    assert check(load_clean, mine + obj("Server", "gh", {"template": "github"})) == []


# --- iter_references ------------------------------------------------------------------


def test_iter_references_lists_targets_and_fields(load_clean: LoadClean) -> None:
    [manifest] = load_clean(
        obj(
            "Server",
            "s",
            {
                "template": "github",
                "env": [
                    {"name": "A", "value": "1"},
                    secret_env("GITHUB_PERSONAL_ACCESS_TOKEN", "gh", "token"),
                ],
            },
        )
    )
    refs = list(iter_references(manifest.resource))
    assert [(r.target, r.field, r.secret_key) for r in refs] == [
        (("Template", None, "github"), ("spec", "template"), None),
        (("Secret", None, "gh"), ("spec", "env", 1, "valueFrom", "secretRef", "name"), "token"),
    ]


def test_secret_refers_to_its_backend_only_when_named(load_clean: LoadClean) -> None:
    unnamed, named = load_clean(secret("a", "k") + secret("b", "k", backend="local"))
    assert list(iter_references(unnamed.resource)) == []
    assert [r.target for r in iter_references(named.resource)] == [("SecretBackend", None, "local")]


# --- container-only fields through a template -----------------------------------------


def test_resources_through_an_image_template_are_accepted(load_clean: LoadClean) -> None:
    text = obj("Template", "boxed", {"image": "example/server:1"}) + obj(
        "Server", "s", {"template": "boxed", "resources": {"memory": "1Gi"}}
    )
    assert check(load_clean, text) == []


def test_resources_through_a_command_template_are_reported(load_clean: LoadClean) -> None:
    text = obj(
        "Server",
        "clock",
        {"template": "time", "resources": {"cpus": 0.5}, "noNewPrivileges": False},
    )
    issues = check(load_clean, text)
    assert codes_and_fields(issues) == [
        ("container-field", "Server/clock", "spec.resources"),
        ("container-field", "Server/clock", "spec.noNewPrivileges"),
    ]
    assert issues[0].message == (
        "resources applies only to image servers: template 'time' runs a command"
    )
