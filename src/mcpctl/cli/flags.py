"""Reading `create`'s flag values, and naming the flag behind a manifest issue.

Flags take the shapes kubectl users know: `K=V` pairs, `SECRET/KEY`
references, `KIND:NAME` subjects, `ROLE:RESOURCE[/NAME]` bindings, and
durations like `30d`. A value in the wrong shape is a usage error naming the
flag; a value the schema refuses is reported by `explain` with the flag
that set the field, so that nobody has to map `spec.apiKeyRef` back to
`--api-key-ref` by hand. The passwords are read here too: `read_password_stdin`
serves `login` and `create user`, `read_password_lines` and `ask_new_password`
serve `passwd` and `set password`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from mcpctl.errors import InvalidInput, ManifestIssue

SUBJECT_KINDS = {k.lower(): k for k in ("User", "Group", "ServiceAccount", "McpToken")}
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def split_pair(value: str, flag: str, *, what: str = "KEY=VALUE") -> tuple[str, str]:
    key, sep, rest = value.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"expected {what}, got {value!r}", param_hint=flag)
    return key, rest


def parse_pairs(values: Iterable[str], flag: str) -> dict[str, str]:
    """`K=V` values into a dict; a key given twice is an error."""
    out: dict[str, str] = {}
    for value in values:
        key, rest = split_pair(value, flag)
        if key in out:
            raise click.BadParameter(f"{key!r} is given twice", param_hint=flag)
        out[key] = rest
    return out


def parse_scalar(text: str) -> Any:
    """A JSON scalar or structure when the text is one (`0.2`, `true`, `[1]`), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_ref(value: str, flag: str) -> dict[str, str]:
    """`SECRET/KEY` into a secretKeyRef."""
    name, sep, key = value.partition("/")
    if not sep or not name or not key:
        raise click.BadParameter(f"expected SECRET/KEY, got {value!r}", param_hint=flag)
    return {"name": name, "key": key}


def parse_subject(value: str) -> dict[str, str]:
    """`user:alice` (or `User/alice`) into an Rbac subject."""
    kind, sep, name = value.replace("/", ":", 1).partition(":")
    canonical = SUBJECT_KINDS.get(kind.lower())
    if not sep or canonical is None or not name:
        kinds = ", ".join(k.lower() for k in SUBJECT_KINDS.values())
        raise click.BadParameter(
            f"expected KIND:NAME with KIND one of {kinds}, got {value!r}", param_hint="--subject"
        )
    return {"kind": canonical, "name": name}


def parse_binding(value: str) -> dict[str, str]:
    """`ROLE:RESOURCE[/NAME]` (e.g. `view:servers`, `edit:servers/github`,
    `run:projects/demo`) into a binding."""
    role, sep, target = value.partition(":")
    if not sep or not role or not target:
        raise click.BadParameter(
            f"expected ROLE:RESOURCE[/NAME] (e.g. view:servers), got {value!r}",
            param_hint="--binding",
        )
    resource, _, name = target.partition("/")
    if role == "run" and resource != "projects":
        raise click.BadParameter(
            "run applies to projects (run:projects[/NAME], their MCP endpoints); "
            "an operation is given with --operation OPERATION",
            param_hint="--binding",
        )
    binding = {"role": role, "resource": resource}
    if name:
        binding["name"] = name
    return binding


def parse_expiry(value: str, *, now: datetime | None = None) -> str:
    """`30d`, `12h`, `2w` from now, or an RFC 3339 time, as an RFC 3339 UTC string."""
    now = now or datetime.now(UTC)
    match = _DURATION.match(value)
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return (now + delta).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"expected a duration (30d, 12h, 2w) or an RFC 3339 time, got {value!r}",
            param_hint="--expires",
        ) from None
    if when.tzinfo is None:
        raise click.BadParameter(
            f"{value!r} has no time zone: add Z or an offset", param_hint="--expires"
        )
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_field(field: str | None) -> tuple[str | int, ...]:
    """`spec.env[2].name` -> ("spec", "env", 2, "name") (unparsable parts end the path)."""
    if not field:
        return ()
    path: list[str | int] = []
    for match in re.finditer(r"\.?(?:([A-Za-z0-9_$-]+)|\[(\d+)\]|'([^']*)'|(.))", field):
        word, index, quoted, other = match.groups()
        if other is not None:
            break
        path.append(int(index) if index is not None else word if word is not None else quoted)
    return tuple(path)


def value_at(data: Any, field: str | None) -> Any:
    """The value at a field path of plain data, or None."""
    for part in parse_field(field):
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _kebab(alias: str) -> str:
    return "--" + re.sub(r"(?<!^)(?=[A-Z])", "-", alias).lower()


def flag_for(field: str | None, flags: Mapping[str, str]) -> str | None:
    """The flag that sets `field` (`spec.apiKeyRef.name` -> `--api-key-ref`), if any.

    `flags` maps field paths to flags where the flag is not the field's
    kebab-case name; its longest matching prefix wins.
    """
    if not field:
        return None
    for prefix in sorted(flags, key=len, reverse=True):
        if field == prefix or field.startswith((prefix + ".", prefix + "[")):
            return flags[prefix]
    head = re.match(r"^spec\.([A-Za-z]+)", field)
    return _kebab(head.group(1)) if head else None


def explain(
    issue: ManifestIssue,
    flags: Mapping[str, str],
    fields: Iterable[str] = (),
    data: Any = None,
) -> str:
    """One line naming the flag behind an issue: `--tier: 'slow': Input should be 'fast' or ...`.

    The value at fault is quoted from `data` when it is a scalar (pass no
    data where values are secret). An issue about the whole spec ("an
    anthropic Llm needs apiKeyRef") names the flags of the spec `fields`
    (camelCase) its message mentions.
    """
    flag = flag_for(issue.field, flags)
    if flag is not None:
        value = value_at(data, issue.field) if data is not None else None
        scalar = isinstance(value, (str, int, float)) and value != ""
        shown = f"{value!r}: " if scalar and repr(value) not in issue.message else ""
        return f"{flag}: {shown}{issue.message}"
    words = set(re.findall(r"[A-Za-z]+", issue.message))
    named = [flag_for(f"spec.{alias}", flags) for alias in fields if alias in words]
    hint = f" ({', '.join(dict.fromkeys(f for f in named if f))})" if named else ""
    where = f"{issue.field}: " if issue.field and issue.field != "spec" else ""
    return f"{where}{issue.message}{hint}"


def read_password_stdin() -> str:
    """A password from standard input (one line; the line end is not part of it)."""
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.UsageError("--password-stdin: standard input holds no password")
    return password


def read_password_lines(what: tuple[str, ...]) -> list[str]:
    """One password per line of standard input, as many as `what` names (for the message)."""
    passwords = [sys.stdin.readline().rstrip("\r\n") for _ in what]
    if not all(passwords):
        raise click.UsageError(
            "--password-stdin: standard input holds " + " and ".join(what) + ", one per line"
        )
    return passwords


def ask_new_password(prompt: str) -> str:
    """A new password typed twice without echo (on stderr); refused if the two differ."""
    first = click.prompt(prompt, hide_input=True, err=True)
    again = click.prompt(f"{prompt} (again)", hide_input=True, err=True)
    if first != again:
        raise InvalidInput("the two new passwords differ: nothing was changed")
    return str(first)
