"""The proxy's knobs, with the defaults mcpd runs with."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ProxySettings"]


@dataclass(frozen=True)
class ProxySettings:
    #: seconds a server's lists are kept (a `list_changed` or a write drops them sooner)
    list_ttl: float = 300.0
    #: seconds a server that could not give its lists is left out before it is asked again
    failure_ttl: float = 10.0
    #: seconds a server has to give its lists (then it is left out, not waited for)
    list_timeout: float = 10.0
    #: seconds a forwarded request (a tool call) may take before the client gets an error
    call_timeout: float = 300.0
    #: seconds a legacy session may go unused before it is forgotten (its client then gets
    #: 404 and initializes again, as the specification says)
    session_idle: float = 3600.0
    #: legacy sessions kept at most; the longest unused go first
    max_sessions: int = 10_000
    #: the largest request body accepted, in bytes
    max_body: int = 4 * 1024 * 1024
