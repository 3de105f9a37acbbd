"""The hook definition for the pre-commit framework (`.pre-commit-hooks.yaml`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

HOOKS_FILE = Path(__file__).resolve().parents[3] / ".pre-commit-hooks.yaml"


def load_hooks() -> list[dict[str, Any]]:
    hooks = yaml.safe_load(HOOKS_FILE.read_text(encoding="utf-8"))
    assert isinstance(hooks, list)
    return hooks


def test_defines_mcpctl_validate_running_the_validate_command() -> None:
    (hook,) = (h for h in load_hooks() if h["id"] == "mcpctl-validate")

    assert hook["entry"] == "mcpctl validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    assert hook["args"] == ["."]


def test_runs_when_a_yaml_or_json_file_changes() -> None:
    (hook,) = (h for h in load_hooks() if h["id"] == "mcpctl-validate")
    files = re.compile(hook["files"])

    for name in ("servers/time.yaml", "a.yml", "list.json"):
        assert files.search(name), name
    for name in ("README.md", "yaml.txt", "schema.jsonc"):
        assert not files.search(name), name


def test_every_hook_has_the_keys_the_framework_requires() -> None:
    for hook in load_hooks():
        assert {"id", "name", "entry", "language"} <= set(hook)
