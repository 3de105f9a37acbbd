"""The registry of kinds: apply order, plurals, scope, and what git holds."""

from __future__ import annotations

from typing import get_args

import pytest

from mcpctl.schemas import (
    APPLY_RANK,
    BY_KIND,
    BY_PLURAL,
    GIT_KINDS,
    KINDS,
    Prompt,
    PromptRequest,
    Resource,
    Server,
    lookup_kind,
)

DOCUMENTED_ORDER = [
    "SecretBackend",
    "Secret",
    "Llm",
    "Template",
    "Server",
    "Project",
    "Prompt",
    "User",
    "Group",
    "ServiceAccount",
    "Rbac",
    "McpToken",
]
RUNTIME_KINDS = {"Instance", "PromptRequest", "Event", "AuditEvent"}


def test_git_kinds_follow_the_documented_apply_order() -> None:
    assert [m.KIND for m in GIT_KINDS] == DOCUMENTED_ORDER


def test_runtime_kinds_come_after_every_git_kind_and_stay_out_of_git() -> None:
    runtime = [m for m in KINDS if not m.IN_GIT]
    assert {m.KIND for m in runtime} == RUNTIME_KINDS
    assert min(APPLY_RANK[m.KIND] for m in runtime) > max(APPLY_RANK[m.KIND] for m in GIT_KINDS)


def test_apply_rank_is_the_position_in_kinds() -> None:
    assert [APPLY_RANK[m.KIND] for m in KINDS] == list(range(len(KINDS)))


def test_every_kind_has_a_unique_kind_and_plural() -> None:
    assert len(BY_KIND) == len(BY_PLURAL) == len(KINDS)
    for model in KINDS:
        assert BY_KIND[model.KIND] is model
        assert BY_PLURAL[model.PLURAL] is model
        assert model.PLURAL.islower()


def test_only_prompts_and_prompt_requests_are_project_scoped() -> None:
    assert {m for m in KINDS if m.PROJECT_SCOPED} == {Prompt, PromptRequest}


def test_each_kind_accepts_only_its_own_kind_word() -> None:
    for model in KINDS:
        assert get_args(model.model_fields["kind"].annotation) == (model.KIND,)


def test_registry_cannot_be_changed() -> None:
    with pytest.raises(TypeError):
        BY_KIND["Thing"] = Server  # type: ignore[index]


@pytest.mark.parametrize("word", ["Server", "server", "servers", "SERVER", "Servers"])
def test_lookup_kind_accepts_kind_lowercase_and_plural(word: str) -> None:
    assert lookup_kind(word) is Server


@pytest.mark.parametrize(
    ("word", "model"),
    [("mcptokens", "McpToken"), ("secretbackend", "SecretBackend"), ("Rbac", "Rbac")],
)
def test_lookup_kind_finds_multi_word_kinds(word: str, model: str) -> None:
    found: type[Resource] | None = lookup_kind(word)
    assert found is BY_KIND[model]


@pytest.mark.parametrize("word", ["svr", "serverz", "", "List"])
def test_lookup_kind_returns_none_for_unknown_words(word: str) -> None:
    assert lookup_kind(word) is None
