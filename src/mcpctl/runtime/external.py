"""The external driver: `externalUrl` servers, which mcpctl reaches but does not run.

Someone else runs the server; an "instance" of it is only the record that the
reconciler wants it reached, at its URL, with its headers. So `start` records
and answers at once, `stop` forgets, there are no logs, and no exit is ever
seen: whether the server answers is the health probe's question (through the
channel, `upstream`), not this driver's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import ClassVar

from mcpctl.errors import InvalidInput
from mcpctl.runtime.base import Endpoint, Exit, Launch, Observed, RuntimeName, StdioPipe

__all__ = ["ExternalDriver"]


class ExternalDriver:
    """Servers reached at their `externalUrl` (see the module's docstring)."""

    name: ClassVar[RuntimeName] = "external"

    def __init__(self, owner: str, node: str) -> None:
        self.owner = owner
        self.node = node
        self._instances: dict[str, Observed] = {}
        self._closed = asyncio.Event()

    def __repr__(self) -> str:
        return f"<ExternalDriver instances={len(self._instances)}>"

    async def check(self) -> None:
        """Nothing to check: reaching the servers is the probes' work."""

    async def start(self, launch: Launch) -> Observed:
        if launch.runtime != "external" or not launch.external_url:
            raise InvalidInput(
                f"instance {launch.instance}: the external driver needs an externalUrl "
                f"(this launch is a {launch.runtime} one)"
            )
        if launch.transport == "stdio":
            raise InvalidInput(
                f"instance {launch.instance}: an external server is reached over HTTP: "
                "its transport is sse or streamable-http, not stdio"
            )
        observed = Observed(
            server=launch.server,
            instance=launch.instance,
            generation=launch.generation,
            runtime="external",
            ref=launch.external_url,
            started_at=datetime.now(UTC),
            running=True,
            owner=self.owner,
            node=self.node,
            endpoint=Endpoint(launch.transport, launch.external_url, dict(launch.headers)),
        )
        self._instances[launch.instance] = observed
        return observed

    async def stop(self, instance: str, *, grace: float = 10.0) -> None:
        self._instances.pop(instance, None)

    async def list(self) -> list[Observed]:
        return list(self._instances.values())

    async def exits(self) -> AsyncIterator[Exit]:
        """No exit is ever seen: this waits until the driver closes, then ends."""
        await self._closed.wait()
        none: list[Exit] = []
        for item in none:
            yield item

    def stdio(self, instance: str) -> StdioPipe | None:
        return None

    async def logs(
        self,
        instance: str,
        *,
        tail: int | None = None,
        since: datetime | None = None,
        follow: bool = False,
    ) -> AsyncIterator[bytes]:
        """An external server's log is its operator's: nothing here."""
        none: list[bytes] = []
        for line in none:
            yield line

    async def close(self) -> None:
        self._instances.clear()
        self._closed.set()
