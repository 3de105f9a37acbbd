"""The light kind table agrees with the models."""

from __future__ import annotations

from mcpctl.kindnames import KIND_NAMES, lookup_kind_name
from mcpctl.schemas import KINDS, lookup_kind


def test_the_kind_names_match_the_models_in_order_and_scope() -> None:
    assert [(k.KIND, k.PLURAL, k.PROJECT_SCOPED, k.IN_GIT) for k in KIND_NAMES] == [
        (m.KIND, m.PLURAL, m.PROJECT_SCOPED, m.IN_GIT) for m in KINDS
    ]


def test_every_spelling_resolves_like_the_models_do() -> None:
    for model in KINDS:
        for word in (model.KIND, model.KIND.lower(), model.PLURAL, model.PLURAL.upper()):
            found = lookup_kind_name(word)
            assert found is not None
            assert found.KIND == model.KIND
            assert lookup_kind(word) is model or word == model.PLURAL.upper()
    assert lookup_kind_name("nope") is None
