"""Reference checks across a set of objects: one implementation, four callers.

`mcpctl validate`, the API, the pre-receive hook and the importer all ask
`validation.check_set` whether a set of objects is consistent; this module
holds the checks of references: every reference names an object that exists
(secret keys included), names are unique, exactly one SecretBackend is the
default, template parameters are filled. Objects already stored (`existing`)
satisfy references but are not themselves checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from mcpctl.errors import ManifestIssue
from mcpctl.manifests.builtins import builtin_templates
from mcpctl.manifests.loading import Manifest
from mcpctl.manifests.parsing import Path
from mcpctl.schemas import (
    EnvVar,
    Group,
    HeaderVar,
    Instance,
    Llm,
    McpToken,
    Project,
    Prompt,
    PromptRequest,
    Rbac,
    Resource,
    Secret,
    SecretBackend,
    SecretKeyRef,
    Server,
    ServerSpec,
    Template,
    TemplateSpec,
)

#: (kind, project, name): how an object is addressed.
Key = tuple[str, str | None, str]

#: The backend mcpd seeds at first start; assumed when a set declares none.
SEEDED_BACKEND = "default"


@dataclass(frozen=True, slots=True)
class Reference:
    """One reference from an object to another, and the field that makes it."""

    target: Key
    field: Path
    secret_key: str | None = None


def iter_references(resource: Resource) -> Iterator[Reference]:
    """Every object `resource` refers to (a Secret's backend only when named)."""
    if isinstance(resource, Secret):
        if resource.spec.backend is not None:
            yield Reference(("SecretBackend", None, resource.spec.backend), ("spec", "backend"))
    elif isinstance(resource, SecretBackend):
        if resource.spec.token_secret_ref is not None:
            yield _secret_ref(resource.spec.token_secret_ref, ("spec", "tokenSecretRef"))
    elif isinstance(resource, Llm):
        if resource.spec.api_key_ref is not None:
            yield _secret_ref(resource.spec.api_key_ref, ("spec", "apiKeyRef"))
    elif isinstance(resource, (Server, Template)):
        spec: ServerSpec | TemplateSpec = resource.spec
        if isinstance(resource, Server) and resource.spec.template is not None:
            yield Reference(("Template", None, resource.spec.template), ("spec", "template"))
        sources: tuple[tuple[str, Sequence[EnvVar | HeaderVar]], ...] = (
            ("env", spec.env),
            ("headers", spec.headers),
        )
        for field, entries in sources:
            for i, entry in enumerate(entries):
                if entry.value_from is not None:
                    yield _secret_ref(
                        entry.value_from.secret_ref, ("spec", field, i, "valueFrom", "secretRef")
                    )
    elif isinstance(resource, Project):
        for i, server in enumerate(resource.spec.servers):
            yield Reference(("Server", None, server), ("spec", "servers", i))
        if resource.spec.llm is not None:
            for tier in ("fast", "heavy"):
                name = getattr(resource.spec.llm, tier)
                if name is not None:
                    yield Reference(("Llm", None, name), ("spec", "llm", tier))
    elif isinstance(resource, (Prompt, PromptRequest)):
        project = resource.metadata.project
        yield Reference(("Project", None, project), ("metadata", "project"))
        link = resource.spec.link_parts()
        if link is not None:
            yield Reference(("Project", None, link[0]), ("spec", "linkTarget"))
            yield Reference(("Server", None, link[1]), ("spec", "linkTarget"))
    elif isinstance(resource, Group):
        for i, member in enumerate(resource.spec.members):
            yield Reference(("User", None, member), ("spec", "members", i))
    elif isinstance(resource, Rbac):
        for i, subject in enumerate(resource.spec.subjects):
            yield Reference((subject.kind, None, subject.name), ("spec", "subjects", i, "name"))
    elif isinstance(resource, McpToken):
        if resource.spec.project is not None:
            yield Reference(("Project", None, resource.spec.project), ("spec", "project"))
    elif isinstance(resource, Instance):
        yield Reference(("Server", None, resource.spec.server), ("spec", "server"))


def _secret_ref(ref: SecretKeyRef, field: Path) -> Reference:
    return Reference(("Secret", None, ref.name), (*field, "name"), secret_key=ref.key)


def object_key(resource: Resource) -> Key:
    return (resource.KIND, resource.project, resource.name)


def format_key(key: Key) -> str:
    kind, project, name = key
    return f"{kind}/{project}/{name}" if project else f"{kind}/{name}"


class Catalog:
    """Objects by key: the set being checked over the objects already stored."""

    def __init__(self, manifests: Sequence[Manifest], existing: Iterable[Resource] = ()) -> None:
        self.objects: dict[Key, Resource] = {object_key(r): r for r in existing}
        for manifest in manifests:
            self.objects.setdefault(manifest.key, manifest.resource)
        for manifest in manifests:  # the set wins over what is stored
            self.objects[manifest.key] = manifest.resource
        self.templates: dict[str, Template] = dict(builtin_templates())
        for key, obj in self.objects.items():
            if isinstance(obj, Template):
                self.templates[key[2]] = obj
        backends = [o for o in self.objects.values() if isinstance(o, SecretBackend)]
        self.implicit_backend = not backends
        defaults = [b.name for b in backends if b.spec.default]
        self.default_backend: str | None = (
            SEEDED_BACKEND
            if self.implicit_backend
            else (defaults[0] if len(defaults) == 1 else None)
        )

    def get(self, key: Key) -> Resource | None:
        if key[0] == "Template":
            return self.templates.get(key[2])
        if key == ("SecretBackend", None, SEEDED_BACKEND) and self.implicit_backend:
            return None
        return self.objects.get(key)

    def exists(self, key: Key) -> bool:
        if key == ("SecretBackend", None, SEEDED_BACKEND) and self.implicit_backend:
            return True
        return self.get(key) is not None


def check_duplicates(manifests: Sequence[Manifest]) -> Iterator[ManifestIssue]:
    first: dict[Key, Manifest] = {}
    for manifest in manifests:
        earlier = first.get(manifest.key)
        if earlier is None:
            first[manifest.key] = manifest
            continue
        where = earlier.origin.file if earlier.origin else "the set"
        if earlier.origin is not None:
            line, _ = earlier.origin.locate(())
            where = f"{where}:{line}"
        yield manifest.issue(
            f"{format_key(manifest.key)} is defined more than once (first at {where})",
            "duplicate",
            ("metadata", "name"),
        )


def check_default_backend(
    manifests: Sequence[Manifest], catalog: Catalog
) -> Iterator[ManifestIssue]:
    if catalog.implicit_backend:
        return
    backends = [m for m in manifests if isinstance(m.resource, SecretBackend)]
    all_defaults = sorted(
        o.name for o in catalog.objects.values() if isinstance(o, SecretBackend) and o.spec.default
    )
    if len(all_defaults) > 1:
        for manifest in backends:
            assert isinstance(manifest.resource, SecretBackend)
            if manifest.resource.spec.default:
                yield manifest.issue(
                    f"exactly one SecretBackend may be the default; these all are: "
                    f"{', '.join(all_defaults)}",
                    "default-backend",
                    ("spec", "default"),
                )
    elif not all_defaults and backends:
        yield backends[0].issue(
            "no SecretBackend is the default: set spec.default: true on exactly one",
            "default-backend",
            ("spec",),
        )


def check_references(manifest: Manifest, catalog: Catalog) -> Iterator[ManifestIssue]:
    resource = manifest.resource
    if (
        isinstance(resource, Secret)
        and resource.spec.backend is None
        and catalog.default_backend is None
    ):
        yield manifest.issue(
            "the Secret names no backend and there is no single default SecretBackend",
            "reference",
            ("spec",),
        )
    for ref in iter_references(resource):
        target = catalog.get(ref.target)
        if not catalog.exists(ref.target):
            where = ""
            if ref.target[0] == "Template":
                where = " (neither declared nor built in)"
            yield manifest.issue(
                f"{resource.KIND} {resource.name!r} refers to {format_key(ref.target)}, "
                f"which does not exist{where}",
                "reference",
                ref.field,
            )
            continue
        if (
            ref.secret_key is not None
            and isinstance(target, Secret)
            and ref.secret_key not in target.spec.keys()  # noqa: SIM118 - a method, not a dict
        ):
            keys = ", ".join(sorted(target.spec.keys())) or "none"
            yield manifest.issue(
                f"Secret {target.name!r} has no key {ref.secret_key!r} (its keys: {keys})",
                "reference",
                (*ref.field[:-1], "key"),
            )
        if isinstance(resource, Project) and isinstance(target, Llm):
            tier = ref.field[-1]
            if target.spec.tier != tier:
                yield manifest.issue(
                    f"llm.{tier} names Llm {target.name!r}, whose tier is {target.spec.tier}",
                    "reference",
                    ref.field,
                )
        if (
            isinstance(resource, (Prompt, PromptRequest))
            and ref.target[0] == "Server"
            and ref.field == ("spec", "linkTarget")
        ):
            link = resource.spec.link_parts()
            assert link is not None
            project = catalog.get(("Project", None, link[0]))
            if isinstance(project, Project) and link[1] not in project.spec.servers:
                yield manifest.issue(
                    f"linkTarget names server {link[1]!r}, which is not in project {link[0]!r}",
                    "reference",
                    ref.field,
                )


def check_container_fields(
    manifest: Manifest, server: Server, catalog: Catalog
) -> Iterator[ManifestIssue]:
    """A Server's container-only fields (`resources`, `noNewPrivileges`) need a template
    that runs an image; a Server of its own is checked by its schema."""
    if server.spec.template is None:
        return
    template = catalog.templates.get(server.spec.template)
    if template is None or template.spec.image is not None:
        return
    runs = "runs a command" if template.spec.command is not None else "is an externalUrl"
    for alias, field in (("resources", "resources"), ("noNewPrivileges", "no_new_privileges")):
        if field in server.spec.model_fields_set:
            yield manifest.issue(
                f"{alias} applies only to image servers: template {template.name!r} {runs}",
                "container-field",
                ("spec", alias),
            )


def check_template_parameters(
    manifest: Manifest, server: Server, catalog: Catalog
) -> Iterator[ManifestIssue]:
    """The Server's env against its template's parameters: each required one set (or
    defaulted), each secret one from a Secret, each literal of the declared type (and
    among the enum). Env entries that are no parameter are the process's own
    environment: a template declares what it needs, not all a server may get. Values
    are never quoted: a credential given by mistake as a literal stays out of errors."""
    if server.spec.template is None:
        return
    template = catalog.templates.get(server.spec.template)
    if template is None:
        return  # the reference check says so
    who = f"Server {server.name!r}"
    env = {e.name: (i, e) for i, e in enumerate(server.spec.env)}
    for param in template.spec.parameters:
        found = env.get(param.name)
        if found is None:
            if param.required and param.default is None:
                source = " from a Secret (valueFrom.secretRef)" if param.secret else ""
                yield manifest.issue(
                    f"{who} uses template {template.name!r}, which requires parameter "
                    f"{param.name}: add env {param.name}{source}",
                    "template-parameter",
                    ("spec", "env"),
                )
            continue
        i, entry = found
        if entry.value is None:
            continue  # from a Secret: read only when the server starts
        if param.secret:
            yield manifest.issue(
                f"{who}: env {param.name} is a secret parameter of template "
                f"{template.name!r}: give it from a Secret (valueFrom.secretRef), not as a value",
                "template-parameter",
                ("spec", "env", i, "value"),
            )
            continue
        expected = param.refusal(entry.value)
        if expected is not None:
            yield manifest.issue(
                f"{who}: env {param.name} must be {expected}: it fills parameter "
                f"{param.name} of template {template.name!r}",
                "template-parameter",
                ("spec", "env", i, "value"),
            )
