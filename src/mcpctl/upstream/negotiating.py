"""Which protocol era a server speaks, found the way the SDK's own client finds it.

`negotiate` sends `server/discover` at the newest modern version, stamped with the modern
envelope (and, over HTTP, its headers). A server that answers with a version the channel
speaks is modern. Any JSON-RPC error is evidence of a legacy server (a legacy stdio
server says "method not found"; a legacy HTTP server answers the unknown version with a
400, whose body the HTTP link turns into an error), and so is no answer at all within
`discover_timeout` (a server that ignores unknown methods) or a discover result naming
no modern version: the channel then runs the `initialize` handshake. Two answers are
not legacy evidence: -32022 naming a modern version we share (probe again at it), and
-32022 naming only versions we do not speak at all (`HandshakeFailed`).

One more turn, as in the SDK: a probe that timed out here may still have reached a slow
server and locked its connection modern, which then answers `initialize` with -32022;
that names the server's versions, so the channel probes once more at a shared one.

The probe and the handshake go through `Ask`, the channel's way of sending one request
before any era is agreed, so this module is the policy alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mcpctl.upstream.errors import HandshakeFailed, UpstreamTimeout
from mcpctl.upstream.protocol import (
    CLIENT_CAPABILITIES_KEY,
    CLIENT_INFO_KEY,
    HANDSHAKE_VERSIONS,
    LATEST_HANDSHAKE_VERSION,
    LATEST_MODERN_VERSION,
    MODERN_VERSIONS,
    PROTOCOL_VERSION_KEY,
    SERVER_INFO_KEY,
    UNSUPPORTED_PROTOCOL_VERSION,
    Era,
)
from mcpctl.upstream.settings import EraChoice
from mcpctl.upstream.wire import Json, JsonObject

__all__ = ["Agreement", "Ask", "negotiate"]

#: Send one request (method, params, the protocol version it goes with, its timeout or
#: None for the opening's own) and give back the answer: a message with `result` or
#: `error`. Raises `ChannelError`s (`UpstreamTimeout` when no answer came in time).
Ask = Callable[[str, JsonObject, str | None, float | None], Awaitable[JsonObject]]


@dataclass(frozen=True)
class Agreement:
    """What the channel and the server agreed on, and what the server said of itself."""

    era: Era
    version: str
    server_info: JsonObject | None
    capabilities: JsonObject
    instructions: str | None
    #: The versions a modern server listed (empty for legacy: the handshake names one).
    supported_versions: tuple[str, ...] = ()


class _Reprobe(Exception):
    def __init__(self, version: str) -> None:
        self.version = version


def _versions(data: Json) -> list[str] | None:
    """The `supported` list of a -32022 error's data, or None where there is none."""
    if isinstance(data, dict) and isinstance(listed := data.get("supported"), list):
        return [v for v in listed if isinstance(v, str)]
    return None


def _object(value: Json) -> JsonObject | None:
    return value if isinstance(value, dict) else None


async def negotiate(
    ask: Ask,
    instance: str,
    choice: EraChoice,
    client_info: JsonObject,
    capabilities: JsonObject,
    discover_timeout: float,
) -> Agreement:
    if choice == "legacy":
        return await _initialize(ask, instance, client_info, capabilities)
    version = LATEST_MODERN_VERSION
    for attempt in range(2):
        envelope: JsonObject = {
            PROTOCOL_VERSION_KEY: version,
            CLIENT_INFO_KEY: client_info,
            CLIENT_CAPABILITIES_KEY: capabilities,
        }
        try:
            answer = await ask("server/discover", {"_meta": envelope}, version, discover_timeout)
        except UpstreamTimeout:
            if choice == "modern":
                raise
            answer = {"error": {"code": 0, "message": "no answer"}}
        error = _object(answer.get("error"))
        result = _object(answer.get("result"))
        if error is None and result is not None:
            listed = result.get("supportedVersions")
            offered = [v for v in listed if isinstance(v, str)] if isinstance(listed, list) else []
            shared = [v for v in MODERN_VERSIONS if v in offered]
            if shared:
                return _modern(shared[-1], result, offered)
            if choice == "modern":
                raise HandshakeFailed(
                    instance, f"server/discover lists no version the channel speaks ({offered})"
                )
        else:
            code = error.get("code") if error is not None else None
            if code == UNSUPPORTED_PROTOCOL_VERSION and error is not None:
                supported = _versions(error.get("data"))
                shared = [v for v in MODERN_VERSIONS if v in (supported or ())]
                if shared and attempt == 0:
                    version = shared[-1]
                    continue
                if supported is not None and not any(v in HANDSHAKE_VERSIONS for v in supported):
                    raise HandshakeFailed(
                        instance, f"the server speaks only protocol versions {supported}"
                    )
            if choice == "modern":
                said = error.get("message") if error is not None else "no answer"
                raise HandshakeFailed(instance, f"server/discover failed ({code}: {said})")
        try:
            return await _initialize(ask, instance, client_info, capabilities)
        except _Reprobe as again:
            if attempt != 0:
                raise HandshakeFailed(
                    instance, "initialize was refused after a second probe"
                ) from None
            version = again.version
    raise HandshakeFailed(instance, "the server answered neither server/discover nor initialize")


def _modern(version: str, result: JsonObject, offered: list[str]) -> Agreement:
    meta = _object(result.get("_meta"))
    instructions = result.get("instructions")
    return Agreement(
        era="modern",
        version=version,
        server_info=_object(meta.get(SERVER_INFO_KEY)) if meta is not None else None,
        capabilities=_object(result.get("capabilities")) or {},
        instructions=instructions if isinstance(instructions, str) else None,
        supported_versions=tuple(offered),
    )


async def _initialize(
    ask: Ask, instance: str, client_info: JsonObject, capabilities: JsonObject
) -> Agreement:
    params: JsonObject = {
        "protocolVersion": LATEST_HANDSHAKE_VERSION,
        "capabilities": capabilities,
        "clientInfo": client_info,
    }
    answer = await ask("initialize", params, None, None)
    error = _object(answer.get("error"))
    if error is not None:
        code = error.get("code")
        if code == UNSUPPORTED_PROTOCOL_VERSION:
            shared = [v for v in MODERN_VERSIONS if v in (_versions(error.get("data")) or ())]
            if shared:
                raise _Reprobe(shared[-1])
        raise HandshakeFailed(instance, f"initialize failed ({code}: {error.get('message')})")
    result = _object(answer.get("result"))
    if result is None:
        raise HandshakeFailed(instance, "initialize was answered without a result")
    version = result.get("protocolVersion")
    if not isinstance(version, str) or version not in HANDSHAKE_VERSIONS:
        raise HandshakeFailed(
            instance,
            f"initialize answered protocol version {version!r}, which the channel does not speak",
        )
    instructions = result.get("instructions")
    return Agreement(
        era="legacy",
        version=version,
        server_info=_object(result.get("serverInfo")),
        capabilities=_object(result.get("capabilities")) or {},
        instructions=instructions if isinstance(instructions, str) else None,
    )
