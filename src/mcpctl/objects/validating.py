"""The checks of a write against what is stored, before anything is written.

`ObjectService`'s write path (objects/service.py) plans each object against its
stored row (`plan_write`: withheld secret values are kept), checks the batch
against the stored objects it refers to (`stored_context`) and the stored
objects that refer to it (`referrer_issues`), finds what a prune removes, and
refuses an Rbac granting more than its writer holds. `validated` checks the body
of one object sent to its URL (the API's create and replace, identity's tokens).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mcpctl.errors import InvalidInput, InvalidManifest, ManifestIssue
from mcpctl.manifests import Catalog, Manifest, iter_references, validate_object
from mcpctl.manifests.references import Key, check_references, object_key
from mcpctl.objects.selectors import Selector
from mcpctl.schemas import BY_KIND, Resource, Secret
from mcpctl.store import ObjectRow, Session
from mcpctl.store.objects import all_objects, objects_of_kind, referrers
from mcpctl.store.rows import row_key, row_resource, rows_by_key, stored_fields


def validated(body: Any, model: type[Resource], project: str | None) -> Manifest:
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object (one manifest)")
    if body.get("kind") != model.KIND:
        raise InvalidInput(f"the body's kind must be {model.KIND!r} at this URL")
    checked = validate_object(body)
    if not isinstance(checked, Manifest):
        raise InvalidManifest(checked)
    if checked.resource.project != project:
        raise InvalidInput(
            f"metadata.project {checked.resource.project!r} does not match the URL's {project!r}"
        )
    return checked


def at_item(issue: ManifestIssue, index: int) -> ManifestIssue:
    where = f"items[{index}]"
    return replace(issue, field=f"{where}.{issue.field}" if issue.field else where)


@dataclass
class Planned:
    manifest: Manifest
    row: ObjectRow | None
    spec: dict[str, Any]
    labels: dict[str, Any]
    annotations: dict[str, Any]

    @property
    def changed(self) -> bool:
        row = self.row
        return row is None or (row.spec, row.labels, row.annotations) != (
            self.spec,
            self.labels,
            self.annotations,
        )


def plan_write(manifest: Manifest, row: ObjectRow | None) -> Planned:
    spec, labels, annotations = stored_fields(manifest.resource)
    if row is not None and isinstance(manifest.resource, Secret):
        data = dict(spec.get("data", {}))
        stored = row.spec.get("data", {})
        for key, value in list(data.items()):
            if value is None and key in stored:
                data[key] = stored[key]
        if data:
            spec = {**spec, "data": dict(sorted(data.items()))}
    return Planned(manifest, row, spec, labels, annotations)


def withheld_value_issues(plan: Planned) -> list[ManifestIssue]:
    if not isinstance(plan.manifest.resource, Secret):
        return []
    return [
        plan.manifest.issue(
            f"key {key!r} has no value and none is stored: give its value",
            "secret-value",
            ("spec", "data", key),
        )
        for key, value in plan.spec.get("data", {}).items()
        if value is None
    ]


def resolved(plan: Planned) -> Resource:
    """The object as it will be stored (withheld secret values filled in)."""
    resource = plan.manifest.resource
    if not isinstance(resource, Secret) or plan.row is None:
        return resource
    data = plan.spec.get("data", {})
    return resource.model_copy(update={"spec": resource.spec.model_copy(update={"data": data})})


async def stored_context(session: Session, batch: list[Manifest]) -> list[Resource]:
    """The stored objects the batch's checks need: what it refers to, and every backend."""
    keys: set[Key] = set()
    for manifest in batch:
        keys.update(ref.target for ref in iter_references(manifest.resource))
    batch_keys = {m.key for m in batch}
    rows = await rows_by_key(session, keys - batch_keys)
    backends = await objects_of_kind(session, "SecretBackend")
    context = {row_key(r): r for r in backends}
    context.update(rows)
    return [row_resource(r) for k, r in context.items() if k not in batch_keys]


async def referrer_issues(
    session: Session, batch: list[Manifest], pruned: list[ObjectRow]
) -> list[ManifestIssue]:
    """Stored objects outside the batch whose references the batch (or pruning) breaks."""
    batch_keys = {m.key for m in batch}
    touched = [m.key for m in batch] + [row_key(r) for r in pruned]
    pruned_keys = {row_key(r) for r in pruned}
    users = [
        u
        for u in await referrers(session, touched)
        if row_key(u) not in batch_keys and row_key(u) not in pruned_keys
    ]
    if not users:
        return []
    user_resources = [row_resource(u) for u in users]
    context = await stored_context(session, [Manifest(r) for r in user_resources])
    catalog = Catalog(batch, [c for c in context if object_key(c) not in pruned_keys])
    issues: list[ManifestIssue] = []
    for resource in user_resources:
        for issue in check_references(Manifest(resource), catalog):
            issues.append(issue)
    return issues


async def prunable(session: Session, selector: Selector, keep: set[Key]) -> list[ObjectRow]:
    rows = await all_objects(session)
    return [
        r
        for r in rows
        if BY_KIND[r.kind].IN_GIT and selector.matches(r.labels) and row_key(r) not in keep
    ]
