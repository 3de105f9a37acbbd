"""The channel over the HTTP+SSE transport (2024-11-05): one long GET whose event stream
carries everything the server sends, and a POST per message to the endpoint the stream's
first event names.

The endpoint must be on the stream's own origin (scheme, host and port), or the channel
refuses it: a server must not send the channel's messages, and the endpoint's headers
with them, elsewhere. The server's answers come through the stream in any order; the
channel pairs them by id. The stream ending ends the channel.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urljoin, urlsplit

import httpx

from mcpctl.runtime.base import Endpoint
from mcpctl.upstream.errors import ChannelClosed, ChannelError, HandshakeFailed
from mcpctl.upstream.http import HttpLink, describe_http_error, read_events, safe_url
from mcpctl.upstream.link import Call, Inbox
from mcpctl.upstream.protocol import Era
from mcpctl.upstream.settings import ChannelSettings

__all__ = ["SseLink"]

log = logging.getLogger(__name__)


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


class SseLink(HttpLink):
    transport = "sse"

    def __init__(self, instance: str, endpoint: Endpoint, settings: ChannelSettings) -> None:
        super().__init__(instance, endpoint, settings)
        self._post_url: str | None = None
        self._stream: asyncio.Task[None] | None = None
        self._broken: str | None = None

    async def start(self, inbox: Inbox) -> None:
        found: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._stream = asyncio.create_task(
            self._read(inbox, found), name=f"upstream-sse-{self.instance}"
        )
        self._post_url = await found

    async def _read(self, inbox: Inbox, found: asyncio.Future[str]) -> None:
        headers = self._headers.reveal()
        headers["accept"] = "text/event-stream"
        try:
            async with self._client.stream("GET", self.url, headers=headers) as response:
                if response.status_code != 200:
                    raise ChannelClosed(
                        self.instance, f"GET {self.where} answered HTTP {response.status_code}"
                    )
                async for event in read_events(
                    self.instance, response, self._settings.max_message_bytes
                ):
                    if event.event == "endpoint" and not found.done():
                        found.set_result(self._check_endpoint(event.data))
                    elif event.event == "message" and event.data:
                        inbox.receive(event.data.encode(), None)
            reason = "its event stream ended (the instance exited or is restarting)"
        except ChannelError as e:
            reason = str(e).removeprefix(f"instance {self.instance}: ")
            if not found.done():
                found.set_exception(e)
        except httpx.HTTPError as e:
            reason = f"its event stream at {self.where} broke ({describe_http_error(e)})"
        if not found.done():
            found.set_exception(ChannelClosed(self.instance, reason))
        self._broken = reason
        inbox.lost(reason)

    def _check_endpoint(self, data: str) -> str:
        target = urljoin(self.url, data.strip())
        if _origin(target) != _origin(self.url):
            raise HandshakeFailed(
                self.instance,
                f"its event stream names a message endpoint on another origin ({safe_url(target)})",
            )
        return target

    async def exchange(self, raw: bytes, call: Call) -> None:
        await self._post(raw, call.method)

    async def send(self, raw: bytes) -> None:
        try:
            await self._post(raw, "a message")
        except ChannelClosed as e:
            log.debug("%s", e)

    async def _post(self, raw: bytes, what: str) -> None:
        if self._broken is not None or self._post_url is None:
            raise ChannelClosed(self.instance, self._broken or "the channel is closed")
        headers = self._headers.reveal()
        headers["content-type"] = "application/json"
        try:
            response = await self._client.post(self._post_url, content=raw, headers=headers)
        except httpx.HTTPError as e:
            raise ChannelClosed(
                self.instance, f"{what}: POST {self.where} failed ({describe_http_error(e)})"
            ) from None
        if response.status_code >= 300:
            raise ChannelClosed(
                self.instance, f"{what}: the message endpoint answered HTTP {response.status_code}"
            )

    def post(self, raw: bytes) -> None:
        if self._broken is None:
            self._spawn(self.send(raw))

    def abandon(self, call: Call, cancel: bytes) -> None:
        self.post(cancel)

    def adopt(self, era: Era, version: str) -> None:
        """Nothing to do: the transport carries no version or session header."""

    async def opened(self) -> None:
        """Nothing to do: the event stream is open since `start`."""

    async def close(self) -> None:
        self._broken = self._broken or "the channel is closed"
        tasks = [*self._tasks, *([self._stream] if self._stream else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._client.aclose()
