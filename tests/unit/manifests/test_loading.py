"""Loading manifests from text, bytes, files and stdin: envelope, schema and encoding checks."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from mcpctl.errors import InvalidManifest, ManifestIssue, NotFound
from mcpctl.manifests import (
    MAX_FILE_SIZE,
    LoadResult,
    Manifest,
    discover_files,
    load_bytes,
    load_paths,
    load_text,
    validate_object,
)
from mcpctl.schemas import Prompt, Server, User

USER = """\
apiVersion: mcpctl/v1
kind: User
metadata:
  name: ann
spec:
  email: ann@example.com
"""


def issues_of(text: str) -> list[ManifestIssue]:
    result = load_text(text, "f.yaml")
    assert result.manifests == []
    return result.issues


def only_issue(text: str) -> ManifestIssue:
    issues = issues_of(text)
    assert len(issues) == 1, issues
    return issues[0]


def only_issue_of_result(result: LoadResult) -> ManifestIssue:
    assert len(result.issues) == 1, result.issues
    return result.issues[0]


def server(spec: str) -> str:
    body = "".join(f"  {line}\n" for line in spec.splitlines())
    return f"apiVersion: mcpctl/v1\nkind: Server\nmetadata:\n  name: s\nspec:\n{body}"


def prompt(spec: str) -> str:
    body = "".join(f"  {line}\n" for line in spec.splitlines())
    return (
        f"apiVersion: mcpctl/v1\nkind: Prompt\nmetadata:\n  name: p\n  project: demo\nspec:\n{body}"
    )


# --- a valid object -------------------------------------------------------------------


def test_valid_object_loads_with_its_origin() -> None:
    result = load_text(USER, "users/ann.yaml")
    assert result.issues == []
    assert result.files == ["users/ann.yaml"]
    [manifest] = result.manifests
    assert isinstance(manifest.resource, User)
    assert manifest.resource.spec.email == "ann@example.com"
    assert manifest.key == ("User", None, "ann")
    assert manifest.origin is not None
    assert manifest.origin.file == "users/ann.yaml"
    assert manifest.origin.locate(("spec", "email")) == (6, 3)


def test_read_only_metadata_and_status_are_accepted_on_input() -> None:
    result = load_text(
        USER.replace("  name: ann\n", "  name: ann\n  resourceVersion: '12'\n  generation: 3\n")
        + "status:\n  phase: Ready\n"
    )
    assert result.issues == []
    resource = result.manifests[0].resource
    assert resource.metadata.resource_version == "12"
    assert resource.status == {"phase": "Ready"}


def test_json_document_loads() -> None:
    text = json.dumps(
        {
            "apiVersion": "mcpctl/v1",
            "kind": "Server",
            "metadata": {"name": "fetch"},
            "spec": {"command": ["uvx", "mcp-server-fetch"]},
        }
    )
    result = load_text(text, "fetch.json")
    assert result.issues == []
    resource = result.manifests[0].resource
    assert isinstance(resource, Server)
    assert resource.spec.command == ["uvx", "mcp-server-fetch"]


def test_json_with_escaped_non_ascii_loads() -> None:
    data = {"apiVersion": "mcpctl/v1", "kind": "User", "metadata": {"name": "u"}}
    data["spec"] = {"email": "u@example.com", "displayName": "Zo\u00eb \u65e5\u672c \u0085"}
    result = load_text(json.dumps(data))
    assert result.issues == []
    resource = result.manifests[0].resource
    assert isinstance(resource, User)
    assert resource.spec.display_name == "Zo\u00eb \u65e5\u672c \u0085"


def test_json_surrogate_pair_escape_is_read_as_one_character() -> None:
    data = {"apiVersion": "mcpctl/v1", "kind": "User", "metadata": {"name": "u"}}
    data["spec"] = {"email": "u@example.com", "displayName": "rocket \U0001f680"}
    text = json.dumps(data)
    assert "\\ud83d\\ude80" in text
    result = load_text(text)
    assert result.issues == []


def test_multi_document_file_loads_every_document_and_skips_empty_ones() -> None:
    text = "---\n" + USER + "---\n# nothing here\n---\n" + USER.replace("ann", "bob")
    result = load_text(text, "users.yaml")
    assert result.issues == []
    assert [m.resource.name for m in result.manifests] == ["ann", "bob"]
    assert [m.origin.document.index for m in result.manifests if m.origin] == [0, 2]


def test_list_document_loads_each_item() -> None:
    items = [
        {
            "apiVersion": "mcpctl/v1",
            "kind": "User",
            "metadata": {"name": n},
            "spec": {"email": "a@b.cd"},
        }
        for n in ("ann", "bob")
    ]
    for api_version in ("v1", "mcpctl/v1"):
        text = json.dumps({"apiVersion": api_version, "kind": "List", "items": items})
        result = load_text(text)
        assert result.issues == []
        assert [m.resource.name for m in result.manifests] == ["ann", "bob"]


def test_list_item_issue_points_into_the_item() -> None:
    text = """\
apiVersion: v1
kind: List
items:
- apiVersion: mcpctl/v1
  kind: User
  metadata: {name: ann}
  spec: {email: a@b.cd}
- apiVersion: mcpctl/v1
  kind: User
  metadata: {name: Bob}
  spec: {email: a@b.cd}
"""
    result = load_text(text, "list.yaml")
    assert [m.resource.name for m in result.manifests] == ["ann"]
    [issue] = result.issues
    assert issue.code == "invalid-name"
    assert issue.field == "metadata.name"
    assert (issue.line, issue.column) == (10, 14)


def test_list_with_an_unknown_field_is_reported() -> None:
    text = "apiVersion: v1\nkind: List\nitems: []\nextra: 1\n"
    issue = only_issue(text)
    assert issue.code == "unknown-field"
    assert issue.field == "extra"
    assert issue.line == 4


def test_list_without_items_is_reported() -> None:
    assert only_issue("apiVersion: v1\nkind: List\n").code == "list-items"


def test_list_with_a_wrong_api_version_is_reported() -> None:
    issue = only_issue("apiVersion: v9\nkind: List\nitems: []\n")
    assert issue.code == "api-version"
    assert issue.field == "apiVersion"


# --- envelope -------------------------------------------------------------------------


def test_every_issue_carries_file_line_column_document_object_and_field() -> None:
    text = (
        USER
        + "---\n"
        + USER.replace("ann", "bob")
        + "---\n"
        + prompt("content: hi\npriority: 11\n")
    )
    issue = only_issue_of_result(load_text(text, "dir/all.yaml"))
    assert issue == ManifestIssue(
        message=issue.message,
        code="schema",
        file="dir/all.yaml",
        line=22,
        column=3,
        document=2,
        kind="Prompt",
        name="p",
        project="demo",
        field="spec.priority",
    )
    assert issue.object_ref == "Prompt/demo/p"
    assert str(issue).startswith("dir/all.yaml:22:3: ")


def test_unknown_field_is_an_error_with_its_path() -> None:
    issue = only_issue(USER + "  colour: red\n")
    assert issue.code == "unknown-field"
    assert issue.field == "spec.colour"
    assert (issue.line, issue.column) == (7, 3)
    assert (issue.kind, issue.name) == ("User", "ann")


def test_unknown_top_level_field_is_an_error() -> None:
    issue = only_issue(USER + "extras: {}\n")
    assert issue.code == "unknown-field"
    assert issue.field == "extras"


@pytest.mark.parametrize(
    "name",
    ["Ann", "ann_b", "-ann", "ann-", "a.b", "", "a" * 64, "ann b", "ánn"],
)
def test_name_breaking_the_dns_label_rule_is_refused(name: str) -> None:
    issue = only_issue(USER.replace("name: ann", f"name: '{name}'"))
    assert issue.code == "invalid-name"
    assert issue.field == "metadata.name"
    assert (issue.line, issue.column) == (4, 3)


@pytest.mark.parametrize("name", ["a", "0", "a-b", "a" * 63, "9lives", "x--y"])
def test_dns_label_names_are_accepted(name: str) -> None:
    assert load_text(USER.replace("name: ann", f"name: '{name}'")).issues == []


def test_name_rule_applies_to_references_too() -> None:
    issue = only_issue(
        server("command: [x]\nenv:\n- name: A\n  valueFrom: {secretRef: {name: My_Secret, key: k}}")
    )
    assert issue.code == "invalid-name"
    assert issue.field == "spec.env[0].valueFrom.secretRef.name"


def test_name_that_is_not_a_string_is_a_schema_issue() -> None:
    issue = only_issue(USER.replace("name: ann", "name: 12"))
    assert issue.code == "schema"
    assert issue.field == "metadata.name"
    assert issue.name is None


def test_missing_kind_is_reported() -> None:
    issue = only_issue("apiVersion: mcpctl/v1\nmetadata: {name: a}\nspec: {}\n")
    assert issue.code == "missing-kind"
    assert issue.name == "a"


def test_unknown_kind_is_reported_with_a_suggestion() -> None:
    issue = only_issue(USER.replace("kind: User", "kind: Usr"))
    assert issue.code == "unknown-kind"
    assert issue.field == "kind"
    assert issue.line == 2
    assert "'User'" in issue.message


@pytest.mark.parametrize("kind", ["5", "[Server]", "server", "Servers"])
def test_kind_that_is_not_a_known_kind_name_is_unknown(kind: str) -> None:
    assert only_issue(USER.replace("kind: User", f"kind: {kind}")).code == "unknown-kind"


def test_wrong_api_version_is_reported() -> None:
    issue = only_issue(USER.replace("mcpctl/v1", "mcpctl/v2"))
    assert issue.code == "api-version"
    assert issue.field == "apiVersion"
    assert issue.line == 1


@pytest.mark.parametrize("text", ["[1, 2]\n", "42\n", "just text\n"])
def test_document_that_is_not_a_mapping_is_reported(text: str) -> None:
    issue = only_issue(text)
    assert issue.code == "not-a-mapping"
    assert issue.document == 0


def test_missing_field_is_reported_at_its_parent() -> None:
    issue = only_issue("apiVersion: mcpctl/v1\nkind: User\nmetadata:\n  name: ann\nspec: {}\n")
    assert issue.code == "missing-field"
    assert issue.field == "spec.email"
    assert issue.line == 5


def test_project_scoped_kind_without_project_is_reported() -> None:
    issue = only_issue(
        "apiVersion: mcpctl/v1\nkind: Prompt\nmetadata: {name: p}\nspec: {content: x}\n"
    )
    assert issue.code == "missing-field"
    assert issue.field == "metadata.project"


def test_cluster_kind_with_a_project_is_reported() -> None:
    issue = only_issue(USER.replace("  name: ann\n", "  name: ann\n  project: demo\n"))
    assert issue.code == "unknown-field"
    assert issue.field == "metadata.project"
    assert issue.project is None


def test_one_bad_document_does_not_hide_the_good_ones() -> None:
    text = USER + "---\n" + USER.replace("ann", "Bad") + "---\n" + USER.replace("ann", "cid")
    result = load_text(text)
    assert [m.resource.name for m in result.manifests] == ["ann", "cid"]
    assert [i.document for i in result.issues] == [1]


def test_several_issues_in_one_object_are_all_reported() -> None:
    issues = issues_of(USER.replace("name: ann", "name: Ann") + "  colour: red\n")
    assert sorted(i.code for i in issues) == ["invalid-name", "unknown-field"]


def test_raise_for_issues_raises_invalid_manifest_with_every_issue() -> None:
    result = load_text(
        USER + "---\n" + USER.replace("ann", "A") + "---\n" + USER.replace("ann", "B")
    )
    with pytest.raises(InvalidManifest) as caught:
        result.raise_for_issues()
    assert caught.value.issues == tuple(result.issues)
    assert len(caught.value.issues) == 2


def test_raise_for_issues_is_silent_without_issues() -> None:
    load_text(USER).raise_for_issues()


# --- typed values and ranges ----------------------------------------------------------


@pytest.mark.parametrize("value", ["'2'", "1.0", "true", "-1", "101"])
def test_replicas_must_be_an_integer_from_zero(value: str) -> None:
    issue = only_issue(server(f"command: [x]\nreplicas: {value}"))
    assert issue.code == "schema"
    assert issue.field == "spec.replicas"
    assert issue.line == 7


@pytest.mark.parametrize("value", [0, 1, 100])
def test_replicas_in_range_are_accepted(value: int) -> None:
    assert load_text(server(f"command: [x]\nreplicas: {value}")).issues == []


@pytest.mark.parametrize("port", [0, -1, 65536, "'8080'"])
def test_container_port_must_be_between_1_and_65535(port: object) -> None:
    issue = only_issue(server(f"image: x\ntransport: sse\ncontainerPort: {port}"))
    assert issue.field == "spec.containerPort"


@pytest.mark.parametrize("port", [1, 65535])
def test_container_port_bounds_are_accepted(port: int) -> None:
    assert load_text(server(f"image: x\ntransport: sse\ncontainerPort: {port}")).issues == []


@pytest.mark.parametrize("priority", [0, 11, -3])
def test_prompt_priority_must_be_between_1_and_10(priority: int) -> None:
    issue = only_issue(prompt(f"content: x\npriority: {priority}"))
    assert issue.field == "spec.priority"
    assert issue.line == 8


@pytest.mark.parametrize(
    "health",
    [
        "{intervalSeconds: 0}",
        "{timeoutSeconds: 0}",
        "{intervalSeconds: -5}",
        "{failureThreshold: 0}",
    ],
)
def test_probe_numbers_must_be_positive(health: str) -> None:
    issue = only_issue(server(f"command: [x]\nhealthCheck: {health}"))
    assert issue.code == "schema"
    assert issue.field is not None
    assert issue.field.startswith("spec.healthCheck.")


def test_probe_timeout_longer_than_its_interval_is_refused() -> None:
    issue = only_issue(server("command: [x]\nhealthCheck: {intervalSeconds: 5, timeoutSeconds: 6}"))
    assert issue.code == "schema"
    assert issue.field == "spec.healthCheck"
    assert "timeoutSeconds" in issue.message


def test_probe_timeout_equal_to_its_interval_is_accepted() -> None:
    text = server("command: [x]\nhealthCheck: {intervalSeconds: 5, timeoutSeconds: 5}")
    assert load_text(text).issues == []


def test_env_value_must_be_a_string_not_a_number() -> None:
    issue = only_issue(server("command: [x]\nenv: [{name: A, value: 1}]"))
    assert issue.field == "spec.env[0].value"


def test_yes_as_an_env_value_is_the_string_yes() -> None:
    result = load_text(server("command: [x]\nenv: [{name: A, value: yes}]"))
    resource = result.manifests[0].resource
    assert isinstance(resource, Server)
    assert resource.spec.env[0].value == "yes"


# --- server source and transport rules ------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        "{}",
        "replicas: 2",
        "command: [x]\nimage: y",
        "template: time\ncommand: [x]",
        "image: y\nexternalUrl: https://x.example\ntransport: sse",
    ],
)
def test_server_needs_exactly_one_source(spec: str) -> None:
    issue = only_issue(server(spec))
    assert issue.code == "schema"
    assert issue.field == "spec"
    assert issue.line == 5


@pytest.mark.parametrize(
    "spec",
    [
        "template: time",
        "image: ghcr.io/acme/mcp:1.2",
        "command: [uvx, mcp-server-time]",
        "externalUrl: https://mcp.example.com/mcp\ntransport: streamable-http",
    ],
)
def test_server_with_exactly_one_source_is_accepted(spec: str) -> None:
    assert load_text(server(spec)).issues == []


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("externalUrl: https://x.example", "transport"),
        ("externalUrl: https://x.example\ntransport: stdio", "stdio"),
        ("externalUrl: https://x.example\ntransport: sse\ncontainerPort: 80", "containerPort"),
        ("externalUrl: https://x.example\ntransport: sse\nreplicas: 2", "replicas"),
        ("externalUrl: https://x.example\ntransport: sse\nenv: [{name: A, value: b}]", "env"),
        ("command: [x]\ncontainerPort: 8080", "transport"),
        ("command: [x]\ntransport: stdio\ncontainerPort: 8080", "containerPort"),
        ("image: x\ntransport: streamable-http", "containerPort"),
        ("command: [x]\nheaders: [{name: X-A, value: b}]", "headers"),
        ("template: time\ntransport: sse", "transport"),
        ("template: time\ncontainerPort: 8080", "containerPort"),
    ],
)
def test_transport_rules_are_enforced(spec: str, named: str) -> None:
    issue = only_issue(server(spec))
    assert issue.code == "schema"
    assert issue.field == "spec"
    assert named in issue.message


@pytest.mark.parametrize(
    "spec",
    [
        "command: [x]\ntransport: stdio",
        # a command's instances are each given a free port (PORT)
        "command: [x]\ntransport: streamable-http",
        "image: x\ntransport: sse\ncontainerPort: 8080",
        "command: [x]\ntransport: sse\ncontainerPort: 80\nheaders: [{name: A, value: b}]",
        "externalUrl: https://x.example\ntransport: sse\nheaders: [{name: A, value: b}]",
    ],
)
def test_consistent_transports_are_accepted(spec: str) -> None:
    assert load_text(server(spec)).issues == []


def test_env_entry_needs_exactly_one_of_value_and_value_from() -> None:
    for env in ("{name: A}", "{name: A, value: x, valueFrom: {secretRef: {name: s, key: k}}}"):
        issue = only_issue(server(f"command: [x]\nenv: [{env}]"))
        assert issue.field == "spec.env[0]"


def test_env_names_must_be_unique() -> None:
    issue = only_issue(server("command: [x]\nenv: [{name: A, value: '1'}, {name: A, value: '2'}]"))
    assert issue.field == "spec"
    assert "'A'" in issue.message


# --- encodings, sizes and files -------------------------------------------------------


def test_bytes_that_are_not_utf8_are_refused_with_their_line() -> None:
    result = load_bytes(b"apiVersion: mcpctl/v1\nkind: \xff\xfe\n", "bad.yaml")
    assert result.manifests == []
    [issue] = result.issues
    assert issue.code == "encoding"
    assert issue.file == "bad.yaml"
    assert issue.line == 2


def test_nul_character_is_refused_with_its_line() -> None:
    [issue] = issues_of("a: b\nc: d\x00\n")
    assert issue.code == "encoding"
    assert issue.line == 2


def test_lone_surrogate_in_text_is_an_encoding_issue() -> None:
    [issue] = issues_of("a: b\nc: '\udc80'\n")
    assert issue.code == "encoding"
    assert issue.line == 2


def test_utf8_byte_order_mark_is_accepted() -> None:
    result = load_bytes(b"\xef\xbb\xbf" + USER.encode(), "bom.yaml")
    assert result.issues == []
    assert [m.resource.name for m in result.manifests] == ["ann"]


def test_non_ascii_text_survives_loading() -> None:
    result = load_bytes(USER.replace("spec:\n", "spec:\n  displayName: Zoë 🚀\n").encode(), None)
    resource = result.manifests[0].resource
    assert isinstance(resource, User)
    assert resource.spec.display_name == "Zoë 🚀"


def test_bytes_over_the_size_limit_are_refused_without_parsing() -> None:
    result = load_bytes(b"[" * 101, "big.yaml", max_file_size=100)
    assert result.manifests == []
    [issue] = result.issues
    assert issue.code == "file-too-large"
    assert issue.file == "big.yaml"


def test_bytes_at_the_size_limit_are_accepted() -> None:
    data = USER.encode()
    assert load_bytes(data, None, max_file_size=len(data)).issues == []


def test_default_size_limit_is_four_mebibytes() -> None:
    assert MAX_FILE_SIZE == 4 * 1024 * 1024


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_directories_are_walked_for_manifest_files_skipping_hidden_ones(tmp_path: Path) -> None:
    write(tmp_path / "b.yaml", USER.replace("ann", "bob"))
    write(tmp_path / "a.yml", USER)
    cid = {"apiVersion": "mcpctl/v1", "kind": "User", "metadata": {"name": "cid"}}
    write(tmp_path / "sub" / "c.json", json.dumps({**cid, "spec": {"email": "c@d.ef"}}))
    write(tmp_path / "notes.txt", "not a manifest")
    write(tmp_path / ".hidden.yaml", "broken: [")
    write(tmp_path / ".git" / "x.yaml", "broken: [")
    files = discover_files([str(tmp_path)])
    assert files == [str(tmp_path / n) for n in ("a.yml", "b.yaml", "sub/c.json")]
    result = load_paths([str(tmp_path)])
    assert result.issues == []
    assert result.files == files
    assert sorted(m.resource.name for m in result.manifests) == ["ann", "bob", "cid"]


def test_file_named_directly_is_read_whatever_its_suffix(tmp_path: Path) -> None:
    path = write(tmp_path / "user.txt", USER)
    assert discover_files([str(path)]) == [str(path)]
    assert [m.resource.name for m in load_paths([str(path)]).manifests] == ["ann"]


def test_missing_path_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_paths([str(tmp_path / "nope.yaml")])


def test_file_over_the_size_limit_is_an_issue_and_the_rest_still_loads(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", USER)
    write(tmp_path / "big.yaml", USER + "#" * 1000 + "\n")
    result = load_paths([str(tmp_path)], max_file_size=500)
    assert [m.resource.name for m in result.manifests] == ["ann"]
    [issue] = result.issues
    assert issue.code == "file-too-large"
    assert issue.file == str(tmp_path / "big.yaml")


def test_issues_name_the_file_they_were_found_in(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", USER + "  colour: red\n")
    [issue] = load_paths([str(path)]).issues
    assert issue.file == str(path)
    assert issue.line == 7


def test_dash_reads_standard_input() -> None:
    result = load_paths(["-"], stdin=io.BytesIO(USER.encode()))
    assert result.issues == []
    assert result.files == ["<stdin>"]
    [manifest] = result.manifests
    assert manifest.origin is not None
    assert manifest.origin.file == "<stdin>"


def test_oversized_standard_input_is_refused() -> None:
    result = load_paths(["-"], stdin=io.BytesIO(b"a" * 200), max_file_size=100)
    assert [i.code for i in result.issues] == ["file-too-large"]


# --- validate_object ------------------------------------------------------------------


def test_validate_object_returns_a_manifest_for_valid_data() -> None:
    data = {"apiVersion": "mcpctl/v1", "kind": "Prompt", "metadata": {"name": "p", "project": "x"}}
    data["spec"] = {"content": "hello"}
    outcome = validate_object(data)
    assert isinstance(outcome, Manifest)
    assert isinstance(outcome.resource, Prompt)
    assert outcome.key == ("Prompt", "x", "p")


def test_validate_object_returns_every_issue_for_invalid_data() -> None:
    data = {"apiVersion": "mcpctl/v1", "kind": "User", "metadata": {"name": "A"}, "spec": {}}
    outcome = validate_object(data)
    assert isinstance(outcome, list)
    assert sorted((i.code, i.field) for i in outcome) == [
        ("invalid-name", "metadata.name"),
        ("missing-field", "spec.email"),
    ]


def test_issues_about_a_secret_never_quote_its_values() -> None:
    text = (
        "apiVersion: mcpctl/v1\nkind: Secret\nmetadata: {name: s}\n"
        "spec:\n  data: {ok: hunter2, bad: [hunter3]}\n  sealedData: {ok: 'not sealed hunter4'}\n"
    )
    issues = issues_of(text)
    assert {i.field for i in issues} >= {"spec.data.bad", "spec.sealedData.ok"}
    for issue in issues:
        for value in ("hunter2", "hunter3", "hunter4"):
            assert value not in str(issue)


def test_json_surrogate_pairs_become_the_character_they_encode() -> None:
    data = {"apiVersion": "mcpctl/v1", "kind": "User", "metadata": {"name": "u"}}
    data["spec"] = {"email": "u@example.com", "displayName": "rocket \U0001f680 \\ud83d\\ude80"}
    result = load_text(json.dumps(data))
    resource = result.manifests[0].resource
    assert isinstance(resource, User)
    assert resource.spec.display_name == "rocket \U0001f680 \\ud83d\\ude80"


def test_a_backslash_u_in_plain_yaml_stays_literal_text() -> None:
    text = USER.replace("spec:", "spec:\n  displayName: C:\\ud83d\\ude80")
    result = load_text(text)
    resource = result.manifests[0].resource
    assert isinstance(resource, User)
    assert resource.spec.display_name == "C:\\ud83d\\ude80"


def test_snake_case_field_names_are_unknown_fields() -> None:
    text = (
        "apiVersion: mcpctl/v1\nkind: Server\nmetadata: {name: s}\n"
        "spec:\n  command: [x]\n  health_check: {tool: t}\n"
    )
    result = load_text(text, "s.yaml")
    assert [(i.code, i.field, i.line) for i in result.issues] == [
        ("unknown-field", "spec.health_check", 6)
    ]


def test_a_timestamp_out_of_range_in_utc_is_an_issue_not_a_crash() -> None:
    text = (
        "apiVersion: mcpctl/v1\nkind: McpToken\nmetadata: {name: t}\n"
        "spec: {expiresAt: '9999-12-31T23:59:59-05:00'}\n"
    )
    result = load_text(text, "t.yaml")
    assert [(i.code, i.field) for i in result.issues] == [("schema", "spec.expiresAt")]


def test_a_file_named_directly_and_through_its_directory_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "u.yaml").write_text(USER, encoding="utf-8")
    result = load_paths([str(tmp_path), str(tmp_path / "u.yaml")])
    assert result.issues == []
    assert len(result.manifests) == 1


def test_loading_in_several_processes_gives_the_same_result_in_the_same_order(
    tmp_path: Path,
) -> None:
    for i in range(12):
        (tmp_path / f"u{i:02}.yaml").write_text(USER.replace("ann", f"user-{i}"), encoding="utf-8")
    (tmp_path / "bad.yaml").write_text("kind: Nope\n", encoding="utf-8")

    one = load_paths([str(tmp_path)], workers=1)
    three = load_paths([str(tmp_path)], workers=3)

    assert [m.key for m in three.manifests] == [m.key for m in one.manifests]
    assert [m.origin.locate(()) for m in three.manifests if m.origin] == [
        m.origin.locate(()) for m in one.manifests if m.origin
    ]
    assert three.issues == one.issues
    assert three.files == one.files
