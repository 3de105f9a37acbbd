"""What the MCP endpoint stands on while this replica leads: the catalogue of the
servers' offers over the runtime's channels, and the projects' views."""

from __future__ import annotations

from dataclasses import dataclass

from mcpctl.proxy.auditing import CallAudit
from mcpctl.proxy.catalog import Catalog
from mcpctl.proxy.settings import ProxySettings
from mcpctl.proxy.views import ProjectSpec, Views
from mcpctl.reconciler.running import RuntimeReconciler
from mcpctl.store import Sessions
from mcpctl.store.objects import find_object
from mcpctl.upstream import ChannelPool

__all__ = ["ProxyBackend"]


@dataclass
class ProxyBackend:
    catalog: Catalog
    views: Views
    audit: CallAudit

    @classmethod
    def of(
        cls,
        sessions: Sessions,
        pool: ChannelPool | None,
        runtime: RuntimeReconciler | None,
        settings: ProxySettings | None = None,
    ) -> ProxyBackend:
        """Over `runtime`'s ready instances and `pool`'s channels (with no runtime, every
        server is without instances: its tools are left out, its calls refused)."""
        settings = settings or ProxySettings()

        def ready(server: str) -> list[str]:
            if runtime is None:
                return []
            return [t.name for t in runtime.tracked.values() if t.server == server and t.ready]

        async def read_project(name: str) -> ProjectSpec | None:
            async with sessions() as session:
                row = await find_object(session, "Project", None, name)
            if row is None:
                return None
            servers = row.spec.get("servers") or []
            instructions = row.spec.get("instructions") or ""
            return ProjectSpec(name, tuple(str(s) for s in servers), str(instructions))

        catalog = Catalog(pool or ChannelPool(lambda _instance: None), ready, settings)
        return cls(catalog, Views(catalog, read_project), CallAudit(sessions))

    async def start(self) -> None:
        await self.audit.start()

    async def stop(self) -> None:
        await self.audit.stop()

    def written(self, servers: set[str] | None) -> None:
        """A write (or another replica's): what it changed is shown anew."""
        self.views.written(servers)
