"""The text of `mcpctl describe`: identity, spec, status, references both ways, events
(and a ServiceAccount's tokens).

A section mcpd would not give (no permission to list events, say) is shown
with the reason in place, so that the rest of the description still helps.
Called by `describe`, which fetches the object, its references and events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from mcpctl.cli.rendering.objects import format_age, format_table, parse_time
from mcpctl.cli.resources import JsonObject, to_resource
from mcpctl.escaping import escape
from mcpctl.manifests import to_plain
from mcpctl.manifests.canonical import dump_plain

#: What a section holds: the data, or why it could not be fetched.
Section = Any


def _indent(text: str, by: int = 2) -> str:
    pad = " " * by
    return "".join(pad + line if line.strip() else line for line in text.splitlines(True))


def _when(meta: JsonObject, at: str, by: str, now: datetime) -> str | None:
    value = meta.get(at)
    if not isinstance(value, str):
        return None
    text = f"{value} ({format_age(parse_time(value), now)} ago)"
    return f"{text} by {meta[by]}" if isinstance(meta.get(by), str) else text


def _spec_and_status(obj: JsonObject, show_values: bool) -> tuple[Any, Any]:
    """Canonical spec (defaults left out) and status, or the raw ones if unreadable."""
    resource = to_resource(obj)
    if resource is None:
        return obj.get("spec") or {}, obj.get("status")
    plain = to_plain(resource, secrets="plain" if show_values else "mask", status=True)
    return plain.get("spec") or {}, plain.get("status")


def render_describe(
    obj: JsonObject,
    *,
    references: Section = None,
    events: Section = None,
    tokens: Section = None,
    show_values: bool = False,
    now: datetime | None = None,
) -> str:
    """kubectl-describe-like text for one API object.

    `references` is the `/references` answer (`{"uses": [...], "usedBy": [...]}`),
    `events` a list of Event objects, newest first, `tokens` a ServiceAccount's
    tokens (no section when None); each may be a string saying why it is missing.
    """
    now = now or datetime.now(UTC)
    meta = obj.get("metadata") or {}
    rows: list[tuple[str, str]] = [
        ("Name", str(meta.get("name", "?"))),
        ("Kind", str(obj.get("kind", "?"))),
    ]
    if isinstance(meta.get("project"), str):
        rows.append(("Project", meta["project"]))
    labels = meta.get("labels") or {}
    rows.append(("Labels", ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"))
    annotations = meta.get("annotations") or {}
    if annotations:
        rows.append(("Annotations", ", ".join(f"{k}={v}" for k, v in sorted(annotations.items()))))
    for title, at, by in (
        ("Created", "createdAt", "createdBy"),
        ("Updated", "updatedAt", "updatedBy"),
    ):
        when = _when(meta, at, by, now)
        if when:
            rows.append((title, when))
    for title, key in (("Generation", "generation"), ("Resource Version", "resourceVersion")):
        if meta.get(key) is not None:
            rows.append((title, str(meta[key])))
    width = max(len(title) for title, _ in rows) + 2
    lines = [f"{title + ':':<{width}}{escape(value)}" for title, value in rows]

    spec, status = _spec_and_status(obj, show_values)
    data = None
    if obj.get("kind") == "Secret" and isinstance(spec, dict):
        spec = dict(spec)
        data = spec.pop("data", None) or {}
        sealed = spec.pop("sealedData", None) or {}
        data = {**dict.fromkeys(sealed), **data}
    lines.append("Spec:" + (" <none>" if not spec else ""))
    if spec:
        lines.append(_indent(dump_plain(spec)).rstrip("\n"))
    if data is not None:
        lines.append("Data:" + (" <none>" if not data else ""))
        for key in sorted(data):
            value = data[key]
            shown = "(hidden)" if value is None or not show_values else _one_line(value)
            lines.append(f"  {key}: {shown}")
    lines.append("Status:" + (" <none>" if not status else ""))
    if status:
        lines.append(_indent(dump_plain(status)).rstrip("\n"))
    lines.extend(_references(references))
    if tokens is not None:
        lines.extend(_tokens(tokens, now))
    lines.extend(_events(events, now))
    return "\n".join(lines) + "\n"


def _one_line(value: Any) -> str:
    text = str(value)
    return (
        text if "\n" not in text else f"({len(text)} characters, {text.count(chr(10)) + 1} lines)"
    )


def _references(references: Section) -> list[str]:
    if isinstance(references, str):
        return [f"Uses: <{references}>", f"Used By: <{references}>"]
    refs = references if isinstance(references, dict) else {}
    lines: list[str] = []
    for title, key in (("Uses", "uses"), ("Used By", "usedBy")):
        items = [str(r) for r in refs.get(key) or []]
        lines.append(f"{title}:" + ("" if items else " <none>"))
        lines.extend(f"  {escape(item)}" for item in items)
    return lines


def _tokens(tokens: Section, now: datetime) -> list[str]:
    """The tokens of a ServiceAccount (`GET .../tokens` items), oldest first."""
    if isinstance(tokens, str):
        return [f"Tokens: <{tokens}>"]
    items: Sequence[Any] = tokens if isinstance(tokens, list) else []
    rows = []
    for token in items:
        if not isinstance(token, dict):
            continue
        state = "active" if token.get("active") else "expired"
        if token.get("revokedAt"):
            state = "revoked"
        rows.append(
            [
                str(token.get("prefix", "?")),
                str(token.get("createdBy") or "-"),
                format_age(parse_time(token.get("createdAt")), now),
                str(token.get("expiresAt") or "never"),
                state,
            ]
        )
    if not rows:
        return ["Tokens: <none>"]
    table = format_table(["PREFIX", "CREATED BY", "AGE", "EXPIRES", "STATE"], rows)
    return ["Tokens:", _indent(table).rstrip("\n")]


def _events(events: Section, now: datetime) -> list[str]:
    if isinstance(events, str):
        return [f"Events: <{events}>"]
    items: Sequence[Any] = events if isinstance(events, list) else []
    if not items:
        return ["Events: <none>"]
    # mcpd lists them newest first; shown oldest first, as kubectl describes them (the
    # story reads down to what happened last; events of one second keep their order)
    specs = [
        event["spec"]
        for event in reversed(items)
        if isinstance(event, dict) and isinstance(event.get("spec"), dict)
    ]
    specs.sort(key=lambda spec: str(spec.get("lastTimestamp") or ""))
    rows = []
    for spec in specs:
        last = parse_time(spec.get("lastTimestamp"))
        count = spec.get("count", 1)
        age = format_age(last, now) + (
            f" (x{count})" if isinstance(count, int) and count > 1 else ""
        )
        rows.append(
            [
                str(spec.get("type", "Normal")),
                str(spec.get("reason", "")),
                age,
                str(spec.get("source") or "-"),
                _one_line(spec.get("message", "")),
            ]
        )
    table = format_table(["TYPE", "REASON", "AGE", "FROM", "MESSAGE"], rows)
    return ["Events:", _indent(table).rstrip("\n")]
