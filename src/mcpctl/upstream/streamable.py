"""The channel over streamable HTTP: one POST per message, a request's answer in the POST's
own response (a JSON body, or an event stream of the server's notifications and requests
for it ending with the answer).

Legacy era: `initialize` gets the session (`Mcp-Session-Id`), every later message carries
it and `Mcp-Protocol-Version`, a GET opens the stream of what the server sends outside
any request, and closing the channel ends the session (DELETE). A 404 on a session means
the server forgot it (it restarted), and a broken connection may mean the server is gone:
either way the channel is lost, and the pool opens a new one.

Modern era: no session and no GET stream; every request carries `Mcp-Protocol-Version`,
`Mcp-Method` and, for a tool, prompt or resource, `Mcp-Name`. The wire has no
client-to-server notifications: a request is cancelled by closing its POST, which
cancelling the caller's task does.

An HTTP error whose body is a JSON-RPC error is that error (a legacy server's 400 to the
`server/discover` probe is how the channel learns its era); any other becomes an error
answer naming the status, as the SDK's client does.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import orjson

from mcpctl.runtime.base import Endpoint
from mcpctl.upstream.errors import ChannelClosed, ChannelError
from mcpctl.upstream.http import HttpLink, describe_http_error, read_events, safe_url
from mcpctl.upstream.link import Call, Inbox
from mcpctl.upstream.protocol import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_HEADER,
    METHOD_NOT_FOUND,
    MODERN_VERSIONS,
    NAME_HEADER,
    PROTOCOL_VERSION_HEADER,
    SESSION_HEADER,
    Era,
    encode_header_value,
)
from mcpctl.upstream.settings import ChannelSettings
from mcpctl.upstream.wire import encode_error

__all__ = ["StreamableLink", "describe_http_error"]

log = logging.getLogger(__name__)

#: Reconnections of the legacy GET stream in a row before the channel stops trying.
GET_STREAM_RETRIES = 2


class StreamableLink(HttpLink):
    transport = "streamable-http"

    def __init__(self, instance: str, endpoint: Endpoint, settings: ChannelSettings) -> None:
        super().__init__(instance, endpoint, settings)
        self._inbox: Inbox | None = None
        self._session: str | None = None
        self._era: Era | None = None
        self._version: str | None = None
        self._closed = False
        self._lost = False

    async def start(self, inbox: Inbox) -> None:
        self._inbox = inbox

    def _request_headers(
        self, version: str | None, method: str | None = None, name: str | None = None
    ) -> dict[str, str]:
        headers = self._headers.reveal()
        headers["accept"] = "application/json, text/event-stream"
        headers["content-type"] = "application/json"
        if self._session is not None:
            headers[SESSION_HEADER] = self._session
        if version is not None:
            headers[PROTOCOL_VERSION_HEADER] = version
            if method is not None and version in MODERN_VERSIONS:
                headers[METHOD_HEADER] = method
                if name is not None:
                    headers[NAME_HEADER] = encode_header_value(name)
        return headers

    async def exchange(self, raw: bytes, call: Call) -> None:
        if self._closed:
            raise ChannelClosed(self.instance, "the channel is closed")
        headers = self._request_headers(call.version, call.method, call.name)
        if call.headers:
            headers.update(call.headers)
        try:
            async with self._client.stream(
                "POST", self.url, content=raw, headers=headers
            ) as response:
                await self._read_answer(response, call)
        except httpx.HTTPError as e:
            if isinstance(e, httpx.ConnectError):
                self._lose(f"cannot connect to {self.where} ({describe_http_error(e)})")
            elif isinstance(e, httpx.TransportError) and self._session is not None:
                # A session whose connection broke may be gone with its server: start anew.
                self._lose(f"a connection of its session broke ({describe_http_error(e)})")
            raise ChannelClosed(
                self.instance, f"{call.method}: POST {self.where} failed ({describe_http_error(e)})"
            ) from None
        if not call.future.done():
            raise ChannelClosed(
                self.instance, f"the response to {call.method} ended without an answer"
            )

    async def _read_answer(self, response: httpx.Response, call: Call) -> None:
        status = response.status_code
        if status >= 400:
            if status == 404 and self._session is not None:
                self._lose("its session ended (HTTP 404): the server restarted or forgot it")
                raise ChannelClosed(self.instance, f"{call.method}: the session ended (HTTP 404)")
            body = await self._read_body(response)
            self._answer_with(call, body, status)
            return
        if status >= 300 or status in (202, 204):
            location = response.headers.get("location")
            why = (
                f"redirected to {safe_url(location)} (not followed)"
                if location
                else f"HTTP {status}"
            )
            self._synthesize(call, INVALID_REQUEST, f"the server answered {call.method} with {why}")
            return
        if call.method == "initialize" and (session := response.headers.get(SESSION_HEADER)):
            self._session = session
        kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        inbox = self._need_inbox()
        if kind == "application/json":
            inbox.receive(await self._read_body(response), call)
        elif kind == "text/event-stream":
            async for event in read_events(
                self.instance, response, self._settings.max_message_bytes
            ):
                if event.event == "message" and event.data:
                    inbox.receive(event.data.encode(), call)
                    if call.future.done():
                        break
        else:
            self._synthesize(
                call, INVALID_REQUEST, f"the server answered with content type {kind or 'none'!r}"
            )

    def _answer_with(self, call: Call, body: bytes, status: int) -> None:
        """An HTTP error: the JSON-RPC error in its body, under this call's id (a server
        that could not read the id sends null), or one naming the status."""
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            message = None
        error = message.get("error") if isinstance(message, dict) else None
        if (
            isinstance(error, dict)
            and isinstance(error.get("code"), int)
            and isinstance(error.get("message"), str)
        ):
            self._need_inbox().receive(
                encode_error(call.id, error["code"], error["message"], error.get("data")), call
            )
            return
        code = METHOD_NOT_FOUND if status == 404 else INTERNAL_ERROR
        self._synthesize(call, code, f"the server answered {call.method} with HTTP {status}")

    def _synthesize(self, call: Call, code: int, message: str) -> None:
        self._need_inbox().receive(encode_error(call.id, code, message), call)

    async def _read_body(self, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._settings.max_message_bytes:
                raise ChannelError(
                    self.instance,
                    f"sent a body larger than {self._settings.max_message_bytes} bytes",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def send(self, raw: bytes) -> None:
        """A notification or an answer, awaited (the handshake's `notifications/initialized`
        must reach the server before the requests that follow it)."""
        if self._closed or self._era == "modern":
            # The modern HTTP wire takes no notification and has no back channel.
            return
        try:
            response = await self._client.post(
                self.url, content=raw, headers=self._request_headers(self._version)
            )
        except httpx.HTTPError as e:
            log.debug(
                "instance %s: a message POST failed (%s)", self.instance, describe_http_error(e)
            )
            return
        if response.status_code == 404 and self._session is not None:
            self._lose("its session ended (HTTP 404): the server restarted or forgot it")
        elif response.status_code >= 400:
            log.debug(
                "instance %s: a message POST got HTTP %d", self.instance, response.status_code
            )

    def post(self, raw: bytes) -> None:
        if not self._closed and self._era != "modern":
            self._spawn(self.send(raw))

    def abandon(self, call: Call, cancel: bytes) -> None:
        # Modern: the aborted POST was the cancellation. Legacy: the notification is.
        self.post(cancel)

    def adopt(self, era: Era, version: str) -> None:
        self._era = era
        self._version = version

    async def opened(self) -> None:
        if self._era == "legacy" and self._session is not None:
            answered = asyncio.Event()
            self._spawn(self._listen(answered))
            await answered.wait()

    async def _listen(self, answered: asyncio.Event) -> None:
        """The legacy GET stream: what the server sends outside any request (list changes,
        logs, its own requests), reconnected after a drop, given up after a few failures.
        `answered` is set once the first GET has its answer (or failed)."""
        try:
            await self._follow_stream(answered)
        finally:
            answered.set()

    async def _follow_stream(self, answered: asyncio.Event) -> None:
        failures = 0
        delay = 1.0
        while failures < GET_STREAM_RETRIES and not self._closed:
            headers = self._request_headers(self._version)
            headers["accept"] = "text/event-stream"
            try:
                async with self._client.stream("GET", self.url, headers=headers) as response:
                    answered.set()
                    if response.status_code == 404:
                        self._lose("its session ended (HTTP 404 on its event stream)")
                        return
                    if response.status_code != 200:
                        log.debug(
                            "instance %s: no event stream (HTTP %d)",
                            self.instance,
                            response.status_code,
                        )
                        return
                    failures = 0
                    async for event in read_events(
                        self.instance, response, self._settings.max_message_bytes
                    ):
                        if event.retry is not None:
                            delay = max(event.retry / 1000, 0.1)
                        if event.event == "message" and event.data:
                            self._need_inbox().receive(event.data.encode(), None)
            except httpx.ConnectError as e:
                self._lose(f"cannot reconnect its event stream ({describe_http_error(e)})")
                return
            except (httpx.HTTPError, ChannelError) as e:
                failures += 1
                log.debug(
                    "instance %s: the event stream broke (%s)", self.instance, type(e).__name__
                )
            answered.set()
            await asyncio.sleep(delay)

    def _lose(self, reason: str) -> None:
        if not self._lost and self._inbox is not None:
            self._lost = True
            self._inbox.lost(reason)

    def _need_inbox(self) -> Inbox:
        assert self._inbox is not None, "start() hands the link its inbox first"
        return self._inbox

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._era == "legacy" and self._session is not None and not self._lost:
            try:
                await self._client.delete(self.url, headers=self._request_headers(self._version))
            except httpx.HTTPError as e:
                log.debug(
                    "instance %s: ending the session failed (%s)", self.instance, type(e).__name__
                )
        await self._client.aclose()
