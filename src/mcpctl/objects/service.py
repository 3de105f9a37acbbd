"""Reading and writing resource objects: validation, RBAC, audit, one transaction each.

Every write (create, replace, delete, apply) runs the same path: validate
each object alone, then the batch against the stored objects it refers to
(`check_set`, the checks of `mcpctl validate`), then against the stored
objects that refer to it; check RBAC per object; write in dependency order;
record an audit entry per object and a change row per write; commit once.
Unchanged objects are not rewritten. Anything wrong raises before commit, so a
request changes everything it asked for or nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from mcpctl.access.audit import audit_entry, record_audits
from mcpctl.access.policy import (
    Policy,
    Principal,
    missing_grants,
    policy_of,
    require,
    require_run,
)
from mcpctl.access.rbac import Grant
from mcpctl.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidManifest,
    ManifestIssue,
    NotFound,
)
from mcpctl.faults import afault
from mcpctl.manifests import (
    Catalog,
    ChangeSet,
    Manifest,
    Sealer,
    apply_order,
    check_sealable,
    check_set,
    delete_order,
    diff_sets,
    iter_references,
    to_plain,
    validate_object,
)
from mcpctl.manifests.references import (
    Key,
    check_duplicates,
    check_references,
    format_key,
    object_key,
)
from mcpctl.objects.selectors import Selector
from mcpctl.objects.status import write_status
from mcpctl.schemas import BY_KIND, Rbac, Resource, Secret
from mcpctl.store import ObjectRow, Session, Sessions, write_context
from mcpctl.store.objects import (
    all_objects,
    find_object,
    forget_references,
    insert_objects,
    insert_references,
    listing,
    objects_of_kind,
    referrers,
)
from mcpctl.store.rows import (
    render,
    row_json,
    row_key,
    row_resource,
    rows_by_key,
    stored_fields,
)
from mcpctl.store.writes import append_changes

MAX_PAGE = 5000


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class WriteResult:
    """What a write did (or would do, on a dry run)."""

    changes: ChangeSet
    objects: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False


@dataclass
class _Planned:
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


class ObjectService:
    """The operations on objects that the API (and later the git importer) call."""

    def __init__(
        self,
        sessions: Sessions,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.clock = clock

    # ---- reads -------------------------------------------------------------------------

    async def get(
        self,
        principal: Principal,
        model: type[Resource],
        project: str | None,
        name: str,
        *,
        reveal: bool = False,
    ) -> dict[str, Any]:
        async with self.sessions() as session:
            policy = await policy_of(session, principal)
            require(policy, "view", model.PLURAL, name)
            if reveal:
                _require_reveal(policy)
            row = await _find(session, model.KIND, project, name)
            if row is None:
                raise NotFound(f"{_ref(model.KIND, project, name)} not found")
            return row_json(row, reveal=reveal)

    async def list_page(
        self,
        principal: Principal,
        model: type[Resource],
        project: str | None,
        *,
        selector: Selector | None = None,
        spec_equals: dict[str, str] | None = None,
        limit: int = 500,
        continue_token: str | None = None,
    ) -> tuple[list[str], str | None]:
        """A page of objects of one kind as JSON texts, and the next page's token (or None).

        The texts are rendered at write time (secret values masked), so a long
        list costs a query and a join. `spec_equals` keeps objects whose
        top-level spec fields have these values (e.g. McpTokens of one project).
        """
        limit = max(1, min(limit, MAX_PAGE))
        after = _decode_continue(continue_token) if continue_token else 0
        async with self.sessions() as session:
            policy = await policy_of(session, principal)
            everything = policy.allows("view", model.PLURAL)
            items: list[str] = []
            last_id = after
            rows = listing(
                session,
                model.KIND,
                project,
                after,
                labels=selector is not None,
                spec=bool(spec_equals),
            )
            async with rows as partitions:
                async for partition in partitions:
                    for row in partition:
                        if not everything and not policy.allows("view", model.PLURAL, row.name):
                            continue
                        if selector is not None and not selector.matches(row.labels):
                            continue
                        if spec_equals and any(
                            row.spec.get(k) != v for k, v in spec_equals.items()
                        ):
                            continue
                        if len(items) == limit:
                            return items, _encode_continue(last_id)
                        items.append(row.rendered)
                        last_id = row.id
            if not everything and not items and after == 0:
                require(policy, "view", model.PLURAL)
            return items, None

    async def references(
        self, principal: Principal, model: type[Resource], project: str | None, name: str
    ) -> dict[str, list[str]]:
        async with self.sessions() as session:
            policy = await policy_of(session, principal)
            require(policy, "view", model.PLURAL, name)
            row = await _find(session, model.KIND, project, name)
            if row is None:
                raise NotFound(f"{_ref(model.KIND, project, name)} not found")
            uses = sorted({format_key(r.target) for r in iter_references(row_resource(row))})
            users = await referrers(session, [row_key(row)])
            return {"uses": uses, "usedBy": sorted(format_key(row_key(u)) for u in users)}

    # ---- writes ------------------------------------------------------------------------

    async def create(
        self, principal: Principal, model: type[Resource], project: str | None, body: Any
    ) -> dict[str, Any]:
        manifest = validated(body, model, project)
        async with self.sessions() as session, session.begin():
            written = await self.create_in(session, principal, [manifest])
            return written[0]

    async def create_in(
        self,
        session: Session,
        principal: Principal,
        manifests: list[Manifest],
        *,
        granted: frozenset[Key] = frozenset(),
    ) -> list[dict[str, Any]]:
        """Create objects that must not exist yet, in the caller's transaction.

        `granted`: objects whose creation the caller has already authorized (an
        McpToken's Rbac, bounded by its creator's permissions).
        """
        policy = await policy_of(session, principal)
        for manifest in manifests:
            if manifest.key not in granted:
                require(policy, "create", manifest.resource.PLURAL, manifest.resource.name)
        for manifest in manifests:
            if await _find(session, *manifest.key) is not None:
                raise Conflict(f"{format_key(manifest.key)} already exists")
        result = await self._write(session, principal, manifests, verb="create", granted=granted)
        return result.objects

    async def replace(
        self,
        principal: Principal,
        model: type[Resource],
        project: str | None,
        name: str,
        body: Any,
    ) -> dict[str, Any]:
        manifest = validated(body, model, project)
        if manifest.resource.name != name:
            raise InvalidInput(
                f"metadata.name {manifest.resource.name!r} does not match the URL's {name!r}"
            )
        async with self.sessions() as session, session.begin():
            require(await policy_of(session, principal), "edit", model.PLURAL, name)
            row = await _find(session, *manifest.key)
            if row is None:
                raise NotFound(f"{format_key(manifest.key)} not found")
            wanted = manifest.resource.metadata.resource_version
            if wanted is not None and wanted != str(row.resource_version):
                raise Conflict(
                    f"{format_key(manifest.key)} changed since it was read "
                    f"(resourceVersion {wanted}, now {row.resource_version}): read it again"
                )
            result = await self._write(session, principal, [manifest], verb="update")
            return result.objects[0] if result.objects else row_json(row)

    async def delete(
        self, principal: Principal, model: type[Resource], project: str | None, name: str
    ) -> None:
        async with self.sessions() as session, session.begin():
            require(await policy_of(session, principal), "delete", model.PLURAL, name)
            row = await _find(session, model.KIND, project, name)
            if row is None:
                raise NotFound(f"{_ref(model.KIND, project, name)} not found")
            await self._delete_rows(session, principal, [row], keep=set())

    async def apply(
        self,
        principal: Principal,
        items: Sequence[Any],
        *,
        dry_run: bool = False,
        prune: bool = False,
        selector: Selector | None = None,
    ) -> WriteResult:
        """Create or update every object of a batch (and prune), all or nothing."""
        if prune and selector is None:
            raise InvalidInput("prune needs a label selector (selector)")
        manifests: list[Manifest] = []
        issues: list[ManifestIssue] = []
        for i, item in enumerate(items):
            checked = validate_object(item)
            if isinstance(checked, Manifest):
                manifests.append(checked)
            else:
                issues.extend(_at_item(issue, i) for issue in checked)
        if issues:
            raise InvalidManifest(issues)
        async with self.sessions() as session:
            async with session.begin():
                result = await self._write(
                    session, principal, manifests, verb="apply", prune=selector if prune else None
                )
                await afault("write.before-commit")
                result.dry_run = dry_run
                if dry_run:
                    await session.rollback()
            return result

    async def seal(
        self, principal: Principal, items: Sequence[Any], seal: Sealer
    ) -> list[dict[str, Any]]:
        """Secrets with their values sealed, as the state repo keeps them (`mcpctl seal`).

        For a push of a new value: git refuses plaintext values, and only mcpd holds
        the key. Each value is bound to its Secret and key, so it opens nowhere else.
        Nothing is stored; the caller must be allowed to write each Secret (create, or
        edit if it exists), as the push of it will be. Values sealed already pass.
        """
        manifests: list[Manifest] = []
        secrets: list[Secret] = []  # the resources of `manifests`, as Secrets
        issues: list[ManifestIssue] = []
        for i, item in enumerate(items):
            checked = validate_object(item)
            if not isinstance(checked, Manifest):
                issues.extend(_at_item(issue, i) for issue in checked)
                continue
            problems = check_sealable(checked)
            if problems:
                issues.extend(_at_item(issue, i) for issue in problems)
                continue
            assert isinstance(checked.resource, Secret)  # check_sealable said so
            manifests.append(checked)
            secrets.append(checked.resource)
        issues.extend(check_duplicates(manifests))
        if issues:
            raise InvalidManifest(issues)
        async with self.sessions() as session, session.begin():
            policy = await policy_of(session, principal)
            rows = await rows_by_key(session, [m.key for m in manifests])
            for manifest in manifests:
                role = "edit" if manifest.key in rows else "create"
                require(policy, role, "secrets", manifest.resource.name)
            now = self.clock()
            await record_audits(
                session,
                [
                    audit_entry(
                        principal,
                        verb="seal",
                        kind="Secret",
                        name=secret.name,
                        outcome="success",
                        at=now,
                        details={"keys": sorted(secret.spec.data)},
                    )
                    for secret in secrets
                ],
            )
        return [to_plain(m.resource, secrets="seal", sealer=seal) for m in manifests]

    async def write_set(
        self,
        session: Session,
        principal: Principal,
        manifests: list[Manifest],
        deleted: Sequence[Key],
        *,
        verb: str,
    ) -> WriteResult:
        """Write `manifests` and delete `deleted` in the caller's transaction, all or nothing.

        The importer's write (a push, the mirror, a restore): the same checks and
        RBAC as `apply`, per object, as `principal`.
        """
        return await self._write(session, principal, manifests, verb=verb, delete=deleted)

    async def write_status(self, key: Key, status: dict[str, Any] | None) -> dict[str, Any]:
        """Set the status of the object `key` (see `objects.status`); its API form."""
        async with self.sessions() as session, session.begin():
            return await write_status(session, key, status)

    # ---- the write path ----------------------------------------------------------------

    async def _write(
        self,
        session: Session,
        principal: Principal,
        manifests: list[Manifest],
        *,
        verb: str,
        prune: Selector | None = None,
        granted: frozenset[Key] = frozenset(),
        delete: Sequence[Key] = (),
    ) -> WriteResult:
        policy = await policy_of(session, principal)
        duplicates = list(check_duplicates(manifests))
        if duplicates:
            raise InvalidManifest(duplicates)
        rows = await rows_by_key(session, [m.key for m in manifests])
        plans = [_plan(m, rows.get(m.key)) for m in manifests]
        issues = [issue for p in plans for issue in _withheld_value_issues(p)]
        if issues:
            raise InvalidManifest(issues)
        # unchanged objects too: else the answer would confirm a guess of their content
        for plan in plans:
            if plan.manifest.key in granted:
                continue
            role = "create" if plan.row is None else "edit"
            require(policy, role, plan.manifest.resource.PLURAL, plan.manifest.resource.name)
        for plan in plans:
            _require_no_escalation(policy, plan.manifest.resource)
        # the batch against what it refers to, and what refers to it against the batch
        batch = [Manifest(_resolved(p), p.manifest.origin) for p in plans]
        existing = await _context_for(session, batch)
        if delete:  # deleted by the same write: the batch may not refer to them any more
            doomed_keys = set(delete)
            existing = [r for r in existing if object_key(r) not in doomed_keys]
        issues = check_set(batch, existing=existing)
        pruned: list[ObjectRow] = []
        if prune is not None:
            pruned = await _prunable(session, prune, {m.key for m in batch})
        if delete:
            doomed = await rows_by_key(session, list(delete))
            known = {row_key(r) for r in pruned}
            pruned.extend(r for k, r in doomed.items() if k not in known)
        for row in pruned:
            require(policy, "delete", BY_KIND[row.kind].PLURAL, row.name)
        issues.extend(await _referrer_issues(session, batch, pruned))
        if issues:
            raise InvalidManifest(issues)
        now = self.clock()
        written: list[dict[str, Any]] = []
        old: list[Resource] = []
        new: list[Resource] = []
        by_key = {p.manifest.key: p for p in plans}
        to_store: list[_Planned] = []
        for manifest in apply_order(batch):
            plan = by_key[manifest.key]
            if plan.row is not None:
                old.append(row_resource(plan.row))
            new.append(manifest.resource)
            if plan.changed:
                to_store.append(plan)
        stored, bodies = await self._store(session, principal, to_store, now)
        written.extend(bodies)
        await record_audits(
            session,
            [
                _audited(session, principal, row, _done(plan), now, verb)
                for plan, row in zip(to_store, stored, strict=True)
            ],
        )
        if pruned:
            old.extend(row_resource(r) for r in pruned)
            await self._delete_rows(
                session, principal, pruned, keep={m.key for m in batch}, verb=verb
            )
        changes = diff_sets(old, new)
        return WriteResult(changes=changes, objects=written)

    async def _store(
        self,
        session: Session,
        principal: Principal,
        plans: list[_Planned],
        now: datetime,
    ) -> tuple[list[ObjectRow], list[dict[str, Any]]]:
        """Write the planned objects in their order, in a few batched statements; the rows
        and their API forms."""
        if not plans:
            return [], []
        seqs = await append_changes(
            session,
            [_change(session, principal, p.manifest.key, _done(p)) for p in plans],
            now,
        )
        resolved = [_resolved(p) for p in plans]
        write_context(session).note(
            {p.manifest.key: r for p, r in zip(plans, resolved, strict=True)}
        )
        rows: list[ObjectRow] = []
        bodies: list[dict[str, Any]] = []
        created: list[ObjectRow] = []
        updated_ids: list[int] = []
        for plan, seq in zip(plans, seqs, strict=True):
            kind, project, name = plan.manifest.key
            row = plan.row
            if row is None:
                # not added to the session: inserted below in one batched statement
                row = ObjectRow(
                    kind=kind,
                    project=project or "",
                    name=name,
                    spec=plan.spec,
                    labels=plan.labels,
                    annotations=plan.annotations,
                    status=None,
                    resource_version=seq,
                    generation=1,
                    created_at=now,
                    updated_at=now,
                    created_by=principal.actor,
                    updated_by=principal.actor,
                )
                created.append(row)
            else:
                if row.spec != plan.spec:
                    row.generation += 1
                row.spec = plan.spec
                row.labels = plan.labels
                row.annotations = plan.annotations
                row.resource_version = seq
                row.updated_at = now
                row.updated_by = principal.actor
                updated_ids.append(row.id)
            body = render(row)
            rows.append(row)
            bodies.append(body)
        await forget_references(session, updated_ids)
        await session.flush()  # the updated objects
        await insert_objects(session, created)
        refs = [
            {"source_id": row.id, "kind": ref[0], "project": ref[1] or "", "name": ref[2]}
            for resource, row in zip(resolved, rows, strict=True)
            for ref in {r.target for r in iter_references(resource)}
        ]
        await insert_references(session, refs)
        return rows, bodies

    async def _delete_rows(
        self,
        session: Session,
        principal: Principal,
        rows: list[ObjectRow],
        *,
        keep: set[Key],
        verb: str | None = None,
    ) -> None:
        doomed = {row_key(r) for r in rows}
        users = await referrers(session, list(doomed))
        blocking = sorted(format_key(row_key(u)) for u in users if row_key(u) not in doomed)
        if blocking:
            names = ", ".join(sorted(format_key(k) for k in doomed))
            raise Conflict(f"{names} is still referenced by {', '.join(blocking)}")
        now = self.clock()
        manifests = [Manifest(row_resource(r)) for r in rows]
        order = {m.key: i for i, m in enumerate(delete_order(manifests))}
        ordered = sorted(rows, key=lambda r: order[row_key(r)])
        await append_changes(
            session, [_change(session, principal, row_key(r), "delete") for r in ordered], now
        )
        write_context(session).note(dict.fromkeys(row_key(r) for r in ordered))
        for row in ordered:
            await session.delete(row)
        await session.flush()
        await record_audits(
            session, [_audited(session, principal, row, "delete", now, verb) for row in ordered]
        )


def _require_no_escalation(policy: Policy, resource: Resource) -> None:
    """Nobody grants through an Rbac more than they hold themselves (like Kubernetes RBAC)."""
    if not isinstance(resource, Rbac):
        return
    wanted = [Grant.of(b) for b in resource.spec.bindings]
    missing = missing_grants(policy, wanted)
    if missing:
        raise Forbidden(
            f"forbidden: Rbac {resource.name!r} would grant what you do not hold: "
            + ", ".join(g.describe() for g in missing)
        )


def _require_reveal(policy: Policy) -> None:
    require_run(policy, "reveal-secrets")


def _done(plan: _Planned) -> str:
    """What writing `plan` does to its object: create or update."""
    return "create" if plan.row is None else "update"


def _audited(
    session: Session,
    principal: Principal,
    row: ObjectRow,
    done: str,
    now: datetime,
    verb: str | None,
) -> dict[str, Any]:
    """The audit entry of one object written (`done`: create, update, delete) by the write
    in `session`, saying how the write came (`verb`, the commit: `_via`)."""
    return audit_entry(
        principal,
        verb=done,
        kind=row.kind,
        name=row.name,
        project=row.project or None,
        outcome="success",
        at=now,
        details=_via(session, verb),
    )


def _change(session: Session, principal: Principal, key: Key, verb: str) -> dict[str, Any]:
    """One entry of the change log (without its `at`, which `append_changes` sets)."""
    kind, project, name = key
    write = write_context(session)
    return {
        "kind": kind,
        "project": project or "",
        "name": name,
        "verb": verb,
        "actor": principal.actor,
        "write_id": write.begin(principal.actor),
        "source": str(write.source),
    }


def _via(session: Session, verb: str | None) -> dict[str, Any] | None:
    """What an audit entry says of how the write came: the request's verb, a commit."""
    details: dict[str, Any] = {}
    if verb is not None:
        details["via"] = verb
    source = str(write_context(session).source)
    if source:
        details["source"] = source
    return details or None


def _ref(kind: str, project: str | None, name: str) -> str:
    return format_key((kind, project, name))


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


def _at_item(issue: ManifestIssue, index: int) -> ManifestIssue:
    where = f"items[{index}]"
    return replace(issue, field=f"{where}.{issue.field}" if issue.field else where)


def _plan(manifest: Manifest, row: ObjectRow | None) -> _Planned:
    spec, labels, annotations = stored_fields(manifest.resource)
    if row is not None and isinstance(manifest.resource, Secret):
        data = dict(spec.get("data", {}))
        stored = row.spec.get("data", {})
        for key, value in list(data.items()):
            if value is None and key in stored:
                data[key] = stored[key]
        if data:
            spec = {**spec, "data": dict(sorted(data.items()))}
    return _Planned(manifest, row, spec, labels, annotations)


def _withheld_value_issues(plan: _Planned) -> list[ManifestIssue]:
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


def _resolved(plan: _Planned) -> Resource:
    """The object as it will be stored (withheld secret values filled in)."""
    resource = plan.manifest.resource
    if not isinstance(resource, Secret) or plan.row is None:
        return resource
    data = plan.spec.get("data", {})
    return resource.model_copy(update={"spec": resource.spec.model_copy(update={"data": data})})


async def _find(session: Session, kind: str, project: str | None, name: str) -> ObjectRow | None:
    return await find_object(session, kind, project, name)


async def _context_for(session: Session, batch: list[Manifest]) -> list[Resource]:
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


async def _referrer_issues(
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
    context = await _context_for(session, [Manifest(r) for r in user_resources])
    catalog = Catalog(batch, [c for c in context if object_key(c) not in pruned_keys])
    issues: list[ManifestIssue] = []
    for resource in user_resources:
        for issue in check_references(Manifest(resource), catalog):
            issues.append(issue)
    return issues


async def _prunable(session: Session, selector: Selector, keep: set[Key]) -> list[ObjectRow]:
    rows = await all_objects(session)
    return [
        r
        for r in rows
        if BY_KIND[r.kind].IN_GIT and selector.matches(r.labels) and row_key(r) not in keep
    ]


def _encode_continue(last_id: int) -> str:
    raw = json.dumps({"after": last_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("invalid continue token") from None
    if not isinstance(after, int) or not 0 <= after < 2**63:  # ids are 64-bit
        raise InvalidInput("invalid continue token")
    return after
