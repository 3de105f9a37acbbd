"""Rendering a ChangeSet: semantic text, JSON, or a unified diff of canonical YAML.

Secret values never appear: the change set carries none, and the unified
form renders Secrets masked. Called by `diff` (offline and against mcpd) and
by `apply --watch`, which shows the fields of each object it changed.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

import click

from mcpctl.manifests import (
    MISSING,
    Change,
    ChangeSet,
    FieldChange,
    Manifest,
    dump_object,
    format_key,
)

FORMATS = ("text", "json", "unified")
_SIGN = {"add": "+", "remove": "-", "change": "~"}
#: The colour of each action, in diffs and in what `apply --watch` reports.
COLORS = {"add": "green", "remove": "red", "change": "yellow"}


def _show(value: Any) -> str:
    if value is MISSING:
        return "(none)"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def summary(changes: ChangeSet) -> str:
    counts = changes.counts()
    return (
        f"{counts['add']} to add, {counts['change']} to change, {counts['remove']} to remove"
        f" ({changes.unchanged} unchanged)"
    )


def render_text(changes: ChangeSet, *, color: bool) -> str:
    lines: list[str] = []
    for change in changes.changes:
        head = f"{_SIGN[change.action]} {change.ref}"
        lines.append(click.style(head, fg=COLORS[change.action], bold=True) if color else head)
        lines.extend(render_fields(change))
    lines.append(summary(changes))
    return "\n".join(lines) + "\n"


def render_fields(change: Change) -> list[str]:
    """The lines under a changed object, one per field (none for an added or removed one)."""
    if change.action != "change":
        return []
    lines: list[str] = []
    for field in change.fields:
        if field.old is MISSING:
            text = f"    + {field.path}: {_show(field.new)}"
        elif field.new is MISSING:
            text = f"    - {field.path}: {_show(field.old)}"
        else:
            text = f"    ~ {field.path}: {_show(field.old)} -> {_show(field.new)}"
        if field.secret:
            text = text.replace('"(hidden)"', "(hidden)")
        lines.append(text)
    return lines


def render_json(changes: ChangeSet) -> str:
    body = {"changed": bool(changes), **changes.to_json()}
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def render_unified(
    changes: ChangeSet,
    old: Mapping[tuple[str, str | None, str], Manifest],
    new: Mapping[tuple[str, str | None, str], Manifest],
    *,
    color: bool,
) -> str:
    out: list[str] = []
    for change in changes.changes:
        before = old.get(change.key)
        after = new.get(change.key)
        a = dump_object(before.resource).splitlines(keepends=True) if before else []
        b = dump_object(after.resource).splitlines(keepends=True) if after else []
        name = format_key(change.key)
        hidden = [f.path for f in change.fields if f.secret]
        if hidden and change.action == "change":
            # masked on both sides, a changed value would not show at all
            b = [*b, *(f"# {path}: value changed (hidden)\n" for path in hidden)]
        for line in difflib.unified_diff(a, b, f"a/{name}", f"b/{name}"):
            line = line if line.endswith("\n") else line + "\n"
            if color and line.startswith("+") and not line.startswith("+++"):
                line = click.style(line, fg="green")
            elif color and line.startswith("-") and not line.startswith("---"):
                line = click.style(line, fg="red")
            out.append(line)
    return "".join(out)


def changes_from_api(answer: Any) -> ChangeSet:
    """The ChangeSet of an answer of `POST /api/v1/apply` (its `changes` and `summary`)."""
    body = answer if isinstance(answer, dict) else {}
    changes: list[Change] = []
    for raw in body.get("changes") or []:
        if not isinstance(raw, dict) or raw.get("action") not in _SIGN:
            continue
        project = raw.get("project")
        fields = tuple(
            FieldChange(
                str(f.get("path", "")),
                f.get("old", MISSING),
                f.get("new", MISSING),
                secret=bool(f.get("secret")),
            )
            for f in raw.get("fields") or []
            if isinstance(f, dict)
        )
        key = (
            str(raw.get("kind")),
            project if isinstance(project, str) else None,
            str(raw.get("name")),
        )
        changes.append(Change(raw["action"], key, fields))
    unchanged = (body.get("summary") or {}).get("unchanged", 0)
    return ChangeSet(changes, unchanged if isinstance(unchanged, int) else 0)
