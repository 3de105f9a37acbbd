"""`/mcp/<project>`: a project's servers as one MCP endpoint, over streamable HTTP, in
both protocol eras (docs/architecture.md, "The proxy (`proxy`)").

A raw ASGI app (no framework per request: the proxy forwards thousands of calls a
second). Each request, in order:

1. **Transport checks** (DNS rebinding, as the specification asks): an `Origin` header,
   when sent, must name this endpoint's own host (or one `allowed_origins` lists), so a
   web page elsewhere cannot drive a local mcpd through the browser.
2. **Authentication**: a bearer token (a login session, an McpToken, a ServiceAccount
   token) on every request; none or a bad one is 401 with `WWW-Authenticate: Bearer`.
3. **Authorization**: `run` on the project (`run projects/NAME`, or `run *`); an
   McpToken limited to another project is refused too. 403 names what is missing.
   The Project must exist (404 otherwise, after authorization, so that a caller
   without access learns nothing of which projects exist).
4. **Era** (as the SDK's server decides it): an `MCP-Protocol-Version` header naming
   a version without a handshake (2026-07-28) is the modern era: no session, the
   envelope in each request's `_meta`, checked against the `Mcp-Method` / `Mcp-Name`
   headers; anything else is the session era: `initialize` opens a session
   (`Mcp-Session-Id`), every later request carries it, an unknown one is 404 so that
   the client initializes again, DELETE ends one.
5. **Dispatch**: the proxy answers the handshake, `server/discover`, `ping` and the
   lists itself (from the project's view, kept serialized); `tools/call`,
   `prompts/get` and `resources/read` go, renamed back, to a ready instance of the
   server the name belongs to, as bytes (`upstream.Channel.forward`). Notifications
   the upstream sends for a call (progress, log lines) make the answer an event
   stream when the client accepts one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from mcpctl import __version__
from mcpctl.access.cache import cache_of
from mcpctl.access.policy import Policy, Principal, policy_from, policy_of
from mcpctl.identity import IdentityService
from mcpctl.identity.credentials import Unauthenticated
from mcpctl.proxy.auditing import arguments_digest
from mcpctl.proxy.backend import ProxyBackend
from mcpctl.proxy.catalog import Unavailable
from mcpctl.proxy.settings import ProxySettings
from mcpctl.proxy.views import ProjectView
from mcpctl.store import Sessions
from mcpctl.upstream import ChannelError, Json, JsonObject, Notification
from mcpctl.upstream.protocol import (
    CLIENT_CAPABILITIES_KEY,
    HANDSHAKE_VERSIONS,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    LATEST_HANDSHAKE_VERSION,
    METHOD_HEADER,
    METHOD_NOT_FOUND,
    MODERN_VERSIONS,
    NAME_BEARING_METHODS,
    NAME_HEADER,
    PROTOCOL_VERSION_HEADER,
    PROTOCOL_VERSION_KEY,
    SERVER_INFO_KEY,
    SESSION_HEADER,
    SUBSCRIPTION_ID_KEY,
    UNSUPPORTED_PROTOCOL_VERSION,
)
from mcpctl.upstream.wire import encode_error

log = logging.getLogger(__name__)

__all__ = ["McpEndpoint"]

#: Seconds between the comments that keep an idle stream open behind other proxies.
KEEPALIVE = 15.0
PARSE_ERROR = -32700
INVALID_PARAMS = -32602
HEADER_MISMATCH = -32001
#: an upstream that cannot take the call (no ready instance, its channel broke, no answer)
UPSTREAM_UNAVAILABLE = -32000
#: The HTTP status of a JSON-RPC error in the modern era (the SDK's table).
_MODERN_STATUS = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}
#: The methods whose target is one server's (by the params key that names it).
_ROUTED = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_LISTS = ("tools/list", "prompts/list", "resources/list", "resources/templates/list")
#: What the endpoint offers, in both eras.
_CAPABILITIES: JsonObject = {
    "tools": {"listChanged": True},
    "prompts": {"listChanged": True},
    "resources": {"listChanged": True},
    "logging": {},
}
_JSON = [(b"content-type", b"application/json")]
_SSE = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class _Refused(Exception):
    """An HTTP-level refusal: its status, a JSON-RPC error (code, message), headers."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


@dataclass
class _Session:
    """A session of the initialize-handshake era."""

    project: str
    #: the hash of the credential that opened it: another credential cannot use it
    credential: str | None
    version: str
    used: float = field(default_factory=time.monotonic)


@dataclass(eq=False)
class _Stream:
    """One open stream of server messages: the list changes it wants, and for a listen,
    its request's id (each frame carries it in `_meta`)."""

    kinds: frozenset[str]
    listen: Json
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)

    def notification(self, method: str, params: JsonObject | None = None) -> bytes:
        body: JsonObject = dict(params or {})
        if self.listen is not None:
            body["_meta"] = {SUBSCRIPTION_ID_KEY: self.listen}
        message: JsonObject = {"jsonrpc": "2.0", "method": method}
        if body:
            message["params"] = body
        return orjson.dumps(message)


@dataclass
class _Request:
    """One HTTP request, as the endpoint reads it."""

    method: str
    project: str
    headers: dict[str, str]
    body: bytes = b""
    backend: ProxyBackend | None = None
    principal: Principal | None = None
    receive: Receive | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def accepts_sse(self) -> bool:
        return "text/event-stream" in (self.header("accept") or "")


class McpEndpoint:
    """The ASGI app serving `/mcp/<project>` (mounted by the daemon's wiring)."""

    def __init__(
        self,
        identity: IdentityService,
        sessions: Sessions,
        settings: ProxySettings | None = None,
        *,
        allowed_origins: frozenset[str] = frozenset(),
    ) -> None:
        self.identity = identity
        self.db = sessions
        #: the catalogue and the views while this replica leads (`daemon.wiring._Serving`)
        self._backend: ProxyBackend | None = None
        self.settings = settings or ProxySettings()
        self.allowed_origins = allowed_origins
        self._sessions: dict[str, _Session] = {}
        #: the open streams of server messages (GET streams, listens), by project
        self._streams: dict[str, set[_Stream]] = {}

    @property
    def backend(self) -> ProxyBackend | None:
        """The catalogue and the views while this replica leads (`daemon.wiring._Serving`)."""
        return self._backend

    @backend.setter
    def backend(self, backend: ProxyBackend | None) -> None:
        self._backend = backend
        if backend is not None:
            backend.views.watched = lambda project: bool(self._streams.get(project))
            backend.views.listeners.append(self._lists_changed)
        else:  # this replica stops serving: its streams end (clients reconnect elsewhere)
            for streams in self._streams.values():
                for stream in streams:
                    stream.queue.put_nowait(None)

    def _lists_changed(self, project: str, kinds: set[str]) -> None:
        for stream in self._streams.get(project, ()):
            for kind in sorted(kinds & stream.kinds):
                stream.queue.put_nowait(stream.notification(f"notifications/{kind}/list_changed"))

    # ---- HTTP ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope.get("path", "")
        project = path.removeprefix("/mcp/").strip("/") if path.startswith("/mcp/") else ""
        # values trimmed as HTTP says (uvicorn's httptools parser leaves the whitespace)
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1").strip(" \t")
            for k, v in scope["headers"]
        }
        request = _Request(scope["method"], project, headers)
        try:
            if not project or "/" in project:
                raise _Refused(404, INVALID_REQUEST, f"no MCP endpoint at {path}")
            self._check_origin(request)
            principal = request.principal = await self._authenticate(request)
            await self._authorize(principal, project)
            backend = self.backend
            if backend is None:
                raise _Refused(
                    503,
                    INVALID_REQUEST,
                    "this replica serves no MCP endpoint now (it is starting or stopping): retry",
                    [(b"retry-after", b"1")],
                )
            if request.method == "POST":
                request.body = await self._read_body(receive)
                request.receive = receive
                await self._post(request, principal, backend, send)
            elif request.method == "DELETE":
                self._end_session(request, principal)
                await _respond(send, 204, b"", [])
            elif request.method == "GET":
                await self._get_stream(request, principal, receive, send)
            else:
                raise _Refused(
                    405,
                    INVALID_REQUEST,
                    f"{request.method} is not allowed here",
                    [(b"allow", b"GET, POST, DELETE")],
                )
        except _Refused as e:
            if e.status in (401, 403) and self.backend is not None:
                self.backend.audit.add(
                    request.principal,
                    verb="connect",
                    outcome="denied",
                    project=project or None,
                    details={"status": e.status, "reason": e.message[:200]},
                )
            body = encode_error(None, e.code, e.message)
            await _respond(send, e.status, body, _JSON + e.headers)
        except Exception:
            # a fault of ours: said in the log with its trace, never to the client
            log.exception("/mcp/%s: a %s failed", project, request.method)
            body = encode_error(None, INTERNAL_ERROR, "internal error: see mcpd's log")
            await _respond(send, 500, body, _JSON)

    def _check_origin(self, request: _Request) -> None:
        origin = request.header("origin")
        if origin is None:
            return
        if origin in self.allowed_origins:
            return
        host = request.header("host") or ""
        if urlsplit(origin).netloc.lower() != host.lower():
            raise _Refused(403, INVALID_REQUEST, f"origin {origin!r} may not use this endpoint")

    async def _authenticate(self, request: _Request) -> Principal:
        scheme, _, raw = (request.header("authorization") or "").partition(" ")
        try:
            return await self.identity.authenticate(
                raw.strip() if scheme.lower() == "bearer" else None
            )
        except Unauthenticated as e:
            raise _Refused(
                401,
                INVALID_REQUEST,
                str(e),
                [(b"www-authenticate", b'Bearer realm="mcpctl", error="invalid_token"')],
            ) from None

    async def _policy(self, principal: Principal) -> Policy:
        cache = cache_of(self.db)
        if not cache.due() and cache.compiled is not None:
            return policy_from(cache.compiled, principal)
        async with self.db() as session:
            return await policy_of(session, principal)

    async def _authorize(self, principal: Principal, project: str) -> None:
        if principal.project is not None and principal.project != project:
            raise _Refused(
                403,
                INVALID_REQUEST,
                f"forbidden: this token is limited to project {principal.project}",
            )
        policy = await self._policy(principal)
        if not policy.allows("run", "projects", project):
            raise _Refused(403, INVALID_REQUEST, f"forbidden: needs run on projects/{project}")

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Refused(400, INVALID_REQUEST, "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.settings.max_body:
                raise _Refused(
                    413, INVALID_REQUEST, f"the body is larger than {self.settings.max_body} bytes"
                )
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    # ---- one POST ----------------------------------------------------------------------

    async def _post(
        self, request: _Request, principal: Principal, backend: ProxyBackend, send: Send
    ) -> None:
        request.backend = backend
        try:
            message = orjson.loads(request.body)
        except orjson.JSONDecodeError as e:
            raise _Refused(400, PARSE_ERROR, f"the body is not JSON: {e}") from None
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            raise _Refused(400, INVALID_REQUEST, "the body is not one JSON-RPC 2.0 message")
        method = message.get("method")
        if not isinstance(method, str):
            if "id" in message and ("result" in message or "error" in message):
                await _respond(send, 202, b"", [])  # an answer to a request we never sent
                return
            raise _Refused(400, INVALID_REQUEST, "the message names no method")
        request_id = message.get("id")
        version = request.header(PROTOCOL_VERSION_HEADER)
        modern = version is not None and version not in HANDSHAKE_VERSIONS
        if "id" not in message:  # a notification: nothing to answer
            if not modern:
                self._session_of(request, principal, method)
            await _respond(send, 202, b"", [])
            return
        if modern:
            await self._modern(request, message, method, request_id, send)
        else:
            await self._legacy(request, principal, message, method, request_id, send)

    async def _legacy(
        self,
        request: _Request,
        principal: Principal,
        message: JsonObject,
        method: str,
        request_id: Json,
        send: Send,
    ) -> None:
        if method == "initialize":
            params = message.get("params")
            asked = params.get("protocolVersion") if isinstance(params, dict) else None
            version = asked if asked in HANDSHAKE_VERSIONS else LATEST_HANDSHAKE_VERSION
            view = await self._view(request)
            session_id = self._open_session(request.project, principal, str(version))
            result: JsonObject = {
                "protocolVersion": version,
                "capabilities": _CAPABILITIES,
                "serverInfo": self._server_info(request.project),
            }
            if view.spec.instructions:
                result["instructions"] = view.spec.instructions
            await _respond(
                send,
                200,
                _result(request_id, orjson.dumps(result)),
                [*_JSON, (SESSION_HEADER.encode(), session_id.encode())],
            )
            return
        self._session_of(request, principal, method)
        await self._dispatch(request, message, method, request_id, send, modern=False)

    async def _modern(
        self,
        request: _Request,
        message: JsonObject,
        method: str,
        request_id: Json,
        send: Send,
    ) -> None:
        params = message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        requested: Json = meta.get(PROTOCOL_VERSION_KEY) if isinstance(meta, dict) else None
        try:
            if not isinstance(meta, dict) or any(
                key not in meta for key in (PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY)
            ):
                raise _Refused(
                    400,
                    INVALID_PARAMS,
                    f"params._meta must carry {PROTOCOL_VERSION_KEY!r} and "
                    f"{CLIENT_CAPABILITIES_KEY!r}",
                )
            version = meta[PROTOCOL_VERSION_KEY]
            if request.header(PROTOCOL_VERSION_HEADER) != version:
                raise _Refused(
                    400,
                    HEADER_MISMATCH,
                    f"{PROTOCOL_VERSION_HEADER} does not match the envelope's protocol version",
                )
            if request.header(METHOD_HEADER) != method:
                raise _Refused(
                    400, HEADER_MISMATCH, f"{METHOD_HEADER} does not match the request's method"
                )
            key = NAME_BEARING_METHODS.get(method)
            named = params.get(key) if key is not None and isinstance(params, dict) else None
            if named is not None and _decode_header(request.header(NAME_HEADER)) != named:
                raise _Refused(
                    400, HEADER_MISMATCH, f"{NAME_HEADER} does not match the request's {key}"
                )
            if version not in MODERN_VERSIONS:
                raise _Refused(
                    400,
                    UNSUPPORTED_PROTOCOL_VERSION,
                    f"protocol version {version!r} is not supported",
                )
        except _Refused as e:
            data: Json = None
            if e.code == UNSUPPORTED_PROTOCOL_VERSION:
                data = {"supported": list(MODERN_VERSIONS), "requested": requested}
            await _respond(send, e.status, encode_error(request_id, e.code, e.message, data), _JSON)
            return
        if method == "initialize":
            await self._error(
                send,
                request_id,
                METHOD_NOT_FOUND,
                f"initialize is not part of protocol version {requested}",
                modern=True,
            )
            return
        await self._dispatch(request, message, method, request_id, send, modern=True)

    async def _dispatch(
        self,
        request: _Request,
        message: JsonObject,
        method: str,
        request_id: Json,
        send: Send,
        *,
        modern: bool,
    ) -> None:
        view = await self._view(request)
        if method in _LISTS:
            result = view.results[method]
            if modern:
                result = _cacheable(result, self.settings.list_ttl)
            await _respond(send, 200, _result(request_id, result), _JSON)
        elif method in _ROUTED:
            await self._forward(request, view, message, method, request_id, send, modern=modern)
        elif method == "ping":
            await _respond(send, 200, _result(request_id, b"{}"), _JSON)
        elif method == "server/discover" and modern:
            result_object: JsonObject = {
                "supportedVersions": list(MODERN_VERSIONS),
                "capabilities": _CAPABILITIES,
                "resultType": "complete",
                "ttlMs": 0,
                "cacheScope": "private",
                "_meta": {SERVER_INFO_KEY: self._server_info(request.project)},
            }
            if view.spec.instructions:
                result_object["instructions"] = view.spec.instructions
            await _respond(send, 200, _result(request_id, orjson.dumps(result_object)), _JSON)
        elif method == "subscriptions/listen" and modern:
            await self._listen(request, message, request_id, send)
        elif method == "logging/setLevel" and not modern:
            await _respond(send, 200, _result(request_id, b"{}"), _JSON)
        else:
            await self._error(
                send, request_id, METHOD_NOT_FOUND, f"method {method!r} not found", modern=modern
            )

    async def _forward(
        self,
        request: _Request,
        view: ProjectView,
        message: JsonObject,
        method: str,
        request_id: Json,
        send: Send,
        *,
        modern: bool,
    ) -> None:
        key = _ROUTED[method]
        params = message.get("params")
        target = params.get(key) if isinstance(params, dict) else None
        if not isinstance(params, dict) or not isinstance(target, str):
            await self._error(
                send, request_id, INVALID_PARAMS, f"{method} needs params.{key}", modern=modern
            )
            return
        names = view.names
        routed = (
            names.route_uri(target)
            if key == "uri"
            else (
                names.route_tool(target) if method == "tools/call" else names.route_prompt(target)
            )
        )
        if routed is None:
            server = target.split("+" if key == "uri" else "__", 1)[0]
            if server in view.spec.servers and server not in names.servers:
                await self._error(
                    send,
                    request_id,
                    UPSTREAM_UNAVAILABLE,
                    f"server {server} of project {request.project} is not available now "
                    "(no ready instance, or it did not answer): its tools are left out",
                    modern=modern,
                )
                return
            what = {"tools/call": "tool", "prompts/get": "prompt", "resources/read": "resource"}[
                method
            ]
            await self._error(
                send,
                request_id,
                INVALID_PARAMS,
                f"unknown {what} {target!r} in project {request.project}",
                modern=modern,
            )
            return
        server, original = routed
        upstream = dict(message)
        upstream["params"] = {**params, key: original}
        notes: asyncio.Queue[bytes] = asyncio.Queue()

        def heard(note: Notification) -> None:
            notes.put_nowait(note.raw)

        try:
            assert request.backend is not None
            channel = await request.backend.catalog.channel(server)
        except (Unavailable, ChannelError) as e:
            await self._error(
                send, request_id, UPSTREAM_UNAVAILABLE, f"server {server}: {e}", modern=modern
            )
            return
        started = time.monotonic()
        call = asyncio.ensure_future(
            channel.forward(
                orjson.dumps(upstream),
                timeout=self.settings.call_timeout,
                on_notification=heard if request.accepts_sse else None,
            )
        )
        streaming = False
        try:
            while True:
                waiter = asyncio.ensure_future(notes.get())
                done, _ = await asyncio.wait({call, waiter}, return_when=asyncio.FIRST_COMPLETED)
                if waiter not in done:
                    waiter.cancel()
                    break
                if not streaming:
                    await send({"type": "http.response.start", "status": 200, "headers": _SSE})
                    streaming = True
                await _event(send, waiter.result())
            answer = call.result()
        except (ChannelError, TimeoutError) as e:
            answer = encode_error(request_id, UPSTREAM_UNAVAILABLE, f"server {server}: {e}")
        except asyncio.CancelledError:
            call.cancel()
            raise
        if method == "tools/call":
            self._audit_call(request, server, original, params, answer, started, request_id)
        if modern:
            answer = _complete(answer)
        if streaming:
            while not notes.empty():
                await _event(send, notes.get_nowait())
            await _event(send, answer, last=True)
        else:
            await _respond(send, 200, answer, _JSON)

    # ---- streams of server messages ------------------------------------------------------

    async def _get_stream(
        self, request: _Request, principal: Principal, receive: Receive, send: Send
    ) -> None:
        """The handshake era's GET stream: the list changes of the session's project."""
        if "text/event-stream" not in (request.header("accept") or ""):
            raise _Refused(406, INVALID_REQUEST, "a GET stream needs Accept: text/event-stream")
        self._session_of(request, principal, "GET")
        stream = _Stream(frozenset(("tools", "prompts", "resources")), None)

        async def opening() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": _SSE})
            await send({"type": "http.response.body", "body": b": open\n\n", "more_body": True})

        await self._follow(request.project, stream, receive, send, opening)
        await send({"type": "http.response.body", "body": b""})

    async def _listen(
        self, request: _Request, message: JsonObject, request_id: Json, send: Send
    ) -> None:
        """The 2026-07-28 era's `subscriptions/listen`: acknowledged with what the endpoint
        honours (the list changes asked for), then those, until the client goes."""
        params = message.get("params")
        asked = params.get("notifications") if isinstance(params, dict) else None
        if not isinstance(asked, dict):
            await self._error(
                send,
                request_id,
                INVALID_PARAMS,
                "subscriptions/listen needs params.notifications",
                modern=True,
            )
            return
        kinds = frozenset(
            kind
            for kind in ("tools", "prompts", "resources")
            if asked.get(f"{kind}ListChanged") is True
        )
        stream = _Stream(kinds, request_id)
        honoured: JsonObject = {f"{kind}ListChanged": True for kind in sorted(kinds)}

        async def opening() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": _SSE})
            acknowledged: JsonObject = {"notifications": honoured}
            await _event(
                send, stream.notification("notifications/subscriptions/acknowledged", acknowledged)
            )

        assert request.receive is not None
        await self._follow(request.project, stream, request.receive, send, opening)
        ended: JsonObject = {"resultType": "complete", "_meta": {SUBSCRIPTION_ID_KEY: request_id}}
        await _event(send, _result(request_id, orjson.dumps(ended)), last=True)

    async def _follow(
        self,
        project: str,
        stream: _Stream,
        receive: Receive,
        send: Send,
        opening: Callable[[], Awaitable[None]],
    ) -> None:
        """Open the stream (heard from before the client sees it open: a change right after
        is not missed), then send what it hears until the client goes or this replica stops
        serving."""
        self._streams.setdefault(project, set()).add(stream)
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await opening()
            while True:
                heard = asyncio.ensure_future(stream.queue.get())
                done, _ = await asyncio.wait(
                    {heard, gone}, timeout=KEEPALIVE, return_when=asyncio.FIRST_COMPLETED
                )
                if gone in done:
                    heard.cancel()
                    return
                if heard not in done:
                    heard.cancel()
                    await send(
                        {
                            "type": "http.response.body",
                            "body": b": keepalive\n\n",
                            "more_body": True,
                        }
                    )
                    continue
                item = heard.result()
                if item is None:
                    return
                await _event(send, item)
        finally:
            gone.cancel()
            streams = self._streams.get(project)
            if streams is not None:
                streams.discard(stream)
                if not streams:
                    del self._streams[project]

    @property
    def stream_count(self) -> int:
        return sum(len(streams) for streams in self._streams.values())

    # ---- helpers -----------------------------------------------------------------------

    def _audit_call(
        self,
        request: _Request,
        server: str,
        tool: str,
        params: JsonObject,
        answer: bytes,
        started: float,
        request_id: Json,
    ) -> None:
        assert request.backend is not None
        # an error answer's top-level "error" comes before any "result" (inside a string
        # either word is escaped); a tool's own failure is its result's isError
        error, result = answer.find(b'"error":'), answer.find(b'"result":')
        failed = (error != -1 and (result == -1 or error < result)) or (b'"isError":true' in answer)
        arguments = params.get("arguments")
        request.backend.audit.add(
            request.principal,
            verb="call",
            outcome="error" if failed else "success",
            project=request.project,
            server=server,
            tool=tool[:256],
            duration_ms=(time.monotonic() - started) * 1000,
            request_id=str(request_id)[:256],
            details={
                "arguments": arguments_digest(
                    None if arguments is None else orjson.dumps(arguments)
                )
            },
        )

    async def _view(self, request: _Request) -> ProjectView:
        assert request.backend is not None
        project = request.project
        view = await request.backend.views.view(project)
        if view is None:
            raise _Refused(404, INVALID_REQUEST, f"project {project!r} not found")
        return view

    async def _error(
        self, send: Send, request_id: Json, code: int, message: str, *, modern: bool
    ) -> None:
        status = _MODERN_STATUS.get(code, 200) if modern else 200
        await _respond(send, status, encode_error(request_id, code, message), _JSON)

    def _server_info(self, project: str) -> JsonObject:
        return {"name": f"mcpctl/{project}", "version": __version__}

    def _open_session(self, project: str, principal: Principal, version: str) -> str:
        now = time.monotonic()
        if len(self._sessions) >= self.settings.max_sessions:
            self._expire(now)
            while len(self._sessions) >= self.settings.max_sessions:
                oldest = min(self._sessions, key=lambda k: self._sessions[k].used)
                del self._sessions[oldest]
        session_id = secrets.token_urlsafe(24)
        self._sessions[session_id] = _Session(project, principal.credential, version, now)
        return session_id

    def _expire(self, now: float) -> None:
        idle = self.settings.session_idle
        for key in [k for k, s in self._sessions.items() if now - s.used > idle]:
            del self._sessions[key]

    def _session_of(self, request: _Request, principal: Principal, method: str) -> _Session:
        session_id = request.header(SESSION_HEADER)
        if session_id is None:
            raise _Refused(
                400, INVALID_REQUEST, f"{method} needs an {SESSION_HEADER} header: initialize first"
            )
        session = self._sessions.get(session_id)
        now = time.monotonic()
        if (
            session is None
            or session.project != request.project
            or session.credential != principal.credential
            or now - session.used > self.settings.session_idle
        ):
            if session is not None and now - session.used > self.settings.session_idle:
                del self._sessions[session_id]
            raise _Refused(404, INVALID_REQUEST, "unknown or expired session: initialize again")
        session.used = now
        return session

    def _end_session(self, request: _Request, principal: Principal) -> None:
        self._session_of(request, principal, "DELETE")  # its own, and known
        del self._sessions[request.header(SESSION_HEADER) or ""]

    @property
    def session_count(self) -> int:
        return len(self._sessions)


def _result(request_id: Json, result: bytes) -> bytes:
    return b'{"jsonrpc":"2.0","id":' + orjson.dumps(request_id) + b',"result":' + result + b"}"


def _cacheable(result: bytes, ttl: float) -> bytes:
    """A list's result with the modern era's caching fields (serialized lists end in `}`)."""
    extra = b'"resultType":"complete","ttlMs":%d,"cacheScope":"private"' % int(ttl * 1000)
    return result[:-1] + b"," + extra + b"}" if result != b"{}" else b"{" + extra + b"}"


def _complete(answer: bytes) -> bytes:
    """A modern client's answer with `resultType` (a legacy upstream does not send it)."""
    if b'"resultType"' in answer:
        return answer
    try:
        parsed = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return answer
    result = parsed.get("result") if isinstance(parsed, dict) else None
    if isinstance(result, dict):
        result["resultType"] = "complete"
        return orjson.dumps(parsed)
    return answer


def _decode_header(value: str | None) -> str | None:
    """An `Mcp-Name` header's value as the client meant it (`=?base64?...?=` decoded)."""
    if value is None or not (value.startswith("=?base64?") and value.endswith("?=")):
        return value
    try:
        return base64.b64decode(value[9:-2], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _disconnected(receive: Receive) -> None:
    """Return once the client has gone (what else it sends on a stream is not read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _event(send: Send, data: bytes, *, last: bool = False) -> None:
    await send(
        {
            "type": "http.response.body",
            "body": b"event: message\ndata: " + data + b"\n\n",
            "more_body": not last,
        }
    )
