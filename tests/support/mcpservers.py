"""Real MCP servers for the channel's tests: how to run each, and HTTP ones on loopback.

Stdio servers run as children of the test's event loop (`tests.support.stdiopipe`);
HTTP servers run as processes of their own on a free 127.0.0.1 port, ready once the
port accepts connections, killed (their whole process group) and waited for at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import everything
from tests.support.postgres import free_port

TESTSERVER = Path(__file__).parent / "servers" / "testserver.py"
#: The conformance suite's everything server (tests/conformance/).
FIXTURE = Path(__file__).parent / "servers" / "everything.py"
#: A hang guard, not a time budget: a server not listening after this long is broken.
START_TIMEOUT = 120.0


def project_server_command(*args: str) -> list[str]:
    return [sys.executable, str(TESTSERVER), *args]


def fixture_server_command(*args: str) -> list[str]:
    return [sys.executable, str(FIXTURE), *args]


def time_server_command() -> list[str]:
    """PyPI's `mcp-server-time`, the console script installed beside this Python."""
    return [str(Path(sys.executable).parent / "mcp-server-time")]


@dataclass
class HttpServer:
    """One HTTP MCP server process; `restart` runs the same command on the same port."""

    command: list[str]
    port: int
    path: str
    env: dict[str, str] = field(default_factory=dict)
    log: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> None:
        with contextlib.ExitStack() as files:
            output = files.enter_context(open(self.log, "ab")) if self.log else subprocess.DEVNULL
            self.process = subprocess.Popen(
                self.command,
                env={**os.environ, **self.env, "PORT": str(self.port)},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not _accepts(self.port):
            assert self.process.poll() is None, (
                f"{self.command} exited with {self.process.returncode}"
            )
            assert time.monotonic() < deadline, f"{self.command} is not listening on {self.port}"
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def restart(self) -> None:
        self.kill()
        self.start()


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def http_testserver(
    transport: str, *args: str, log: Path | None = None
) -> contextlib.AbstractContextManager[HttpServer]:
    """The project's test server over `sse` (at /sse) or `streamable-http` (at /mcp)."""
    port = free_port()
    command = project_server_command("--transport", transport, "--port", str(port), *args)
    server = HttpServer(command, port, "/sse" if transport == "sse" else "/mcp", log=log)
    return _run(server)


def http_fixture(log: Path | None = None) -> contextlib.AbstractContextManager[HttpServer]:
    """The conformance fixture over streamable HTTP (at /mcp), on loopback."""
    port = free_port()
    command = fixture_server_command("--transport", "streamable-http", "--port", str(port))
    return _run(HttpServer(command, port, "/mcp", log=log))


def everything_http(
    transport: str, log: Path | None = None
) -> contextlib.AbstractContextManager[HttpServer]:
    """server-everything over `sse` (at /sse) or `streamableHttp` (at /mcp), on loopback."""
    server = HttpServer(
        everything.command(transport),
        free_port(),
        "/sse" if transport == "sse" else "/mcp",
        log=log,
    )
    return _run(server)


@contextlib.contextmanager
def _run(server: HttpServer) -> Iterator[HttpServer]:
    server.start()
    try:
        yield server
    finally:
        server.kill()
