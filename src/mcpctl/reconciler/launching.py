"""What a Server asks to run: its template applied, its secrets resolved, its revision.

The runtime reconciler (`reconciler.running`) turns each stored Server into a
`Wanted`: how many instances, the `Launch` each starts with (less its instance
name), the health check, and the revision, a digest of everything that shapes
an instance (the Server's generation and spec, its Template's, and a keyed
fingerprint of every Secret value it reads, `Sealer.fingerprint`: a changed value
rolls the instances, a change of another key of the Secret rolls nothing, and the
digest holds no value nor anything that helps to guess one). A Server that cannot be resolved (a
Secret or key missing, a template gone) is not started, and says why
(`Wanted.problem`), naming the field, never a value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from mcpctl.manifests import to_plain
from mcpctl.manifests.builtins import builtin_templates
from mcpctl.runtime.base import Launch, Limits, RuntimeName, Secret, TransportName
from mcpctl.schemas import HealthCheck, ServerResources
from mcpctl.schemas.quantities import memory_bytes
from mcpctl.store import ObjectRow

#: The health check of a Server that states none.
DEFAULT_HEALTH = HealthCheck()

#: A keyed digest of a value (Secret, key, value): `secrets.Sealer.fingerprint`.
Fingerprint = Callable[[str, str, str], str]

__all__ = ["DEFAULT_HEALTH", "Fingerprint", "Wanted", "wanted_servers"]


@dataclass(frozen=True)
class Wanted:
    """One Server as the runtime should run it."""

    server: str
    generation: int
    replicas: int
    #: the digest of what shapes an instance: a new one means a rolling change
    revision: str
    runtime: RuntimeName
    #: the launch with `instance` "" (each instance gets its own name)
    launch: Launch | None
    health: HealthCheck = DEFAULT_HEALTH
    #: why it cannot run as it is (None: it can); the Server's condition says it
    problem: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


def wanted_servers(
    servers: Sequence[ObjectRow],
    templates: Mapping[str, ObjectRow],
    secrets: Mapping[str, ObjectRow],
    *,
    owner: str,
    fingerprint: Fingerprint,
) -> dict[str, Wanted]:
    """Every Server's `Wanted`, by name (the rows as stored: specs in camelCase)."""
    return {row.name: _wanted(row, templates, secrets, owner, fingerprint) for row in servers}


def _wanted(
    row: ObjectRow,
    templates: Mapping[str, ObjectRow],
    secrets: Mapping[str, ObjectRow],
    owner: str,
    fingerprint: Fingerprint,
) -> Wanted:
    spec: dict[str, Any] = row.spec
    shape: dict[str, Any] = dict(spec)
    # what shapes an instance: not how many run (a scale is no rolling change)
    digest: list[Any] = [row.name, {k: v for k, v in spec.items() if k != "replicas"}]
    template_name = spec.get("template")
    if template_name is not None:
        template = templates.get(template_name)
        template_spec = template.spec if template is not None else _shipped(template_name)
        if template_spec is None:
            return _broken(row, f"spec.template: Template {template_name!r} not found")
        digest.append(template_spec)
        shape = _apply_template(template_spec, spec)
    runtime: RuntimeName = (
        "docker" if shape.get("image") else ("external" if shape.get("externalUrl") else "process")
    )
    transport: TransportName = shape.get("transport") or (
        "streamable-http" if runtime == "external" else "stdio"
    )
    env: dict[str, str | Secret] = {}
    headers: dict[str, str | Secret] = {}
    for where, entries, into in (
        ("spec.env", shape.get("env") or [], env),
        ("spec.headers", shape.get("headers") or [], headers),
    ):
        for i, entry in enumerate(entries):
            value = entry.get("value")
            if value is not None:
                into[entry["name"]] = value
                continue
            ref = (entry.get("valueFrom") or {}).get("secretRef") or {}
            resolved = _secret_value(
                secrets, ref, f"{where}[{i}] ({entry['name']})", digest, fingerprint
            )
            if isinstance(resolved, str):
                return _broken(row, resolved)
            into[entry["name"]] = resolved
    health = HealthCheck.model_validate(shape["healthCheck"]) if shape.get("healthCheck") else None
    command = shape.get("command")
    launch = Launch(
        server=row.name,
        instance="",
        generation=row.generation,
        runtime=runtime,
        transport=transport,
        command=tuple(command) if command else None,
        image=shape.get("image"),
        external_url=shape.get("externalUrl"),
        container_port=shape.get("containerPort"),
        env=env,
        headers=headers,
        limits=_limits(shape),
        owner=owner,
    )
    replicas = 1 if runtime == "external" else int(spec.get("replicas", 1))
    return Wanted(
        server=row.name,
        generation=row.generation,
        replicas=replicas,
        revision=_digest(digest),
        runtime=runtime,
        launch=launch,
        health=health or DEFAULT_HEALTH,
        labels=dict(row.labels or {}),
    )


def _shipped(name: str) -> dict[str, Any] | None:
    """A built-in Template's spec as shipped (before the leader's start seeds it)."""
    template = builtin_templates().get(name)
    if template is None:
        return None
    spec: dict[str, Any] = to_plain(template)["spec"]
    return spec


def _broken(row: ObjectRow, problem: str) -> Wanted:
    spec = row.spec
    runtime: RuntimeName = (
        "docker" if spec.get("image") else ("external" if spec.get("externalUrl") else "process")
    )
    return Wanted(
        server=row.name,
        generation=row.generation,
        replicas=int(spec.get("replicas", 1)),
        revision=_digest([row.name, spec, problem]),
        runtime=runtime,
        launch=None,
        problem=problem,
        labels=dict(row.labels or {}),
    )


def _apply_template(template: dict[str, Any], server: dict[str, Any]) -> dict[str, Any]:
    """The Server's shape with its Template applied: the template's source, transport,
    port, fixed env and headers and health check; the template's parameters filled from
    the Server's env (the Server's entries win), defaults for the rest."""
    shape: dict[str, Any] = {
        k: template[k]
        for k in ("image", "command", "externalUrl", "transport", "containerPort", "resources")
        if k in template
    }
    given = {e["name"]: e for e in server.get("env") or []}
    env = [e for e in template.get("env") or [] if e["name"] not in given]
    for parameter in template.get("parameters") or []:
        name = parameter["name"]
        if name not in given and parameter.get("default") is not None:
            env.append({"name": name, "value": parameter["default"]})
    env.extend(server.get("env") or [])
    shape["env"] = env
    server_headers = {h["name"].lower() for h in server.get("headers") or []}
    shape["headers"] = [
        h for h in template.get("headers") or [] if h["name"].lower() not in server_headers
    ] + list(server.get("headers") or [])
    if server.get("healthCheck") or template.get("healthCheck"):
        shape["healthCheck"] = server.get("healthCheck") or template.get("healthCheck")
    shape["replicas"] = server.get("replicas", 1)
    return shape


def _secret_value(
    secrets: Mapping[str, ObjectRow],
    ref: dict[str, Any],
    where: str,
    digest: list[Any],
    fingerprint: Fingerprint,
) -> Secret | str:
    """The value a secretRef names (a `Secret`), or the problem (a str) naming `where`.
    The value's fingerprint joins the revision's `digest` (not the Secret's
    resourceVersion, which a change of any of its keys moves)."""
    name, key = ref.get("name"), ref.get("key")
    row = secrets.get(str(name))
    if row is None:
        return f"{where}: Secret {name!r} not found"
    value = (row.spec.get("data") or {}).get(key)
    if value is None:
        if key in (row.spec.get("sealedData") or {}):
            return f"{where}: the value of Secret {name!r} key {key!r} is sealed and not open"
        return f"{where}: Secret {name!r} has no key {key!r}"
    digest.append((name, key, fingerprint(str(name), str(key), str(value))))
    return Secret(str(value))


def _limits(shape: dict[str, Any]) -> Limits:
    """The Server's limits, read as `runtime.limits` reads them (its defaults: 512Mi, one
    CPU, no new privileges); a template's own `resources` apply when the Server has none."""
    resources = shape.get("resources") or {}
    defaults = ServerResources()
    return Limits(
        memory_bytes=memory_bytes(resources.get("memory") or defaults.memory),
        cpus=float(resources["cpus"]) if resources.get("cpus") is not None else defaults.cpus,
        no_new_privileges=bool(shape.get("noNewPrivileges", True)),
    )


def _digest(parts: list[Any]) -> str:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
