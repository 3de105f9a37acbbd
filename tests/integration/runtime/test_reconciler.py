"""The runtime reconciler in a real mcpd: Servers end in running instances of real MCP
servers (the project's test server as a child process), and follow every change.

Each scenario applies Servers through the API and watches what a user watches:
`GET /api/v1/instances` and the Server's status, and the processes themselves (by the
pids the instances' servers report through their log). Waits are polls with a hang
guard, never a timing; mcpd runs with a short restart back-off (0.2 s doubling).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.mcpd import WAIT_TIMEOUT, Mcpd, running_mcpd
from tests.support.runtime import WITH_CHILD, running, server_command, wait_gone

pytestmark = [pytest.mark.integration]

BACKOFF = ["--restart-backoff", "0.2,1.6,600", "--stop-grace", "5"]

JSON = dict[str, Any]


@pytest.fixture
def mcpd(tmp_path: Path) -> Iterator[Mcpd]:
    with running_mcpd(tmp_path / "state", args=BACKOFF) as server:
        yield server


def manifest_of(name: str, *args: str, replicas: int = 1, env: JSON | None = None) -> JSON:
    spec: JSON = {"command": list(server_command(*args)), "replicas": replicas}
    if env:
        spec["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return {"apiVersion": "mcpctl/v1", "kind": "Server", "metadata": {"name": name}, "spec": spec}


def apply(client: httpx.Client, *items: JSON) -> None:
    answer = client.post("/api/v1/apply", json={"items": list(items)})
    assert answer.status_code == 200, answer.text


def instances(client: httpx.Client, server: str) -> list[JSON]:
    items: list[JSON] = client.get("/api/v1/instances").raise_for_status().json()["items"]
    return [i for i in items if i["spec"]["server"] == server]


def status(client: httpx.Client, server: str) -> JSON:
    body: JSON = client.get(f"/api/v1/servers/{server}").raise_for_status().json()
    return body.get("status") or {}


def until(condition: Callable[[], Any], what: str) -> Any:
    """Poll `condition` until it answers something true; that answer (a hang guard)."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        answer = condition()
        if answer:
            return answer
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def running_instances(client: httpx.Client, server: str, count: int) -> list[JSON]:
    def check() -> list[JSON] | None:
        found = instances(client, server)
        ready = [i for i in found if (i.get("status") or {}).get("phase") == "Running"]
        return found if len(found) == count and len(ready) == count else None

    found: list[JSON] = until(check, f"{count} running instances of {server}")
    return found


def pid_of(mcpd: Mcpd, instance: str) -> int:
    """The pid the test server wrote in its log's first line ("... (pid N, stdio)")."""
    with mcpd.client() as client:

        def read() -> int | None:
            answer = client.get(f"/api/v1/instances/{instance}/log")
            if answer.status_code != 200 or "pid " not in answer.text:
                return None
            return int(answer.text.split("pid ", 1)[1].split(",", 1)[0])

        pid: int = until(read, f"the pid of {instance} in its log")
    return pid


def events(client: httpx.Client, kind: str, name: str) -> list[JSON]:
    items: list[JSON] = (
        client.get("/api/v1/events", params={"kind": kind, "name": name, "limit": 1000})
        .raise_for_status()
        .json()["items"]
    )
    return items


def test_a_server_scales_0_3_1_and_is_deleted(mcpd: Mcpd) -> None:
    with mcpd.client() as client:
        apply(client, manifest_of("echo", replicas=0))
        until(lambda: status(client, "echo").get("health") == "Stopped", "a stopped Server")
        assert instances(client, "echo") == []

        apply(client, manifest_of("echo", replicas=3))
        three = running_instances(client, "echo", 3)
        pids = {i["metadata"]["name"]: pid_of(mcpd, i["metadata"]["name"]) for i in three}
        assert all(running(pid) for pid in pids.values())
        state = until(
            lambda: (s := status(client, "echo")).get("readyReplicas") == 3 and s, "3 ready"
        )
        assert state["health"] == "Healthy"
        assert {c["type"]: c["status"] for c in state["conditions"]}["Ready"] == "True"
        for item in three:
            assert item["status"]["node"]
            assert item["spec"]["runtime"] == "process"

        apply(client, manifest_of("echo", replicas=1))
        (kept,) = running_instances(client, "echo", 1)
        for name, pid in pids.items():
            if name != kept["metadata"]["name"]:
                wait_gone(pid)
        assert running(pids[kept["metadata"]["name"]])

        assert client.delete("/api/v1/servers/echo").status_code == 204
        until(lambda: instances(client, "echo") == [], "no instance left")
        wait_gone(pids[kept["metadata"]["name"]])
        reasons = [
            e["spec"]["reason"] for e in events(client, "Instance", kept["metadata"]["name"])
        ]
        assert "Started" in reasons
        assert "Stopped" in reasons


def test_a_killed_instance_restarts_after_its_back_off(mcpd: Mcpd) -> None:
    with mcpd.client() as client:
        apply(client, manifest_of("victim"))
        (instance,) = running_instances(client, "victim", 1)
        name = instance["metadata"]["name"]
        pid = pid_of(mcpd, name)

        os.kill(pid, signal.SIGKILL)
        restarted = until(
            lambda: (
                (i := instances(client, "victim"))
                and i[0]["status"]["restarts"] == 1
                and i[0]["status"]["phase"] == "Running"
                and i[0]
            ),
            "the instance restarted",
        )
        assert restarted["metadata"]["name"] == name  # the same instance, started again
        assert restarted["status"]["lastExit"]["reason"] == "killed by signal 9"
        new_pid = pid_of(mcpd, name)
        assert new_pid != pid or not running(pid)
        reasons = [e["spec"]["reason"] for e in events(client, "Instance", name)]
        assert "BackOff" in reasons
        assert [e for e in events(client, "Server", "victim") if e["spec"]["reason"] == "BackOff"]


def test_a_server_that_exits_at_once_backs_off_ever_longer(mcpd: Mcpd) -> None:
    with mcpd.client() as client:
        apply(client, manifest_of("crasher", "--exit-at-once", "3"))
        crashing = until(
            lambda: (
                (i := instances(client, "crasher")) and i[0]["status"]["restarts"] >= 3 and i[0]
            ),
            "three restarts",
        )
        assert crashing["status"]["phase"] in ("CrashLoopBackOff", "Starting")
        assert crashing["status"]["lastExit"]["code"] == 3
        waits = [
            e["spec"]["message"]
            for e in events(client, "Instance", crashing["metadata"]["name"])
            if e["spec"]["reason"] == "BackOff"
        ]
        delays = sorted({float(m.split("restarting in ")[1].split(" s")[0]) for m in waits})
        assert delays[:3] == [0.2, 0.4, 0.8], waits
        assert status(client, "crasher")["health"] == "Unavailable"
        # mcpd goes on: another Server runs beside it
        apply(client, manifest_of("bystander"))
        running_instances(client, "bystander", 1)


def test_a_changed_spec_rolls_the_instances_one_at_a_time(mcpd: Mcpd) -> None:
    with mcpd.client() as client:
        apply(client, manifest_of("rolling", replicas=2, env={"COLOUR": "blue"}))
        old = {i["metadata"]["name"] for i in running_instances(client, "rolling", 2)}
        revision = status(client, "rolling")["revision"]

        apply(client, manifest_of("rolling", replicas=2, env={"COLOUR": "green"}))
        seen_total: list[int] = []
        seen_ready: list[int] = []

        def rolled() -> bool:
            found = instances(client, "rolling")
            live = [i for i in found if i["status"]["phase"] != "Terminating"]
            seen_total.append(len(live))
            seen_ready.append(sum(1 for i in live if i["status"]["ready"]))
            names = {i["metadata"]["name"] for i in found}
            return (
                len(found) == 2
                and not names & old
                and all(i["status"]["phase"] == "Running" for i in found)
            )

        until(rolled, "two new instances in place of the old")
        assert max(seen_total) <= 3  # one surge instance at most
        assert min(seen_ready) >= 2  # never fewer ready than before
        after = status(client, "rolling")
        assert after["revision"] != revision
        assert {c["type"]: c["status"] for c in after["conditions"]}["Progressing"] == "False"


def test_a_deleted_instance_is_replaced(mcpd: Mcpd) -> None:
    with mcpd.client() as client:
        apply(client, manifest_of("phoenix"))
        (first,) = running_instances(client, "phoenix", 1)
        pid = pid_of(mcpd, first["metadata"]["name"])
        assert client.delete(f"/api/v1/instances/{first['metadata']['name']}").status_code == 204
        (second,) = until(
            lambda: (
                (i := running_instances(client, "phoenix", 1))
                and i[0]["metadata"]["name"] != first["metadata"]["name"]
                and i
            ),
            "a new instance",
        )
        wait_gone(pid)
        assert second["status"]["restarts"] == 0


def test_a_missing_command_is_a_clear_event_and_mcpd_goes_on(mcpd: Mcpd) -> None:
    with mcpd.client() as client:
        missing = {
            "apiVersion": "mcpctl/v1",
            "kind": "Server",
            "metadata": {"name": "nowhere"},
            "spec": {"command": ["/nonexistent/mcp-server"]},
        }
        apply(client, missing)
        failed = until(
            lambda: [
                e
                for e in events(client, "Server", "nowhere")
                if e["spec"]["reason"] == "FailedStart"
            ],
            "a FailedStart event",
        )
        assert "/nonexistent/mcp-server" in failed[0]["spec"]["message"]
        apply(client, manifest_of("fine"))
        running_instances(client, "fine", 1)


def test_process_instances_end_with_mcpd_and_start_again_with_it(tmp_path: Path) -> None:
    """A clean stop ends the instances; the next start runs them again (new processes)."""
    state = tmp_path / "state"
    with running_mcpd(state, args=BACKOFF) as first:
        with first.client() as client:
            apply(client, manifest_of("durable", replicas=2))
            before = running_instances(client, "durable", 2)
        pids = [pid_of(first, i["metadata"]["name"]) for i in before]
    for pid in pids:
        wait_gone(pid)
    with running_mcpd(state, args=BACKOFF) as second, second.client() as client:
        after = running_instances(client, "durable", 2)
        assert all(running(pid_of(second, i["metadata"]["name"])) for i in after)


def test_after_a_kill_9_of_mcpd_its_orphans_end_and_its_servers_run_again(
    tmp_path: Path,
) -> None:
    """mcpd killed (-9): its servers die with it (the death signal), what they started is
    ended by the next mcpd before it starts them again, once each."""
    state = tmp_path / "state"
    with_child = {
        "apiVersion": "mcpctl/v1",
        "kind": "Server",
        "metadata": {"name": "parent"},
        "spec": {"command": [*WITH_CHILD, *server_command()], "replicas": 1},
    }
    with running_mcpd(state, args=BACKOFF) as first:
        with first.client() as client:
            apply(client, with_child)
            (instance,) = running_instances(client, "parent", 1)
        name = instance["metadata"]["name"]
        child = until(lambda: _child_pid(first, name), "the server's child in its log")
        server = pid_of(first, name)
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=WAIT_TIMEOUT)
        wait_gone(server)  # the death signal
        assert running(child)  # what it started lives on, for now
    with running_mcpd(state, args=BACKOFF) as second, second.client() as client:
        wait_gone(child)  # ended by the records of the killed mcpd
        (again,) = running_instances(client, "parent", 1)
        assert running(pid_of(second, again["metadata"]["name"]))


def _child_pid(mcpd: Mcpd, instance: str) -> int | None:
    with mcpd.client() as client:
        answer = client.get(f"/api/v1/instances/{instance}/log")
    if answer.status_code != 200 or "child " not in answer.text:
        return None
    return int(answer.text.split("child ", 1)[1].split()[0])


def test_a_server_that_never_answers_is_unhealthy_and_restarted(mcpd: Mcpd) -> None:
    mute = manifest_of("mute", "--never-answer", replicas=1)
    mute["spec"]["healthCheck"] = {
        "intervalSeconds": 1,
        "timeoutSeconds": 1,
        "failureThreshold": 2,
    }
    with mcpd.client() as client:
        apply(client, mute)
        restarted = until(
            lambda: (i := instances(client, "mute")) and i[0]["status"]["restarts"] >= 1 and i[0],
            "the mute instance restarted",
        )
        assert not restarted["status"]["ready"]
        name = restarted["metadata"]["name"]
        reasons = [e["spec"]["reason"] for e in events(client, "Instance", name)]
        assert "Unhealthy" in reasons
        unhealthy = next(
            e for e in events(client, "Instance", name) if e["spec"]["reason"] == "Unhealthy"
        )
        assert "no answer within 1 s" in unhealthy["spec"]["message"]
        probes = until(
            lambda: (i := instances(client, "mute")) and i[0]["status"].get("probes"),
            "the probes in the status",
        )
        assert not any(p["ok"] for p in probes)
        assert status(client, "mute")["readyReplicas"] == 0


def test_a_health_check_calls_its_tool(mcpd: Mcpd) -> None:
    checked = manifest_of("checked", replicas=1)
    checked["spec"]["healthCheck"] = {
        "tool": "echo",
        "arguments": {"text": "alive"},
        "intervalSeconds": 1,
        "timeoutSeconds": 1,
    }
    with mcpd.client() as client:
        apply(client, checked)
        (instance,) = running_instances(client, "checked", 1)
        # (the first probe may fail: it opens the channel, within its 1 s; the passing
        # probes of a ready instance are written only every few minutes)
        probes = until(
            lambda: (p := instances(client, "checked")[0]["status"].get("probes")) and p,
            "the probes in the status",
        )
        assert probes[-1]["ok"]
        assert "echo answered" in probes[-1]["detail"]
        assert instance["status"]["ready"]


def test_a_server_whose_runtime_is_unavailable_says_so_and_the_others_run(
    tmp_path: Path,
) -> None:
    nowhere = f"unix://{tmp_path / 'no-docker.sock'}"
    image = {
        "apiVersion": "mcpctl/v1",
        "kind": "Server",
        "metadata": {"name": "boxed"},
        "spec": {"image": "mcpctl-testserver:any"},
    }
    args = [*BACKOFF, "--docker-host", nowhere]
    with running_mcpd(tmp_path / "state", args=args) as mcpd, mcpd.client() as client:
        apply(client, image, manifest_of("loose", replicas=1))
        running_instances(client, "loose", 1)
        said = until(
            lambda: [
                e
                for e in events(client, "Server", "boxed")
                if e["spec"]["reason"] == "RuntimeUnavailable"
            ],
            "a RuntimeUnavailable event",
        )
        assert "no Docker engine" in said[0]["spec"]["message"]
        state = status(client, "boxed")
        assert state["health"] == "Unavailable"
        runnable = {c["type"]: c for c in state["conditions"]}["Runnable"]
        assert (runnable["status"], runnable["reason"]) == ("False", "RuntimeUnavailable")
        assert instances(client, "boxed") == []


def test_logs_through_the_cli_need_run_logs(mcpd: Mcpd, tmp_path: Path) -> None:
    with mcpd.client() as client:
        apply(client, manifest_of("chatty", replicas=2))
        names = [i["metadata"]["name"] for i in running_instances(client, "chatty", 2)]
        for name in names:
            pid_of(mcpd, name)  # each has written its first line
    env = {**os.environ, "MCPCTL_SERVER": mcpd.url, "MCPCTL_TOKEN": mcpd.admin_token}
    env["MCPCTL_HOME"] = str(tmp_path / "home")
    mcpctl = str(Path(sys.executable).parent / "mcpctl")
    merged = subprocess.run(
        [mcpctl, "logs", "chatty"], capture_output=True, text=True, env=env, timeout=120
    )
    assert merged.returncode == 0, merged.stderr
    for name in names:
        assert f"[{name}] testserver testserver starting" in merged.stdout
    one = subprocess.run(
        [mcpctl, "logs", f"instance/{names[0]}", "--tail", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert one.returncode == 0, one.stderr
    assert len(one.stdout.splitlines()) == 1
    assert "[" not in one.stdout.split()[0]

    # a user who may view servers but not run logs is refused, and says what is missing
    with mcpd.client() as client:
        viewer = "viewer"
        apply(
            client,
            {
                "apiVersion": "mcpctl/v1",
                "kind": "ServiceAccount",
                "metadata": {"name": viewer},
                "spec": {"description": "reads servers"},
            },
            {
                "apiVersion": "mcpctl/v1",
                "kind": "Rbac",
                "metadata": {"name": "viewer-servers"},
                "spec": {
                    "subjects": [{"kind": "ServiceAccount", "name": viewer}],
                    "bindings": [{"role": "view", "resource": "servers"}],
                },
            },
        )
        token = client.post(f"/api/v1/serviceaccounts/{viewer}/tokens", json={}).json()["token"]
    refused = subprocess.run(
        [mcpctl, "logs", "chatty"],
        capture_output=True,
        text=True,
        env={**env, "MCPCTL_TOKEN": token},
        timeout=120,
    )
    assert refused.returncode != 0
    assert "run logs" in refused.stderr


def test_a_runtime_left_out_of_runtimes_runs_nothing_and_says_so(tmp_path: Path) -> None:
    """`--runtimes docker,external`: no command runs on mcpd's host; the Server says why."""
    args = [*BACKOFF, "--runtimes", "docker,external"]
    with running_mcpd(tmp_path / "state", args=args) as mcpd, mcpd.client() as client:
        apply(client, manifest_of("forbidden", replicas=1))
        said = until(
            lambda: [
                e
                for e in events(client, "Server", "forbidden")
                if e["spec"]["reason"] == "RuntimeUnavailable"
            ],
            "a RuntimeUnavailable event",
        )
        assert "the process runtime is off on this mcpd" in said[0]["spec"]["message"]
        assert instances(client, "forbidden") == []
        assert status(client, "forbidden")["health"] == "Unavailable"
