"""One MCP connection to one running instance, shared by every caller (docs/architecture.md,
"The MCP channel (`upstream`)").

The channel is a multiplexer of JSON-RPC bytes. Each request leaves under the channel's
own id (callers share the connection, and their ids collide); its answer goes back to
its caller with the caller's id put back (`wire.restore_id`), parsed once by orjson and
never rebuilt as a model. What else the server sends is sorted by its envelope alone:
notifications go to the request they belong to (its progress token, its listen stream,
the HTTP response that carried them) or to the channel's subscribers; requests from the
server go to `serving` (answered, handled, or refused with a JSON-RPC error).

The channel speaks the era the server speaks (`negotiating`): on a modern channel every
request gets the envelope (`_meta` with the protocol version, the client's info and
capabilities, where the caller did not give its own), on a legacy one the envelope's keys
are taken out. The channel owns the handshake: `forward` refuses `initialize`.

Requests in flight are bounded (`ChannelSettings.max_in_flight`): more callers wait for
a slot, within their own timeout. A request that times out or whose caller is cancelled
is abandoned (the server told, as the era and transport say) and the rest go on. When
the link is lost (the instance exited, its session ended) or the channel is closed,
every request in flight fails at once with `ChannelClosed`, naming the instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
from collections.abc import Callable, Mapping
from typing import Final

import orjson

from mcpctl.upstream.errors import ChannelClosed, InvalidMessage, UpstreamError, UpstreamTimeout
from mcpctl.upstream.link import Answer, Call, Link, Notification, NotificationCallback
from mcpctl.upstream.negotiating import Agreement, negotiate
from mcpctl.upstream.params import ParamMap, header_map, param_headers
from mcpctl.upstream.protocol import (
    CLIENT_CAPABILITIES_KEY,
    CLIENT_INFO_KEY,
    CONNECTION_CLOSED,
    INTERNAL_ERROR,
    LOG_LEVEL_KEY,
    MODERN_META_KEYS,
    NAME_BEARING_METHODS,
    PROTOCOL_VERSION_KEY,
    SUBSCRIPTION_ID_KEY,
    Era,
)
from mcpctl.upstream.serving import ServerRequestHandler, ServerRequests
from mcpctl.upstream.settings import ChannelSettings
from mcpctl.upstream.wire import (
    JsonObject,
    encode_error,
    encode_notification,
    encode_request,
    restore_id,
)

__all__ = ["Channel"]

log = logging.getLogger(__name__)


#: What the channel does itself and a caller may not forward.
_OWNED: Final = frozenset({"initialize", "notifications/initialized"})


def _retrieve(future: asyncio.Future[Answer]) -> None:
    """Mark a failed future's exception as seen (no "never retrieved" warning)."""
    if future.done() and not future.cancelled():
        future.exception()


class Channel:
    """Made and opened by `upstream.open_channel` (or the `ChannelPool`); closed by `close`."""

    def __init__(
        self,
        instance: str,
        link: Link,
        settings: ChannelSettings,
        handlers: Mapping[str, ServerRequestHandler] | None = None,
    ) -> None:
        self.instance = instance
        self._link = link
        self._settings = settings
        self._server_requests = ServerRequests(instance, handlers or {}, self._answer)
        self._calls: dict[int, Call] = {}
        self._ids = itertools.count(1)
        self._slots = asyncio.Semaphore(settings.max_in_flight)
        self._subscribers: list[NotificationCallback] = []
        self._closed: str | None = None
        #: the opening completed: a channel that never opened closes without an INFO line
        #: (its failure is its caller's to report: a probe's result, a proxy's error)
        self._was_open = False
        self._teardown_task: asyncio.Task[None] | None = None
        self._client_info: JsonObject = {
            "name": settings.client_name,
            "version": settings.client_version,
        }
        self._client_capabilities = self._server_requests.capabilities()
        self._defaults: JsonObject = {}
        #: Tools' `x-mcp-header` marks, learnt from `tools/list` (modern streamable HTTP).
        self._marks: dict[str, ParamMap] = {}
        #: What the opening agreed (None until it did).
        self.agreement: Agreement | None = None

    # What the server is --------------------------------------------------------------

    @property
    def era(self) -> Era | None:
        return self.agreement.era if self.agreement else None

    @property
    def protocol_version(self) -> str | None:
        return self.agreement.version if self.agreement else None

    @property
    def server_info(self) -> JsonObject | None:
        """The server's name and version as it gave them (a modern server may give none)."""
        return self.agreement.server_info if self.agreement else None

    @property
    def capabilities(self) -> JsonObject:
        return self.agreement.capabilities if self.agreement else {}

    @property
    def instructions(self) -> str | None:
        return self.agreement.instructions if self.agreement else None

    @property
    def transport(self) -> str:
        return self._link.transport

    @property
    def closed(self) -> bool:
        return self._closed is not None

    @property
    def close_reason(self) -> str | None:
        return self._closed

    @property
    def in_flight(self) -> int:
        return len(self._calls)

    def __repr__(self) -> str:
        return (
            f"Channel(instance={self.instance!r}, transport={self.transport!r}, era={self.era!r}, "
            f"in_flight={self.in_flight}, closed={self.closed})"
        )

    # Opening ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Start the link and agree on the era, within `open_timeout`; a failed opening
        closes the channel and raises (`ChannelError`, `UpstreamTimeout` naming the step)."""
        step = "the connection"

        async def ask(
            method: str, params: JsonObject, version: str | None, timeout: float | None
        ) -> JsonObject:
            nonlocal step
            step = method
            call = self._call(method, version=version, cancellable=False)
            return (
                await self._roundtrip(
                    call, encode_request(call.id, method, params), timeout or math.inf
                )
            )[1]

        try:
            async with asyncio.timeout(self._settings.open_timeout):
                await self._link.start(self)
                agreement = await negotiate(
                    ask,
                    self.instance,
                    self._settings.era,
                    self._client_info,
                    self._client_capabilities,
                    self._settings.discover_timeout,
                )
                self._adopt(agreement)
                if agreement.era == "legacy":
                    step = "notifications/initialized"
                    await self._link.send(encode_notification("notifications/initialized", None))
                step = "opening the stream of server messages"
                await self._link.opened()
        except TimeoutError:
            await self.close(f"the opening timed out at {step}")
            raise UpstreamTimeout(self.instance, step, self._settings.open_timeout) from None
        except BaseException:
            await self.close("the opening failed")
            raise
        self._was_open = True
        log.info(
            "instance %s: MCP channel open over %s (%s era, protocol %s)",
            self.instance,
            self.transport,
            agreement.era,
            agreement.version,
        )

    def _adopt(self, agreement: Agreement) -> None:
        self.agreement = agreement
        if agreement.era == "modern":
            self._defaults = {
                CLIENT_INFO_KEY: self._client_info,
                CLIENT_CAPABILITIES_KEY: self._client_capabilities,
            }
            if self._settings.log_level is not None:
                self._defaults[LOG_LEVEL_KEY] = self._settings.log_level
        self._link.adopt(agreement.era, agreement.version)

    # Requests --------------------------------------------------------------------------

    async def forward(
        self,
        message: bytes,
        *,
        timeout: float | None = None,
        on_notification: NotificationCallback | None = None,
    ) -> bytes:
        """Send a JSON-RPC request given as bytes; its answer (a result or an error) as
        bytes, with the caller's id. `on_notification` gets the server's notifications for
        this request (progress, its log lines, a listen stream's events), with the caller's
        progress token and listen id put back. Cancel the awaiting task to cancel it."""
        request = self._parse_outgoing(message)
        caller_id = request["id"]
        if caller_id is None or isinstance(caller_id, bool | float | list | dict):
            raise InvalidMessage(
                f"instance {self.instance}: a request's id must be a string or an integer"
            )
        method = request["method"]
        assert isinstance(method, str)
        call = self._call(
            method, caller_id=orjson.dumps(caller_id), on_notification=on_notification
        )
        raw, answer = await self._roundtrip(call, self._encode(request, call), timeout)
        if method == "tools/list":
            self._learn_marks(answer)
        elif method == "subscriptions/listen":
            raw = self._restore_listen_id(answer, call) or raw
        assert call.caller_id is not None
        return restore_id(raw, answer, call.id, call.caller_id)

    async def request(
        self,
        method: str,
        params: JsonObject | None = None,
        *,
        timeout: float | None = None,
        on_notification: NotificationCallback | None = None,
    ) -> JsonObject:
        """Send a request; its result. An error answer raises `UpstreamError`."""
        if method in _OWNED:
            raise InvalidMessage(f"instance {self.instance}: the channel sends {method} itself")
        call = self._call(method, on_notification=on_notification)
        message: JsonObject = {"jsonrpc": "2.0", "id": call.id, "method": method}
        if params is not None:
            message["params"] = params
        _, answer = await self._roundtrip(call, self._encode(message, call), timeout)
        if method == "tools/list":
            self._learn_marks(answer)
        error = answer.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            text = error.get("message")
            raise UpstreamError(
                self.instance,
                method,
                code if isinstance(code, int) else INTERNAL_ERROR,
                text if isinstance(text, str) else "",
                error.get("data"),
            )
        result = answer.get("result")
        if not isinstance(result, dict):
            raise UpstreamError(
                self.instance, method, INTERNAL_ERROR, "the answer holds no result object"
            )
        return result

    async def notify(self, message: bytes) -> None:
        """Send a JSON-RPC notification given as bytes (`notifications/cancelled` excepted:
        cancel the task awaiting `forward` instead, whose id only the channel knows)."""
        notification = self._parse_outgoing(message, notification=True)
        if notification["method"] == "notifications/cancelled":
            raise InvalidMessage(
                f"instance {self.instance}: cancel a forwarded request by cancelling its task"
            )
        self._check_open()
        await self._link.send(self._encode(notification, None))

    async def ping(self, *, timeout: float | None = None) -> None:
        """Ask the server whether it answers: `ping` on a legacy channel, `server/discover`
        on a modern one (2026-07-28 removed `ping`). The health probes use it."""
        if self.era == "modern":
            await self.request("server/discover", {}, timeout=timeout)
        else:
            await self.request("ping", None, timeout=timeout)

    def subscribe(self, callback: NotificationCallback) -> Callable[[], None]:
        """Hear the server's notifications that belong to no request's own callback (list
        changes, logs, progress of requests sent without one). The callback runs on the
        channel's reader: it must not block (queue the work). Returns the unsubscribe."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def _parse_outgoing(self, message: bytes, *, notification: bool = False) -> JsonObject:
        try:
            parsed = orjson.loads(message)
        except orjson.JSONDecodeError:
            raise InvalidMessage(
                f"instance {self.instance}: the message to forward is not JSON"
            ) from None
        what = "notification" if notification else "request"
        if not isinstance(parsed, dict) or not isinstance(parsed.get("method"), str):
            raise InvalidMessage(
                f"instance {self.instance}: the message to forward is no JSON-RPC {what}"
            )
        if ("id" in parsed) == notification:
            raise InvalidMessage(
                f"instance {self.instance}: the message to forward is not a {what} (it "
                f"{'has' if notification else 'has no'} id)"
            )
        if parsed["method"] in _OWNED:
            raise InvalidMessage(
                f"instance {self.instance}: the channel sends {parsed['method']} itself"
            )
        return parsed

    def _call(
        self,
        method: str,
        *,
        version: str | None = None,
        caller_id: bytes | None = None,
        on_notification: NotificationCallback | None = None,
        cancellable: bool = True,
    ) -> Call:
        return Call(
            id=next(self._ids),
            method=method,
            future=asyncio.get_running_loop().create_future(),
            version=version if version is not None else self.protocol_version,
            caller_id=caller_id,
            on_notification=on_notification,
            cancellable=cancellable,
        )

    def _encode(self, message: JsonObject, call: Call | None) -> bytes:
        """The message as it goes upstream: our id, our progress token, the era's envelope."""
        if call is not None:
            message["id"] = call.id
        params = message.get("params")
        modern = self.era == "modern"
        if params is None and not modern:
            return orjson.dumps(message)
        if params is None:
            params = {}
        if not isinstance(params, dict):
            return orjson.dumps(message)  # not MCP; the server will say so
        params = dict(params)
        message["params"] = params
        if call is not None and (key := NAME_BEARING_METHODS.get(call.method)) is not None:
            name = params.get(key)
            call.name = name if isinstance(name, str) else None
            marks = self._marks.get(call.name or "") if call.method == "tools/call" else None
            if modern and marks:
                call.headers = param_headers(marks, params.get("arguments"))
        meta = params.get("_meta")
        meta = dict(meta) if isinstance(meta, dict) else {}
        if call is not None and "progressToken" in meta:
            call.caller_token = meta["progressToken"]
            call.has_token = True
            meta["progressToken"] = call.id
        if modern:
            meta = {**self._defaults, **meta, PROTOCOL_VERSION_KEY: self.protocol_version}
        else:
            for key in MODERN_META_KEYS & meta.keys():
                del meta[key]
        if meta:
            params["_meta"] = meta
        else:
            params.pop("_meta", None)
        return orjson.dumps(message)

    async def _roundtrip(self, call: Call, raw: bytes, timeout: float | None) -> Answer:
        limit = self._settings.request_timeout if timeout is None else timeout
        self._check_open()
        slotted = False
        try:
            async with asyncio.timeout(None if math.isinf(limit) else limit), self._slots:
                slotted = True
                self._check_open()
                self._calls[call.id] = call
                try:
                    await self._link.exchange(raw, call)
                    return await call.future
                except asyncio.CancelledError:
                    if not (call.future.done() and not call.future.cancelled()):
                        self._abandon(call)
                    raise
                finally:
                    self._calls.pop(call.id, None)
                    _retrieve(call.future)
        except TimeoutError:
            what = (
                "no answer"
                if slotted
                else f"no free slot ({self._settings.max_in_flight} in flight)"
            )
            raise UpstreamTimeout(self.instance, call.method, limit, what) from None

    def _abandon(self, call: Call) -> None:
        if not call.cancellable or self._closed is not None:
            return
        params: JsonObject = {
            "requestId": call.id,
            "reason": "the caller gave up (timeout or cancelled)",
        }
        with contextlib.suppress(ChannelClosed):
            self._link.abandon(
                call,
                self._encode(
                    {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params}, None
                ),
            )

    def _learn_marks(self, answer: JsonObject) -> None:
        """Which tools want arguments mirrored into `Mcp-Param-*` headers (`params`): only
        a modern streamable HTTP server reads them."""
        result = answer.get("result")
        tools = result.get("tools") if isinstance(result, dict) else None
        if (
            self.era != "modern"
            or self.transport != "streamable-http"
            or not isinstance(tools, list)
        ):
            return
        for tool in tools:
            if isinstance(tool, dict) and isinstance(name := tool.get("name"), str):
                marks = header_map(tool.get("inputSchema"))
                if marks:
                    self._marks[name] = marks
                else:
                    self._marks.pop(name, None)

    def _check_open(self) -> None:
        if self._closed is not None:
            raise ChannelClosed(self.instance, self._closed)

    def _restore_listen_id(self, answer: JsonObject, call: Call) -> bytes | None:
        """A listen's final result names its stream by the request's id: the caller's."""
        result = answer.get("result")
        meta = result.get("_meta") if isinstance(result, dict) else None
        if (
            not isinstance(result, dict)
            or not isinstance(meta, dict)
            or meta.get(SUBSCRIPTION_ID_KEY) != call.id
        ):
            return None
        assert call.caller_id is not None
        rebuilt = {
            **answer,
            "result": {
                **result,
                "_meta": {**meta, SUBSCRIPTION_ID_KEY: orjson.loads(call.caller_id)},
            },
        }
        answer.update(rebuilt)
        return orjson.dumps(rebuilt)

    # What the server sends -----------------------------------------------------------------

    def receive(self, raw: bytes, bound: Call | None) -> None:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.warning(
                "instance %s sent %d bytes that are not JSON; ignored", self.instance, len(raw)
            )
            return
        if isinstance(message, dict):
            self._take(raw, message, bound)
        elif isinstance(message, list):
            for item in message:
                if isinstance(item, dict):
                    self._take(orjson.dumps(item), item, bound)
        else:
            log.warning("instance %s sent JSON that is no JSON-RPC message; ignored", self.instance)

    def _take(self, raw: bytes, message: JsonObject, bound: Call | None) -> None:
        method = message.get("method")
        if method is None:
            request_id = message.get("id")
            call = self._calls.get(request_id) if type(request_id) is int else None
            if call is None:
                log.debug(
                    "instance %s: an answer to no request in flight (id %r); dropped",
                    self.instance,
                    request_id,
                )
            elif not call.future.done():
                call.future.set_result((raw, message))
        elif not isinstance(method, str):
            log.warning(
                "instance %s sent a message whose method is not a string; ignored", self.instance
            )
        elif "id" in message:
            self._server_requests.serve(message, method)
        else:
            self._notice(raw, message, method, bound)

    def _notice(self, raw: bytes, message: JsonObject, method: str, bound: Call | None) -> None:
        params = message.get("params")
        params = params if isinstance(params, dict) else None
        owner = bound
        changed = False
        if params is not None:
            if method == "notifications/cancelled":
                self._cancelled(params)
                return
            token = params.get("progressToken")
            if method == "notifications/progress" and type(token) is int and token in self._calls:
                owner = self._calls[token]
                if owner.has_token:
                    params = {**params, "progressToken": owner.caller_token}
                    changed = True
            meta = params.get("_meta")
            listen = meta.get(SUBSCRIPTION_ID_KEY) if isinstance(meta, dict) else None
            if isinstance(meta, dict) and type(listen) is int and listen in self._calls:
                owner = self._calls[listen]
                if owner.caller_id is not None:
                    params = {
                        **params,
                        "_meta": {**meta, SUBSCRIPTION_ID_KEY: orjson.loads(owner.caller_id)},
                    }
                    changed = True
        if changed:
            raw = orjson.dumps({**message, "params": params})
        note = Notification(method, params, raw)
        if owner is not None and owner.on_notification is not None:
            self._deliver(owner.on_notification, note)
        else:
            for subscriber in list(self._subscribers):
                self._deliver(subscriber, note)

    def _deliver(self, callback: NotificationCallback, note: Notification) -> None:
        try:
            callback(note)
        except Exception:  # an edge: a subscriber's failure is its own, the reader goes on
            log.exception(
                "instance %s: a notification callback failed on %s", self.instance, note.method
            )

    def _cancelled(self, params: JsonObject) -> None:
        """The server cancels: on a legacy channel one of its own requests (stop serving it);
        on a modern one, a listen stream of ours (it ends with an error answer)."""
        request_id = params.get("requestId")
        if self.era == "modern":
            call = self._calls.get(request_id) if type(request_id) is int else None
            if call is not None:
                answer = encode_error(
                    call.id, CONNECTION_CLOSED, f"the server cancelled {call.method}"
                )
                self._take(answer, orjson.loads(answer), call)
        else:
            self._server_requests.cancel(request_id)

    def _answer(self, raw: bytes) -> None:
        if self._closed is None:
            try:
                self._link.post(raw)
            except ChannelClosed:
                log.debug(
                    "instance %s: an answer to the server was not sent (the channel closed)",
                    self.instance,
                )

    # Closing ---------------------------------------------------------------------------

    def lost(self, reason: str) -> None:
        self._end(reason)
        self._teardown()

    async def close(self, reason: str = "the channel was closed") -> None:
        """Fail what is in flight with `reason`, stop the handlers and the link."""
        self._end(reason)
        await asyncio.shield(self._teardown())

    def _end(self, reason: str) -> None:
        if self._closed is not None:
            return
        self._closed = reason
        for call in list(self._calls.values()):
            if not call.future.done():
                call.future.set_exception(
                    ChannelClosed(self.instance, f"{reason}; {call.method} got no answer")
                )
        log.log(
            logging.INFO if self._was_open else logging.DEBUG,
            "instance %s: MCP channel closed: %s",
            self.instance,
            reason,
        )

    def _teardown(self) -> asyncio.Task[None]:
        if self._teardown_task is None:
            self._teardown_task = asyncio.create_task(self._stop())
        return self._teardown_task

    async def _stop(self) -> None:
        await self._server_requests.stop()
        await self._link.close()
