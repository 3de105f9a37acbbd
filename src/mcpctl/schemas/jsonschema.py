"""JSON Schema of every kind, and of "any manifest", for editors and CI.

The files are generated from the models (never edited by hand) and committed
at the repository's top-level `schemas/` folder; a test fails when they are
stale. They declare draft 2020-12 and are self-contained, so that
yaml-language-server (`# yaml-language-server: $schema=...`) and
`check-jsonschema` use them as they are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcpctl.schemas._base import API_VERSION, Resource
from mcpctl.schemas.kinds import KINDS

DIALECT = "https://json-schema.org/draft/2020-12/schema"
MANIFEST_FILE = "manifest.json"


def kind_file(model: type[Resource]) -> str:
    """The file name of a kind's schema: `server.json`."""
    return f"{model.KIND.lower()}.json"


def kind_schema(model: type[Resource]) -> dict[str, Any]:
    """The JSON Schema of one kind, self-contained."""
    body = model.model_json_schema(by_alias=True, mode="validation")
    body.pop("title", None)
    return {
        "$schema": DIALECT,
        "title": f"mcpctl {model.KIND}",
        "description": (model.__doc__ or "").strip().splitlines()[0]
        if model.__doc__ and model.__doc__ is not Resource.__doc__
        else f"An mcpctl {model.KIND} manifest.",
        **body,
    }


def manifest_schema() -> dict[str, Any]:
    """A schema for any manifest: one object of any kind, or a `kind: List` of them."""
    defs: dict[str, Any] = {}
    branches: list[dict[str, Any]] = []
    for model in KINDS:
        body = model.model_json_schema(
            by_alias=True, mode="validation", ref_template="#/$defs/{model}"
        )
        for name, definition in body.pop("$defs", {}).items():
            if name in defs and defs[name] != definition:  # pragma: no cover - guarded by tests
                raise ValueError(f"two kinds define {name} differently")
            defs[name] = definition
        body.pop("title", None)
        defs[model.KIND] = body
        branches.append(
            {
                "if": {"properties": {"kind": {"const": model.KIND}}, "required": ["kind"]},
                "then": {"$ref": f"#/$defs/{model.KIND}"},
            }
        )
    kinds = [m.KIND for m in KINDS]
    defs["List"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "items"],
        "properties": {
            "apiVersion": {"enum": [API_VERSION, "v1"]},
            "kind": {"const": "List"},
            "metadata": {"type": "object"},
            "items": {"type": "array", "items": {"$ref": "#"}},
        },
    }
    branches.append(
        {
            "if": {"properties": {"kind": {"const": "List"}}, "required": ["kind"]},
            "then": {"$ref": "#/$defs/List"},
        }
    )
    return {
        "$schema": DIALECT,
        "title": "mcpctl manifest",
        "description": "Any mcpctl manifest: one object of any kind, or a List of them.",
        "type": "object",
        "required": ["apiVersion", "kind"],
        "properties": {"kind": {"enum": [*kinds, "List"]}},
        "allOf": branches,
        "$defs": dict(sorted(defs.items())),
    }


def render_schema(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def schema_files() -> dict[str, str]:
    """File name -> text of every schema file."""
    files = {kind_file(model): render_schema(kind_schema(model)) for model in KINDS}
    files[MANIFEST_FILE] = render_schema(manifest_schema())
    return files


def export_schemas(directory: Path) -> list[Path]:
    """Write every schema file into `directory`; return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schema_files().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale_schemas(directory: Path) -> list[str]:
    """The schema files in `directory` that are missing or differ from the models."""
    stale = []
    for name, text in schema_files().items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale
