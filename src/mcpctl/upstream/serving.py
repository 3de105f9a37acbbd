"""Answering the requests a server sends its client: `ping` at once, the requests a
caller registered a handler for (sampling, elicitation, roots, by method), and a
JSON-RPC error for the rest.

The channel hands every server request here (`Channel` receives, `ServerRequests`
answers through the link). Registering a handler declares the matching client
capability at the handshake (`capabilities`); without one, the three client features
are answered as the SDK's client answers them (-32600 "... not supported") and any
other method with -32601. Handlers run as tasks of their own, so a slow one holds up
nothing; a legacy server's `notifications/cancelled` stops one, and so does the
channel's end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from mcpctl.errors import McpctlError
from mcpctl.upstream.protocol import INTERNAL_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND
from mcpctl.upstream.wire import Json, JsonObject, encode_error, encode_result

__all__ = ["Refusal", "ServerRequestHandler", "ServerRequests"]

log = logging.getLogger(__name__)

#: A handler of one kind of request from the server (`sampling/createMessage`,
#: `elicitation/create`, `roots/list`, ...): its params in, its result out. Raising
#: `Refusal` answers with that error; anything else with an internal error (logged).
ServerRequestHandler = Callable[[JsonObject | None], Awaitable[JsonObject]]

#: What registering a handler declares to the server (client capabilities).
_CAPABILITY_OF: Final[Mapping[str, tuple[str, JsonObject]]] = {
    "sampling/createMessage": ("sampling", {}),
    "elicitation/create": ("elicitation", {"form": {}}),
    "roots/list": ("roots", {}),
}
#: The client features a server may ask for; without a handler the channel says it lacks
#: them (the SDK client's words and code), any other method is not found.
_FEATURES: Final = {
    "sampling/createMessage": "Sampling",
    "elicitation/create": "Elicitation",
    "roots/list": "List roots",
}


class Refusal(McpctlError):
    """Raised by a `ServerRequestHandler` to answer the server with this JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Json = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class ServerRequests:
    def __init__(
        self,
        instance: str,
        handlers: Mapping[str, ServerRequestHandler],
        answer: Callable[[bytes], None],
    ) -> None:
        self.instance = instance
        self._handlers = dict(handlers)
        self._answer = answer
        self._serving: dict[int | str, asyncio.Task[None]] = {}

    def capabilities(self) -> JsonObject:
        """The client capabilities the registered handlers declare."""
        declared: JsonObject = {}
        for method in self._handlers:
            if method in _CAPABILITY_OF:
                key, value = _CAPABILITY_OF[method]
                declared[key] = value
        return declared

    def serve(self, message: JsonObject, method: str) -> None:
        request_id = message["id"]
        if method == "ping":
            self._answer(encode_result(request_id, {}))
            return
        handler = self._handlers.get(method)
        if handler is None or not isinstance(request_id, int | str) or isinstance(request_id, bool):
            if method in _FEATURES:
                self._answer(
                    encode_error(request_id, INVALID_REQUEST, f"{_FEATURES[method]} not supported")
                )
            else:
                self._answer(encode_error(request_id, METHOD_NOT_FOUND, "Method not found", method))
            return
        params = message.get("params")
        task = asyncio.create_task(
            self._run(handler, request_id, method, params if isinstance(params, dict) else None)
        )
        self._serving[request_id] = task
        task.add_done_callback(lambda done: self._forget(request_id, done))

    def _forget(self, request_id: int | str, task: asyncio.Task[None]) -> None:
        if self._serving.get(request_id) is task:
            del self._serving[request_id]

    def cancel(self, request_id: Json) -> None:
        """The server cancelled one of its requests: stop its handler."""
        if (
            isinstance(request_id, int | str)
            and (task := self._serving.get(request_id)) is not None
        ):
            task.cancel()

    async def _run(
        self,
        handler: ServerRequestHandler,
        request_id: int | str,
        method: str,
        params: JsonObject | None,
    ) -> None:
        try:
            result = await handler(params)
        except Refusal as refusal:
            self._answer(encode_error(request_id, refusal.code, refusal.message, refusal.data))
        except Exception:  # an edge: the handler's failure is answered, the channel goes on
            log.exception("instance %s: the handler of %s failed", self.instance, method)
            self._answer(
                encode_error(request_id, INTERNAL_ERROR, f"the client's {method} handler failed")
            )
        else:
            self._answer(encode_result(request_id, result))

    async def stop(self) -> None:
        serving = list(self._serving.values())
        for task in serving:
            task.cancel()
        await asyncio.gather(*serving, return_exceptions=True)
