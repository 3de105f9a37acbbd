"""One channel per running instance, opened on first use and opened again after a restart.

The reconciler's health probes and the proxy ask the pool for an instance's channel by
the instance's name; the pool asks `resolve` (the daemon's wiring: the runtime driver's
`stdio(instance)`, or the instance's `Endpoint`) how to reach it now. A channel whose
link was lost (its stdout closed, its HTTP session ended), or whose instance is reached
another way than when it opened (a new pipe after a restart, a new endpoint), is closed
and a new one opened, once, however many callers ask at the same moment; its requests
in flight have failed already with `ChannelClosed`, naming the instance.

Subscribers of the pool hear every channel's notifications, across reopenings, with the
instance they came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence

from mcpctl.runtime.base import Endpoint, StdioPipe
from mcpctl.upstream.channel import Channel
from mcpctl.upstream.errors import ChannelClosed
from mcpctl.upstream.link import Link, Notification, NotificationCallback
from mcpctl.upstream.serving import ServerRequestHandler
from mcpctl.upstream.settings import ChannelSettings
from mcpctl.upstream.sse import SseLink
from mcpctl.upstream.stdio import StdioLink
from mcpctl.upstream.streamable import StreamableLink

__all__ = ["ChannelPool", "Resolve", "Target", "open_channel"]

log = logging.getLogger(__name__)

#: How to reach an instance: the pipe its driver holds, or its HTTP endpoint.
Target = StdioPipe | Endpoint
#: The instance's target now, or None if it is not running.
Resolve = Callable[[str], Target | None]
PoolSubscriber = Callable[[str, Notification], None]


def _link_for(instance: str, target: Target, settings: ChannelSettings) -> Link:
    if isinstance(target, Endpoint):
        if target.transport == "sse":
            return SseLink(instance, target, settings)
        return StreamableLink(instance, target, settings)
    return StdioLink(instance, target)


async def open_channel(
    instance: str,
    target: Target,
    settings: ChannelSettings | None = None,
    handlers: Mapping[str, ServerRequestHandler] | None = None,
    subscribers: Sequence[NotificationCallback] = (),
) -> Channel:
    """Open one channel to `instance` (the pool's way; callers outside it close it).
    `subscribers` hear from the start: a server may notify right after the handshake."""
    settings = settings or ChannelSettings()
    channel = Channel(instance, _link_for(instance, target, settings), settings, handlers)
    for subscriber in subscribers:
        channel.subscribe(subscriber)
    await channel.open()
    return channel


class ChannelPool:
    def __init__(
        self,
        resolve: Resolve,
        settings: ChannelSettings | None = None,
        handlers: Mapping[str, ServerRequestHandler] | None = None,
    ) -> None:
        self._resolve = resolve
        self._settings = settings or ChannelSettings()
        self._handlers = dict(handlers or {})
        self._channels: dict[str, tuple[Channel, Target]] = {}
        self._opening: dict[str, asyncio.Task[Channel]] = {}
        self._subscribers: list[PoolSubscriber] = []
        self._closed = False

    async def get(self, instance: str) -> Channel:
        """The instance's open channel, opened now if it has none or its instance restarted.

        Raises `ChannelClosed` if the instance is not running, and what opening raises."""
        if self._closed:
            raise ChannelClosed(instance, "the channel pool is closed")
        target = self._resolve(instance)
        if target is None:
            await self.close(instance, "the instance is not running")
            raise ChannelClosed(instance, "it is not running")
        held = self._channels.get(instance)
        if held is not None:
            channel, reached = held
            same = reached is target if not isinstance(target, Endpoint) else reached == target
            if same and not channel.closed:
                return channel
            del self._channels[instance]
            await channel.close(channel.close_reason or "the instance restarted")
        opening = self._opening.get(instance)
        if opening is None:
            opening = asyncio.create_task(self._open(instance, target))
            self._opening[instance] = opening
            opening.add_done_callback(lambda task: self._opened(instance, task))
        return await asyncio.shield(opening)

    def _opened(self, instance: str, task: asyncio.Task[Channel]) -> None:
        if self._opening.get(instance) is task:
            del self._opening[instance]
        if not task.cancelled():
            task.exception()  # seen: its waiters (if any are left) raised it already

    async def _open(self, instance: str, target: Target) -> Channel:
        publish: NotificationCallback = lambda note: self._publish(instance, note)  # noqa: E731
        channel = await open_channel(instance, target, self._settings, self._handlers, [publish])
        if self._closed:
            await channel.close("the channel pool is closed")
            raise ChannelClosed(instance, "the channel pool is closed")
        self._channels[instance] = (channel, target)
        return channel

    def _publish(self, instance: str, note: Notification) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(instance, note)
            except Exception:  # an edge: one subscriber's failure is its own
                log.exception("instance %s: a pool subscriber failed on %s", instance, note.method)

    def subscribe(self, callback: PoolSubscriber) -> Callable[[], None]:
        """Hear every channel's notifications (see `Channel.subscribe`), with their instance."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def opened(self) -> dict[str, Channel]:
        """The channels open now, by instance (for status and tests)."""
        return {
            name: channel for name, (channel, _) in self._channels.items() if not channel.closed
        }

    async def close(self, instance: str, reason: str = "the instance stopped") -> None:
        """Close the instance's channel (the reconciler saw it exit or stop): what is in
        flight fails with `reason`."""
        held = self._channels.pop(instance, None)
        if held is not None:
            await held[0].close(reason)

    async def aclose(self) -> None:
        """mcpd stops: close every channel, and any still opening."""
        self._closed = True
        opening = list(self._opening.values())
        for task in opening:
            task.cancel()
        await asyncio.gather(*opening, return_exceptions=True)
        held = list(self._channels.values())
        self._channels.clear()
        await asyncio.gather(*(channel.close("mcpd is stopping") for channel, _ in held))
