"""What survives a kill -9 of mcpd (docs/architecture.md, "The runtime"): its servers die
by the death signal; what they started lives on, recorded, until the next driver's
`end_orphans` ends it. The records' pid and start time keep a reused pid safe."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from mcpctl.runtime.groups import boot_id, read_stat
from tests.support.runtime import (
    NODE,
    OWNER,
    ROOT,
    TESTSERVER,
    WITH_CHILD,
    launch,
    process_driver,
    reap,
    running,
    server_command,
)

pytestmark = pytest.mark.integration

# mcpd in miniature: a process driver that starts a server with a child of its own, says
# their pids once the server runs, and waits to be killed.
DRIVER_PROCESS = """
import asyncio, json, sys
from pathlib import Path
import mcpctl.runtime.process as process
from mcpctl.runtime import Launch, ProcessDriver

state, testserver, launcher = sys.argv[1:4]
if launcher == "shim":
    process.SETPRIV = None

async def main() -> None:
    driver = ProcessDriver(Path(state), "cluster-1", "node-a")
    command = (*json.loads(sys.argv[4]), sys.executable, testserver)
    observed = await driver.start(Launch(
        server="srv", instance="srv-1", generation=7, runtime="process",
        transport="stdio", command=command, owner="cluster-1",
    ))
    child = None
    async for line in driver.logs("srv-1", follow=True):
        if line.startswith(b"child "):
            child = int(line.split()[1])
        if line.startswith(b"testserver testserver starting"):
            break
    print(json.dumps({"server": int(observed.ref), "child": child}), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def run_driver_process(state: Path, launcher: str) -> tuple[subprocess.Popen[bytes], int, int]:
    """The driver's process, its server's pid, and the server's child's pid."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            DRIVER_PROCESS,
            str(state),
            str(TESTSERVER),
            launcher,
            json.dumps(WITH_CHILD),
        ],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 120)
    assert ready, "the driver's process said nothing"
    said = json.loads(process.stdout.readline())
    return process, said["server"], said["child"]


@pytest.mark.usefixtures("subreaper")
@pytest.mark.parametrize("launcher", ["setpriv", "shim"])
def test_a_kill_9_of_mcpd_kills_its_servers_and_the_next_driver_ends_their_children(
    state: Path, started: set[int], launcher: str
) -> None:
    mcpd, server, child = run_driver_process(state, launcher)
    started.update((mcpd.pid, server, child))
    assert read_stat(server).pgrp == server  # type: ignore[union-attr]
    assert read_stat(child).pgrp == server  # type: ignore[union-attr]
    assert "NoNewPrivs:\t1" in Path(f"/proc/{server}/status").read_text()
    [records] = list((state / "process-records").iterdir())
    assert records.stat().st_mode & 0o777 == 0o600
    content = json.loads(records.read_text())
    [record] = content["instances"]
    assert (record["instance"], record["server"], record["generation"]) == ("srv-1", "srv", 7)
    assert (record["pid"], record["pgid"]) == (server, server)
    assert record["start"] == read_stat(server).start  # type: ignore[union-attr]
    assert content["writer"]["pid"] == mcpd.pid

    mcpd.kill()
    mcpd.wait()
    mcpd.stdout.close()  # type: ignore[union-attr]
    # The server died of the death signal (this process adopted it: it reads how) ...
    status = reap(server)
    assert os.WIFSIGNALED(status)
    assert os.WTERMSIG(status) == signal.SIGKILL
    # ... and its child lives on, in its group, until the next driver ends it.
    assert running(child)

    async def main() -> list[str]:
        async with process_driver(state) as driver:
            return await driver.end_orphans()

    assert asyncio.run(main()) == ["srv-1"]
    status = reap(child)
    assert os.WIFSIGNALED(status)
    assert os.WTERMSIG(status) == signal.SIGTERM
    assert list((state / "process-records").iterdir()) == []
    assert not (state / "instances" / "srv-1").exists()


def write_records(
    state: Path, writer: tuple[int, int], entries: list[dict[str, object]], *, node: str = NODE
) -> Path:
    directory = state / "process-records"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{quote(node, safe='')}.{writer[0]}.test.json"
    content = {
        "node": node,
        "boot": boot_id(),
        "writer": {"pid": writer[0], "start": writer[1]},
        "instances": entries,
    }
    path.write_text(json.dumps(content))
    return path


def entry(instance: str, pid: int, start: int) -> dict[str, object]:
    return {
        "instance": instance,
        "server": "srv",
        "generation": 1,
        "owner": OWNER,
        "pid": pid,
        "pgid": pid,
        "start": start,
        "ended": False,
    }


def group_leader() -> tuple[subprocess.Popen[bytes], int]:
    """A process leading a group of its own, and its start time."""
    process = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    stat = read_stat(process.pid)
    assert stat is not None
    return process, stat.start


def dead_writer() -> tuple[int, int]:
    """The pid and start time of a process that has ended: a killed mcpd's."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid, 1  # no process of this boot started at tick 1 after a test began


def test_the_first_start_ends_a_recorded_group_but_not_a_reused_pid(
    state: Path, started: set[int]
) -> None:
    orphan, orphan_start = group_leader()
    reused, reused_start = group_leader()
    started.update((orphan.pid, reused.pid))
    (state / "instances" / "old-1").mkdir(parents=True)
    (state / "instances" / "old-1" / "log").write_text("left by a killed mcpd\n")
    left = write_records(
        state,
        dead_writer(),
        [
            entry("old-1", orphan.pid, orphan_start),
            # The same pid as recorded, but another process now: a later start.
            entry("old-2", reused.pid, reused_start - 1),
        ],
    )
    try:

        async def main() -> None:
            async with process_driver(state) as driver:
                observed = await driver.start(launch(server_command("--never-answer")))
                started.add(int(observed.ref))

        asyncio.run(main())
        assert orphan.wait(timeout=120) == -signal.SIGTERM
        assert reused.poll() is None
        assert not left.exists()
        assert not (state / "instances" / "old-1").exists()
    finally:
        reused.kill()
        reused.wait()
        orphan.kill()
        orphan.wait()


def test_end_orphans_leaves_a_live_drivers_and_another_nodes_records_alone(
    state: Path, started: set[int]
) -> None:
    other, other_start = group_leader()
    started.add(other.pid)
    elsewhere = write_records(
        state, dead_writer(), [entry("far-1", other.pid, other_start)], node="node-b"
    )
    try:

        async def main() -> None:
            async with process_driver(state) as first:
                observed = await first.start(launch(server_command("--never-answer")))
                started.add(int(observed.ref))
                async with process_driver(state) as second:
                    assert await second.end_orphans() == []
                    [listed] = await first.list()
                    assert listed.running
                    assert running(int(observed.ref))

        asyncio.run(main())
        assert other.poll() is None
        assert elsewhere.exists()
    finally:
        other.kill()
        other.wait()
