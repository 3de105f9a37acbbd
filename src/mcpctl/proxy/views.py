"""A project as its endpoint shows it: the merged, renamed lists of its servers, kept
serialized, and the way back from a client's name to a server's own.

A view is built from the Project (its servers, in its order, and its instructions) and
the servers' offers (`catalog`), named by `naming`: tools and prompts as
`<server>__<name>`, resource URIs and templates as `<server>+<uri>`. Each list's result
is kept as JSON bytes, so a `tools/list` costs a dictionary lookup and a copy. A view is
dropped when the Project or one of its servers changes (a write) or a server's offer
changes (its lists were fetched anew, or it failed or came back): the next request
builds it again, once, however many ask meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import orjson

from mcpctl.proxy.catalog import Catalog, Offer
from mcpctl.proxy.naming import Names
from mcpctl.proxy.naming import Offer as Named
from mcpctl.upstream import JsonObject

log = logging.getLogger(__name__)

__all__ = ["ProjectSpec", "ProjectView", "Views"]

#: The lists a client hears have changed, by the methods that give them.
_KINDS = {
    "tools": ("tools/list",),
    "prompts": ("prompts/list",),
    "resources": ("resources/list", "resources/templates/list"),
}


@dataclass(frozen=True)
class ProjectSpec:
    """What the endpoint needs of a Project."""

    name: str
    servers: tuple[str, ...]
    instructions: str


#: The Project of a name, as stored now (None: there is none).
ReadProject = Callable[[str], Awaitable[ProjectSpec | None]]


@dataclass(frozen=True)
class ProjectView:
    spec: ProjectSpec
    names: Names
    #: each list's `result` object, serialized: tools, prompts, resources, templates
    results: Mapping[str, bytes]


def _renamed(item: JsonObject, key: str, value: str) -> JsonObject:
    out = dict(item)
    out[key] = value
    return out


def build_view(spec: ProjectSpec, offers: list[Offer]) -> ProjectView:
    names = Names.build(
        {
            offer.server: Named(
                tools=tuple(str(t.get("name")) for t in offer.tools),
                prompts=tuple(str(p.get("name")) for p in offer.prompts),
                resources=tuple(str(r.get("uri")) for r in offer.resources),
                templates=tuple(str(t.get("uriTemplate")) for t in offer.templates),
            )
            for offer in offers
        }
    )
    tools: list[JsonObject] = []
    prompts: list[JsonObject] = []
    resources: list[JsonObject] = []
    templates: list[JsonObject] = []
    for offer in offers:
        server = offer.server
        tools += [_renamed(t, "name", names.tool(server, str(t.get("name")))) for t in offer.tools]
        prompts += [
            _renamed(p, "name", names.prompt(server, str(p.get("name")))) for p in offer.prompts
        ]
        resources += [
            _renamed(r, "uri", names.resource_uri(server, str(r.get("uri"))))
            for r in offer.resources
        ]
        templates += [
            _renamed(t, "uriTemplate", names.resource_uri(server, str(t.get("uriTemplate"))))
            for t in offer.templates
        ]
    results = {
        "tools/list": orjson.dumps({"tools": tools}),
        "prompts/list": orjson.dumps({"prompts": prompts}),
        "resources/list": orjson.dumps({"resources": resources}),
        "resources/templates/list": orjson.dumps({"resourceTemplates": templates}),
    }
    return ProjectView(spec, names, results)


@dataclass
class Views:
    """Every project's view, built on first use and dropped when what it shows changed."""

    catalog: Catalog
    read_project: ReadProject
    _views: dict[str, ProjectView] = field(default_factory=dict)
    _building: dict[str, asyncio.Task[ProjectView | None]] = field(default_factory=dict)
    #: bumped whenever something changed: a build that began before is not kept
    _epoch: int = 0
    #: called with a project's name and the lists that changed in it (`tools`, `prompts`,
    #: `resources`), for the projects `watched` says clients listen to
    listeners: list[Callable[[str, set[str]], None]] = field(default_factory=list)
    #: whether clients listen to a project's changes (then a dropped view is rebuilt at
    #: once and compared, so that they hear of what changed, and only of that)
    watched: Callable[[str], bool] = lambda _project: False
    _shown: dict[str, Mapping[str, bytes]] = field(default_factory=dict)
    _refreshing: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.catalog.on_change(self._server_changed)

    def _server_changed(self, server: str) -> None:
        self._epoch += 1
        for name, view in list(self._views.items()):
            if server in view.spec.servers:
                self._drop(name)

    def _drop(self, project: str) -> None:
        shown = self._views.pop(project, None) is not None
        if shown and self.watched(project) and project not in self._refreshing:
            task = asyncio.create_task(self._refresh(project), name=f"mcp-view-{project}")
            self._refreshing[project] = task
            task.add_done_callback(lambda _: self._refreshing.pop(project, None))

    async def _refresh(self, project: str) -> None:
        """Build a dropped view again and tell the listeners which lists changed."""
        await asyncio.sleep(0)  # one write may drop several things: let it finish
        before = self._shown.get(project)
        try:
            view = await self.view(project)
        except Exception:  # an edge: the next request builds it, and reports its error
            log.exception("project %s: its view could not be built", project)
            return
        after = view.results if view is not None else {}
        changed = {
            kind
            for kind, methods in _KINDS.items()
            if any((before or {}).get(m) != after.get(m) for m in methods)
        }
        if changed:
            for listener in list(self.listeners):
                listener(project, changed)

    async def close(self) -> None:
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def written(self, servers: set[str] | None) -> None:
        """A write: drop the views of every project (the Project itself may have changed),
        and the cached lists of the servers written (all when unknown)."""
        self._epoch += 1
        for name in list(self._views):
            self._drop(name)
        self.catalog.invalidate(servers)

    async def view(self, project: str) -> ProjectView | None:
        """The project's view (None: no such Project)."""
        view = self._views.get(project)
        if view is not None:
            return view
        task = self._building.get(project)
        if task is None:
            task = asyncio.create_task(self._build(project))
            self._building[project] = task
            task.add_done_callback(lambda _: self._building.pop(project, None))
        return await asyncio.shield(task)

    async def _build(self, project: str) -> ProjectView | None:
        epoch = self._epoch
        spec = await self.read_project(project)
        if spec is None:
            return None
        view = build_view(spec, await self.catalog.offers(spec.servers))
        self._shown[project] = view.results
        if epoch == self._epoch:
            self._views[project] = view
        return view
