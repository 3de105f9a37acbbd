"""The process driver: `command` servers as children of mcpd, each in a process group of its own.

The reconciler hands it a `Launch` of a Server whose spec has a `command`; it
runs the command as a child of mcpd and holds what the instance needs for its
life: its stdin and stdout for a stdio server (`stdio`, the channel's only
reader and writer), its port for an HTTP one (`Observed.endpoint`), and its
log. See docs/architecture.md, "The runtime (`runtime`)".

**Process group.** Each instance starts a new session (`start_new_session`), so
it leads a process group of its own: a stop sends SIGTERM to the whole group
and SIGKILL to what is left after the grace, and when the server ends by
itself, whatever it started gets the same (SIGTERM, SIGKILL after
`EXIT_GRACE`). A process that leaves the group (`setsid`, a daemon's double
fork) escapes both: the driver does not chase it.

**Environment.** The child gets only `PATH` (mcpd's), `HOME` (a private
directory of its own under the state dir), `LANG` (mcpd's, else `C.UTF-8`),
`TZ` if mcpd has one, then the launch's environment (secrets revealed here
and nowhere else), then `PORT` for an HTTP server. Nothing else of mcpd's
environment (which may hold `MCPCTL_SEALING_KEY` or a database URL with its
password) reaches it. Its working directory is its home; a command is a
program on that `PATH` or an absolute path.

**What survives what.** The child runs through `setpriv --pdeathsig KILL`
(util-linux; without it, a few lines of Python that do the same and check
that mcpd did not die first), so the kernel kills the server the moment the
thread that started it ends: mcpd's event loop thread, so mcpd's death however
it comes (kill -9 included). The death signal reaches the server only, not
what it started: those live on, and so every instance is recorded
(`runtime.records`) with its pid, group and start time, and the next driver's
`end_orphans` ends the groups a dead mcpd left (start calls it once before the
first instance). An instance that ends is stopped, not restarted: that is the
reconciler's choice. `close` (mcpd stops) ends every instance.

**Logs.** stderr is the instance's log (an HTTP server's stdout too: stdio is
not its channel), written by mcpd to `<state_dir>/instances/<instance>/log`
(`runtime.logfiles`: bounded, rotated, a UTC stamp a line). The instance's
directory (log and home) lives until the instance is forgotten: `stop` (which
forgets), `close`, or, after mcpd was killed, the next driver's `end_orphans`.
An exited instance keeps it until then, so its last words can be read; started
again under its name (the reconciler's restart after a crash), it keeps its
directory, and its log goes on after the last run's lines.

Limits (`Launch.limits`) are the docker driver's; of them this driver applies
`no_new_privileges` only (`setpriv --no-new-privs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from mcpctl.errors import Conflict, InvalidInput
from mcpctl.runtime.base import (
    Endpoint,
    Exit,
    Launch,
    Observed,
    RuntimeName,
    RuntimeUnavailable,
    StdioPipe,
    TransportName,
)
from mcpctl.runtime.groups import describe_returncode, describe_status, end_group, read_stat
from mcpctl.runtime.logfiles import MIN_BYTES, LogFile
from mcpctl.runtime.pipes import STDOUT_LIMIT, InstancePipe, LogProtocol, StdoutProtocol
from mcpctl.runtime.records import Record, RecordsFile, end_orphans, is_safe_name

__all__ = ["EXIT_GRACE", "ProcessDriver"]

log = logging.getLogger(__name__)

#: How long what a server started may outlive it, after SIGTERM, before SIGKILL.
EXIT_GRACE = 5.0
#: How long the log and stdout of an ended instance are still read, once its group is
#: gone, before they are closed (a process that left the group may hold them open).
DRAIN = 2.0

#: util-linux's setpriv: it arms the death signal, then execs the command.
SETPRIV: str | None = shutil.which("setpriv") or (
    "/usr/bin/setpriv" if os.access("/usr/bin/setpriv", os.X_OK) else None
)

# What stands in for setpriv where it is missing: arm the death signal (PR_SET_PDEATHSIG),
# make sure the parent (argv[1]) did not die before it was armed, forbid new privileges
# if asked (argv[2], PR_SET_NO_NEW_PRIVS), then exec the command.
_DEATH_SIGNAL_SHIM = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(1, 9, 0, 0, 0) != 0:
    sys.exit("cannot arm the death signal")
if os.getppid() != int(sys.argv[1]):
    os._exit(137)
if sys.argv[2] == "1" and libc.prctl(38, 1, 0, 0, 0) != 0:
    sys.exit("cannot forbid new privileges")
os.execv(sys.argv[3], sys.argv[3:])
"""


def _launcher(no_new_privileges: bool) -> list[str]:
    """The argv prefix that arms the death signal (SIGKILL) before the command runs."""
    if SETPRIV is None:
        flag = "1" if no_new_privileges else "0"
        return [sys.executable, "-I", "-S", "-c", _DEATH_SIGNAL_SHIM, str(os.getpid()), flag]
    extra = ["--no-new-privs"] if no_new_privileges else []
    return [SETPRIV, "--pdeathsig", "KILL", *extra, "--"]


def _free_port() -> int:
    """A port free on 127.0.0.1 now (another process may take it before the server binds:
    the server then fails to start, and says so in its log)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _find_executable(instance: str, command: str, path: str) -> str:
    """The file `command` names, on the child's PATH; InvalidInput naming both if none."""
    if "/" in command:
        if not os.path.isabs(command):
            # Relative to what? mcpd's directory is no place of the Server's.
            raise InvalidInput(
                f"instance {instance}: the command {command!r} is a relative path: "
                "name an absolute path, or a program on PATH"
            )
        if os.path.isfile(command) and os.access(command, os.X_OK):
            return command
        raise InvalidInput(
            f"instance {instance}: the command {command!r} is not an executable file"
        )
    found = shutil.which(command, path=path)
    if found is None:
        raise InvalidInput(f"instance {instance}: the command {command!r} is not found on PATH")
    return found


def _check(launch: Launch) -> tuple[str, ...]:
    """The launch's command, or InvalidInput naming the instance and what is wrong."""
    if not is_safe_name(launch.instance):
        raise InvalidInput(f"instance name {launch.instance!r}: not a valid instance name")
    if launch.runtime != "process":
        raise InvalidInput(
            f"instance {launch.instance}: the process driver runs command servers, "
            f"not {launch.runtime} ones"
        )
    if not launch.command or not launch.command[0]:
        raise InvalidInput(f"instance {launch.instance}: no command to run")
    port = launch.container_port
    if port is not None and not 0 < port < 65536:
        raise InvalidInput(f"instance {launch.instance}: port {port} is out of range")
    # No process can be given a NUL (exec takes C strings): refused here, naming where, as
    # a failed start of this instance, not a ValueError that would fail every round.
    for i, part in enumerate(launch.command):
        if "\0" in part:
            raise InvalidInput(
                f"instance {launch.instance}: the command's argument {i} holds a NUL character"
            )
    for name, value in launch.environment().items():
        if "\0" in name or "\0" in value:  # the value may be a secret: never quoted
            raise InvalidInput(
                f"instance {launch.instance}: the environment variable {name!r} holds a NUL "
                "character"
            )
    return launch.command


@dataclass(eq=False)
class _Instance:
    """One started instance, until it is forgotten."""

    server: str
    name: str
    generation: int
    transport: TransportName
    popen: subprocess.Popen[bytes]
    pid: int
    start: int
    started_at: datetime
    directory: Path
    log_file: LogFile
    endpoint: Endpoint | None
    pipe: InstancePipe | None
    transports: list[asyncio.BaseTransport]
    lost: list[asyncio.Event]
    running: bool = True
    exit_code: int | None = None
    #: the group's end, once begun (by a stop, or by the server's own exit)
    ending: asyncio.Task[bool] | None = None
    watcher: asyncio.Task[None] | None = None
    #: set once the instance has ended and its pipes are closed
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, owner: str) -> Record:
        return Record(
            instance=self.name,
            server=self.server,
            generation=self.generation,
            owner=owner,
            pid=self.pid,
            pgid=self.pid,
            start=self.start,
            ended=not self.running and self.done.is_set(),
        )


class ProcessDriver:
    """Runs `command` servers as mcpd's children (see the module's docstring).

    `state_dir` holds `instances/<instance>/` (each instance's `log`, `log.1`, ...
    and its `home`) and `process-records/`. Each instance's log keeps at most
    `log_files` files of at most `log_bytes` bytes each. Use it from one event
    loop, whose thread lives as long as the instances (the death signal follows
    the thread that started them: mcpd's main thread)."""

    name: ClassVar[RuntimeName] = "process"

    def __init__(
        self,
        state_dir: Path,
        owner: str,
        node: str,
        *,
        log_bytes: int = 10 * 1024 * 1024,
        log_files: int = 2,
    ) -> None:
        if log_bytes < MIN_BYTES:
            raise InvalidInput(f"log_bytes: {log_bytes} is less than {MIN_BYTES}")
        if log_files < 1:
            raise InvalidInput(f"log_files: {log_files} is less than 1")
        if not node:
            raise InvalidInput("node: the process driver needs the name of its node")
        self.state_dir = state_dir
        self.owner = owner
        self.node = node
        self.log_bytes = log_bytes
        self.log_files = log_files
        self._instances_dir = state_dir / "instances"
        self._records = RecordsFile(state_dir / "process-records", node)
        self._instances: dict[str, _Instance] = {}
        self._exits: asyncio.Queue[Exit | None] = asyncio.Queue()
        self._orphans_ended = False
        self._orphans_lock = asyncio.Lock()
        #: instances between the check of their name and their start
        self._starting: set[str] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"<ProcessDriver node={self.node!r} instances={len(self._instances)}>"

    async def check(self) -> None:
        """Nothing to check: a machine that runs mcpd runs processes."""

    async def end_orphans(self, *, grace: float = EXIT_GRACE) -> list[str]:
        """End what a previous mcpd process on this node recorded and left running (its
        servers' children: the servers got the death signal), and clear its records and
        its instances' directories. The instances that had processes left, by name.
        The first `start` calls it, if no one did before."""
        async with self._orphans_lock:
            ended = await end_orphans(
                self._records.directory,
                node=self.node,
                instances=self._instances_dir,
                grace=grace,
                own=self._records.path,
            )
            self._orphans_ended = True
            return ended

    async def start(self, launch: Launch) -> Observed:
        command = _check(launch)
        if not self._orphans_ended:
            async with self._orphans_lock:
                pass  # another start may be ending them now: wait for it
            if not self._orphans_ended:
                await self.end_orphans()
        if self._closed:
            raise RuntimeUnavailable("the process driver is closed (mcpd is stopping)")
        ended = self._instances.get(launch.instance)
        if launch.instance in self._starting or (ended is not None and ended.running):
            raise Conflict(f"instance {launch.instance}: already running; stop it first")
        self._starting.add(launch.instance)
        try:
            if ended is not None:
                # A restart (after a crash): the instance keeps its directory, its home
                # and its log, which goes on after the last run's lines.
                del self._instances[launch.instance]
                await ended.done.wait()
            instance = await self._spawn(launch, command, restart=ended is not None)
        except BaseException:
            if ended is not None:  # not restarted: still the ended one, with its log
                self._instances[launch.instance] = ended
            raise
        finally:
            self._starting.discard(launch.instance)
        self._instances[instance.name] = instance
        self._write_records()
        instance.watcher = asyncio.create_task(
            self._watch(instance), name=f"process-driver {instance.name}"
        )
        log.info(
            "instance %s (server %s, generation %d) started: pid %d",
            instance.name,
            instance.server,
            instance.generation,
            instance.pid,
        )
        return self._observed(instance)

    async def _spawn(self, launch: Launch, command: tuple[str, ...], restart: bool) -> _Instance:
        """Start the process, in a directory of its own (fresh, unless it restarts an ended
        instance), and take its pipes."""
        directory = self._instances_dir / launch.instance
        home = directory / "home"
        env = {
            "PATH": os.environ.get("PATH") or os.defpath,
            "HOME": str(home),
            "LANG": os.environ.get("LANG") or "C.UTF-8",
        }
        if "TZ" in os.environ:
            env["TZ"] = os.environ["TZ"]
        env.update(launch.environment())
        port: int | None = None
        if launch.transport != "stdio":
            port = launch.container_port or _free_port()
            env["PORT"] = str(port)
        executable = _find_executable(launch.instance, command[0], env["PATH"])

        if not restart:
            await asyncio.to_thread(shutil.rmtree, directory, True)  # a forgotten one's
        self._instances_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.mkdir(mode=0o700, exist_ok=restart)
        home.mkdir(mode=0o700, exist_ok=restart)
        log_file = LogFile(
            directory, max_bytes=self.log_bytes, files=self.log_files, name=launch.instance
        )
        stdio = launch.transport == "stdio"
        try:
            # On the loop's own thread (the death signal follows the thread that forks).
            popen = subprocess.Popen(
                [*_launcher(launch.limits.no_new_privileges), executable, *command[1:]],
                stdin=subprocess.PIPE if stdio else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if stdio else subprocess.STDOUT,
                env=env,
                cwd=home,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as e:
            log_file.finish()
            if not restart:
                await asyncio.to_thread(shutil.rmtree, directory, True)
            raise InvalidInput(
                f"instance {launch.instance}: cannot run {command[0]!r}: {e.strerror}"
            ) from None
        try:
            if self._closed:
                raise RuntimeUnavailable("the process driver is closed (mcpd is stopping)")
            return await self._hold(launch, popen, directory, log_file, port)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()
            for pipe in (popen.stdin, popen.stdout, popen.stderr):
                if pipe is not None:
                    pipe.close()
            log_file.finish()
            if not restart:
                await asyncio.to_thread(shutil.rmtree, directory, True)
            raise

    async def _hold(
        self,
        launch: Launch,
        popen: subprocess.Popen[bytes],
        directory: Path,
        log_file: LogFile,
        port: int | None,
    ) -> _Instance:
        """Take the new process's pipes into the event loop."""
        loop = asyncio.get_running_loop()
        stat = read_stat(popen.pid)
        transports: list[asyncio.BaseTransport] = []
        lost: list[asyncio.Event] = []
        pipe: InstancePipe | None = None
        endpoint: Endpoint | None = None
        try:
            assert popen.stdout is not None
            if launch.transport == "stdio":
                assert popen.stdin is not None
                assert popen.stderr is not None
                reader = asyncio.StreamReader(limit=STDOUT_LIMIT)
                stdout = StdoutProtocol(reader)
                read_transport, _ = await loop.connect_read_pipe(lambda: stdout, popen.stdout)
                transports.append(read_transport)
                lost.append(stdout.lost)
                write_transport, write_protocol = await loop.connect_write_pipe(
                    lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), popen.stdin
                )
                transports.append(write_transport)
                writer = asyncio.StreamWriter(write_transport, write_protocol, None, loop)
                pipe = InstancePipe(launch.instance, reader, writer)
                log_source = popen.stderr
            else:
                suffix = "/sse" if launch.transport == "sse" else "/mcp"
                endpoint = Endpoint(
                    launch.transport, f"http://127.0.0.1:{port}{suffix}", dict(launch.headers)
                )
                log_source = popen.stdout
            log_pipe = LogProtocol(log_file)
            log_transport, _ = await loop.connect_read_pipe(lambda: log_pipe, log_source)
            transports.append(log_transport)
            lost.append(log_pipe.lost)
        except BaseException:
            for transport in transports:
                transport.close()
            raise
        return _Instance(
            server=launch.server,
            name=launch.instance,
            generation=launch.generation,
            transport=launch.transport,
            popen=popen,
            pid=popen.pid,
            start=stat.start if stat is not None else 0,
            started_at=datetime.now(UTC),
            directory=directory,
            log_file=log_file,
            endpoint=endpoint,
            pipe=pipe,
            transports=transports,
            lost=lost,
        )

    async def _watch(self, instance: _Instance) -> None:
        """Wait for the server's exit; report it, end its group, close its pipes.

        Cancelled (the loop stops without `close`), or failing, it kills the group at
        once: an instance does not outlive its watch."""
        try:
            await self._exited(instance)
            self._report(instance, describe_status(self._status(instance)))
            if instance.ending is None:
                instance.ending = asyncio.create_task(self._end_group(instance, EXIT_GRACE))
            await asyncio.shield(instance.ending)
            instance.popen.wait()  # a zombie: at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(e.wait() for e in instance.lost)), DRAIN)
        except BaseException as e:
            if not isinstance(e, asyncio.CancelledError):
                log.exception("instance %s: watching it failed: it is killed", instance.name)
            if instance.popen.returncode is None:  # not reaped: its group id is still its
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(instance.pid, signal.SIGKILL)
                instance.popen.wait()
            if instance.running:
                self._report(instance, describe_returncode(instance.popen.returncode))
            if isinstance(e, asyncio.CancelledError):
                raise
        finally:
            for transport in instance.transports:
                transport.close()
            instance.log_file.finish()
            instance.done.set()
            if self._instances.get(instance.name) is instance:
                self._write_records()

    async def _exited(self, instance: _Instance) -> None:
        """Return when the server's process has exited (its pidfd is readable)."""
        loop = asyncio.get_running_loop()
        pidfd = os.pidfd_open(instance.pid)
        exited: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not exited.done():
                exited.set_result(None)

        loop.add_reader(pidfd, readable)
        try:
            await exited
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)

    @staticmethod
    def _status(instance: _Instance) -> os.waitid_result | None:
        """How the server ended, read without reaping it: while the leader is a zombie,
        its pid (the group's id) cannot be reused, so signalling the group stays safe."""
        try:
            return os.waitid(os.P_PID, instance.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        except ChildProcessError:
            return None

    def _report(self, instance: _Instance, status: tuple[int | None, str]) -> None:
        code, reason = status
        instance.running = False
        instance.exit_code = code
        self._exits.put_nowait(Exit(instance.name, code, reason, datetime.now(UTC)))
        level = logging.INFO if instance.ending is not None else logging.WARNING
        log.log(level, "instance %s (server %s) %s", instance.name, instance.server, reason)

    async def _end_group(self, instance: _Instance, grace: float) -> bool:
        return await end_group(instance.pid, grace, started_since=instance.start)

    async def stop(self, instance: str, *, grace: float = 10.0) -> None:
        """SIGTERM to the instance's group, SIGKILL after `grace`; then forget it (its
        directory, log included, is removed). An unknown instance: nothing to do."""
        found = self._instances.get(instance)
        if found is None:
            return
        if found.ending is None:
            found.ending = asyncio.create_task(self._end_group(found, grace))
        await asyncio.shield(found.ending)
        await found.done.wait()
        if self._instances.get(instance) is found:
            del self._instances[instance]
            self._write_records()
            await asyncio.to_thread(shutil.rmtree, found.directory, True)
            log.info("instance %s (server %s) stopped and forgotten", found.name, found.server)

    async def list(self) -> list[Observed]:
        return [self._observed(i) for i in self._instances.values()]

    async def exits(self) -> AsyncIterator[Exit]:
        while True:
            item = await self._exits.get()
            if item is None:
                self._exits.put_nowait(None)  # for any other reader: closed
                return
            yield item

    def stdio(self, instance: str) -> StdioPipe | None:
        found = self._instances.get(instance)
        if found is None or not found.running:
            return None
        return found.pipe

    async def logs(
        self,
        instance: str,
        *,
        tail: int | None = None,
        since: datetime | None = None,
        follow: bool = False,
    ) -> AsyncIterator[bytes]:
        """The instance's stderr, line by line (the server's text, without mcpd's stamps).
        An unknown or forgotten instance has none."""
        found = self._instances.get(instance)
        if found is None:
            return
        async for line in found.log_file.lines(tail=tail, since=since, follow=follow):
            yield line

    async def close(self, *, grace: float = 10.0) -> None:
        """mcpd stops: every instance is stopped (its group ended) and forgotten."""
        self._closed = True
        await asyncio.gather(*(self.stop(name, grace=grace) for name in list(self._instances)))
        self._records.remove()
        self._exits.put_nowait(None)

    def _observed(self, instance: _Instance) -> Observed:
        return Observed(
            server=instance.server,
            instance=instance.name,
            generation=instance.generation,
            runtime="process",
            ref=str(instance.pid),
            started_at=instance.started_at,
            running=instance.running,
            owner=self.owner,
            exit_code=instance.exit_code,
            node=self.node,
            endpoint=instance.endpoint,
        )

    def _write_records(self) -> None:
        self._records.write(i.record(self.owner) for i in self._instances.values())
