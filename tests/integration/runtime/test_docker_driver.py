"""The docker driver against a real Docker engine and the project's offline test image.

Each test starts containers of `tests/support/servers/testserver.py` through
`DockerDriver` and speaks MCP to them: newline-delimited JSON-RPC through the
`StdioPipe`, or the `mcp` SDK's client over HTTP on the published loopback port. The
containers carry the session's owner label; every test stops what it started, and
the fixtures fail a test (and the session) that leaves one behind.

No test times anything: waits poll a condition or read a stream, each under a hang
guard of two minutes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from mcpctl.errors import InvalidInput
from mcpctl.runtime.base import (
    GENERATION_LABEL,
    INSTANCE_LABEL,
    OWNER_LABEL,
    SERVER_LABEL,
    Exit,
    Launch,
    Limits,
    Observed,
    RuntimeUnavailable,
    Secret,
    StdioPipe,
    TransportName,
)
from mcpctl.runtime.docker import TRANSPORT_LABEL, DockerDriver
from mcpctl.runtime.limits import limits_for
from mcpctl.schemas import ServerSpec

pytestmark = pytest.mark.integration

T = TypeVar("T")
HANG_GUARD = 120.0
PROTOCOL = "2025-11-25"
NODE = "test-node"
HTTP_ARGS = "--transport streamable-http --host 0.0.0.0 --port 8000"


@dataclass
class Harness:
    """The engine, the image and the owner, and what each test needs of them."""

    engine: Any
    image: str
    owner: str

    def driver(self, **options: Any) -> DockerDriver:
        return DockerDriver(self.owner, NODE, **options)

    def launch(
        self,
        *,
        args: str = "",
        transport: TransportName = "stdio",
        env: Mapping[str, str | Secret] | None = None,
        headers: Mapping[str, str | Secret] | None = None,
        limits: Limits | None = None,
        image: str | None = None,
    ) -> Launch:
        return Launch(
            server="ts",
            instance=f"ts-{uuid.uuid4().hex[:8]}",
            generation=3,
            runtime="docker",
            transport=transport,
            image=image or self.image,
            container_port=None if transport == "stdio" else 8000,
            env={"TESTSERVER_ARGS": args, **(env or {})},
            headers=headers or {},
            limits=limits or Limits(),
            owner=self.owner,
        )

    def containers(self, instance: str | None = None) -> list[Any]:
        labels = [f"{OWNER_LABEL}={self.owner}"]
        if instance is not None:
            labels.append(f"{INSTANCE_LABEL}={instance}")
        return list(self.engine.containers.list(all=True, filters={"label": labels}))

    def inspect(self, ref: str) -> dict[str, Any]:
        attrs: dict[str, Any] = self.engine.api.inspect_container(ref)
        return attrs


@pytest.fixture
def harness(docker_engine: Any, testserver_image: str, docker_owner: str) -> Iterator[Harness]:
    harness = Harness(docker_engine, testserver_image, docker_owner)
    yield harness
    left = harness.containers()
    for container in left:
        container.remove(force=True)
    assert not left, f"the test left containers behind: {[c.name for c in left]}"


def run(body: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await body()

    return asyncio.run(main())


async def guarded(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, HANG_GUARD)


@asynccontextmanager
async def driving(harness: Harness, **options: Any) -> AsyncIterator[DockerDriver]:
    driver = harness.driver(**options)
    try:
        yield driver
    finally:
        await driver.close()


# --- MCP over the stdio pipe ------------------------------------------------------------


async def send(pipe: StdioPipe, message: dict[str, Any]) -> None:
    await pipe.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")


async def request(pipe: StdioPipe, ident: int, method: str, params: dict[str, Any]) -> Any:
    """Send a request and read lines until its answer (the server may log in between)."""
    await send(pipe, {"id": ident, "method": method, "params": params})

    async def answer() -> Any:
        while True:
            line = await pipe.read_line()
            assert line, f"the server's stdout closed before answering {method}"
            message = json.loads(line)
            if message.get("id") == ident:
                assert "error" not in message, message
                return message["result"]

    return await guarded(answer())


async def initialize(pipe: StdioPipe, ident: int = 1) -> Any:
    result = await request(
        pipe,
        ident,
        "initialize",
        {
            "protocolVersion": PROTOCOL,
            "capabilities": {},
            "clientInfo": {"name": "mcpctl-tests", "version": "1"},
        },
    )
    await send(pipe, {"method": "notifications/initialized"})
    return result


async def call_tool(pipe: StdioPipe, ident: int, name: str, arguments: dict[str, Any]) -> Any:
    result = await request(pipe, ident, "tools/call", {"name": name, "arguments": arguments})
    return result["structuredContent"]["result"]


async def crash(pipe: StdioPipe, ident: int, code: int) -> None:
    """Ask the server to exit with `code` (it answers nothing)."""
    params = {"name": "crash", "arguments": {"code": code}}
    await send(pipe, {"id": ident, "method": "tools/call", "params": params})


def pipe_of(driver: DockerDriver, instance: str) -> StdioPipe:
    pipe = driver.stdio(instance)
    assert pipe is not None, f"no stdio pipe for {instance}"
    return pipe


async def exit_of(exits: AsyncIterator[Exit], instance: str) -> Exit:
    async def find() -> Exit:
        async for exit_ in exits:
            if exit_.instance == instance:
                return exit_
        raise AssertionError("the exits ended")

    return await guarded(find())


async def log_text(driver: DockerDriver, instance: str, **options: Any) -> bytes:
    return b"".join([line async for line in driver.logs(instance, **options)])


# --- start and speak ---------------------------------------------------------------------


def test_stdio_server_answers_mcp_through_the_pipe(harness: Harness) -> None:
    launch = harness.launch()

    async def body() -> None:
        async with driving(harness) as driver:
            observed = await driver.start(launch)
            assert (observed.server, observed.instance, observed.generation) == (
                "ts",
                launch.instance,
                3,
            )
            assert observed.runtime == "docker"
            assert observed.running
            assert observed.endpoint is None
            assert (observed.owner, observed.node) == (harness.owner, NODE)
            assert [c.id for c in harness.containers(launch.instance)] == [observed.ref]

            pipe = pipe_of(driver, launch.instance)
            info = await initialize(pipe)
            assert info["protocolVersion"] == PROTOCOL
            assert info["serverInfo"]["name"] == "testserver"
            assert await call_tool(pipe, 2, "add", {"a": 2, "b": 40}) == 42
            assert await call_tool(pipe, 3, "echo", {"text": "x" * 100_000}) == "x" * 100_000

            await driver.stop(launch.instance, grace=5)
            assert harness.containers(launch.instance) == []
            assert driver.stdio(launch.instance) is None
            await driver.stop(launch.instance)  # nothing to stop: no error

    run(body)


async def _until_mcp_answers(url: str) -> Any:
    """The SDK's client once the server in the container listens (it starts after the
    container does)."""
    from mcp import Client

    while True:
        try:
            async with Client(url, mode="legacy") as client:
                result = await client.call_tool("add", {"a": 20, "b": 22})
                return result.structured_content
        except Exception:  # not listening yet: the channel is refused or reset
            await asyncio.sleep(0.2)


def test_http_server_is_published_on_loopback_only(harness: Harness) -> None:
    token = Secret("header-secret-" + uuid.uuid4().hex)
    launch = harness.launch(
        args=HTTP_ARGS, transport="streamable-http", headers={"Authorization": token}
    )

    async def body() -> None:
        async with driving(harness) as driver:
            observed = await driver.start(launch)
            assert driver.stdio(launch.instance) is None
            endpoint = observed.endpoint
            assert endpoint is not None
            assert endpoint.transport == "streamable-http"
            assert endpoint.url.startswith("http://127.0.0.1:")
            assert endpoint.url.endswith("/mcp")
            assert endpoint.headers["Authorization"] == token

            attrs = harness.inspect(observed.ref)
            assert attrs["HostConfig"]["PortBindings"] == {
                "8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]
            }
            published = attrs["NetworkSettings"]["Ports"]["8000/tcp"]
            assert [b["HostIp"] for b in published] == ["127.0.0.1"]
            assert endpoint.url == f"http://127.0.0.1:{published[0]['HostPort']}/mcp"
            assert await guarded(_until_mcp_answers(endpoint.url)) == {"result": 42}

            await driver.stop(launch.instance, grace=5)

    run(body)


def test_sse_server_is_reached_at_its_sse_path(harness: Harness) -> None:
    launch = harness.launch(args="--transport sse --host 0.0.0.0 --port 8000", transport="sse")

    async def body() -> None:
        import httpx

        async with driving(harness) as driver:
            endpoint = (await driver.start(launch)).endpoint
            assert endpoint is not None
            assert endpoint.transport == "sse"
            assert endpoint.url.startswith("http://127.0.0.1:")
            assert endpoint.url.endswith("/sse")
            url = endpoint.url

            async def first_event() -> bytes:
                async with httpx.AsyncClient() as client:
                    while True:
                        try:
                            async with client.stream("GET", url) as answer:
                                assert answer.headers["content-type"].startswith(
                                    "text/event-stream"
                                )
                                async for chunk in answer.aiter_bytes():
                                    return chunk
                        except httpx.TransportError:
                            await asyncio.sleep(0.2)  # not listening yet

            assert b"event: endpoint" in await guarded(first_event())
            await driver.stop(launch.instance, grace=5)

    run(body)


def test_labels_name_the_instance_and_secrets_reach_only_the_environment(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "env-secret-" + uuid.uuid4().hex
    header = "header-secret-" + uuid.uuid4().hex
    launch = harness.launch(
        env={"API_TOKEN": Secret(secret), "PLAIN": "visible"},
        headers={"X-Key": Secret(header)},
    )

    async def body() -> None:
        async with driving(harness) as driver:
            observed = await driver.start(launch)
            attrs = harness.inspect(observed.ref)
            assert attrs["Config"]["Labels"] == {
                SERVER_LABEL: "ts",
                INSTANCE_LABEL: launch.instance,
                GENERATION_LABEL: "3",
                OWNER_LABEL: harness.owner,
                TRANSPORT_LABEL: "stdio",
            }
            assert f"API_TOKEN={secret}" in attrs["Config"]["Env"]  # the check below can fail
            config = dict(attrs["Config"])
            del config["Env"]
            shown = json.dumps({**attrs, "Config": config})
            assert secret not in shown
            assert header not in shown
            for text in (repr(launch), repr(observed), repr(driver)):
                assert secret not in text
                assert header not in text

            pipe = pipe_of(driver, launch.instance)
            await initialize(pipe)
            digest = await call_tool(pipe, 2, "env_sha256", {"name": "API_TOKEN"})
            assert digest == hashlib.sha256(secret.encode()).hexdigest()
            assert secret.encode() not in await log_text(driver, launch.instance)
            await driver.stop(launch.instance, grace=5)
        assert launch.instance in caplog.text  # the driver's log names the instance...
        assert secret not in caplog.text  # ...never a secret
        assert header not in caplog.text

    run(body)


def test_limits_and_no_new_privileges_reach_the_container(harness: Harness) -> None:
    spec = ServerSpec.model_validate(
        {"image": harness.image, "resources": {"memory": "256Mi", "cpus": 0.5}}
    )
    bounded = harness.launch(limits=limits_for(spec))
    unbounded = harness.launch(limits=Limits(no_new_privileges=False))

    async def body() -> None:
        async with driving(harness) as driver:
            host = harness.inspect((await driver.start(bounded)).ref)["HostConfig"]
            assert host["Memory"] == 256 * 2**20
            assert host["NanoCpus"] == 500_000_000
            assert host["SecurityOpt"] == ["no-new-privileges:true"]
            assert host["Init"] is True

            host = harness.inspect((await driver.start(unbounded)).ref)["HostConfig"]
            assert host["Memory"] == 0
            assert host["NanoCpus"] == 0
            assert not host["SecurityOpt"]
            for launch in (bounded, unbounded):
                await driver.stop(launch.instance, grace=5)

    run(body)


def test_defaults_bound_a_server_that_says_nothing(harness: Harness) -> None:
    launch = harness.launch(limits=limits_for(ServerSpec.model_validate({"image": "x"})))

    async def body() -> None:
        async with driving(harness) as driver:
            host = harness.inspect((await driver.start(launch)).ref)["HostConfig"]
            assert host["Memory"] == 512 * 2**20
            assert host["NanoCpus"] == 1_000_000_000
            assert host["SecurityOpt"] == ["no-new-privileges:true"]
            await driver.stop(launch.instance, grace=5)

    run(body)


# --- exits ----------------------------------------------------------------------------


def test_crash_is_an_exit_with_its_code(harness: Harness) -> None:
    launch = harness.launch()

    async def body() -> None:
        async with driving(harness) as driver:
            exits = driver.exits()
            await driver.start(launch)
            pipe = pipe_of(driver, launch.instance)
            await initialize(pipe)
            await crash(pipe, 2, 3)
            ended = await exit_of(exits, launch.instance)
            assert (ended.code, ended.reason) == (3, "exited with code 3")
            assert await guarded(pipe.read_line()) == b""
            assert pipe.closed
            assert driver.stdio(launch.instance) is None

            [seen] = [o for o in await driver.list() if o.instance == launch.instance]
            assert (seen.running, seen.exit_code) == (False, 3)
            logged = await log_text(driver, launch.instance)
            assert b"testserver crashes with 3" in logged

            again = await driver.start(launch)  # the exited container is replaced
            assert again.ref != seen.ref
            assert [c.id for c in harness.containers(launch.instance)] == [again.ref]
            await initialize(pipe_of(driver, launch.instance), ident=4)
            await driver.stop(launch.instance)
            assert harness.containers(launch.instance) == []

    run(body)


def test_killed_container_is_an_exit_naming_the_signal(harness: Harness) -> None:
    launch = harness.launch()

    async def body() -> None:
        async with driving(harness) as driver:
            exits = driver.exits()
            observed = await driver.start(launch)
            await initialize(pipe_of(driver, launch.instance))
            harness.engine.containers.get(observed.ref).kill()
            ended = await exit_of(exits, launch.instance)
            assert (ended.code, ended.reason) == (137, "killed by signal 9")
            await driver.stop(launch.instance)

    run(body)


def test_memory_past_the_limit_is_an_exit_oomkilled(harness: Harness) -> None:
    # 6Mi is Docker's least: the server's Python imports the mcp SDK, which needs more.
    launch = harness.launch(limits=Limits(memory_bytes=6 * 2**20))

    async def body() -> None:
        async with driving(harness) as driver:
            exits = driver.exits()
            await driver.start(launch)
            ended = await exit_of(exits, launch.instance)
            assert ended.reason == "OOMKilled"
            await driver.stop(launch.instance)

    run(body)


def test_server_exiting_at_once_is_reported(harness: Harness) -> None:
    launch = harness.launch(args="--exit-at-once 7")

    async def body() -> None:
        async with driving(harness) as driver:
            exits = driver.exits()
            await driver.start(launch)
            ended = await exit_of(exits, launch.instance)
            assert (ended.code, ended.reason) == (7, "exited with code 7")
            [seen] = await driver.list()
            assert (seen.instance, seen.running, seen.exit_code) == (launch.instance, False, 7)
            assert b"testserver exits at once with 7\n" in await log_text(driver, launch.instance)
            await driver.stop(launch.instance)

    run(body)


def test_a_stop_is_an_exit_said_to_be_one(harness: Harness) -> None:
    launch = harness.launch()

    async def body() -> None:
        async with driving(harness) as driver:
            exits = driver.exits()
            await driver.start(launch)
            await initialize(pipe_of(driver, launch.instance))
            await driver.stop(launch.instance, grace=30)
            ended = await exit_of(exits, launch.instance)
            # docker's init hands SIGTERM to the server, which ends by it at once
            assert (ended.code, ended.reason) == (143, "stopped by mcpd")

    run(body)


# --- logs -----------------------------------------------------------------------------


def test_logs_show_stderr_and_never_the_stdio_traffic(harness: Harness) -> None:
    launch = harness.launch()

    async def body() -> None:
        async with driving(harness) as driver:
            await driver.start(launch)
            pipe = pipe_of(driver, launch.instance)
            await initialize(pipe)
            assert await call_tool(pipe, 2, "echo", {"text": "traffic-marker"}) == "traffic-marker"
            lines = [line async for line in driver.logs(launch.instance)]
            assert lines[0].startswith(b"testserver testserver starting")
            assert all(line.endswith(b"\n") for line in lines)
            assert not any(b"traffic-marker" in line or b"jsonrpc" in line for line in lines)
            assert [line async for line in driver.logs(launch.instance, tail=1)] == lines[-1:]

            followed: list[bytes] = []

            async def follow() -> None:
                async for line in driver.logs(launch.instance, follow=True):
                    followed.append(line)

            following = asyncio.create_task(follow())
            await crash(pipe, 3, 5)
            await guarded(following)  # a followed log ends with the container
            assert followed[-1] == b"testserver crashes with 5\n"
            last = await log_text(driver, launch.instance, tail=1)
            assert last == b"testserver crashes with 5\n"
            await driver.stop(launch.instance)

    run(body)


def test_logs_since_a_moment_leave_out_what_came_before(harness: Harness) -> None:
    launch = harness.launch(args=HTTP_ARGS, transport="streamable-http")

    async def body() -> None:
        async with driving(harness) as driver:
            observed = await driver.start(launch)
            assert observed.endpoint is not None
            await guarded(_until_mcp_answers(observed.endpoint.url))
            everything = [line async for line in driver.logs(launch.instance)]
            assert everything[0].startswith(b"testserver testserver starting")
            later = [line async for line in driver.logs(launch.instance, since=observed.started_at)]
            assert later == everything or later == everything[1:]
            future = observed.started_at + timedelta(days=1)
            assert [line async for line in driver.logs(launch.instance, since=future)] == []
            await driver.stop(launch.instance, grace=5)

    run(body)


# --- adoption -------------------------------------------------------------------------


def test_a_new_driver_adopts_running_containers_without_twins(harness: Harness) -> None:
    stdio = harness.launch()
    http = harness.launch(args=HTTP_ARGS, transport="streamable-http")

    async def body() -> None:
        first = harness.driver()
        started = {launch.instance: await first.start(launch) for launch in (stdio, http)}
        await initialize(pipe_of(first, stdio.instance))
        assert await call_tool(pipe_of(first, stdio.instance), 2, "add", {"a": 1, "b": 1}) == 2
        await first.close()  # mcpd ends: its containers run on

        async with driving(harness) as second:
            seen: dict[str, Observed] = {o.instance: o for o in await second.list()}
            assert set(seen) == {stdio.instance, http.instance}
            for instance, observed in seen.items():
                assert observed.running
                assert observed.ref == started[instance].ref
            assert seen[http.instance].endpoint == started[http.instance].endpoint

            pipe = pipe_of(second, stdio.instance)
            assert await call_tool(pipe, 3, "add", {"a": 2, "b": 2}) == 4  # the session goes on
            await initialize(pipe, ident=4)  # and a new one may be opened
            assert await call_tool(pipe, 5, "add", {"a": 3, "b": 3}) == 6

            again = await second.start(stdio)
            assert again.ref == started[stdio.instance].ref
            assert len(harness.containers(stdio.instance)) == 1
            assert await call_tool(pipe_of(second, stdio.instance), 6, "whoami", {}) is not None

            for launch in (stdio, http):
                await second.stop(launch.instance, grace=5)
        assert harness.containers() == []

    run(body)


# --- refusals -------------------------------------------------------------------------


def test_image_neither_present_nor_pullable_is_invalid_input(harness: Harness) -> None:
    image = f"mcpctl-tests/absent-{uuid.uuid4().hex[:8]}:1"
    launch = harness.launch(image=image)

    async def body() -> None:
        async with driving(harness) as driver:
            with pytest.raises(InvalidInput) as caught:
                await driver.start(launch)
            assert launch.instance in str(caught.value)
            assert image in str(caught.value)
            assert harness.containers(launch.instance) == []

    run(body)


def _launch_without_engine(instance: str) -> Launch:
    return Launch(
        server="ts",
        instance=instance,
        generation=1,
        runtime="docker",
        transport="stdio",
        image="mcpctl-testserver:any",
        owner="nobody",
    )


def test_no_engine_is_runtime_unavailable() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"unix://{Path(folder) / 'nothing.sock'}"
        driver = DockerDriver("nobody", NODE, base_url=url)

        async def body() -> None:
            for attempt in (
                driver.check(),
                driver.start(_launch_without_engine("ts-a")),
                driver.list(),
            ):
                with pytest.raises(RuntimeUnavailable) as caught:
                    await attempt
                assert str(caught.value).startswith(f"no Docker engine at {url}: ")
                assert "No such file or directory" in str(caught.value)
            await driver.close()

        run(body)


def test_an_engine_that_never_answers_is_runtime_unavailable() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "silent.sock"
        silent = socket.socket(socket.AF_UNIX)
        silent.bind(str(path))
        silent.listen()
        try:
            driver = DockerDriver("nobody", NODE, base_url=f"unix://{path}")
            with pytest.raises(RuntimeUnavailable) as caught:
                run(driver.check)
            assert str(caught.value) == f"no Docker engine at unix://{path}: no answer in time"
        finally:
            silent.close()


def test_a_launch_for_another_runtime_is_invalid_input(harness: Harness) -> None:
    launch = Launch(
        server="ts",
        instance="ts-command",
        generation=1,
        runtime="process",
        transport="stdio",
        command=("true",),
        owner=harness.owner,
    )

    async def body() -> None:
        async with driving(harness) as driver:
            with pytest.raises(InvalidInput, match="ts-command"):
                await driver.start(launch)

    run(body)
