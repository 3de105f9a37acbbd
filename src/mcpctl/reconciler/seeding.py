"""The built-in catalogue, seeded into the database at each start of the leader.

The package ships its Templates (`manifests.builtins`); `seed_templates` makes
the database hold them as objects, so that `get`, `describe`, RBAC and the
state repo treat them like any other. It runs among the leader's parts
(`daemon/wiring.py` `_lead`), after the first start's bootstrap and before the
exporter starts, which then commits its write. The rules, by the name of each
shipped Template:

- **missing** (never seeded, or deleted since): created;
- **labelled `mcpctl.dev/builtin: "true"`** and different from the shipped
  version (an edit, an older mcpctl's version): replaced by the shipped one,
  labels and annotations included. The label says "mcpd keeps this as the
  package ships it", as Kubernetes' `autoupdate` annotation does for its
  default ClusterRoles;
- **without that label** (a user's own Template of that name, or a built-in
  whose label someone removed or changed to keep an edit): never touched.

Nothing else is touched: a Template the package does not ship, or no longer
ships, stays as it is. Everything seeded is one write as mcpd itself (the
actor `mcpd`, verb `seed` in the audit entries), so one commit; a start that
finds every built-in as shipped writes nothing. The write goes through the
objects' write path (`ObjectService.write_set`) with its checks and records,
and is fenced by the leader's term: a replica deposed meanwhile writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mcpctl.access import SYSTEM
from mcpctl.manifests import Manifest
from mcpctl.manifests.builtins import builtin_manifests, is_builtin
from mcpctl.objects.service import ObjectService
from mcpctl.objects.validating import plan_write
from mcpctl.store import Session, write_context
from mcpctl.store.rows import rows_by_key

log = logging.getLogger(__name__)

#: What the audit entries of the seeding write say it came by.
VERB = "seed"


@dataclass(frozen=True)
class Seeded:
    """What a seeding did, by Template name: created, updated to the shipped version,
    and left as they are although they differ from it (the label removed: the user's)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def written(self) -> bool:
        return bool(self.created or self.updated)


async def seed_templates(
    objects: ObjectService,
    fence: Callable[[Session], Awaitable[None]] | None = None,
    shipped: tuple[Manifest, ...] | None = None,
) -> Seeded:
    """Bring the built-in Templates of the database to the shipped ones (see the module),
    in one write; `fence` refuses it unless this replica leads (`Leadership.fence`).
    `shipped` replaces the package's catalogue (tests)."""
    manifests = builtin_manifests() if shipped is None else shipped
    seeded = Seeded()
    async with objects.sessions() as session, session.begin():
        write_context(session).fence = fence
        rows = await rows_by_key(session, [m.key for m in manifests])
        writes: list[Manifest] = []
        for manifest in manifests:
            row = rows.get(manifest.key)
            name = manifest.resource.name
            if row is None:
                seeded.created.append(name)
                writes.append(manifest)
            elif plan_write(manifest, row).changed:
                if is_builtin(row.labels):
                    seeded.updated.append(name)
                    writes.append(manifest)
                else:
                    seeded.kept.append(name)
        if writes:
            await objects.write_set(session, SYSTEM, writes, (), verb=VERB)
    if seeded.written:
        log.info(
            "built-in templates: created %s; updated to the shipped version %s",
            ", ".join(seeded.created) or "none",
            ", ".join(seeded.updated) or "none",
        )
    if seeded.kept:
        log.info(
            "built-in templates left as they are (no label mcpctl.dev/builtin=true: "
            "yours, not mcpd's): %s",
            ", ".join(seeded.kept),
        )
    return seeded
