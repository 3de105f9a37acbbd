"""The canonical YAML form: deterministic, minimal, stable, and careful with secrets."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mcpctl.manifests import dump_object, dump_objects, load_text, to_plain
from mcpctl.schemas import Resource, Secret

LoadOne = Callable[[str], Resource]

SERVER = """\
spec:
  replicas: 1
  healthCheck:
    intervalSeconds: 30
    arguments: {zeta: 1, alpha: [1.5, null, "0o17", "yes"]}
    tool: search
  env:
  - valueFrom: {secretRef: {key: token, name: gh}}
    name: TOKEN
  - {name: MODE, value: "on"}
  command: [npx, server]
metadata:
  labels: {team: infra, app: gh}
  resourceVersion: '42'
  generation: 3
  createdAt: '2026-01-02T03:04:05+02:00'
  updatedBy: admin
  name: github
kind: Server
apiVersion: mcpctl/v1
status:
  phase: Running
"""

CANONICAL_SERVER = """\
apiVersion: mcpctl/v1
kind: Server
metadata:
  name: github
  labels:
    app: gh
    team: infra
spec:
  command:
  - npx
  - server
  env:
  - name: TOKEN
    valueFrom:
      secretRef:
        name: gh
        key: token
  - name: MODE
    value: 'on'
  healthCheck:
    tool: search
    arguments:
      alpha:
      - 1.5
      - null
      - '0o17'
      - 'yes'
      zeta: 1
"""

SECRET = """\
apiVersion: mcpctl/v1
kind: Secret
metadata:
  name: creds
spec:
  data:
    token: hunter2
    cert: "line one\\nline two\\n"
    kept: null
  sealedData:
    old: v1:c2VhbGVk
"""


def test_canonical_form_orders_fields_sorts_maps_and_drops_defaults(load_one: LoadOne) -> None:
    assert dump_object(load_one(SERVER)) == CANONICAL_SERVER


def test_canonical_form_is_a_fixed_point(load_one: LoadOne) -> None:
    once = dump_object(load_one(SERVER))
    assert dump_object(load_one(once)) == once


def test_status_and_server_metadata_are_left_out_unless_asked(load_one: LoadOne) -> None:
    text = dump_object(load_one(SERVER))
    for word in ("status", "resourceVersion", "generation", "createdAt", "updatedBy"):
        assert word not in text


def test_server_metadata_is_shown_when_asked_with_timestamps_in_utc(load_one: LoadOne) -> None:
    metadata = to_plain(load_one(SERVER), server_fields=True)["metadata"]
    assert metadata == {
        "name": "github",
        "labels": {"app": "gh", "team": "infra"},
        "resourceVersion": "42",
        "generation": 3,
        "createdAt": "2026-01-02T01:04:05Z",
        "updatedBy": "admin",
    }


def test_status_is_shown_last_when_asked(load_one: LoadOne) -> None:
    text = dump_object(load_one(SERVER), status=True)
    assert text.endswith("status:\n  phase: Running\n")


def test_asking_for_status_of_an_object_without_one_adds_nothing(load_one: LoadOne) -> None:
    resource = load_one(SERVER.replace("status:\n  phase: Running\n", ""))
    assert dump_object(resource, status=True) == dump_object(resource)


def test_spelled_out_defaults_render_like_omitted_ones(load_one: LoadOne) -> None:
    bare = load_one(
        "apiVersion: mcpctl/v1\nkind: Prompt\nmetadata: {name: p, project: x}\n"
        "spec: {content: hi}\n"
    )
    spelled = load_one(
        "apiVersion: mcpctl/v1\nkind: Prompt\nmetadata: {name: p, project: x, labels: {}}\n"
        "spec: {content: hi, priority: 5, tags: [], summary: '', chapters: []}\n"
    )
    assert dump_object(spelled) == dump_object(bare)


def test_spec_made_only_of_defaults_renders_as_an_empty_mapping(load_one: LoadOne) -> None:
    text = dump_object(
        load_one("apiVersion: mcpctl/v1\nkind: ServiceAccount\nmetadata: {name: ci}\n")
    )
    assert text == "apiVersion: mcpctl/v1\nkind: ServiceAccount\nmetadata:\n  name: ci\nspec: {}\n"


def test_multi_line_strings_use_block_style(load_one: LoadOne) -> None:
    resource = load_one(
        "apiVersion: mcpctl/v1\nkind: Project\nmetadata: {name: p}\n"
        'spec: {instructions: "Use the tools.\\nBe brief.\\n"}\n'
    )
    assert dump_object(resource).endswith(
        "spec:\n  instructions: |\n    Use the tools.\n    Be brief.\n"
    )


@pytest.mark.parametrize(
    "value",
    [
        "yes",
        "no",
        "on",
        "off",
        "true",
        "null",
        "~",
        "12",
        "0o17",
        "0x1F",
        "1_000",
        "1e3",
        ".inf",
        "<<",
        "",
        "- x",
        "a: b",
        "#c",
    ],
)
def test_strings_that_look_like_other_scalars_are_quoted_and_survive(
    load_one: LoadOne, value: str
) -> None:
    resource = load_one(
        "apiVersion: mcpctl/v1\nkind: User\nmetadata: {name: u}\n"
        f"spec: {{email: u@example.com, displayName: '{value}'}}\n"
    )
    text = dump_object(resource)
    assert dump_object(load_one(text)) == text
    again = load_one(text)
    assert again == resource


def test_non_ascii_text_is_written_as_is(load_one: LoadOne) -> None:
    resource = load_one(
        "apiVersion: mcpctl/v1\nkind: User\nmetadata: {name: u}\n"
        "spec: {email: u@example.com, displayName: Zoë Ærø 日本}\n"
    )
    assert "  displayName: Zoë Ærø 日本\n" in dump_object(resource)


def test_characters_outside_the_basic_plane_survive(load_one: LoadOne) -> None:
    resource = load_one(
        "apiVersion: mcpctl/v1\nkind: User\nmetadata: {name: u}\n"
        "spec: {email: u@example.com, displayName: rocket 🚀}\n"
    )
    assert load_one(dump_object(resource)) == resource


def test_dump_objects_writes_one_document_per_object(load_one: LoadOne) -> None:
    first = load_one("apiVersion: mcpctl/v1\nkind: ServiceAccount\nmetadata: {name: a}\n")
    second = load_one(SERVER)
    text = dump_objects([first, second])
    assert text == "---\n" + dump_object(first) + "---\n" + dump_object(second)
    result = load_text(text)
    assert result.issues == []
    assert [dump_object(m.resource) for m in result.manifests] == [
        dump_object(first),
        dump_object(second),
    ]


# --- secrets --------------------------------------------------------------------------


def test_secret_values_are_masked_by_default(load_one: LoadOne) -> None:
    text = dump_object(load_one(SECRET))
    assert "hunter2" not in text
    assert "line one" not in text
    assert "v1:c2VhbGVk" not in text
    assert to_plain(load_one(SECRET))["spec"] == {
        "data": {"cert": None, "kept": None, "old": None, "token": None}
    }


def test_masked_secret_loads_back_as_keep_every_value(load_one: LoadOne) -> None:
    masked = load_one(dump_object(load_one(SECRET)))
    assert isinstance(masked, Secret)
    assert masked.spec.data == {"cert": None, "kept": None, "old": None, "token": None}


def test_plain_mode_shows_values_sorted_and_keeps_sealed_ones(load_one: LoadOne) -> None:
    text = dump_object(load_one(SECRET), secrets="plain")
    assert text.endswith(
        "spec:\n"
        "  data:\n"
        "    cert: |\n"
        "      line one\n"
        "      line two\n"
        "    kept: null\n"
        "    token: hunter2\n"
        "  sealedData:\n"
        "    old: v1:c2VhbGVk\n"
    )


def test_seal_mode_seals_every_plain_value_with_the_given_sealer(load_one: LoadOne) -> None:
    calls: list[tuple[str, str, str]] = []

    def sealer(name: str, key: str, value: str) -> str:
        calls.append((name, key, value))
        return f"sealed-{key}"

    spec = to_plain(load_one(SECRET), secrets="seal", sealer=sealer)["spec"]
    assert spec == {
        "data": {"kept": None},
        "sealedData": {"cert": "sealed-cert", "old": "v1:c2VhbGVk", "token": "sealed-token"},
    }
    assert sorted(calls) == [
        ("creds", "cert", "line one\nline two\n"),
        ("creds", "token", "hunter2"),
    ]


def test_sealed_form_has_no_plaintext_value(load_one: LoadOne) -> None:
    text = dump_object(load_one(SECRET), secrets="seal", sealer=lambda n, k, v: "x" * len(v))
    assert "hunter2" not in text
    assert "line one" not in text


def test_seal_mode_without_a_sealer_is_refused(load_one: LoadOne) -> None:
    with pytest.raises(ValueError, match="sealer"):
        dump_object(load_one(SECRET), secrets="seal")


def test_secret_backend_stays_in_the_canonical_spec(load_one: LoadOne) -> None:
    resource = load_one(
        "apiVersion: mcpctl/v1\nkind: Secret\nmetadata: {name: s}\n"
        "spec: {backend: bao, data: {k: v}}\n"
    )
    assert to_plain(resource)["spec"] == {"backend": "bao", "data": {"k": None}}


def test_secret_with_no_values_has_an_empty_spec(load_one: LoadOne) -> None:
    resource = load_one("apiVersion: mcpctl/v1\nkind: Secret\nmetadata: {name: s}\nspec: {}\n")
    assert to_plain(resource)["spec"] == {}


def test_non_secret_objects_are_the_same_in_every_secret_mode(load_one: LoadOne) -> None:
    resource = load_one(SERVER)
    masked = dump_object(resource)
    assert dump_object(resource, secrets="plain") == masked
    assert dump_object(resource, secrets="seal", sealer=lambda n, k, v: "x") == masked


def test_floats_keep_a_decimal_point_and_integers_do_not(load_one: LoadOne) -> None:
    resource = load_one(
        "apiVersion: mcpctl/v1\nkind: Llm\nmetadata: {name: l}\n"
        "spec: {type: ollama, model: m, extra: {t: 1.0, n: 2, big: 1e20, small: 1.5e-7}}\n"
    )
    text = dump_object(resource)
    assert "    big: 1.0e+20\n" in text or "    big: 1e+20\n" in text
    assert "    n: 2\n" in text
    assert "    t: 1.0\n" in text
    again = load_one(text)
    assert dump_object(again) == text
    assert again == resource
