"""What each Server offers (its tools, prompts, resources and resource templates), asked of
one of its ready instances and cached, and which instance takes a call.

A server's lists are fetched through the same channels the health probes use (one per
instance, `upstream.ChannelPool`), from the ready instance with the fewest requests in
flight. They are kept `list_ttl` seconds; a server that could not answer (no ready
instance, an error, no answer within `list_timeout`) is remembered as failing for
`failure_ttl` seconds, so a dead or slow upstream stalls only the first discovery after
that, never every request. A Server's or Project's write, and an upstream's
`notifications/*/list_changed`, drop what is cached (`invalidate`). One fetch per server
runs at a time: the callers that come meanwhile wait for it.

A failure is logged once per cause (and again only after the server answered), not per
request: the proxy leaves the server's tools out meanwhile (fail-open).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from mcpctl.proxy.settings import ProxySettings
from mcpctl.upstream import Channel, ChannelError, ChannelPool, JsonObject, UpstreamError

log = logging.getLogger(__name__)

__all__ = ["Catalog", "Instances", "Offer", "Unavailable"]

#: The ready instances of a server, by name (the runtime reconciler's view).
Instances = Callable[[str], Sequence[str]]

#: Pages of one list read at most (a server that pages forever is cut off).
MAX_PAGES = 100


class Unavailable(Exception):
    """A server has no instance that can take a request now (the message says why)."""


@dataclass(frozen=True)
class Offer:
    """What one server offers, as its own lists give it (names and URIs its own)."""

    server: str
    tools: tuple[JsonObject, ...] = ()
    prompts: tuple[JsonObject, ...] = ()
    resources: tuple[JsonObject, ...] = ()
    templates: tuple[JsonObject, ...] = ()


@dataclass
class _Entry:
    offer: Offer | None = None
    error: str | None = None
    until: float = 0.0
    fetching: asyncio.Task[Offer | None] | None = None
    #: asked at least once (a first answer changes no view: none showed the server yet)
    asked: bool = False
    #: the last ask found no ready instance
    idle: bool = False
    #: bumped by `invalidate`: a fetch started before it is not kept as fresh
    generation: int = 0


@dataclass
class Catalog:
    """The offers of every server, cached (see the module's docstring)."""

    pool: ChannelPool
    instances: Instances
    settings: ProxySettings = field(default_factory=ProxySettings)
    _entries: dict[str, _Entry] = field(default_factory=dict)
    #: called (with the server's name) whenever a server's offer changed
    _listeners: list[Callable[[str], None]] = field(default_factory=list)

    def on_change(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def invalidate(self, servers: Iterable[str] | None = None) -> None:
        """Forget what is cached of `servers` (all when None): the next use asks again."""
        names = list(self._entries) if servers is None else list(servers)
        for name in names:
            entry = self._entries.get(name)
            if entry is not None:
                entry.until = 0.0
                entry.generation += 1
        for name in names:
            self._changed(name)

    def _changed(self, server: str) -> None:
        for listener in list(self._listeners):
            listener(server)

    async def offers(self, servers: Sequence[str]) -> list[Offer]:
        """The offers of `servers` that answer (in their order); the failing are left out."""
        found = await asyncio.gather(*(self.offer(name) for name in servers))
        return [offer for offer in found if offer is not None]

    async def offer(self, server: str) -> Offer | None:
        """One server's offer, cached; None while it fails (said once in the log)."""
        entry = self._entries.setdefault(server, _Entry())
        fresh = time.monotonic() < entry.until
        # a server that had no ready instance is asked again as soon as it has one
        if fresh and not (entry.idle and self.instances(server)):
            return entry.offer
        if entry.fetching is None:
            entry.fetching = asyncio.create_task(self._fetch(server, entry))
        task = entry.fetching
        return await asyncio.shield(task)

    async def _fetch(self, server: str, entry: _Entry) -> Offer | None:
        generation = entry.generation
        entry.idle = False
        try:
            offer: Offer | None = await asyncio.wait_for(
                self._ask(server), self.settings.list_timeout
            )
            error = None
        except TimeoutError:
            offer, error = None, f"no answer to its lists within {self.settings.list_timeout:g} s"
        except Unavailable as e:
            offer, error = None, str(e)
            entry.idle = True
        except (ChannelError, UpstreamError) as e:
            offer, error = None, str(e)
        finally:
            entry.fetching = None
        if error is not None and entry.error != error:
            log.warning("server %s: left out of its projects' lists: %s", server, error)
        elif error is None and entry.error is not None:
            log.info("server %s: answers again: its lists are back", server)
        changed = entry.asked and (offer != entry.offer or (error is None) != (entry.error is None))
        entry.offer, entry.error, entry.asked = offer, error, True
        if generation == entry.generation:
            ttl = self.settings.list_ttl if error is None else self.settings.failure_ttl
            entry.until = time.monotonic() + ttl
        if changed:
            self._changed(server)
        return offer

    def pick(self, server: str) -> str:
        """The ready instance of `server` with the fewest requests in flight on its channel."""
        ready = self.instances(server)
        if not ready:
            raise Unavailable(f"server {server} has no ready instance")
        if len(ready) == 1:
            return ready[0]
        opened = self.pool.opened()
        return min(ready, key=lambda name: opened[name].in_flight if name in opened else 0)

    async def channel(self, server: str) -> Channel:
        """The channel of the instance `pick` chooses."""
        return await self.pool.get(self.pick(server))

    async def _ask(self, server: str) -> Offer:
        channel = await self.channel(server)
        capabilities = channel.capabilities
        tools: tuple[JsonObject, ...] = ()
        prompts: tuple[JsonObject, ...] = ()
        resources: tuple[JsonObject, ...] = ()
        templates: tuple[JsonObject, ...] = ()
        if "tools" in capabilities:
            tools = await _paged(channel, "tools/list", "tools")
        if "prompts" in capabilities:
            prompts = await _paged(channel, "prompts/list", "prompts")
        if "resources" in capabilities:
            resources = await _paged(channel, "resources/list", "resources")
            templates = await _paged(channel, "resources/templates/list", "resourceTemplates")
        return Offer(server, tools, prompts, resources, templates)


async def _paged(channel: Channel, method: str, key: str) -> tuple[JsonObject, ...]:
    """Every page of one list (a server that pages forever is cut off after MAX_PAGES)."""
    items: list[JsonObject] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        result = await channel.request(method, {"cursor": cursor} if cursor else {})
        page = result.get(key)
        if isinstance(page, list):
            items.extend(item for item in page if isinstance(item, dict))
        following = result.get("nextCursor")
        if not isinstance(following, str) or not following:
            break
        cursor = following
    return tuple(items)
