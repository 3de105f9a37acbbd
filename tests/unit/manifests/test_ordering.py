"""Apply and delete order, and the dependency cycles that forbid one."""

from __future__ import annotations

from collections.abc import Callable

from mcpctl.manifests import Catalog, Manifest, apply_order, check_set, delete_order
from mcpctl.manifests.ordering import find_cycles
from tests.support.manifests import document as obj

LoadClean = Callable[[str], list[Manifest]]


def refs(manifests: list[Manifest]) -> list[str]:
    return [m.resource.ref for m in manifests]


TOKEN_REF = {"name": "bao-token", "key": "token"}
BAO = {"type": "openbao", "url": "https://bao.example.com", "tokenSecretRef": TOKEN_REF}


def test_kinds_are_applied_in_the_documented_order(load_clean: LoadClean) -> None:
    text = (
        obj("McpToken", "t")
        + obj(
            "Rbac",
            "r",
            {
                "subjects": [{"kind": "User", "name": "u"}],
                "bindings": [{"role": "run", "action": "logs"}],
            },
        )
        + obj("ServiceAccount", "sa")
        + obj("Group", "g", {})
        + obj("User", "u", {"email": "u@example.com"})
        + obj("Prompt", "pr", {"content": "x"}, project="p")
        + obj("Project", "p", {})
        + obj("Server", "s", {"command": ["x"]})
        + obj("Template", "tpl", {"command": ["x"]})
        + obj("Llm", "l", {"type": "ollama", "model": "m"})
        + obj("Secret", "sec", {"data": {}})
        + obj("SecretBackend", "local", {"type": "plaintext", "default": True})
    )
    assert refs(apply_order(load_clean(text))) == [
        "SecretBackend/local",
        "Secret/sec",
        "Llm/l",
        "Template/tpl",
        "Server/s",
        "Project/p",
        "Prompt/p/pr",
        "User/u",
        "Group/g",
        "ServiceAccount/sa",
        "Rbac/r",
        "McpToken/t",
    ]


def test_ties_within_a_kind_go_by_project_then_name(load_clean: LoadClean) -> None:
    text = (
        obj("Project", "b", {})
        + obj("Project", "a", {})
        + obj("Prompt", "z", {"content": "x"}, project="a")
        + obj("Prompt", "y", {"content": "x"}, project="b")
        + obj("Prompt", "x", {"content": "x"}, project="b")
    )
    assert refs(apply_order(load_clean(text))) == [
        "Project/a",
        "Project/b",
        "Prompt/a/z",
        "Prompt/b/x",
        "Prompt/b/y",
    ]


def test_order_does_not_depend_on_input_order(load_clean: LoadClean) -> None:
    docs = [
        obj("User", "b", {"email": "b@example.com"}),
        obj("Server", "s", {"command": ["x"]}),
        obj("User", "a", {"email": "a@example.com"}),
        obj("Project", "p", {"servers": ["s"]}),
    ]
    forward = refs(apply_order(load_clean("".join(docs))))
    backward = refs(apply_order(load_clean("".join(reversed(docs)))))
    assert forward == backward == ["Server/s", "Project/p", "User/a", "User/b"]


def test_openbao_backend_comes_after_the_secret_holding_its_token(load_clean: LoadClean) -> None:
    text = (
        obj("Secret", "api", {"backend": "bao", "data": {"k": "v"}})
        + obj("SecretBackend", "bao", BAO)
        + obj("Secret", "bao-token", {"backend": "local", "data": {"token": "t"}})
        + obj("SecretBackend", "local", {"type": "plaintext", "default": True})
    )
    manifests = load_clean(text)
    assert check_set(manifests) == []
    assert refs(apply_order(manifests)) == [
        "SecretBackend/local",
        "Secret/bao-token",
        "SecretBackend/bao",
        "Secret/api",
    ]


def test_token_secret_in_the_default_backend_comes_before_the_openbao_backend(
    load_clean: LoadClean,
) -> None:
    text = (
        obj("SecretBackend", "bao", BAO)
        + obj("Secret", "bao-token", {"data": {"token": "t"}})
        + obj("SecretBackend", "local", {"type": "plaintext", "default": True})
    )
    assert refs(apply_order(load_clean(text))) == [
        "SecretBackend/local",
        "Secret/bao-token",
        "SecretBackend/bao",
    ]


def test_delete_order_is_the_reverse_of_apply_order(load_clean: LoadClean) -> None:
    text = (
        obj("SecretBackend", "bao", BAO)
        + obj("Secret", "bao-token", {"backend": "local", "data": {"token": "t"}})
        + obj("SecretBackend", "local", {"type": "plaintext", "default": True})
        + obj("Server", "s", {"command": ["x"]})
        + obj("Project", "p", {"servers": ["s"]})
        + obj("User", "u", {"email": "u@example.com"})
    )
    manifests = load_clean(text)
    assert refs(delete_order(manifests)) == list(reversed(refs(apply_order(manifests))))
    assert refs(delete_order(manifests))[:3] == ["User/u", "Project/p", "Server/s"]


def test_references_outside_the_set_do_not_hold_anything_back(load_clean: LoadClean) -> None:
    text = obj("Project", "p", {"servers": ["elsewhere"]}) + obj("Server", "s", {"command": ["x"]})
    assert refs(apply_order(load_clean(text))) == ["Server/s", "Project/p"]


def test_objects_in_a_cycle_still_come_out_last_in_kind_order(load_clean: LoadClean) -> None:
    text = (
        obj("User", "u", {"email": "u@example.com"})
        + obj("SecretBackend", "bao", {**BAO, "default": True})
        + obj("Secret", "bao-token", {"data": {"token": "t"}})
    )
    assert refs(apply_order(load_clean(text))) == [
        "User/u",
        "SecretBackend/bao",
        "Secret/bao-token",
    ]


def test_empty_set_orders_to_nothing() -> None:
    assert apply_order([]) == []
    assert delete_order([]) == []


# --- cycles ---------------------------------------------------------------------------


def test_openbao_backend_storing_its_own_token_is_a_cycle_with_its_path(
    load_clean: LoadClean,
) -> None:
    text = obj("SecretBackend", "bao", {**BAO, "default": True}) + obj(
        "Secret", "bao-token", {"backend": "bao", "data": {"token": "t"}}
    )
    [issue] = check_set(load_clean(text))
    assert issue.code == "cycle"
    assert (issue.kind, issue.name) == ("SecretBackend", "bao")
    assert issue.field == "spec.tokenSecretRef.name"
    assert issue.file == "set.yaml"
    assert issue.line == 1
    assert "SecretBackend/bao -> Secret/bao-token -> SecretBackend/bao" in issue.message


def test_token_secret_in_an_openbao_default_backend_is_a_cycle(load_clean: LoadClean) -> None:
    text = obj("SecretBackend", "bao", {**BAO, "default": True}) + obj(
        "Secret", "bao-token", {"data": {"token": "t"}}
    )
    issues = check_set(load_clean(text))
    assert [(i.code, i.object_ref) for i in issues] == [("cycle", "SecretBackend/bao")]
    assert "Secret/bao-token" in issues[0].message


def test_two_openbao_backends_holding_each_others_tokens_are_a_cycle(
    load_clean: LoadClean,
) -> None:
    text = (
        obj("SecretBackend", "local", {"type": "plaintext", "default": True})
        + obj("SecretBackend", "a", {**BAO, "tokenSecretRef": {"name": "a-token", "key": "t"}})
        + obj("SecretBackend", "b", {**BAO, "tokenSecretRef": {"name": "b-token", "key": "t"}})
        + obj("Secret", "a-token", {"backend": "b", "data": {"t": "x"}})
        + obj("Secret", "b-token", {"backend": "a", "data": {"t": "x"}})
    )
    manifests = load_clean(text)
    [issue] = find_cycles(manifests, Catalog(manifests))
    assert issue.code == "cycle"
    assert issue.message.count("->") == 4
    for part in ("SecretBackend/a", "Secret/a-token", "SecretBackend/b", "Secret/b-token"):
        assert part in issue.message


def test_acyclic_set_has_no_cycles(load_clean: LoadClean) -> None:
    text = (
        obj("SecretBackend", "local", {"type": "plaintext", "default": True})
        + obj("SecretBackend", "bao", BAO)
        + obj("Secret", "bao-token", {"data": {"token": "t"}})
    )
    manifests = load_clean(text)
    assert find_cycles(manifests, Catalog(manifests)) == []
