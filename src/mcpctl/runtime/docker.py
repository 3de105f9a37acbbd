"""The docker driver: `image` servers as containers of a Docker engine.

The only module of mcpctl that imports the `docker` SDK. The SDK is synchronous:
each short call runs in a worker thread (`asyncio.to_thread`); the long-lived streams
(the engine's events, a followed log) each get a thread of their own, so that they
never hold the default executor's few workers. A stdio instance's attach socket is
handed to asyncio (`runtime.multiplexing`), so its traffic takes no thread at all.

What a container is given (docs/architecture.md, "The runtime"):

- the labels of `Launch.labels()` (server, instance, generation, owner) and
  `TRANSPORT_LABEL`, never a secret; the environment of `Launch.environment()`, so
  resolved secrets are in the container's config only (which `docker inspect` shows
  to whoever may use the engine: root, on mcpd's host);
- its `Limits` (memory, CPUs, `no-new-privileges`), docker's init as PID 1 (so
  SIGTERM reaches the server and its children are reaped), a json-file log of at
  most 3 x 10 MB, and no proxy settings from the host's docker config;
- stdio: stdin open, no TTY, `StdinOnce` off, so its stdin outlives any one attach;
  sse and streamable-http: its `containerPort` published on 127.0.0.1 only, on a port
  the engine picks.

An image missing from the engine is pulled once, bounded by `pull_timeout`; an image
that is neither present nor pullable is an `InvalidInput` naming the instance and the
image (an offline host finds out at once: its engine fails the pull at the lookup).

Containers outlive mcpd: `close` stops watching and leaves them running, and the next
leader's driver (same owner) finds them in `list`, which attaches to every running
stdio container it does not hold yet. What an adopted stdio server sees: the same
process with the same stdin, now written by a new channel; its MCP session is the one
the previous channel opened (the SDK's server also answers a second `initialize`), and
the answer to a request in flight at the handover is lost (the engine keeps no output
for an attach that was not there). An adopted HTTP instance's `Endpoint` has no
headers: they may be secrets, which the driver keeps for the instances it started,
in memory only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import docker  # type: ignore[import-untyped]  # the docker SDK ships no type information
from docker import errors as docker_errors

from mcpctl.errors import InvalidInput, NotFound
from mcpctl.runtime.base import (
    GENERATION_LABEL,
    INSTANCE_LABEL,
    OWNER_LABEL,
    SERVER_LABEL,
    Endpoint,
    Exit,
    Launch,
    Observed,
    RuntimeName,
    RuntimeUnavailable,
    Secret,
    StdioPipe,
)
from mcpctl.runtime.diagnosing import exit_reason, failure_cause, mask_secrets, probe_engine
from mcpctl.runtime.multiplexing import (
    AttachedStdio,
    LineAssembler,
    parse_engine_time,
    read_in_thread,
    split_timestamp,
)

__all__ = ["TRANSPORT_LABEL", "DockerDriver"]

log = logging.getLogger(__name__)

#: The transport an instance speaks, so that an adopting driver knows stdio from HTTP.
TRANSPORT_LABEL = "dev.mcpctl.transport"

DEFAULT_ENGINE = "unix:///var/run/docker.sock"
#: `check` must answer fast: an engine that says nothing in this long is not there.
CHECK_TIMEOUT = 3.0
#: Any other call (a stop adds its grace to it).
CALL_TIMEOUT = 60.0
#: The longest a missing image's pull may take before the start gives up.
PULL_TIMEOUT = 300.0
#: The oldest engine API the driver speaks (asked before the engine's own is known).
MIN_API_VERSION = "1.41"
LOG_OPTIONS = {"max-size": "10m", "max-file": "3"}
HTTP_PATHS: Mapping[str, str] = {"streamable-http": "/mcp", "sse": "/sse"}

T = TypeVar("T")


class DockerDriver:
    """Runs `image` servers as containers of the Docker engine at `base_url`
    (`$DOCKER_HOST`, else the local socket), labelled with `owner` (the cluster's id)."""

    name: ClassVar[RuntimeName] = "docker"

    def __init__(
        self,
        owner: str,
        node: str,
        *,
        base_url: str | None = None,
        pull_timeout: float = PULL_TIMEOUT,
    ) -> None:
        if not owner:
            raise ValueError("a docker driver needs an owner: its containers are found by it")
        self.owner = owner
        self.node = node
        self.base_url = base_url or os.environ.get("DOCKER_HOST") or DEFAULT_ENGINE
        self.pull_timeout = pull_timeout
        self._api: Any = None
        self._api_lock = asyncio.Lock()
        self._locks: dict[str, asyncio.Lock] = {}
        self._pipes: dict[str, AttachedStdio] = {}
        self._headers: dict[str, Mapping[str, str | Secret]] = {}
        #: containers `stop` ends, so that their exits say so (the watch's thread reads it)
        self._stopping: set[str] = set()
        self._watch: _ExitWatch | None = None

    def __repr__(self) -> str:
        return f"DockerDriver(owner={self.owner!r}, engine={self.base_url!r})"

    # --- the engine ---------------------------------------------------------------------

    def _unavailable(self, error: BaseException) -> RuntimeUnavailable:
        return RuntimeUnavailable(f"no Docker engine at {self.base_url}: {failure_cause(error)}")

    async def _engine(self) -> Any:
        """The SDK's client, made at first use (making it asks the engine its version)."""
        async with self._api_lock:
            if self._api is None:

                def connect() -> Any:
                    probe_engine(self.base_url, CHECK_TIMEOUT)
                    return docker.APIClient(
                        base_url=self.base_url, version="auto", timeout=CALL_TIMEOUT
                    )

                try:
                    self._api = await asyncio.to_thread(connect)
                except (docker_errors.DockerException, OSError) as error:
                    raise self._unavailable(error) from None
            return self._api

    async def _run(self, call: Callable[[Any], T], *, refusals: bool = False) -> T:
        """`call(client)` in a worker thread. The engine out of reach is
        `RuntimeUnavailable`, and so is its refusal (an `APIError`) unless the caller
        takes `refusals`, knowing what they mean."""
        api = await self._engine()
        try:
            return await asyncio.to_thread(call, api)
        except docker_errors.APIError as error:
            if refusals:
                raise
            raise RuntimeUnavailable(
                f"the Docker engine at {self.base_url} failed: {_explain(error)}"
            ) from None
        except (docker_errors.DockerException, OSError) as error:
            raise self._unavailable(error) from None

    async def check(self) -> None:
        """Ping the engine with a short timeout (`RuntimeUnavailable` naming it and why)."""

        def ping() -> None:
            probe_engine(self.base_url, CHECK_TIMEOUT)
            client = docker.APIClient(
                base_url=self.base_url, version=MIN_API_VERSION, timeout=CHECK_TIMEOUT
            )
            try:
                client.ping()
            finally:
                client.close()

        try:
            await asyncio.to_thread(ping)
        except (docker_errors.DockerException, OSError) as error:
            raise self._unavailable(error) from None

    # --- start ----------------------------------------------------------------------------

    def container_name(self, instance: str) -> str:
        """`mcpctl-<instance>-<owner's hash>`: readable in `docker ps`, unique per engine
        even for two clusters sharing it, and the engine refuses a twin."""
        return f"mcpctl-{instance}-{hashlib.sha256(self.owner.encode()).hexdigest()[:8]}"

    def _lock(self, instance: str) -> asyncio.Lock:
        return self._locks.setdefault(instance, asyncio.Lock())

    async def start(self, launch: Launch) -> Observed:
        """Create and start the container (pulling a missing image first).

        A container of this instance that runs already is taken as it is, not doubled;
        an exited one is replaced."""
        _check_launch(launch, self.owner)
        async with self._lock(launch.instance):
            await self._ensure_image(launch)
            for attrs in await self._inspect_instance(launch.instance):
                if attrs["State"].get("Running"):
                    log.info("instance %s runs already in %s", launch.instance, attrs["Id"][:12])
                    return await self._adopt(attrs)
                await self._remove(attrs["Id"])
            cid = await self._create(launch)
            pipe: AttachedStdio | None = None
            try:
                if launch.transport == "stdio":
                    pipe = await self._attach(launch.instance, cid)
                await self._start_step(launch, "start", lambda api: api.start(cid))
                attrs = await self._start_step(
                    launch, "inspect", lambda api: api.inspect_container(cid)
                )
            except BaseException:
                if pipe is not None:
                    await pipe.aclose()
                with contextlib.suppress(RuntimeUnavailable):
                    await self._remove(cid)
                raise
            if pipe is not None:
                await self._hold(launch.instance, pipe)
            if launch.headers:
                self._headers[launch.instance] = launch.headers
            log.info(
                "started instance %s of server %s in container %s",
                launch.instance,
                launch.server,
                cid[:12],
            )
            return self._observed(attrs)

    async def _start_step(self, launch: Launch, step: str, call: Callable[[Any], T]) -> T:
        """A step of a start: the engine's refusal of this launch is `InvalidInput`."""
        try:
            return await self._run(call, refusals=True)
        except docker_errors.APIError as error:
            message = (
                f"instance {launch.instance}: the Docker engine refused to {step} its "
                f"container (image {launch.image}): {_explain(error)}"
            )
            values = (*launch.env.values(), *launch.headers.values())
            raise InvalidInput(mask_secrets(message, values)) from None

    async def _ensure_image(self, launch: Launch) -> None:
        """Pull the image if the engine lacks it (Docker's own "missing" policy)."""
        image = launch.image
        assert image is not None  # _check_launch
        try:
            await self._run(lambda api: api.inspect_image(image), refusals=True)
            return
        except docker_errors.ImageNotFound:
            pass
        except docker_errors.APIError as error:
            if not error.is_client_error():
                raise self._unavailable(error) from None
            raise InvalidInput(
                f"instance {launch.instance}: image {image!r} is not usable: {_explain(error)}"
            ) from None
        log.info("pulling image %s for instance %s", image, launch.instance)
        seconds = self.pull_timeout

        def pull(api: Any) -> str | None:
            deadline = time.monotonic() + seconds
            for progress in api.pull(image, stream=True, decode=True):
                if "error" in progress:
                    return str(progress["error"])
                if time.monotonic() > deadline:
                    return f"not pulled within {seconds:g} s"
            return None

        try:
            failure = await self._run(pull, refusals=True)
        except docker_errors.APIError as error:
            failure = _explain(error)
        if failure is not None:
            raise InvalidInput(
                f"instance {launch.instance}: image {image!r} is not present in the Docker "
                f"engine and could not be pulled: {failure}"
            )

    async def _create(self, launch: Launch) -> str:
        http = launch.transport != "stdio"
        limits = launch.limits
        labels = {**launch.labels(), OWNER_LABEL: self.owner, TRANSPORT_LABEL: launch.transport}
        environment = launch.environment()
        name = self.container_name(launch.instance)

        def create(api: Any) -> str:
            host_config = api.create_host_config(
                port_bindings={launch.container_port: ("127.0.0.1", None)} if http else None,
                mem_limit=limits.memory_bytes,
                nano_cpus=round(limits.cpus * 1e9) if limits.cpus is not None else None,
                security_opt=["no-new-privileges:true"] if limits.no_new_privileges else None,
                init=True,
                log_config=docker.types.LogConfig(type="json-file", config=LOG_OPTIONS),
            )
            created = api.create_container(
                launch.image,
                name=name,
                labels=labels,
                environment=environment,
                stdin_open=not http,
                tty=False,
                detach=True,  # without it the SDK sets StdinOnce: stdin would die with the attach
                ports=[launch.container_port] if http else None,
                host_config=host_config,
                use_config_proxy=False,
            )
            return str(created["Id"])

        return await self._start_step(launch, "create", create)

    async def _attach(self, instance: str, cid: str) -> AttachedStdio:
        """The container's stdin and stdout as an asyncio pipe (before its start, so no
        output is missed; or, adopting, from now on). The engine's refusal (the container
        is gone) is the caller's."""

        def attach(api: Any) -> Any:
            io = api.attach_socket(cid, params={"stdin": 1, "stdout": 1, "stream": 1})
            # A socket of our own: the SDK's response, its file and socket are let go.
            raw = io._sock
            sock = raw.dup()
            response = getattr(io, "_response", None)
            if response is not None:
                response.close()
            io.close()
            raw.close()
            return sock

        sock = await self._run(attach, refusals=True)
        try:
            reader, writer = await asyncio.open_connection(sock=sock)
        except OSError as error:
            sock.close()
            raise self._unavailable(error) from None
        return AttachedStdio(instance, reader, writer)

    # --- what runs ------------------------------------------------------------------------

    async def _inspect_instance(self, instance: str) -> list[dict[str, Any]]:
        """The containers of one instance (of this owner), running or not."""
        return await self._inspect_labelled([f"{INSTANCE_LABEL}={instance}"])

    async def _inspect_labelled(self, labels: list[str]) -> list[dict[str, Any]]:
        filters = {"label": [f"{OWNER_LABEL}={self.owner}", *labels]}

        def inspect_all(api: Any) -> list[dict[str, Any]]:
            found = []
            for summary in api.containers(all=True, filters=filters):
                try:
                    found.append(api.inspect_container(summary["Id"]))
                except docker_errors.NotFound:
                    continue  # removed between the listing and now
            return found

        return await self._run(inspect_all)

    async def list(self) -> list[Observed]:
        """Every container labelled with this owner, running or exited; a running stdio one
        this driver holds no pipe for is attached to now (adopted)."""
        observed = []
        for attrs in await self._inspect_labelled([]):
            try:
                found = self._observed(attrs)
            except ValueError as error:
                log.warning("container %s is not an instance: %s", attrs["Id"][:12], error)
                continue
            if found.running and self.stdio(found.instance) is None:
                async with self._lock(found.instance):
                    found = await self._adopt(attrs)
            observed.append(found)
        return observed

    async def _adopt(self, attrs: dict[str, Any]) -> Observed:
        """A running container as this driver's (its instance's lock held): a stdio one
        is attached to, unless this driver holds its pipe already."""
        observed = self._observed(attrs)
        stdio = (attrs["Config"].get("Labels") or {}).get(TRANSPORT_LABEL) == "stdio"
        if stdio and self.stdio(observed.instance) is None:
            try:
                pipe = await self._attach(observed.instance, attrs["Id"])
            except docker_errors.APIError as error:
                log.info("instance %s ended before its adoption: %s", observed.instance, error)
                return observed
            await self._hold(observed.instance, pipe)
            log.info(
                "adopted stdio instance %s (container %s)", observed.instance, attrs["Id"][:12]
            )
        return observed

    async def _hold(self, instance: str, pipe: AttachedStdio) -> None:
        """Keep `pipe` as the instance's, letting go of one left from an exited container."""
        old = self._pipes.pop(instance, None)
        if old is not None:
            await old.aclose()
        self._pipes[instance] = pipe

    def _observed(self, attrs: dict[str, Any]) -> Observed:
        labels: dict[str, str] = attrs["Config"].get("Labels") or {}
        state = attrs["State"]
        instance = labels.get(INSTANCE_LABEL)
        if not instance or SERVER_LABEL not in labels:
            raise ValueError("it has no server or instance label")
        running = bool(state.get("Running"))
        started = parse_engine_time(state.get("StartedAt", ""))
        started = started or parse_engine_time(attrs.get("Created", ""))
        return Observed(
            server=labels[SERVER_LABEL],
            instance=instance,
            generation=int(labels.get(GENERATION_LABEL, "")),
            runtime="docker",
            ref=attrs["Id"],
            started_at=started or datetime.now(UTC),
            running=running,
            owner=labels.get(OWNER_LABEL, ""),
            exit_code=None if running or state.get("Status") == "created" else state["ExitCode"],
            node=self.node,
            endpoint=self._endpoint(instance, labels, attrs) if running else None,
        )

    def _endpoint(
        self, instance: str, labels: Mapping[str, str], attrs: dict[str, Any]
    ) -> Endpoint | None:
        transport = labels.get(TRANSPORT_LABEL, "stdio")
        if transport not in HTTP_PATHS:
            return None
        for bindings in (attrs["NetworkSettings"].get("Ports") or {}).values():
            for binding in bindings or ():
                if binding.get("HostIp") == "127.0.0.1" and binding.get("HostPort"):
                    return Endpoint(
                        transport="sse" if transport == "sse" else "streamable-http",
                        url=f"http://127.0.0.1:{binding['HostPort']}{HTTP_PATHS[transport]}",
                        headers=self._headers.get(instance, {}),
                    )
        return None

    def stdio(self, instance: str) -> StdioPipe | None:
        pipe = self._pipes.get(instance)
        return pipe if pipe is not None and not pipe.closed else None

    # --- stop -----------------------------------------------------------------------------

    async def stop(self, instance: str, *, grace: float = 10.0) -> None:
        """`docker stop` (SIGTERM to the server through docker's init, SIGKILL after
        `grace`), then remove the container. Nothing to stop is no error."""
        async with self._lock(instance):
            for attrs in await self._inspect_instance(instance):
                cid = attrs["Id"]
                if attrs["State"].get("Running"):
                    if self._watch is not None:
                        self._stopping.add(cid)
                    await self._stop_container(cid, grace)
                await self._remove(cid)
                log.info("stopped instance %s (container %s)", instance, cid[:12])
            pipe = self._pipes.pop(instance, None)
            if pipe is not None:
                await pipe.aclose()
            self._headers.pop(instance, None)
        self._locks.pop(instance, None)

    async def _stop_container(self, cid: str, grace: float) -> None:
        await self._run(lambda api: _gone_is_done(api.stop, cid, grace))

    async def _remove(self, cid: str) -> None:
        await self._run(lambda api: _gone_is_done(api.remove_container, cid, None))

    # --- exits ----------------------------------------------------------------------------

    def exits(self) -> AsyncIterator[Exit]:
        """The exits of this owner's containers from the engine's `die` events, from this
        call on (one consumer: the reconciler). An exit that happened while no driver
        watched shows in `list` as an instance not running, with its code."""
        if self._watch is None:
            self._watch = _ExitWatch(self, asyncio.get_running_loop())
        return self._watch.iterate()

    def _exit_of(self, api: Any, event: dict[str, Any]) -> Exit | None:
        """An `Exit` from a `die` event (in the watch's thread: it asks the engine)."""
        actor = event.get("Actor") or {}
        attributes: dict[str, str] = actor.get("Attributes") or {}
        instance = attributes.get(INSTANCE_LABEL)
        cid = str(actor.get("ID") or event.get("id") or "")
        if not instance:
            return None
        code: int | None = int(attributes["exitCode"]) if "exitCode" in attributes else None
        at = datetime.fromtimestamp(int(event.get("timeNano", 0)) / 1e9, UTC)
        oom = False
        try:
            state = api.inspect_container(cid)["State"]
            code = state.get("ExitCode", code)
            oom = bool(state.get("OOMKilled"))
            at = parse_engine_time(state.get("FinishedAt", "")) or at
        except docker_errors.NotFound:
            pass  # removed already (a stop removes at once): the event's code stands
        stopped = cid in self._stopping
        self._stopping.discard(cid)
        return Exit(instance, code, exit_reason(code, oom=oom, stopped=stopped), at)

    # --- logs -----------------------------------------------------------------------------

    async def logs(
        self,
        instance: str,
        *,
        tail: int | None = None,
        since: datetime | None = None,
        follow: bool = False,
    ) -> AsyncIterator[bytes]:
        """The container's log, line by line: stderr, and stdout for an HTTP server (a
        stdio server's stdout is its MCP traffic, never shown). The engine stamps each
        line; the stamps serve an exact `since` and are taken off."""
        containers = await self._inspect_instance(instance)
        if not containers:
            raise NotFound(f"instance {instance} has no container")
        cid = containers[0]["Id"]
        labels = containers[0]["Config"].get("Labels") or {}
        if labels.get(TRANSPORT_LABEL, "stdio") != "stdio":
            async for _, line in self._log_lines(cid, True, tail, since, follow):
                yield line
            return
        if tail is None:
            async for _, line in self._log_lines(cid, False, None, since, follow):
                yield line
            return
        # The engine counts a tail over both streams before it leaves stdout out, so a
        # stdio server's tail is taken here; what follows it is asked for apart, from
        # the last line's stamp on (the engine's clock on both sides).
        kept: deque[bytes] = deque(maxlen=tail)
        last: int | None = None
        async for stamp, line in self._log_lines(cid, False, None, since, False):
            kept.append(line)
            last = stamp if stamp is not None else last
        for line in kept:
            yield line
        if follow:
            after = since if last is None else datetime.fromtimestamp(last // 1000 / 1e6, UTC)
            async for stamp, line in self._log_lines(cid, False, None, after, True):
                if last is None or stamp is None or stamp > last:
                    yield line

    async def _log_lines(
        self, cid: str, stdout: bool, tail: int | None, since: datetime | None, follow: bool
    ) -> AsyncIterator[tuple[int | None, bytes]]:
        """Lines of a container's log with their stamps (nanoseconds since the epoch)."""
        options: dict[str, Any] = {
            "stdout": stdout,
            "stderr": True,
            "stream": True,
            "follow": follow,
            "timestamps": True,
            "tail": tail if tail is not None else "all",
        }
        floor: int | None = None
        if since is not None:
            options["since"] = max(since.timestamp(), 1e-6)
            floor = round(since.timestamp() * 1e6) * 1000
        try:
            stream = await self._run(lambda api: api.logs(cid, **options), refusals=True)
        except docker_errors.NotFound:
            raise NotFound(f"container {cid[:12]} is gone") from None
        except docker_errors.APIError as error:
            raise self._unavailable(error) from None
        lines = LineAssembler()
        stamp: int | None = None
        try:
            async for payload in read_in_thread(stream, f"docker-logs-{cid[:12]}"):
                stamp, text = split_timestamp(payload)
                if floor is not None and stamp is not None and stamp < floor:
                    continue
                for line in lines.feed(text):
                    yield stamp, line
            for line in lines.flush():
                yield stamp, line
        finally:
            stream.close()

    # --- close ----------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop watching and let go of every pipe; the containers run on, for the next
        leader to adopt."""
        if self._watch is not None:
            await self._watch.close()
            self._watch = None
        pipes, self._pipes = self._pipes, {}
        for pipe in pipes.values():
            await pipe.aclose()
        if self._api is not None:
            api, self._api = self._api, None
            await asyncio.to_thread(api.close)


class _ExitWatch:
    """The engine's `die` events of one owner, read in a thread of their own (the stream
    blocks for as long as it is open), reconnecting after an engine restart from the
    last event seen, so that none is lost or told twice."""

    def __init__(self, driver: DockerDriver, loop: asyncio.AbstractEventLoop) -> None:
        self._driver = driver
        self._loop = loop
        self._queue: asyncio.Queue[Exit | None] = asyncio.Queue()
        self._closing = threading.Event()
        self._stream: Any = None
        self._since = time.time()
        self._last_nano = 0
        self._thread = threading.Thread(
            target=self._watch, name=f"docker-exits-{driver.owner}", daemon=True
        )
        self._thread.start()

    async def iterate(self) -> AsyncIterator[Exit]:
        while (item := await self._queue.get()) is not None:
            yield item

    def _watch(self) -> None:
        driver = self._driver
        filters = {"label": [f"{OWNER_LABEL}={driver.owner}"], "type": "container", "event": "die"}
        api: Any = None
        failing = False
        while not self._closing.is_set():
            try:
                probe_engine(driver.base_url, CHECK_TIMEOUT)
                if api is None:
                    api = docker.APIClient(base_url=driver.base_url, version=MIN_API_VERSION)
                self._stream = api.events(since=self._since, filters=filters, decode=True)
                if self._closing.is_set():
                    self._stream.close()
                    break
                if failing:
                    log.info("watching the exits of %s again", driver)
                    failing = False
                for event in self._stream:
                    self._tell(api, event)
            except (docker_errors.DockerException, OSError) as error:
                if not failing and not self._closing.is_set():
                    log.warning(
                        "cannot watch the exits of %s: %s; trying every second",
                        driver,
                        failure_cause(error),
                    )
                    failing = True
            self._closing.wait(1.0)
        if api is not None:
            api.close()

    def _tell(self, api: Any, event: dict[str, Any]) -> None:
        nano = int(event.get("timeNano", 0))
        if nano <= self._last_nano:
            return  # told already, before a reconnection
        self._last_nano = nano
        self._since = nano / 1e9
        exit_ = self._driver._exit_of(api, event)
        if exit_ is not None:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, exit_)

    async def close(self) -> None:
        self._closing.set()
        stream = self._stream
        if stream is not None:
            with contextlib.suppress(OSError, docker_errors.DockerException):
                stream.close()
        await asyncio.to_thread(self._thread.join, CALL_TIMEOUT)
        self._queue.put_nowait(None)


def _gone_is_done(call: Callable[..., Any], cid: str, grace: float | None) -> None:
    """Stop or remove a container; one that is gone, or going, needs neither."""
    try:
        if grace is None:
            call(cid, force=True)
        else:
            call(cid, timeout=math.ceil(grace))
    except docker_errors.NotFound:
        pass
    except docker_errors.APIError as error:
        if error.status_code != 409:  # "removal already in progress"
            raise


def _check_launch(launch: Launch, owner: str) -> None:
    where = f"instance {launch.instance}"
    if launch.runtime != "docker" or launch.image is None:
        raise InvalidInput(f"{where}: the docker driver runs image servers only")
    if launch.transport != "stdio" and launch.container_port is None:
        raise InvalidInput(f"{where}: a {launch.transport} container needs its containerPort")
    if launch.owner and launch.owner != owner:
        raise InvalidInput(f"{where}: launched for owner {launch.owner!r}, not {owner!r}")


def _explain(error: Any) -> str:
    """The engine's own words for a refusal."""
    return str(getattr(error, "explanation", None) or error).strip()
