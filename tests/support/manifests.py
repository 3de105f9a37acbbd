"""Manifests as the tests write them: the dict mcpd's API takes, its YAML file, the file on disk.

`manifest` builds any kind; `server` the Server most tests need; `document`
is one manifest of a multi-document text (as JSON); `to_yaml` is the file of a
manifest in the form mcpd exports (keys in the order given, block style). The
`write` fixture (registered in tests/conftest.py) writes a file of the test's
own into its temp dir.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any, Protocol

import pytest
import yaml

JSON = dict[str, Any]

API_VERSION = "mcpctl/v1"

#: The plural of each kind, as in its API path (/api/v1/<plural>).
PLURALS = {
    "SecretBackend": "secretbackends",
    "Secret": "secrets",
    "Llm": "llms",
    "Template": "templates",
    "Server": "servers",
    "Project": "projects",
    "Prompt": "prompts",
    "PromptRequest": "promptrequests",
    "User": "users",
    "Group": "groups",
    "ServiceAccount": "serviceaccounts",
    "Rbac": "rbacs",
    "McpToken": "mcptokens",
    "Instance": "instances",
}


def manifest(
    kind: str,
    name: str,
    spec: JSON | None = None,
    *,
    labels: dict[str, str] | None = None,
    project: str | None = None,
) -> JSON:
    """An object of `kind` named `name` (under `project`, with `labels` if any; no spec
    but the one given)."""
    metadata: JSON = {"name": name}
    if project is not None:
        metadata["project"] = project
    if labels:
        metadata["labels"] = labels
    made: JSON = {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata}
    if spec is not None:
        made["spec"] = spec
    return made


def server(
    name: str,
    command: str = "mcp-server-time",
    *,
    labels: dict[str, str] | None = None,
    replicas: int | None = None,
) -> JSON:
    """A Server running `command` (with `replicas: 0`, one the reconciler leaves alone)."""
    spec: JSON = {"command": [command]}
    if replicas is not None:
        spec["replicas"] = replicas
    return manifest("Server", name, spec, labels=labels)


def binding(role: str, resource: str, name: str | None = None) -> JSON:
    """One binding of an Rbac: `role` on `resource` (on the one object `name`, if given)."""
    return {"role": role, "resource": resource, **({"name": name} if name else {})}


def document(kind: str, name: str, spec: JSON | None = None, *, project: str | None = None) -> str:
    """One manifest document (JSON, which is YAML), ending with a document separator."""
    return json.dumps(manifest(kind, name, spec, project=project)) + "\n---\n"


def to_yaml(obj: JSON) -> str:
    """The YAML file of `obj` as mcpd exports it: keys in the order given, block style."""
    return yaml.safe_dump(obj, sort_keys=False)


class Write(Protocol):
    def __call__(self, name: str, text: str) -> Path: ...


@pytest.fixture
def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Write:
    """Write a (dedented) file under the temp dir, which becomes the current directory.

    Paths in reports are then as short as the test names them: `bad/a.yaml:4:3`.
    """
    monkeypatch.chdir(tmp_path)

    def write_file(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write_file
