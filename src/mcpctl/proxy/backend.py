"""What the MCP endpoint stands on while this replica leads: the catalogue of the
servers' offers over the runtime's channels, and the projects' views."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mcpctl.proxy.auditing import CallAudit
from mcpctl.proxy.catalog import Catalog
from mcpctl.proxy.settings import ProxySettings
from mcpctl.proxy.views import ProjectSpec, Views
from mcpctl.reconciler.running import RuntimeReconciler
from mcpctl.store import Sessions
from mcpctl.store.objects import find_object
from mcpctl.upstream import ChannelPool, Notification

__all__ = ["ProxyBackend"]

_LIST_CHANGES = frozenset(
    {
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
        "notifications/resources/list_changed",
    }
)


@dataclass
class ProxyBackend:
    catalog: Catalog
    views: Views
    audit: CallAudit
    _undo: list[Callable[[], None]] = field(default_factory=list)

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
        backend = cls(catalog, Views(catalog, read_project), CallAudit(sessions))
        if runtime is not None and pool is not None:

            def heard(instance: str, note: Notification) -> None:
                # an upstream's lists changed: asked again (and its projects' listeners told)
                tracked = runtime.tracked.get(instance)
                if tracked is not None and note.method in _LIST_CHANGES:
                    catalog.invalidate([tracked.server])

            def readiness(server: str) -> None:
                catalog.invalidate([server])

            backend._undo.append(pool.subscribe(heard))
            runtime.readiness_listeners.append(readiness)
            backend._undo.append(lambda: runtime.readiness_listeners.remove(readiness))
        return backend

    async def start(self) -> None:
        await self.audit.start()

    async def stop(self) -> None:
        for undo in self._undo:
            undo()
        self._undo.clear()
        await self.views.close()
        await self.audit.stop()

    def written(self, servers: set[str] | None) -> None:
        """A write (or another replica's): what it changed is shown anew."""
        self.views.written(servers)
