"""A real MCP server as a child process, its pipes as a `runtime.base.StdioPipe`.

The runtime's process driver holds an instance's pipes in mcpd; the channel's tests
need only the pipes, so this small adapter stands where the driver will (it is the
tests', not a second driver). The child is killed and waited for when the block ends,
so no process outlives its test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

#: A line may be as long as the largest message the tests send (asyncio's default is 64 KiB).
LINE_LIMIT = 64 * 1024 * 1024


class ProcessPipe:
    """The stdin and stdout of one child process."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self._stdin = process.stdin
        self._stdout = process.stdout
        self._closed = False

    async def read_line(self) -> bytes:
        line = await self._stdout.readline()
        if not line:
            self._closed = True
            return b""
        return line.rstrip(b"\r\n")

    async def write(self, data: bytes) -> None:
        if self._stdin.is_closing():
            raise ConnectionResetError("the instance's stdin is closed")
        self._stdin.write(data)
        await self._stdin.drain()

    @property
    def closed(self) -> bool:
        return self._closed or self._stdout.at_eof()


@dataclass
class Child:
    process: asyncio.subprocess.Process
    pipe: ProcessPipe

    @property
    def pid(self) -> int:
        return self.process.pid

    async def kill(self) -> None:
        """SIGKILL to its process group, and wait for it to be gone (its pipes then close)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()


@asynccontextmanager
async def running_child(
    command: Sequence[str], env: Mapping[str, str] | None = None
) -> AsyncIterator[Child]:
    """Start `command` in a process group of its own, with piped stdin and stdout (its
    stderr, the server's log, is dropped)."""
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        limit=LINE_LIMIT,
        start_new_session=True,
    )
    child = Child(process, ProcessPipe(process))
    try:
        yield child
    finally:
        await child.kill()
        assert process.stdin is not None
        process.stdin.close()
        with contextlib.suppress(ConnectionError):
            await process.stdin.wait_closed()
