"""What `get` prints: a table per kind, canonical YAML, the API's JSON, or `kind/name`.

Tables work on the API's JSON (so an object this mcpctl cannot fully read
still lists); YAML goes through the models for the canonical form, with the
server's metadata and status. Secret values appear only when asked for and
sent by mcpd: tables show key counts, never values.

Called by `get` (every format), `edit` (the YAML to edit) and `create` (a
dry run, an answer); `describe` and `config get-contexts` reuse its table
layout and ages.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mcpctl.cli.resources import JsonObject, name_of, project_of, ref_of, to_resource
from mcpctl.escaping import escape
from mcpctl.kindnames import API_VERSION

if TYPE_CHECKING:
    from mcpctl.schemas import Resource

FORMATS = ("table", "wide", "yaml", "json", "name")

Getter = Callable[[JsonObject], str]


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _spec(*path: str) -> Callable[[JsonObject], Any]:
    return lambda obj: _get(obj, "spec", *path)


def _text(value: Any, empty: str = "<none>") -> str:
    if value is None or value == "" or value == [] or value == {}:
        return empty
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _col(*path: str, empty: str = "<none>") -> Getter:
    return lambda obj: _text(_get(obj, "spec", *path), empty)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def format_age(then: datetime | None, now: datetime) -> str:
    """kubectl's human duration: `45s`, `5m30s`, `3h`, `2d5h`, `40d`, `2y30d`."""
    if then is None:
        return "<unknown>"
    seconds = int((now - then).total_seconds())
    if seconds < 0:
        return "0s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def _age(now: datetime) -> Getter:
    """Since creation; for events (which may carry no createdAt), since they last happened."""

    def age(obj: JsonObject) -> str:
        when = (
            _get(obj, "metadata", "createdAt")
            or _get(obj, "spec", "lastTimestamp")
            or _get(obj, "spec", "time")
        )
        return format_age(parse_time(when), now)

    return age


def server_source(obj: JsonObject) -> str:
    """`template/github`, `image/ghcr.io/x:1`, `command/uvx mcp-server-time`, `url/https://..`."""
    spec = obj.get("spec") or {}
    if spec.get("template"):
        return f"template/{spec['template']}"
    if spec.get("image"):
        return f"image/{spec['image']}"
    if isinstance(spec.get("command"), list):
        return f"command/{shlex.join(str(a) for a in spec['command'])}"
    if spec.get("externalUrl"):
        return f"url/{spec['externalUrl']}"
    return "<none>"


def _transport(obj: JsonObject) -> str:
    spec = obj.get("spec") or {}
    if spec.get("transport"):
        return str(spec["transport"])
    if spec.get("template"):
        return "<template>"
    return "stdio" if spec.get("image") or spec.get("command") else "<none>"


def _replicas(obj: JsonObject) -> str:
    spec = obj.get("spec") or {}
    if spec.get("externalUrl"):
        return "-"
    desired = spec.get("replicas", 1)
    ready = _get(obj, "status", "readyReplicas")
    return f"{ready}/{desired}" if isinstance(ready, int) else str(desired)


def _instance_health(obj: JsonObject) -> str:
    """The last probe: ok, failing (how many in a row), or not probed yet."""
    probes = _get(obj, "status", "probes")
    if not isinstance(probes, list) or not probes:
        return "-"
    failing = 0
    for probe in reversed(probes):
        if isinstance(probe, dict) and probe.get("ok"):
            break
        failing += 1
    return "ok" if not failing else f"failing ({failing})"


def _count(*path: str) -> Getter:
    return lambda obj: str(len(_get(obj, "spec", *path) or []))


def _secret_keys(obj: JsonObject) -> str:
    keys = set(_spec("data")(obj) or {}) | set(_spec("sealedData")(obj) or {})
    return str(len(keys))


def _ref(*path: str) -> Getter:
    def get(obj: JsonObject) -> str:
        ref = _get(obj, "spec", *path)
        return f"{ref.get('name')}/{ref.get('key')}" if isinstance(ref, dict) else "<none>"

    return get


def _labels(obj: JsonObject) -> str:
    labels = _get(obj, "metadata", "labels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


def _subjects(obj: JsonObject) -> str:
    subjects = _spec("subjects")(obj) or []
    return ",".join(f"{s.get('kind')}/{s.get('name')}" for s in subjects if isinstance(s, dict))


def _bindings(obj: JsonObject) -> str:
    out = []
    for b in _spec("bindings")(obj) or []:
        if not isinstance(b, dict):
            continue
        if b.get("role") == "run":
            out.append(f"run:{b.get('action')}")
        else:
            target = b.get("resource", "?") + (f"/{b['name']}" if b.get("name") else "")
            out.append(f"{b.get('role')}:{target}")
    return ",".join(out)


def _project_llms(obj: JsonObject) -> str:
    llm = _spec("llm")(obj) or {}
    parts = [f"{tier}={llm[tier]}" for tier in ("fast", "heavy") if llm.get(tier)]
    return ",".join(parts) or "<none>"


def _object(obj: JsonObject) -> str:
    ref = _spec("involvedObject")(obj) or {}
    if not isinstance(ref, dict):
        return "<none>"
    project = f"{ref['project']}/" if ref.get("project") else ""
    return f"{str(ref.get('kind', '?')).lower()}/{project}{ref.get('name', '?')}"


def _message(obj: JsonObject) -> str:
    return _shortened(str(_spec("message")(obj) or ""), 80)


def _shortened(text: str, width: int = 60) -> str:
    """`text` cut to `width` characters, ending with `...` when cut (a table's cell)."""
    return text if len(text) <= width else text[: width - 3] + "..."


#: Per kind: the columns between NAME and AGE, and those `-o wide` adds after AGE.
COLUMNS: dict[str, tuple[list[tuple[str, Getter]], list[tuple[str, Getter]]]] = {
    "SecretBackend": ([("TYPE", _col("type")), ("DEFAULT", _col("default", empty="false"))], []),
    "Secret": ([("BACKEND", _col("backend", empty="<default>")), ("KEYS", _secret_keys)], []),
    "Llm": (
        [("TYPE", _col("type")), ("MODEL", _col("model")), ("TIER", _col("tier", empty="fast"))],
        [("URL", _col("url")), ("API-KEY", _ref("apiKeyRef"))],
    ),
    "Template": (
        [
            ("SOURCE", lambda o: _shortened(server_source(o))),
            ("TRANSPORT", _transport),
            ("PARAMETERS", _count("parameters")),
        ],
        [("DESCRIPTION", _col("description"))],
    ),
    "Server": (
        [
            ("SOURCE", server_source),
            ("TRANSPORT", _transport),
            ("READY", _replicas),
            ("HEALTH", lambda o: _text(_get(o, "status", "health"), empty="-")),
        ],
        [
            ("PORT", _col("containerPort")),
            ("ENV", _count("env")),
            ("RUNTIME", lambda o: _text(_get(o, "status", "runtime"), empty="-")),
        ],
    ),
    "Project": (
        [("SERVERS", _col("servers")), ("GATED", _col("gated", empty="false"))],
        [("LLM", _project_llms), ("DESCRIPTION", _col("description"))],
    ),
    "Prompt": (
        [("PROJECT", lambda o: _text(project_of(o))), ("PRIORITY", _col("priority", empty="5"))],
        [("TAGS", _col("tags")), ("SUMMARY", _col("summary"))],
    ),
    "PromptRequest": (
        [("PROJECT", lambda o: _text(project_of(o))), ("STATE", _col("state", empty="pending"))],
        [("REQUESTED-BY", _col("requestedBy")), ("SUMMARY", _col("summary"))],
    ),
    "User": ([("EMAIL", _col("email"))], [("DISPLAY-NAME", _col("displayName"))]),
    "Group": ([("MEMBERS", _col("members"))], [("DESCRIPTION", _col("description"))]),
    "ServiceAccount": ([("DESCRIPTION", _col("description"))], []),
    "Rbac": ([("SUBJECTS", _subjects), ("BINDINGS", _bindings)], []),
    "McpToken": (
        [
            ("PROJECT", _col("project", empty="*")),
            ("EXPIRES", _col("expiresAt", empty="never")),
            ("REVOKED", _col("revoked", empty="false")),
        ],
        [("RBAC-MODE", _col("rbacMode", empty="bindings")), ("DESCRIPTION", _col("description"))],
    ),
    "Instance": (
        [
            ("SERVER", _col("server")),
            ("RUNTIME", _col("runtime")),
            ("PHASE", lambda o: _text(_get(o, "status", "phase"), empty="-")),
            ("READY", lambda o: "1/1" if _get(o, "status", "ready") else "0/1"),
            ("RESTARTS", lambda o: str(_get(o, "status", "restarts") or 0)),
            ("HEALTH", _instance_health),
        ],
        [
            ("NODE", lambda o: _text(_get(o, "status", "node") or _get(o, "spec", "node"))),
            ("ENDPOINT", lambda o: _text(_get(o, "status", "endpoint"), empty="stdio")),
        ],
    ),
    "Event": (
        [("TYPE", _col("type", empty="Normal")), ("REASON", _col("reason")), ("OBJECT", _object)],
        [("MESSAGE", _message)],
    ),
    "AuditEvent": (
        [
            ("USER", _col("user")),
            ("VERB", _col("verb")),
            ("KIND", _col("kind")),
            ("OBJECT", _col("name")),
            ("OUTCOME", _col("outcome")),
        ],
        [("PROJECT", _col("project")), ("TOOL", _col("tool"))],
    ),
}


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns three spaces apart, kubectl-style.

    Every cell is escaped (`mcpctl.escaping`): a value holding a newline or an escape
    sequence (a user name tried at login, a message) stays in its cell.
    """
    rows = [[escape(cell) for cell in row] for row in rows]
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [
        "   ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in [header, *rows]
    ]
    return "\n".join(lines) + "\n"


def render_table(
    kind: str, objects: Sequence[JsonObject], *, wide: bool = False, now: datetime | None = None
) -> str:
    """The table of `objects` (all of one kind)."""
    now = now or datetime.now(UTC)
    middle, extra = COLUMNS.get(kind, ([], []))
    columns: list[tuple[str, Getter]] = [("NAME", name_of), *middle, ("AGE", _age(now))]
    if wide:
        columns += [*extra, ("LABELS", _labels)]
    header = [title for title, _ in columns]
    rows = [[get(obj) for _, get in columns] for obj in objects]
    return format_table(header, rows)


def render_yaml(
    objects: Sequence[JsonObject], *, single: bool = False, show_secrets: bool = False
) -> str:
    """Canonical YAML with server metadata and status: one document, or each after `---`."""
    docs = []
    for obj in objects:
        resource = to_resource(obj)
        if resource is not None:
            docs.append(_dump(resource, show_secrets))
        else:
            from mcpctl.manifests.canonical import dump_plain

            docs.append(dump_plain(obj))
    if single and len(docs) == 1:
        return docs[0]
    return "".join("---\n" + doc for doc in docs)


def _dump(resource: Resource, show_secrets: bool) -> str:
    from mcpctl.manifests import dump_object

    return dump_object(
        resource,
        secrets="plain" if show_secrets else "mask",
        server_fields=True,
        status=True,
    )


def render_json(objects: Sequence[JsonObject], *, single: bool) -> str:
    """The API's JSON: the object itself for one name, a `List` otherwise."""
    body: Any = (
        objects[0]
        if single and len(objects) == 1
        else {"apiVersion": API_VERSION, "kind": "List", "items": list(objects)}
    )
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def render_names(objects: Sequence[JsonObject]) -> str:
    return "".join(escape(ref_of(obj)) + "\n" for obj in objects)


def render(
    fmt: str,
    kind: str,
    objects: Sequence[JsonObject],
    *,
    single: bool = False,
    show_secrets: bool = False,
    now: datetime | None = None,
) -> str:
    if fmt == "yaml":
        return render_yaml(objects, single=single, show_secrets=show_secrets)
    if fmt == "json":
        return render_json(objects, single=single)
    if fmt == "name":
        return render_names(objects)
    return render_table(kind, objects, wide=fmt == "wide", now=now)


def render_answer(fmt: str, answer: Any) -> str:
    """An API answer as indented JSON or plain YAML."""
    from mcpctl.manifests.canonical import dump_plain

    if fmt == "json":
        return json.dumps(answer, indent=2, ensure_ascii=False) + "\n"
    return dump_plain(answer)
