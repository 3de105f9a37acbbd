"""What the runtime's tests share: launches of real MCP servers, MCP over a driver's stdio
pipe, and the checks that a process is gone.

`McpOverStdio` speaks MCP's JSON-RPC (protocol 2025-11-25: initialize, then
notifications/initialized) over a `StdioPipe`, as the coming channel
(`upstream`) will. Every wait here is a hang guard (`HANG`), not a time budget.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from mcpctl.runtime import Exit, Launch, ProcessDriver, Secret, StdioPipe, TransportName
from mcpctl.runtime.groups import read_stat
from tests.support.postgres import free_port

T = TypeVar("T")

HANG = 120.0
ROOT = Path(__file__).resolve().parents[2]
TESTSERVER = ROOT / "tests" / "support" / "servers" / "testserver.py"
#: PyPI's mcp-server-time, installed beside the interpreter running the tests
MCP_SERVER_TIME = Path(sys.executable).parent / "mcp-server-time"
PROTOCOL = "2025-11-25"
OWNER = "cluster-1"
NODE = "node-a"

#: A shell that starts a child of its own (printing "child PID" to stderr), then becomes
#: the command that follows: a server with a process of its own in its group.
WITH_CHILD = ("/bin/sh", "-c", 'sleep 1000 & echo "child $!" >&2; exec "$0" "$@"')


def server_command(*args: str) -> tuple[str, ...]:
    return (sys.executable, str(TESTSERVER), *args)


@contextmanager
def http_testserver(log: Path) -> Iterator[tuple[str, int]]:
    """A test server on 127.0.0.1 over streamable HTTP, run by the test itself (an
    external server, to mcpd): its URL and pid. Its output goes to `log`; it is stopped
    at the end."""
    port = free_port()
    command = server_command("--transport", "streamable-http", "--port", str(port))
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=out)
    try:
        yield f"http://127.0.0.1:{port}/mcp", process.pid
    finally:
        process.terminate()
        process.wait(timeout=HANG)


def launch(
    command: tuple[str, ...],
    *,
    instance: str = "srv-1",
    transport: TransportName = "stdio",
    env: Mapping[str, str | Secret] | None = None,
    headers: Mapping[str, str | Secret] | None = None,
    port: int | None = None,
) -> Launch:
    return Launch(
        server=instance.rsplit("-", 1)[0],
        instance=instance,
        generation=1,
        runtime="process",
        transport=transport,
        command=command,
        container_port=port,
        env=dict(env or {}),
        headers=dict(headers or {}),
        owner=OWNER,
    )


@asynccontextmanager
async def process_driver(state: Path, **kwargs: int) -> AsyncIterator[ProcessDriver]:
    """A process driver that is closed (its instances ended) however the test ends."""
    driver = ProcessDriver(state, OWNER, NODE, **kwargs)
    try:
        yield driver
    finally:
        await driver.close(grace=5.0)


async def guard(awaitable: Any) -> Any:
    """`awaitable`, or TimeoutError after the hang guard."""
    return await asyncio.wait_for(awaitable, HANG)


async def next_exit(exits: AsyncIterator[Exit]) -> Exit:
    exit_: Exit = await guard(anext(exits))
    return exit_


async def log_lines(driver: ProcessDriver, instance: str, **kwargs: Any) -> list[bytes]:
    return [line async for line in driver.logs(instance, **kwargs)]


async def wait_for_log(driver: ProcessDriver, instance: str, prefix: bytes) -> bytes:
    """The first line of the instance's log that starts with `prefix` (following the log)."""

    async def find() -> bytes:
        async for line in driver.logs(instance, follow=True):
            if line.startswith(prefix):
                return line
        raise AssertionError(f"instance {instance} ended without a line {prefix!r}")

    found: bytes = await guard(find())
    return found


async def child_of(driver: ProcessDriver, instance: str) -> int:
    """The pid of the child a `WITH_CHILD` server started."""
    return int((await wait_for_log(driver, instance, b"child ")).split()[1])


class McpOverStdio:
    """MCP's JSON-RPC over an instance's stdio pipe."""

    def __init__(self, pipe: StdioPipe) -> None:
        self.pipe = pipe
        self.last_id = 0

    async def send(self, message: dict[str, Any]) -> None:
        await self.pipe.write(json.dumps(message).encode() + b"\n")

    async def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.last_id += 1
        asked = self.last_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": asked, "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)
        while True:
            line = await guard(self.pipe.read_line())
            if not line:
                raise EOFError(f"the server's stdout closed before answering {method}")
            answer: dict[str, Any] = json.loads(line)
            if answer.get("id") == asked and ("result" in answer or "error" in answer):
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer["result"]
                return result

    async def initialize(self) -> dict[str, Any]:
        result = await self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "mcpctl-tests", "version": "0"},
            },
        )
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return result

    async def tool_names(self) -> set[str]:
        result = await self.request("tools/list")
        return {tool["name"] for tool in result["tools"]}

    async def call(self, tool: str, arguments: dict[str, Any] | None = None) -> str:
        """The tool's text answer."""
        result = await self.request("tools/call", {"name": tool, "arguments": arguments or {}})
        assert not result.get("isError"), result
        text: str = result["content"][0]["text"]
        return text


def running(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not: it has ended, only its status is left)."""
    stat = read_stat(pid)
    return stat is not None and stat.live


def wait_gone(pid: int) -> None:
    """Poll until `pid` has ended (hang guard)."""
    deadline = time.monotonic() + HANG
    while running(pid):
        assert time.monotonic() < deadline, f"process {pid} is still running"
        time.sleep(0.02)


def end_leftovers(pids: set[int]) -> list[int]:
    """The processes of `pids` still running, each killed (a failed test leaves none)."""
    left = [pid for pid in sorted(pids) if running(pid)]
    for pid in left:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


def reap(pid: int) -> int:
    """Wait for `pid` to become our child and end (a subreaper's orphan): its wait status."""
    deadline = time.monotonic() + HANG
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done, status = 0, 0  # not yet reparented to us
        if done == pid:
            return status
        assert time.monotonic() < deadline, f"process {pid} did not end"
        time.sleep(0.02)
