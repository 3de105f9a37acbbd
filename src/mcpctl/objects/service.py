"""Reading and writing resource objects: validation, RBAC, audit, one transaction each.

Every write (create, replace, delete, apply) runs the same path: validate
each object alone, then the batch against the stored objects it refers to
(`check_set`, the checks of `mcpctl validate`), then against the stored
objects that refer to it; check RBAC per object; write in dependency order;
record an audit entry per object and a change row per write; commit once.
Unchanged objects are not rewritten. Anything wrong raises before commit, so a
request changes everything it asked for or nothing.

The API's handlers, identity and the git importer call `ObjectService`; the
checks live in `validating`, the entries a write records in `recording`, list
paging in `paging`, status writes in `status`, the queries in `mcpctl.store`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mcpctl.access import guard
from mcpctl.access.audit import audit_entry, record_audits
from mcpctl.access.cache import bump, cache_of
from mcpctl.access.credentials import after_write, settle_tokens
from mcpctl.access.policy import (
    Policy,
    Principal,
    policy_from,
    policy_of,
    require,
    require_run,
)
from mcpctl.errors import (
    Conflict,
    InvalidInput,
    InvalidManifest,
    ManifestIssue,
    NotFound,
)
from mcpctl.faults import afault
from mcpctl.manifests import (
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
from mcpctl.manifests.parsing import format_path
from mcpctl.manifests.references import (
    Key,
    check_duplicates,
    format_key,
    object_key,
)
from mcpctl.objects.paging import MAX_PAGE, decode_continue, encode_continue
from mcpctl.objects.recording import audited, change_entry, done_to
from mcpctl.objects.selectors import Selector
from mcpctl.objects.status import write_status
from mcpctl.objects.validating import (
    Planned,
    at_item,
    plan_write,
    prunable,
    referrer_issues,
    resolved,
    stored_context,
    validated,
    withheld_value_issues,
)
from mcpctl.schemas import BY_KIND, Rbac, Resource, Secret, Server, Template
from mcpctl.store import ObjectRow, Session, Sessions, write_context
from mcpctl.store.objects import (
    find_object,
    forget_references,
    insert_objects,
    insert_references,
    listing,
    objects_of_kinds,
    referrers,
)
from mcpctl.store.reading import rendered_text
from mcpctl.store.rows import (
    render,
    row_json,
    row_key,
    row_resource,
    rows_by_key,
)
from mcpctl.store.writes import append_changes


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class WriteResult:
    """What a write did (or would do, on a dry run)."""

    changes: ChangeSet
    objects: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False


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
            row = await find_object(session, model.KIND, project, name)
            if row is None:
                raise NotFound(f"{_ref(model.KIND, project, name)} not found")
            return row_json(row, reveal=reveal)

    async def get_text(
        self, principal: Principal, model: type[Resource], project: str | None, name: str
    ) -> str:
        """`get` without revealing, as the JSON text rendered at write time (what a list
        holds): a read of one column, nothing decoded or encoded again."""
        require(await self.policy(principal), "view", model.PLURAL, name)
        text = await rendered_text(self.sessions, model.KIND, project, name)
        if text is None:
            raise NotFound(f"{_ref(model.KIND, project, name)} not found")
        return text

    async def policy(self, principal: Principal) -> Policy:
        """What `principal` may do, from the access cache without a session when it is
        fresh (see `access.cache`)."""
        cache = cache_of(self.sessions)
        if not cache.due() and cache.compiled is not None:
            return policy_from(cache.compiled, principal)
        async with self.sessions() as session:
            return await policy_of(session, principal)

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
        after = decode_continue(continue_token) if continue_token else 0
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
                            return items, encode_continue(last_id)
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
            row = await find_object(session, model.KIND, project, name)
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
            if await find_object(session, *manifest.key) is not None:
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
            row = await find_object(session, *manifest.key)
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
            policy = await policy_of(session, principal)
            require(policy, "delete", model.PLURAL, name)
            row = await find_object(session, model.KIND, project, name)
            if row is None:
                raise NotFound(f"{_ref(model.KIND, project, name)} not found")
            await self._guard(session, policy, [], [row])
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
                issues.extend(at_item(issue, i) for issue in checked)
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
                issues.extend(at_item(issue, i) for issue in checked)
                continue
            problems = check_sealable(checked)
            if problems:
                issues.extend(at_item(issue, i) for issue in problems)
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
        recovering = write_context(session).source.kind == "recover"
        manifests = await settle_tokens(session, manifests, recovering=recovering, now=self.clock())
        rows = await rows_by_key(session, [m.key for m in manifests])
        plans = [plan_write(m, rows.get(m.key)) for m in manifests]
        issues = [issue for p in plans for issue in withheld_value_issues(p)]
        if issues:
            raise InvalidManifest(issues)
        # unchanged objects too: else the answer would confirm a guess of their content
        for plan in plans:
            if plan.manifest.key in granted:
                continue
            role = "create" if plan.row is None else "edit"
            require(policy, role, plan.manifest.resource.PLURAL, plan.manifest.resource.name)
        for plan in plans:
            if isinstance(plan.manifest.resource, Rbac):
                guard.check_bindings(policy, plan.manifest.resource)
        # the batch against what it refers to, and what refers to it against the batch
        batch = [Manifest(resolved(p), p.manifest.origin) for p in plans]
        existing = await stored_context(session, batch)
        if delete:  # deleted by the same write: the batch may not refer to them any more
            doomed_keys = set(delete)
            existing = [r for r in existing if object_key(r) not in doomed_keys]
        _check_secret_reads(policy, plans, batch, existing)
        _check_host_commands(policy, plans, batch, existing)
        issues = check_set(batch, existing=existing)
        pruned: list[ObjectRow] = []
        if prune is not None:
            pruned = await prunable(session, prune, {m.key for m in batch})
        if delete:
            doomed = await rows_by_key(session, list(delete))
            known = {row_key(r) for r in pruned}
            pruned.extend(r for k, r in doomed.items() if k not in known)
        for row in pruned:
            require(policy, "delete", BY_KIND[row.kind].PLURAL, row.name)
        issues.extend(await referrer_issues(session, batch, pruned))
        if issues:
            raise InvalidManifest(issues)
        changed = {p.manifest.key for p in plans if p.changed}
        await self._guard(session, policy, [m.resource for m in batch if m.key in changed], pruned)
        now = self.clock()
        written: list[dict[str, Any]] = []
        old: list[Resource] = []
        new: list[Resource] = []
        by_key = {p.manifest.key: p for p in plans}
        to_store: list[Planned] = []
        for manifest in apply_order(batch):
            plan = by_key[manifest.key]
            if plan.row is not None:
                old.append(row_resource(plan.row))
            new.append(manifest.resource)
            if plan.changed:
                to_store.append(plan)
        stored, bodies = await self._store(session, principal, to_store, now)
        await after_write(session, [resolved(p) for p in to_store], (), now)
        written.extend(bodies)
        await record_audits(
            session,
            [
                audited(session, principal, row, done_to(plan), now, verb)
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

    async def _guard(
        self,
        session: Session,
        policy: Policy,
        written: list[Resource],
        deleted: list[ObjectRow],
    ) -> None:
        """The write guards (`access.guard`) for a write storing `written` and deleting
        `deleted`, when it touches what decides who holds what."""
        if not any(r.KIND in guard.ACCESS_KINDS for r in written) and not any(
            r.kind in guard.ACCESS_KINDS for r in deleted
        ):
            return
        before = guard.AccessState.of(
            row_resource(r) for r in await objects_of_kinds(session, guard.ACCESS_KINDS)
        )
        after = before.changed(written, [(r.kind, r.name) for r in deleted])
        guard.check_write(policy, before, after, self.clock())
        await bump(session)  # the cached policy and credentials are dropped at commit

    async def _store(
        self,
        session: Session,
        principal: Principal,
        plans: list[Planned],
        now: datetime,
    ) -> tuple[list[ObjectRow], list[dict[str, Any]]]:
        """Write the planned objects in their order, in a few batched statements; the rows
        and their API forms."""
        if not plans:
            return [], []
        seqs = await append_changes(
            session,
            [change_entry(session, principal, p.manifest.key, done_to(p)) for p in plans],
            now,
        )
        resources = [resolved(p) for p in plans]
        write_context(session).note(
            {p.manifest.key: r for p, r in zip(plans, resources, strict=True)}
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
            for resource, row in zip(resources, rows, strict=True)
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
            session, [change_entry(session, principal, row_key(r), "delete") for r in ordered], now
        )
        write_context(session).note(dict.fromkeys(row_key(r) for r in ordered))
        for row in ordered:
            await session.delete(row)
        await session.flush()
        await after_write(session, (), [(r.kind, r.name) for r in ordered], now)
        await record_audits(
            session, [audited(session, principal, row, "delete", now, verb) for row in ordered]
        )


def _templates_known(batch: list[Manifest], existing: list[Resource]) -> dict[str, Template]:
    """The Templates a write's Servers may name: those stored, as this write leaves them."""
    templates = {r.name: r for r in existing if isinstance(r, Template)}
    templates.update(
        {m.resource.name: m.resource for m in batch if isinstance(m.resource, Template)}
    )
    return templates


def _spec_changes(plans: list[Planned]) -> Iterator[tuple[Resource, str]]:
    """Each object whose spec the write sets, with its name for messages (a change of
    labels or annotations only changes nothing that runs)."""
    for plan in plans:
        if plan.row is None or plan.row.spec != plan.spec:
            yield plan.manifest.resource, format_key(plan.manifest.key)


def _check_secret_reads(
    policy: Policy, plans: list[Planned], batch: list[Manifest], existing: list[Resource]
) -> None:
    """Each object whose spec this write sets, and that takes a Secret's value, is a read
    of that value by the writer (`guard.check_secret_read`); a Server takes the values its
    Template takes too (its own env runs beside them). Before the reference checks, so
    that a refusal says nothing of whether the Secret exists."""
    templates = _templates_known(batch, existing)
    for resource, owner in _spec_changes(plans):
        for ref in iter_references(resource):
            if ref.target[0] == "Secret":
                where = f"{owner} {format_path(ref.field)}"
                guard.check_secret_read(policy, where, ref.target[2])
            elif ref.target[0] == "Template" and ref.target[2] in templates:
                template = templates[ref.target[2]]
                for used in iter_references(template):
                    if used.target[0] == "Secret":
                        field = format_path(used.field)
                        where = f"{owner} spec.template (Template {template.name!r} {field})"
                        guard.check_secret_read(policy, where, used.target[2])


def _check_host_commands(
    policy: Policy, plans: list[Planned], batch: list[Manifest], existing: list[Resource]
) -> None:
    """A Server or Template whose spec this write sets, and that runs a command on mcpd's
    host (its own `command`, or its Template's), needs `run host-commands`
    (`guard.check_host_command`): such a server runs as mcpd's user, beside mcpd's state.
    An image or an external URL needs nothing more."""
    templates = _templates_known(batch, existing)
    for resource, owner in _spec_changes(plans):
        if isinstance(resource, Template | Server) and resource.spec.command is not None:
            guard.check_host_command(policy, f"{owner} spec.command")
        elif isinstance(resource, Server) and resource.spec.template is not None:
            template = templates.get(resource.spec.template)
            if template is not None and template.spec.command is not None:
                where = f"{owner} spec.template (Template {template.name!r} runs a command)"
                guard.check_host_command(policy, where)


def _require_reveal(policy: Policy) -> None:
    require_run(policy, "reveal-secrets")


def _ref(kind: str, project: str | None, name: str) -> str:
    return format_key((kind, project, name))
