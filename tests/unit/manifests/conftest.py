"""Fixtures for the manifest tests: turn YAML text into checked objects in one call."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mcpctl.manifests import Manifest, load_text
from mcpctl.schemas import Resource

LoadClean = Callable[[str], list[Manifest]]
LoadOne = Callable[[str], Resource]


@pytest.fixture
def load_clean() -> LoadClean:
    """Load a text that must have no load issues; its manifests, in file order."""

    def load(text: str) -> list[Manifest]:
        result = load_text(text, "set.yaml")
        assert result.issues == []
        return result.manifests

    return load


@pytest.fixture
def load_one(load_clean: LoadClean) -> LoadOne:
    """Load a text holding exactly one valid object; that object."""

    def load(text: str) -> Resource:
        manifests = load_clean(text)
        assert len(manifests) == 1
        return manifests[0].resource

    return load
