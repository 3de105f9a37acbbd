"""How a channel behaves: its timeouts, how many requests it lets in flight, which era it
tries, and how it names itself. The daemon's wiring builds one `ChannelSettings` and hands
it to the pool; tests pass their own short timeouts."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

from mcpctl import __version__
from mcpctl.errors import InvalidInput

__all__ = ["ChannelSettings", "EraChoice"]

#: "auto" probes `server/discover` and falls back to `initialize`, as the SDK's client does;
#: "legacy" and "modern" speak only that era (a test of each, or a server known to need it).
EraChoice = Literal["auto", "legacy", "modern"]


@dataclass(frozen=True)
class ChannelSettings:
    #: A request's default timeout (seconds), from its send (or its wait for a slot) to its
    #: answer; each call may pass its own (`math.inf`: none, for a `subscriptions/listen`).
    request_timeout: float = 60.0
    #: The whole opening (the era's probe and handshake): a server still starting gets this long.
    open_timeout: float = 60.0
    #: How long the `server/discover` probe waits before the channel tries `initialize`
    #: (a legacy server that ignores unknown methods never answers it).
    discover_timeout: float = 10.0
    #: Requests in flight at once on one channel; more callers wait for a slot (within
    #: their timeout): the back-pressure that keeps one busy project from flooding a server.
    max_in_flight: int = 128
    #: Connecting to an HTTP instance (seconds).
    connect_timeout: float = 10.0
    #: The largest message accepted from an HTTP instance (one SSE event or JSON body).
    max_message_bytes: int = 64 * 1024 * 1024
    era: EraChoice = "auto"
    client_name: str = "mcpctl"
    client_version: str = __version__
    #: The modern era's per-request logging opt-in (`io.modelcontextprotocol/logLevel`):
    #: None asks a modern server for no log notifications. The legacy era uses
    #: `logging/setLevel`, which a caller sends like any request.
    log_level: str | None = None

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name.endswith("_timeout") and not (
                isinstance(value, int | float) and value > 0 and not math.isnan(value)
            ):
                raise InvalidInput(
                    f"channel settings: {spec.name} must be positive (seconds), not {value!r}"
                )
        for name in ("max_in_flight", "max_message_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(
                    f"channel settings: {name} must be a positive integer, not {value!r}"
                )
        if self.era not in ("auto", "legacy", "modern"):
            raise InvalidInput(
                f"channel settings: era must be auto, legacy or modern, not {self.era!r}"
            )
