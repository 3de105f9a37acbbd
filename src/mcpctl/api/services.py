"""What the API's handlers are given: mcpd's parts, built once by `daemon/wiring.py`.

The daemon builds one `Services` from its settings and hands it to
`build_app`; every handler takes it beside the request. The types are the
parts' own (the store's `Engine` and `Sessions`, not sqlalchemy's).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.routing import BaseRoute

from mcpctl.api.githttp import GitEndpoint
from mcpctl.api.requests import DEFAULT_MAX_BODY
from mcpctl.identity import IdentityService
from mcpctl.objects import ObjectService
from mcpctl.reconciler.exporting import GitReplica
from mcpctl.reconciler.following import Follower
from mcpctl.reconciler.importing import GitImporter
from mcpctl.reconciler.leadership import Election, Leadership, Listening
from mcpctl.reconciler.mirroring import GitMirror
from mcpctl.reconciler.operations import GitOperations
from mcpctl.reconciler.restoring import Restorer
from mcpctl.reconciler.running import RuntimeReconciler
from mcpctl.reconciler.supervisor import Supervisor
from mcpctl.store.database import Engine, Sessions


@dataclass
class Services:
    engine: Engine
    sessions: Sessions
    objects: ObjectService
    identity: IdentityService
    replica: GitReplica
    importer: GitImporter | None = None
    restorer: Restorer | None = None
    git: GitEndpoint | None = None
    mirror: GitMirror | None = None
    public_key: str | None = None
    #: the largest request body accepted, in bytes (`HttpSettings.max_body`)
    max_body: int = DEFAULT_MAX_BODY
    #: the state repo's operations for callers (status, verify, timelines, restore, sync)
    gitops: GitOperations | None = None
    #: this replica's side of the lease, the loop campaigning for it, the follower of the
    #: leader's repo and the LISTEN connection (the last two on PostgreSQL only)
    leadership: Leadership | None = None
    election: Election | None = None
    follower: Follower | None = None
    listening: Listening | None = None
    #: the runtime reconciler while this replica leads (None otherwise): the logs' source
    runtime: RuntimeReconciler | None = None
    #: a follower's wait for the admin, to say how to log in (`wiring.follower_start`)
    hint: asyncio.Task[None] | None = None
    #: what starts, runs and stops the loops (`daemon.main`); the status reports from it
    supervisor: Supervisor = field(default_factory=Supervisor)
    #: routes the daemon serves beside the API's (the MCP endpoint, `/mcp/<project>`)
    mounted: list[BaseRoute] = field(default_factory=list)
