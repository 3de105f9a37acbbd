"""What a channel's callers may meet, each naming the instance (and the method, where one is).

::

    McpctlError
     +-- InvalidInput
     |    +-- InvalidMessage       the bytes handed to `forward` are no request the channel
     |                             may send (not JSON-RPC, or a handshake it owns)
     +-- UpstreamError             the server answered a request with a JSON-RPC error
     |                             (`Channel.request` only: `forward` hands the error back)
     +-- BackendUnavailable
          +-- ChannelError         the instance could not be spoken to
               +-- ChannelClosed   the channel ended before the answer: the instance exited
               |                   or restarted, its HTTP session ended, mcpd closed it
               +-- UpstreamTimeout no answer in time; the channel goes on for other requests
               +-- HandshakeFailed the server speaks no protocol version the channel does,
                                   or answered the handshake with nonsense

No message holds a header value, an environment value or a request's parameters: only
names (instance, method, URL without its credentials) and what happened.
"""

from __future__ import annotations

from mcpctl.errors import BackendUnavailable, InvalidInput, McpctlError

__all__ = [
    "ChannelClosed",
    "ChannelError",
    "HandshakeFailed",
    "InvalidMessage",
    "UpstreamError",
    "UpstreamTimeout",
]


class InvalidMessage(InvalidInput):
    """`forward` was given bytes the channel will not send, and says why."""


class UpstreamError(McpctlError):
    """The server answered with a JSON-RPC error: its code, message and data, as it sent them."""

    def __init__(self, instance: str, method: str, code: int, message: str, data: object = None):
        super().__init__(f"instance {instance}: {method} failed with error {code}: {message}")
        self.instance = instance
        self.method = method
        self.code = code
        self.message = message
        self.data = data


class ChannelError(BackendUnavailable):
    """The instance could not be spoken to; `instance` names it."""

    def __init__(self, instance: str, message: str) -> None:
        super().__init__(f"instance {instance}: {message}")
        self.instance = instance


class ChannelClosed(ChannelError):
    """The channel ended (or was never open): in-flight requests fail with this, and the
    next use through the pool opens a new channel."""


class UpstreamTimeout(ChannelError):
    """A request got no answer within its timeout (or waited that long for a free slot)."""

    def __init__(self, instance: str, method: str, timeout: float, what: str = "no answer") -> None:
        super().__init__(instance, f"{what} to {method} within {timeout:g} s")
        self.method = method
        self.timeout = timeout


class HandshakeFailed(ChannelError):
    """The channel could not agree on a protocol with the server."""
