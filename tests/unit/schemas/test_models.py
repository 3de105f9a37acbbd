"""The resource models: strict types, closed shapes, and each kind's own rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from mcpctl.schemas import (
    Binding,
    EnvVar,
    GroupSpec,
    HealthCheck,
    LlmSpec,
    McpTokenSpec,
    ObjectMeta,
    ProjectSpec,
    PromptSpec,
    SecretBackendSpec,
    SecretSpec,
    Server,
    ServerSpec,
    ServiceAccount,
    TemplateSpec,
    User,
)


def error_locs(error: pytest.ExceptionInfo[ValidationError]) -> list[tuple[int | str, ...]]:
    return [tuple(e["loc"]) for e in error.value.errors()]


def error_types(error: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [e["type"] for e in error.value.errors()]


# --- strictness shared by every model -------------------------------------------------


def test_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        ServerSpec.model_validate({"command": ["x"], "colour": "red"})
    assert error_types(caught) == ["extra_forbidden"]
    assert error_locs(caught) == [("colour",)]


@pytest.mark.parametrize(
    ("field", "value"), [("replicas", "2"), ("replicas", 2.0), ("replicas", True)]
)
def test_numbers_are_not_coerced(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        ServerSpec.model_validate({"command": ["x"], field: value})
    assert error_locs(caught) == [(field,)]


def test_strings_are_not_coerced_from_numbers() -> None:
    with pytest.raises(ValidationError) as caught:
        EnvVar.model_validate({"name": "A", "value": 1})
    assert error_locs(caught) == [("value",)]


def test_booleans_are_not_coerced_from_strings() -> None:
    with pytest.raises(ValidationError):
        ProjectSpec.model_validate({"gated": "yes"})


def test_enums_are_closed() -> None:
    with pytest.raises(ValidationError) as caught:
        ServerSpec.model_validate({"command": ["x"], "transport": "websocket"})
    assert error_locs(caught) == [("transport",)]


def test_fields_are_camel_case_on_the_wire_and_snake_case_in_python() -> None:
    spec = ServerSpec.model_validate({"externalUrl": "https://x.example", "transport": "sse"})
    assert spec.external_url == "https://x.example"
    assert "externalUrl" in spec.model_dump(exclude_defaults=True)


def test_models_are_frozen() -> None:
    spec = ServerSpec.model_validate({"command": ["x"]})
    with pytest.raises(ValidationError):
        spec.replicas = 3  # type: ignore[misc]


def test_non_finite_floats_are_refused_in_json_values() -> None:
    with pytest.raises(ValidationError):
        LlmSpec.model_validate({"type": "ollama", "model": "m", "extra": {"t": float("inf")}})


# --- metadata -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "abc-123", "0", "a" * 63])
def test_dns_label_names_are_valid(name: str) -> None:
    assert ObjectMeta.model_validate({"name": name}).name == name


@pytest.mark.parametrize("name", ["", "A", "a_b", "-a", "a-", "a.b", "a" * 64, "a b"])
def test_names_outside_the_dns_label_rule_are_refused(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ObjectMeta.model_validate({"name": name})
    assert error_locs(caught) == [("name",)]


@pytest.mark.parametrize(
    "labels",
    [{"team": "infra"}, {"mcpctl.dev/builtin": "true"}, {"a": ""}, {"A.b_c-d": "X.y_z-1"}],
)
def test_kubernetes_style_labels_are_valid(labels: dict[str, str]) -> None:
    assert ObjectMeta.model_validate({"name": "a", "labels": labels}).labels == labels


@pytest.mark.parametrize(
    "labels",
    [{"-bad": "x"}, {"a": "-bad"}, {"a": "x" * 64}, {"Bad.Prefix/a": "x"}, {"a": "has space"}],
)
def test_malformed_labels_are_refused(labels: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        ObjectMeta.model_validate({"name": "a", "labels": labels})


def test_timestamps_need_a_time_zone() -> None:
    meta = ObjectMeta.model_validate({"name": "a", "createdAt": "2026-01-02T03:04:05Z"})
    assert meta.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with pytest.raises(ValidationError):
        ObjectMeta.model_validate({"name": "a", "createdAt": "2026-01-02T03:04:05"})


def test_generation_cannot_be_negative() -> None:
    with pytest.raises(ValidationError):
        ObjectMeta.model_validate({"name": "a", "generation": -1})


def envelope(kind: str, spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "mcpctl/v1",
        "kind": kind,
        "metadata": {"name": "x", **metadata},
    }
    if spec is not None:
        body["spec"] = spec
    return body


def test_resource_knows_its_name_project_and_ref() -> None:
    user = User.model_validate(envelope("User", {"email": "a@b.cd"}))
    assert (user.name, user.project, user.ref) == ("x", None, "User/x")


def test_api_version_must_be_mcpctl_v1() -> None:
    data = envelope("User", {"email": "a@b.cd"})
    data["apiVersion"] = "v1"
    with pytest.raises(ValidationError) as caught:
        User.model_validate(data)
    assert error_locs(caught) == [("apiVersion",)]


def test_service_account_spec_may_be_left_out() -> None:
    account = ServiceAccount.model_validate(envelope("ServiceAccount"))
    assert account.spec.description == ""


# --- Server ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"command": ["x"], "image": "y"},
        {"template": "t", "command": ["x"]},
        {"template": "t", "externalUrl": "https://x.example", "transport": "sse"},
    ],
)
def test_server_needs_exactly_one_of_template_image_command_external_url(
    spec: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError) as caught:
        ServerSpec.model_validate(spec)
    assert error_types(caught) == ["value_error"]


def test_server_command_cannot_be_empty() -> None:
    with pytest.raises(ValidationError) as caught:
        ServerSpec.model_validate({"command": []})
    assert error_locs(caught) == [("command",)]


def test_command_and_image_servers_infer_stdio() -> None:
    assert ServerSpec.model_validate({"command": ["x"]}).inferred_transport() == "stdio"
    assert ServerSpec.model_validate({"image": "x"}).inferred_transport() == "stdio"


def test_template_and_external_servers_do_not_infer_a_transport() -> None:
    assert ServerSpec.model_validate({"template": "t"}).inferred_transport() is None
    external = ServerSpec.model_validate({"externalUrl": "https://x.example", "transport": "sse"})
    assert external.inferred_transport() == "sse"


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ({"externalUrl": "https://x.example"}, "transport"),
        ({"externalUrl": "https://x.example", "transport": "stdio"}, "stdio"),
        ({"command": ["x"], "containerPort": 80}, "transport"),
        ({"command": ["x"], "transport": "stdio", "containerPort": 80}, "containerPort"),
        ({"image": "x", "transport": "sse"}, "containerPort"),
        ({"template": "t", "transport": "sse"}, "transport"),
        ({"template": "t", "containerPort": 80}, "containerPort"),
        ({"externalUrl": "https://x.example", "transport": "sse", "replicas": 1}, "replicas"),
    ],
)
def test_server_transport_rules(spec: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ServerSpec.model_validate(spec)
    assert named in str(caught.value)


@pytest.mark.parametrize("replicas", [-1, 101])
def test_replicas_range_is_0_to_100(replicas: int) -> None:
    with pytest.raises(ValidationError) as caught:
        ServerSpec.model_validate({"command": ["x"], "replicas": replicas})
    assert error_locs(caught) == [("replicas",)]


@pytest.mark.parametrize("url", ["ftp://x.example", "x.example", "https://", "https:// x"])
def test_external_url_must_be_http_or_https(url: str) -> None:
    with pytest.raises(ValidationError):
        ServerSpec.model_validate({"externalUrl": url, "transport": "sse"})


def test_header_names_are_unique_regardless_of_case() -> None:
    with pytest.raises(ValidationError):
        ServerSpec.model_validate(
            {
                "externalUrl": "https://x.example",
                "transport": "sse",
                "headers": [{"name": "X-Key", "value": "a"}, {"name": "x-key", "value": "b"}],
            }
        )


@pytest.mark.parametrize("name", ["1ABC", "A-B", "A B", ""])
def test_env_names_follow_the_shell_rule(name: str) -> None:
    with pytest.raises(ValidationError):
        EnvVar.model_validate({"name": name, "value": "x"})


def test_health_check_arguments_need_a_tool() -> None:
    with pytest.raises(ValidationError):
        HealthCheck.model_validate({"arguments": {"q": 1}})


def test_health_check_timeout_may_equal_but_not_exceed_the_interval() -> None:
    assert HealthCheck.model_validate({"intervalSeconds": 5, "timeoutSeconds": 5})
    with pytest.raises(ValidationError):
        HealthCheck.model_validate({"intervalSeconds": 5, "timeoutSeconds": 6})


def test_health_check_default_timeout_counts_against_a_short_interval() -> None:
    with pytest.raises(ValidationError):
        HealthCheck.model_validate({"intervalSeconds": 5})


@pytest.mark.parametrize(
    "probe",
    [
        {"intervalSeconds": 0},
        {"timeoutSeconds": 0},
        {"failureThreshold": 0},
        {"intervalSeconds": 86401},
    ],
)
def test_health_check_numbers_are_positive_and_bounded(probe: dict[str, int]) -> None:
    with pytest.raises(ValidationError) as caught:
        HealthCheck.model_validate(probe)
    assert error_locs(caught) == [(next(iter(probe)),)]


def test_server_from_python_keeps_its_fields() -> None:
    server = Server.model_validate(
        envelope("Server", {"command": ["x"], "env": [{"name": "A", "value": "1"}]})
    )
    assert server.spec.env == [EnvVar(name="A", value="1")]


# --- Template -------------------------------------------------------------------------


def test_template_cannot_name_another_template() -> None:
    with pytest.raises(ValidationError) as caught:
        TemplateSpec.model_validate({"template": "t"})
    assert "extra_forbidden" in error_types(caught)


def test_template_parameters_have_unique_names() -> None:
    with pytest.raises(ValidationError):
        TemplateSpec.model_validate(
            {"command": ["x"], "parameters": [{"name": "A"}, {"name": "A", "type": "integer"}]}
        )


def test_external_template_takes_no_parameters() -> None:
    with pytest.raises(ValidationError):
        TemplateSpec.model_validate(
            {"externalUrl": "https://x.example", "transport": "sse", "parameters": [{"name": "A"}]}
        )


def test_template_parameter_types_are_closed() -> None:
    with pytest.raises(ValidationError) as caught:
        TemplateSpec.model_validate(
            {"command": ["x"], "parameters": [{"name": "A", "type": "date"}]}
        )
    assert error_locs(caught) == [("parameters", 0, "type")]


# --- SecretBackend and Secret ---------------------------------------------------------


def test_openbao_backend_needs_url_and_token_secret_ref() -> None:
    with pytest.raises(ValidationError) as caught:
        SecretBackendSpec.model_validate({"type": "openbao"})
    assert "url" in str(caught.value)
    assert "tokenSecretRef" in str(caught.value)


def test_openbao_backend_defaults_its_mount_and_prefix() -> None:
    spec = SecretBackendSpec.model_validate(
        {
            "type": "openbao",
            "url": "https://bao.example.com",
            "tokenSecretRef": {"name": "t", "key": "k"},
        }
    )
    assert (spec.mount, spec.path_prefix, spec.default) == ("secret", "mcpctl", False)


@pytest.mark.parametrize(
    "field",
    [{"url": "https://x.example"}, {"mount": "kv"}, {"tokenSecretRef": {"name": "t", "key": "k"}}],
)
def test_plaintext_backend_refuses_openbao_fields(field: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SecretBackendSpec.model_validate({"type": "plaintext", **field})


def test_secret_key_cannot_be_both_plain_and_sealed() -> None:
    with pytest.raises(ValidationError):
        SecretSpec.model_validate({"data": {"a": "x"}, "sealedData": {"a": "v1:y"}})


def test_secret_keys_are_the_union_of_plain_sealed_and_kept_values() -> None:
    spec = SecretSpec.model_validate({"data": {"a": "x", "b": None}, "sealedData": {"c": "v1:y"}})
    assert spec.keys() == {"a", "b", "c"}


@pytest.mark.parametrize("key", ["has space", "a/b", ""])
def test_secret_keys_are_file_name_like(key: str) -> None:
    with pytest.raises(ValidationError):
        SecretSpec.model_validate({"data": {key: "x"}})


def test_sealed_values_hold_no_spaces_or_newlines() -> None:
    with pytest.raises(ValidationError):
        SecretSpec.model_validate({"sealedData": {"a": "not sealed\n"}})


# --- Llm ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["anthropic", "openai", "deepseek"])
def test_hosted_api_providers_need_an_api_key_ref(provider: str) -> None:
    with pytest.raises(ValidationError) as caught:
        LlmSpec.model_validate({"type": provider, "model": "m"})
    assert "apiKeyRef" in str(caught.value)


def test_vllm_needs_a_url() -> None:
    with pytest.raises(ValidationError) as caught:
        LlmSpec.model_validate({"type": "vllm", "model": "m"})
    assert "url" in str(caught.value)


def test_local_providers_need_neither_key_nor_url() -> None:
    for provider in ("ollama", "gemini-cli"):
        spec = LlmSpec.model_validate({"type": provider, "model": "m"})
        assert spec.tier == "fast"


def test_llm_extra_holds_nested_json() -> None:
    extra = {"temperature": 0.2, "stop": ["a", None], "nested": {"deep": [True, 1, 1.5]}}
    spec = LlmSpec.model_validate({"type": "ollama", "model": "m", "extra": extra})
    assert spec.extra == extra


# --- Project and Prompt ---------------------------------------------------------------


def test_project_servers_are_unique() -> None:
    with pytest.raises(ValidationError):
        ProjectSpec.model_validate({"servers": ["a", "a"]})


@pytest.mark.parametrize("priority", [0, 11])
def test_prompt_priority_is_1_to_10(priority: int) -> None:
    with pytest.raises(ValidationError) as caught:
        PromptSpec.model_validate({"content": "x", "priority": priority})
    assert error_locs(caught) == [("priority",)]


def test_prompt_content_cannot_be_empty() -> None:
    with pytest.raises(ValidationError):
        PromptSpec.model_validate({"content": ""})


def test_prompt_link_target_splits_into_project_server_and_uri() -> None:
    spec = PromptSpec.model_validate({"content": "x", "linkTarget": "demo/docs:file:///a:b"})
    assert spec.link_parts() == ("demo", "docs", "file:///a:b")
    assert PromptSpec.model_validate({"content": "x"}).link_parts() is None


@pytest.mark.parametrize(
    "target", ["demo", "demo/docs", "Demo/docs:x", "demo/docs:", "demo/docs:a b"]
)
def test_malformed_link_target_is_refused(target: str) -> None:
    with pytest.raises(ValidationError):
        PromptSpec.model_validate({"content": "x", "linkTarget": target})


# --- identity -------------------------------------------------------------------------


def test_group_members_are_unique() -> None:
    with pytest.raises(ValidationError):
        GroupSpec.model_validate({"members": ["ann", "ann"]})


@pytest.mark.parametrize(
    "binding",
    [
        {"role": "view", "resource": "servers"},
        {"role": "edit", "resource": "servers", "name": "github"},
        {"role": "delete", "resource": "*"},
        {"role": "run", "action": "restore"},
        {"role": "run", "action": "*"},
    ],
)
def test_well_formed_bindings_are_accepted(binding: dict[str, str]) -> None:
    assert Binding.model_validate(binding).role == binding["role"]


@pytest.mark.parametrize(
    "binding",
    [
        {"role": "view"},
        {"role": "view", "resource": "servers", "action": "logs"},
        {"role": "view", "resource": "*", "name": "x"},
        {"role": "run"},
        {"role": "run", "action": "logs", "resource": "servers"},
        {"role": "run", "action": "fly"},
        {"role": "admin", "resource": "servers"},
        {"role": "view", "resource": "widgets"},
    ],
)
def test_malformed_bindings_are_refused(binding: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Binding.model_validate(binding)


def test_mcp_token_hash_must_be_a_sha256_digest() -> None:
    good = "sha256:" + "0" * 64
    assert McpTokenSpec.model_validate({"tokenHash": good}).token_hash == good
    for bad in ("sha256:xyz", "0" * 64, "mcpctl_pat_abc"):
        with pytest.raises(ValidationError):
            McpTokenSpec.model_validate({"tokenHash": bad})


def test_mcp_token_rbac_mode_defaults_to_bindings() -> None:
    assert McpTokenSpec.model_validate({}).rbac_mode == "bindings"
