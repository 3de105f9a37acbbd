"""A Server's spec into the `Limits` a driver enforces: the one reading of `resources`.

The reconciler builds each `Launch` with `limits_for(server.spec)`; the docker driver
turns the result into the container's memory, CPU and `no-new-privileges`. The
defaults (512Mi, one CPU, no new privileges) are the schema's (`schemas.server`), so a
Server that says nothing runs bounded all the same.
"""

from __future__ import annotations

from mcpctl.runtime.base import Limits
from mcpctl.schemas import ServerResources, ServerSpec
from mcpctl.schemas.quantities import memory_bytes

__all__ = ["limits_for"]


def limits_for(spec: ServerSpec) -> Limits:
    """The limits of one instance of `spec` (its defaults where it says nothing).

    Only containers are bounded: the process driver ignores them, and a command
    server's spec may not set them (its schema refuses)."""
    resources = spec.resources if spec.resources is not None else ServerResources()
    return Limits(
        memory_bytes=memory_bytes(resources.memory),
        cpus=resources.cpus,
        no_new_privileges=spec.no_new_privileges,
    )
