"""What replicas ask of the leader beside the git endpoint: the cluster's sealing key.

`GET /cluster/v1/sealing-key` hands the sealing key to a replica that joined
without one (its follower asks once, then keeps it in its state dir, 0600), so
every replica seals with one key and any of them can lead. Only the leader
answers it, and only to a caller presenting the cluster's replication secret
(which whoever reads the database may read: the key opens nothing the
database does not hold in plain already). Not part of `/api/v1`, nor of its
OpenAPI document.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from mcpctl.api.endpoints import JSONResponse
from mcpctl.api.problems import problem
from mcpctl.api.services import Services
from mcpctl.reconciler.operations import replica_principal
from mcpctl.secrets import Sealer

log = logging.getLogger(__name__)

#: The header a replica names itself in (for the log).
REPLICA_HEADER = "mcpctl-replica"


async def sealing_key(request: Request, services: Services) -> Response:
    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or (
        await replica_principal(services.sessions, raw.strip()) is None
    ):
        return problem(403, "forbidden", "Forbidden", "only replicas of this database ask this")
    leadership = services.leadership
    if leadership is None or not leadership.leads():
        return problem(503, "unavailable", "Not the leader", "ask the replica that leads")
    sealer = services.importer.sealer if services.importer is not None else None
    if not isinstance(sealer, Sealer):
        return problem(503, "unavailable", "No key", "this replica has no sealing key either")
    log.info(
        "handed the sealing key to replica %s", request.headers.get(REPLICA_HEADER, "(unnamed)")
    )
    return JSONResponse({"key": sealer.key_text(), "id": sealer.key_id})
