"""What the test session started and left running: MCP server processes and containers.

Every process the runtime starts has its home under the state dir it was given, so a
server started by a test has one under the session's temp dir (`basetemp`); every
container mcpd or a test started carries the runtime's owner label. At the end of the
session none of them may still run (`tests/conftest.py`, `no_leftovers`).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["containers_left", "processes_left"]


def processes_left(basetemp: Path) -> list[str]:
    """The processes whose HOME lies under `basetemp` (a test's server or its children)."""
    prefix = str(basetemp.resolve()) + os.sep
    left = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            status = (entry / "stat").read_text()
        except OSError:
            continue
        if ") Z " in status:
            continue  # ended: only its exit status is left for its parent
        homes = [v[5:].decode(errors="replace") for v in environ if v.startswith(b"HOME=")]
        if homes and homes[0].startswith(prefix):
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            left.append(f"pid {entry.name}: {command.strip()[:200]}")
    return left


def containers_left(since: datetime) -> list[str]:
    """The running containers with the runtime's owner label created after `since` (None
    if no Docker engine answers: then no test started one)."""
    import docker  # type: ignore[import-untyped]  # the SDK ships no type information

    from mcpctl.runtime.base import OWNER_LABEL
    from tests.support.dockerengine import ENGINE_URL, engine_answers

    if not engine_answers():
        return []
    client = docker.DockerClient(base_url=ENGINE_URL)
    try:
        left = []
        for container in client.containers.list(filters={"label": OWNER_LABEL}):
            created = datetime.fromisoformat(container.attrs["Created"][:26].rstrip("Z") + "+00:00")
            if created.astimezone(UTC) >= since:
                left.append(f"{container.name} ({container.short_id})")
        return left
    finally:
        client.close()
