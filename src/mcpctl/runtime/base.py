"""The drivers' one protocol: what the reconciler asks of a runtime, and what it gets.

An instance is one running copy of a Server (the `Instance` runtime kind, like a
Pod of a Deployment). The reconciler (`reconciler`, on the leader) decides which
instances should run and hands each driver a `Launch`; the driver starts it and
reports what runs (`Observed`) and every exit (`Exit`). The MCP channel to an
instance (`upstream`) speaks over what the driver hands out: the stdio pipe it
holds for the instance's life (`StdioPipe`), or an HTTP `Endpoint`.

Secret values reach a driver only inside `Launch.env` and `Launch.headers`,
resolved by the caller at start; no `repr`, log line, label, event or error of
a driver shows them (`Secret` wraps each value).

Every driver names the instances it runs by three labels, so that a new mcpd
process adopts what its predecessor started instead of starting twins:
`SERVER_LABEL`, `INSTANCE_LABEL`, `GENERATION_LABEL`, and `OWNER_LABEL` (the
cluster's id: whichever replica leads owns them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Literal, Protocol

from mcpctl.errors import BackendUnavailable

#: The labels (Docker labels; the process driver's records) naming what an instance is.
SERVER_LABEL = "dev.mcpctl.server"
INSTANCE_LABEL = "dev.mcpctl.instance"
GENERATION_LABEL = "dev.mcpctl.generation"
OWNER_LABEL = "dev.mcpctl.owner"

RuntimeName = Literal["process", "docker", "external"]
TransportName = Literal["stdio", "sse", "streamable-http"]

__all__ = [
    "GENERATION_LABEL",
    "INSTANCE_LABEL",
    "OWNER_LABEL",
    "SERVER_LABEL",
    "Driver",
    "Endpoint",
    "Exit",
    "Launch",
    "Limits",
    "Observed",
    "RuntimeName",
    "RuntimeUnavailable",
    "Secret",
    "StdioPipe",
    "TransportName",
]


class RuntimeUnavailable(BackendUnavailable):
    """A driver cannot run anything now (no Docker engine, say): the message says why.

    The reconciler gives the Servers on that runtime a condition and an event; the
    others run on."""


class Secret:
    """A resolved secret value: readable by the driver that starts the instance, shown as
    `***` everywhere else (repr, str, f-strings, logs)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value, for the process's environment or the request's header only."""
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Limits:
    """Resources an instance may use (the docker driver enforces them; None: no limit)."""

    memory_bytes: int | None = None
    cpus: float | None = None
    no_new_privileges: bool = True


@dataclass(frozen=True)
class Launch:
    """Everything a driver needs to start one instance of a Server."""

    server: str
    #: The Instance's name (unique in the cluster): `<server>-<suffix>`.
    instance: str
    #: The Server's `metadata.generation` this instance runs.
    generation: int
    runtime: RuntimeName
    transport: TransportName
    #: exactly one of these three, by `runtime`
    command: tuple[str, ...] | None = None
    image: str | None = None
    external_url: str | None = None
    #: The port an HTTP server listens on inside its container (docker) or its process
    #: (process: passed as `PORT`; the driver picks a free one on 127.0.0.1 if None).
    container_port: int | None = None
    #: Plain values and resolved secrets: the instance's environment.
    env: Mapping[str, str | Secret] = field(default_factory=dict)
    #: HTTP headers the channel sends (resolved secrets allowed).
    headers: Mapping[str, str | Secret] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    #: The cluster's id (`OWNER_LABEL`).
    owner: str = ""

    def labels(self) -> dict[str, str]:
        """The labels naming this instance (never a secret)."""
        return {
            SERVER_LABEL: self.server,
            INSTANCE_LABEL: self.instance,
            GENERATION_LABEL: str(self.generation),
            OWNER_LABEL: self.owner,
        }

    def environment(self) -> dict[str, str]:
        """The environment with secrets revealed: for the process or container only."""
        return {k: v.reveal() if isinstance(v, Secret) else v for k, v in self.env.items()}


@dataclass(frozen=True)
class Endpoint:
    """How to speak MCP to an instance over HTTP (stdio instances have a `StdioPipe`)."""

    transport: Literal["sse", "streamable-http"]
    url: str
    headers: Mapping[str, str | Secret] = field(default_factory=dict)


class StdioPipe(Protocol):
    """The instance's stdin and stdout, held by its driver for the instance's life; the
    channel (`upstream`) is its only reader and writer. Messages are newline-delimited
    JSON-RPC, as MCP's stdio transport says."""

    async def read_line(self) -> bytes:
        """The next line without its newline; b"" once the instance's stdout closed."""
        ...

    async def write(self, data: bytes) -> None:
        """Write bytes to the instance's stdin (the caller adds the newline).

        Raises `ConnectionError` once the instance's stdin is closed."""
        ...

    @property
    def closed(self) -> bool:
        """Whether the instance's stdout has closed (it exited, or is exiting)."""
        ...


@dataclass(frozen=True)
class Observed:
    """An instance as its driver sees it: running, or exited and not yet removed."""

    server: str
    instance: str
    generation: int
    runtime: RuntimeName
    #: the driver's own id: a pid, a container id, the URL of an external server
    ref: str
    started_at: datetime
    running: bool
    owner: str = ""
    exit_code: int | None = None
    #: the host or replica it runs on (the `Instance`'s `node`)
    node: str = ""
    #: how the channel reaches it (None: stdio, through `Driver.stdio`)
    endpoint: Endpoint | None = None


@dataclass(frozen=True)
class Exit:
    """An instance ended: its code (None: unknown, as for an adopted container that was
    removed) and why, in words (`OOMKilled`, `killed by signal 9`, ...)."""

    instance: str
    code: int | None
    reason: str
    at: datetime


class Driver(Protocol):
    """One runtime: start, stop, list what runs, logs, and the way to its MCP channel."""

    name: ClassVar[RuntimeName]

    async def check(self) -> None:
        """Raise `RuntimeUnavailable` (naming why) if this runtime cannot run anything."""
        ...

    async def start(self, launch: Launch) -> Observed:
        """Start one instance. It runs when this returns (it may still be starting its
        MCP server: the channel finds out). Raises `RuntimeUnavailable`, or `InvalidInput`
        for a launch this runtime cannot run (a bad image name, a missing command), each
        naming the instance and the cause, never a secret."""
        ...

    async def stop(self, instance: str, *, grace: float = 10.0) -> None:
        """Stop an instance (SIGTERM, then SIGKILL after `grace` seconds) and forget it.
        Stopping one that is not running does nothing."""
        ...

    async def list(self) -> list[Observed]:
        """Every instance this driver runs for its owner, adopted ones included."""
        ...

    def exits(self) -> AsyncIterator[Exit]:
        """Every instance's exit as it happens (one iterator, for the reconciler)."""
        ...

    def stdio(self, instance: str) -> StdioPipe | None:
        """The stdio pipe of a running stdio instance (None: not running, or HTTP)."""
        ...

    def logs(
        self,
        instance: str,
        *,
        tail: int | None = None,
        since: datetime | None = None,
        follow: bool = False,
    ) -> AsyncIterator[bytes]:
        """The instance's log (its stderr; a container's output), line by line, each
        with its newline: the last `tail` lines, or those since `since`, then, if
        `follow`, the lines to come until the instance ends."""
        ...

    async def close(self) -> None:
        """mcpd stops: stop watching. The process driver ends its instances (they die
        with mcpd); containers go on running, to be adopted by the next leader."""
        ...
