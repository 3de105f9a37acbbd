"""The process driver runs real MCP servers as mcpd's children (docs/architecture.md, "The
runtime"): the project's test server and PyPI's mcp-server-time, spoken to over the
driver's stdio pipe and over HTTP; exits, stops, groups, the environment, secrets."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from mcp import Client

from mcpctl.errors import Conflict, InvalidInput
from mcpctl.runtime import RuntimeUnavailable, Secret
from mcpctl.runtime.groups import read_stat
from tests.support.runtime import (
    HANG,
    MCP_SERVER_TIME,
    NODE,
    OWNER,
    WITH_CHILD,
    McpOverStdio,
    child_of,
    guard,
    launch,
    log_lines,
    next_exit,
    process_driver,
    running,
    server_command,
    wait_for_log,
    wait_gone,
)

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-token-never-shown-0123456789"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (entry.decode().split("=", 1) for entry in raw.split(b"\0") if entry)
    return dict(pairs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def http_call(url: str, tool: str, arguments: dict[str, object] | None = None) -> str:
    """A tool's text answer over streamable HTTP, once the server listens."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANG
    while True:
        try:
            async with Client(url) as client:
                result = await client.call_tool(tool, arguments or {})
        except Exception:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.1)
            continue
        text = result.content[0]
        assert text.type == "text"
        return text.text


def test_a_stdio_server_answers_mcp_over_its_pipe_and_stops(state: Path, started: set[int]) -> None:
    async def main() -> None:
        async with process_driver(state) as driver:
            exits = driver.exits()
            observed = await driver.start(launch(server_command()))
            pid = int(observed.ref)
            started.add(pid)
            assert observed.running
            assert (observed.node, observed.owner, observed.endpoint) == (NODE, OWNER, None)
            assert read_stat(pid) is not None
            assert read_stat(pid).pgrp == pid  # type: ignore[union-attr]

            pipe = driver.stdio("srv-1")
            assert pipe is not None
            mcp = McpOverStdio(pipe)
            assert (await mcp.initialize())["protocolVersion"] == "2025-11-25"
            assert {"echo", "add", "whoami", "crash"} <= await mcp.tool_names()
            assert await mcp.call("echo", {"text": "hello"}) == "hello"
            assert await mcp.call("add", {"a": 2, "b": 3}) == "5"
            assert await mcp.call("whoami") == f"testserver {pid}"

            [listed] = await driver.list()
            assert listed.instance == "srv-1"
            assert listed.running
            assert listed.ref == str(pid)
            assert (listed.node, listed.owner) == (NODE, OWNER)

            await driver.stop("srv-1")
            assert not running(pid)
            assert await driver.list() == []
            assert driver.stdio("srv-1") is None
            assert (await next_exit(exits)).instance == "srv-1"
            assert not (state / "instances" / "srv-1").exists()

    asyncio.run(main())


def test_mcp_server_time_from_pypi_answers_over_its_pipe(state: Path, started: set[int]) -> None:
    async def main() -> None:
        async with process_driver(state) as driver:
            command = (str(MCP_SERVER_TIME), "--local-timezone", "UTC")
            observed = await driver.start(launch(command, instance="time-1"))
            started.add(int(observed.ref))
            pipe = driver.stdio("time-1")
            assert pipe is not None
            mcp = McpOverStdio(pipe)
            await mcp.initialize()
            assert "get_current_time" in await mcp.tool_names()
            answer = json.loads(await mcp.call("get_current_time", {"timezone": "UTC"}))
            assert answer["timezone"] == "UTC"
            await driver.stop("time-1")
            assert not running(int(observed.ref))

    asyncio.run(main())


def test_an_http_server_gets_a_free_port_and_answers_at_its_endpoint(
    state: Path, started: set[int]
) -> None:
    async def main() -> None:
        async with process_driver(state) as driver:
            command = server_command("--transport", "streamable-http")
            headers = {"Authorization": Secret(f"Bearer {SECRET}")}
            observed = await driver.start(
                launch(command, transport="streamable-http", headers=headers)
            )
            pid = int(observed.ref)
            started.add(pid)
            assert observed.endpoint is not None
            assert observed.endpoint.transport == "streamable-http"
            assert observed.endpoint.url.startswith("http://127.0.0.1:")
            assert observed.endpoint.url.endswith("/mcp")
            assert observed.endpoint.headers == headers
            assert SECRET not in repr(observed)
            assert driver.stdio("srv-1") is None

            assert await http_call(observed.endpoint.url, "whoami") == f"testserver {pid}"
            port = observed.endpoint.url.split(":")[2].split("/")[0]
            assert environ(pid)["PORT"] == port
            # Its stdout goes to its log, with its stderr.
            assert await wait_for_log(driver, "srv-1", b"testserver testserver starting")

            # A port given is the port used.
            given = free_port()
            second = await driver.start(
                launch(command, instance="srv-2", transport="streamable-http", port=given)
            )
            started.add(int(second.ref))
            assert second.endpoint is not None
            assert second.endpoint.url == f"http://127.0.0.1:{given}/mcp"
            assert await http_call(second.endpoint.url, "echo", {"text": "two"}) == "two"

    asyncio.run(main())


def test_a_kill_9_of_an_instance_is_an_exit_killed_by_signal_9(
    state: Path, started: set[int]
) -> None:
    async def main() -> None:
        async with process_driver(state) as driver:
            exits = driver.exits()
            observed = await driver.start(launch(server_command()))
            pid = int(observed.ref)
            started.add(pid)
            pipe = driver.stdio("srv-1")
            assert pipe is not None
            await McpOverStdio(pipe).initialize()

            os.kill(pid, signal.SIGKILL)
            exit_ = await next_exit(exits)
            assert (exit_.instance, exit_.code, exit_.reason) == (
                "srv-1",
                137,
                "killed by signal 9",
            )

            assert await guard(pipe.read_line()) == b""
            assert pipe.closed
            with pytest.raises(ConnectionError):
                await guard(pipe.write(b"{}\n"))
            [listed] = await driver.list()
            assert not listed.running
            assert listed.exit_code == 137
            assert driver.stdio("srv-1") is None
            # Its log outlives it until it is forgotten.
            assert await wait_for_log(driver, "srv-1", b"testserver testserver starting")
            await driver.stop("srv-1")
            assert await driver.list() == []
            assert await log_lines(driver, "srv-1") == []
            assert not (state / "instances" / "srv-1").exists()

    asyncio.run(main())


def test_the_crash_tool_ends_the_instance_with_its_code(state: Path, started: set[int]) -> None:
    async def main() -> None:
        async with process_driver(state) as driver:
            exits = driver.exits()
            observed = await driver.start(launch(server_command()))
            started.add(int(observed.ref))
            pipe = driver.stdio("srv-1")
            assert pipe is not None
            mcp = McpOverStdio(pipe)
            await mcp.initialize()
            with pytest.raises(EOFError):
                await mcp.call("crash", {"code": 3})
            exit_ = await next_exit(exits)
            assert (exit_.instance, exit_.code, exit_.reason) == ("srv-1", 3, "exited with 3")
            assert b"testserver crashes with 3\n" in await log_lines(driver, "srv-1")

    asyncio.run(main())


def test_an_ended_instance_started_again_keeps_its_log_and_home(
    state: Path, started: set[int]
) -> None:
    async def main() -> None:
        async with process_driver(state, log_bytes=4096, log_files=2) as driver:
            exits = driver.exits()
            first = await driver.start(launch(server_command()))
            started.add(int(first.ref))
            pipe = driver.stdio("srv-1")
            assert pipe is not None
            mcp = McpOverStdio(pipe)
            await mcp.initialize()
            with pytest.raises(EOFError):
                await mcp.call("crash", {"code": 3})
            assert (await next_exit(exits)).code == 3
            home = state / "instances" / "srv-1" / "home"
            (home / "cache").write_text("kept")
            # Still running: a second start is refused; ended: it restarts (the reconciler's
            # restart after a back-off), under the same name.
            second = await driver.start(launch(server_command()))
            started.add(int(second.ref))
            assert second.ref != first.ref
            with pytest.raises(Conflict):
                await driver.start(launch(server_command()))
            pipe = driver.stdio("srv-1")
            assert pipe is not None
            await McpOverStdio(pipe).initialize()
            lines = await log_lines(driver, "srv-1")
            starts = [line for line in lines if b"testserver testserver starting" in line]
            assert len(starts) == 2
            assert lines.index(b"testserver crashes with 3\n") < lines.index(starts[1])
            assert (home / "cache").read_text() == "kept"
            [listed] = await driver.list()
            assert (listed.running, listed.ref) == (True, second.ref)
            # A restart that cannot start leaves the ended instance as it was.
            os.kill(int(second.ref), signal.SIGKILL)
            await next_exit(exits)
            with pytest.raises(InvalidInput):
                await driver.start(launch(("no-such-server-xyz",)))
            [listed] = await driver.list()
            assert (listed.running, listed.ref, listed.exit_code) == (False, second.ref, 137)
            assert await log_lines(driver, "srv-1") == lines

    asyncio.run(main())


def test_a_server_that_exits_at_once_is_an_exit_with_its_code(
    state: Path, started: set[int]
) -> None:
    async def main() -> None:
        async with process_driver(state) as driver:
            exits = driver.exits()
            observed = await driver.start(launch(server_command("--exit-at-once", "4")))
            started.add(int(observed.ref))
            exit_ = await next_exit(exits)
            assert (exit_.code, exit_.reason) == (4, "exited with 4")
            assert b"testserver exits at once with 4\n" in await log_lines(driver, "srv-1")
            [listed] = await driver.list()
            assert (listed.running, listed.exit_code) == (False, 4)

    asyncio.run(main())


def test_the_server_gets_a_minimal_environment_and_its_secrets_are_shown_nowhere(
    state: Path,
    started: set[int],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("MCPCTL_SEALING_KEY", "sealing-key-of-mcpd")
    monkeypatch.setenv("MCPD_DATABASE_URL", "postgresql://mcpd:db-password@127.0.0.1/mcpd")
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.delenv("TZ", raising=False)
    caplog.set_level(logging.DEBUG)
    env: dict[str, str | Secret] = {"API_TOKEN": Secret(SECRET), "PLAIN": "plain-value"}

    shown: list[str] = []

    async def main() -> None:
        async with process_driver(state) as driver:
            exits = driver.exits()
            the_launch = launch(server_command(), env=env)
            observed = await driver.start(the_launch)
            pid = int(observed.ref)
            started.add(pid)
            home = state / "instances" / "srv-1" / "home"
            for private in (home, home.parent, home.parent.parent):
                assert private.stat().st_mode & 0o777 == 0o700, private
            pipe = driver.stdio("srv-1")
            assert pipe is not None
            mcp = McpOverStdio(pipe)
            await mcp.initialize()
            # It may not gain privileges (Limits.no_new_privileges, on by default).
            assert "NoNewPrivs:\t1" in Path(f"/proc/{pid}/status").read_text()
            # The server runs (answers): its environment is the one it was given, all of it.
            assert environ(pid) == {
                "PATH": os.environ["PATH"],
                "HOME": str(home),
                "LANG": "C.UTF-8",
                "API_TOKEN": SECRET,
                "PLAIN": "plain-value",
            }
            assert await mcp.call("has_env", {"name": "MCPCTL_SEALING_KEY"}) == "false"
            assert await mcp.call("has_env", {"name": "MCPD_DATABASE_URL"}) == "false"
            assert await mcp.call("env_sha256", {"name": "API_TOKEN"}) == sha256(SECRET)
            assert await mcp.call("env_sha256", {"name": "HOME"}) == sha256(str(home))

            # A missing command is refused, naming the instance and the executable only.
            with pytest.raises(InvalidInput) as missing:
                await driver.start(
                    launch(("no-such-server-xyz", SECRET), instance="gone-1", env=env)
                )
            assert "gone-1" in str(missing.value)
            assert "no-such-server-xyz" in str(missing.value)
            with pytest.raises(InvalidInput) as relative:
                await driver.start(launch(("bin/server",), instance="gone-2", env=env))
            assert "gone-2" in str(relative.value)
            assert not (state / "instances" / "gone-1").exists()

            shown[:] = [
                repr(the_launch),
                str(the_launch),
                repr(observed),
                repr(await driver.list()),
                repr(driver),
                repr(pipe),
                str(missing.value),
                repr(missing.value),
                str(relative.value),
            ]
            await driver.stop("srv-1")
            shown.append(repr(await next_exit(exits)))
            for path in state.rglob("*"):
                if path.is_file():
                    assert SECRET.encode() not in path.read_bytes(), path

    asyncio.run(main())
    assert shown
    for text in shown:
        assert SECRET not in text, text
    assert SECRET not in caplog.text


def test_a_bad_launch_is_invalid_input_and_a_second_start_a_conflict(
    state: Path, started: set[int]
) -> None:
    async def main() -> None:
        async with process_driver(state) as driver:
            for bad in (
                launch(server_command(), instance="../escape"),
                launch((), instance="empty-1"),
                launch(server_command(), instance="port-1", transport="sse", port=70000),
            ):
                with pytest.raises(InvalidInput):
                    await driver.start(bad)
            observed = await driver.start(launch(server_command()))
            started.add(int(observed.ref))
            with pytest.raises(Conflict):
                await driver.start(launch(server_command()))
            await driver.check()  # never fails for this driver
            assert [o.instance for o in await driver.list()] == ["srv-1"]

    asyncio.run(main())


def test_stopping_an_instance_ends_the_processes_its_server_started(
    state: Path, started: set[int]
) -> None:
    async def main() -> None:
        async with process_driver(state) as driver:
            observed = await driver.start(launch((*WITH_CHILD, *server_command())))
            pid = int(observed.ref)
            started.add(pid)
            child = await child_of(driver, "srv-1")
            started.add(child)
            assert running(child)
            assert read_stat(child).pgrp == pid  # type: ignore[union-attr]
            pipe = driver.stdio("srv-1")
            assert pipe is not None
            assert await McpOverStdio(pipe).initialize()

            await driver.stop("srv-1")
            assert not running(pid)
            assert not running(child)

    asyncio.run(main())


def test_a_server_that_exits_takes_the_processes_it_started_with_it(
    state: Path, started: set[int]
) -> None:
    async def main() -> None:
        async with process_driver(state) as driver:
            exits = driver.exits()
            observed = await driver.start(launch((*WITH_CHILD, *server_command())))
            started.add(int(observed.ref))
            child = await child_of(driver, "srv-1")
            started.add(child)
            pipe = driver.stdio("srv-1")
            assert pipe is not None
            mcp = McpOverStdio(pipe)
            await mcp.initialize()
            with pytest.raises(EOFError):
                await mcp.call("crash", {"code": 5})
            assert (await next_exit(exits)).code == 5
            # The child (which holds the server's stderr and stdout) gets ended too, and
            # so the log, followed, ends.
            lines = await guard(log_lines(driver, "srv-1", follow=True))
            assert b"testserver crashes with 5\n" in lines
            assert not running(child)
            [listed] = await driver.list()
            assert not listed.running

    asyncio.run(main())


def test_stop_kills_a_server_that_ignores_sigterm_after_the_grace(
    state: Path, started: set[int]
) -> None:
    stubborn = (
        sys.executable,
        "-c",
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', file=sys.stderr, flush=True)\n"
        "time.sleep(1000)\n",
    )

    async def main() -> None:
        async with process_driver(state) as driver:
            exits = driver.exits()
            observed = await driver.start(launch(stubborn))
            started.add(int(observed.ref))
            await wait_for_log(driver, "srv-1", b"ready")
            await driver.stop("srv-1", grace=0.2)
            exit_ = await next_exit(exits)
            assert (exit_.code, exit_.reason) == (137, "killed by signal 9")
            assert not running(int(observed.ref))

    asyncio.run(main())


def test_stop_twice_at_once_and_of_an_unknown_instance_does_nothing_more(
    state: Path, started: set[int]
) -> None:
    async def main() -> None:
        async with process_driver(state) as driver:
            exits = driver.exits()
            observed = await driver.start(launch(server_command()))
            started.add(int(observed.ref))
            await asyncio.gather(driver.stop("srv-1"), driver.stop("srv-1"))
            await driver.stop("srv-1")
            await driver.stop("never-started-1")
            assert (await next_exit(exits)).instance == "srv-1"
            assert await driver.list() == []
            # Forgotten: the name may run again.
            again = await driver.start(launch(server_command()))
            started.add(int(again.ref))
            assert again.ref != observed.ref

    asyncio.run(main())


def test_close_ends_every_instance_and_the_exits(state: Path, started: set[int]) -> None:
    async def main() -> None:
        driver_ = None
        async with process_driver(state) as driver:
            driver_ = driver
            exits = driver.exits()
            first = await driver.start(launch((*WITH_CHILD, *server_command()), instance="a-1"))
            second = await driver.start(
                launch(
                    server_command("--transport", "streamable-http"),
                    instance="b-1",
                    transport="streamable-http",
                )
            )
            third = await driver.start(launch(server_command("--never-answer"), instance="c-1"))
            pids = [int(o.ref) for o in (first, second, third)]
            started.update(pids)
            child = await child_of(driver, "a-1")
            started.add(child)
            assert (state / "process-records").is_dir()
            assert len(list((state / "process-records").iterdir())) == 1
        # process_driver closed it
        assert driver_ is not None
        for pid in [*pids, child]:
            assert not running(pid)
        assert await driver_.list() == []
        ended = {(await next_exit(exits)).instance for _ in range(3)}
        assert ended == {"a-1", "b-1", "c-1"}
        with pytest.raises(StopAsyncIteration):
            await guard(anext(exits))
        assert list((state / "process-records").iterdir()) == []
        assert list((state / "instances").iterdir()) == []
        with pytest.raises(RuntimeUnavailable):
            await driver_.start(launch(server_command(), instance="d-1"))

    asyncio.run(main())


def test_never_answer_server_holds_its_pipe_until_stopped(state: Path, started: set[int]) -> None:
    async def main() -> None:
        async with process_driver(state) as driver:
            observed = await driver.start(launch(server_command("--never-answer")))
            pid = int(observed.ref)
            started.add(pid)
            pipe = driver.stdio("srv-1")
            assert pipe is not None
            await pipe.write(b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}\n')
            reading = asyncio.create_task(pipe.read_line())
            await wait_for_log(driver, "srv-1", b"testserver testserver starting")
            assert not reading.done()
            await driver.stop("srv-1")
            assert await guard(reading) == b""
            wait_gone(pid)

    asyncio.run(main())
