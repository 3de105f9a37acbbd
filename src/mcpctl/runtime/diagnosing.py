"""What the docker driver says when something ends or fails: an exit's reason, an
engine error's cause, a probe of the engine's socket, and secrets kept out of it all.

Apart from `runtime.docker` so that the words are tested without an engine, and so
that the one module importing the SDK holds only the driver.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from mcpctl.runtime.base import Secret

__all__ = ["exit_reason", "failure_cause", "mask_secrets", "probe_engine"]


def exit_reason(code: int | None, *, oom: bool = False, stopped: bool = False) -> str:
    """Why a container ended, in words: `OOMKilled`, `stopped by mcpd`, `killed by
    signal 9`, `exited with code 3`, `exited`."""
    if oom:
        return "OOMKilled"
    if stopped:
        return "stopped by mcpd"
    if code is None or code == 0:
        return "exited"
    if code > 128 and code - 128 in signal.valid_signals():
        return f"killed by signal {code - 128}"
    return f"exited with code {code}"


def failure_cause(error: BaseException) -> str:
    """The innermost reason of an engine error, in a few words: requests and urllib3
    wrap a refused connection three deep, and their outer words name no cause."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    timed_out = False
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, TimeoutError) or type(current).__name__.endswith("Timeout"):
            timed_out = True
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        pending.extend(
            inner
            for inner in (*current.args, current.__cause__, current.__context__)
            if isinstance(inner, BaseException)
        )
    if timed_out:
        return "no answer in time"
    return str(error)[:300] or type(error).__name__


def probe_engine(url: str, timeout: float) -> None:
    """Connect to the engine's socket and let go at once (`OSError` if nothing listens).

    The SDK leaks the socket of a connect that fails (its Unix connection never closes
    it), so an absent engine is met here first, with a socket that is closed."""
    scheme, _, rest = url.partition("://")
    if scheme in ("unix", "http+unix"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(rest)
    elif scheme in ("tcp", "http", "https"):
        where = urlsplit(f"tcp://{rest}")
        with socket.create_connection((where.hostname or "127.0.0.1", where.port or 2375), timeout):
            pass


def mask_secrets(text: str, values: Iterable[str | Secret]) -> str:
    """`text` with every secret among `values` shown as `***`: the engine may quote what
    it refused."""
    for value in values:
        if isinstance(value, Secret) and value.reveal():
            text = text.replace(value.reveal(), "***")
    return text
