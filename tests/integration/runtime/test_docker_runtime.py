"""Image servers under the runtime reconciler of a real mcpd, on a real Docker engine with
the offline test image: they run as containers, a kill -9 of mcpd leaves them running
and the next mcpd adopts them (no twin), a deleted Server's containers go, a changed
spec rolls them one at a time (never fewer ready than before), and a bad image is a
clear event while the others run on."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest

from mcpctl.runtime.base import GENERATION_LABEL, SERVER_LABEL
from tests.integration.runtime.test_reconciler import (
    BACKOFF,
    JSON,
    apply,
    events,
    instances,
    running_instances,
    status,
    until,
)
from tests.support.mcpd import WAIT_TIMEOUT, running_mcpd

pytestmark = [pytest.mark.integration]


def image_server(name: str, image: str) -> JSON:
    return {
        "apiVersion": "mcpctl/v1",
        "kind": "Server",
        "metadata": {"name": name},
        "spec": {"image": image, "replicas": 1, "resources": {"memory": "128Mi", "cpus": 0.5}},
    }


#: A health check that is a real tool call: readiness is an answer. Its timeout is a hang
#: guard: a container's server, just started on a busy machine, may take seconds to
#: answer its first probe (one that times out 3 times in a row is restarted). Its
#: interval is longer than any wait of the tests: a new instance is probed at once,
#: never at the next probe of the ready ones.
HEALTH: JSON = {
    "tool": "echo",
    "arguments": {"text": "alive"},
    "intervalSeconds": 600,
    "timeoutSeconds": 60,
}


def containers(engine: Any, server: str, *, every: bool = False) -> list[Any]:
    """The running containers of `server` (`every`: the exited ones too), inspected; one
    removed between the engine's list and its inspection is gone, not an error."""
    found: list[Any] = engine.containers.list(
        all=every, filters={"label": f"{SERVER_LABEL}={server}"}, ignore_removed=True
    )
    return found


def test_image_servers_run_as_containers_adopted_after_a_kill_9(
    tmp_path: Path, docker_engine: Any, testserver_image: str
) -> None:
    name = f"img-{uuid.uuid4().hex[:6]}"
    state = tmp_path / "state"
    try:
        with running_mcpd(state, args=BACKOFF) as first:
            with first.client() as client:
                apply(client, image_server(name, testserver_image))
                (instance,) = running_instances(client, name, 1)
                assert instance["spec"]["runtime"] == "docker"
            (container,) = containers(docker_engine, name)
            config = container.attrs["HostConfig"]
            assert config["Memory"] == 128 * 1024 * 1024
            assert "no-new-privileges" in " ".join(config.get("SecurityOpt") or [])
            os.kill(first.process.pid, signal.SIGKILL)
            first.process.wait(timeout=WAIT_TIMEOUT)
        container.reload()
        assert container.status == "running"  # containers outlive mcpd

        with running_mcpd(state, args=BACKOFF) as second, second.client() as client:
            (again,) = running_instances(client, name, 1)
            assert again["metadata"]["name"] == instance["metadata"]["name"]
            adopted = [
                e
                for e in events(client, "Instance", again["metadata"]["name"])
                if e["spec"]["reason"] == "Adopted"
            ]
            assert adopted
            assert [c.id for c in containers(docker_engine, name)] == [container.id]  # no twin

            assert client.delete(f"/api/v1/servers/{name}").status_code == 204
            until(lambda: instances(client, name) == [], "no instance left")
            until(lambda: containers(docker_engine, name) == [], "the container removed")
    finally:
        for left in docker_engine.containers.list(
            all=True, filters={"label": f"{SERVER_LABEL}={name}"}
        ):
            left.remove(force=True)


def test_a_bad_image_is_a_clear_event_and_the_others_run(
    tmp_path: Path, docker_engine: Any, testserver_image: str
) -> None:
    bad = f"bad-{uuid.uuid4().hex[:6]}"
    good = f"good-{uuid.uuid4().hex[:6]}"
    try:
        with running_mcpd(tmp_path / "state", args=BACKOFF) as mcpd, mcpd.client() as client:
            apply(client, image_server(bad, "mcpctl-no-such-image:never"))
            failed = until(
                lambda: [
                    e for e in events(client, "Server", bad) if e["spec"]["reason"] == "FailedStart"
                ],
                "a FailedStart event",
            )
            assert "mcpctl-no-such-image:never" in failed[0]["spec"]["message"]
            apply(client, image_server(good, testserver_image))
            running_instances(client, good, 1)
    finally:
        for server in (bad, good):
            for left in docker_engine.containers.list(
                all=True, filters={"label": f"{SERVER_LABEL}={server}"}
            ):
                left.remove(force=True)


def test_a_changed_image_server_rolls_one_container_at_a_time(
    tmp_path: Path, docker_engine: Any, testserver_image: str
) -> None:
    """Every sample of the rollout, from the apply of the change to its end, is checked:
    the Server's status and the Instances never show fewer ready than the 2 before,
    never more than one surge instance, and the engine never runs more than one surge
    container."""
    name = f"roll-{uuid.uuid4().hex[:6]}"

    def manifest(colour: str) -> JSON:
        made = image_server(name, testserver_image)
        made["spec"].update(
            replicas=2, healthCheck=HEALTH, env=[{"name": "COLOUR", "value": colour}]
        )
        return made

    try:
        with running_mcpd(tmp_path / "state", args=BACKOFF) as mcpd, mcpd.client() as client:
            apply(client, manifest("blue"))
            until(
                lambda: (
                    len(found := instances(client, name)) == 2
                    and all(i["status"]["ready"] for i in found)
                ),
                "2 ready instances",
            )
            old = {i["metadata"]["name"] for i in instances(client, name)}
            old_ids = {c.id for c in containers(docker_engine, name, every=True)}
            assert len(old_ids) == 2
            revision = status(client, name)["revision"]

            apply(client, manifest("green"))
            generation = client.get(f"/api/v1/servers/{name}").json()["metadata"]["generation"]
            samples: list[tuple[int, int, int, int]] = []

            def rolled() -> bool:
                found = instances(client, name)
                live = [i for i in found if i["status"]["phase"] != "Terminating"]
                ready = sum(1 for i in live if i["status"]["ready"])
                server_ready = status(client, name)["readyReplicas"]
                running = len(containers(docker_engine, name))
                samples.append((ready, server_ready, len(live), running))
                assert ready >= 2, f"{ready} ready instances in {found}"
                assert server_ready >= 2, f"the Server says {server_ready} ready"
                assert len(live) <= 3, f"more than one surge instance: {found}"
                assert running <= 3, f"{running} containers run"
                names = {i["metadata"]["name"] for i in found}
                return len(found) == 2 and not names & old and ready == 2

            until(rolled, "two new ready instances in place of the old")
            assert any(s[2] == 3 for s in samples), samples  # a surge instance was seen
            after = status(client, name)
            assert after["revision"] != revision
            conditions = {c["type"]: c["status"] for c in after["conditions"]}
            assert conditions["Progressing"] == "False"

            # the old containers are removed, not left exited; the new carry the new generation
            now = until(
                lambda: (c := containers(docker_engine, name, every=True)) and len(c) == 2 and c,
                "2 containers",
            )
            assert not {c.id for c in now} & old_ids
            for container in now:
                assert container.status == "running"
                assert container.labels[GENERATION_LABEL] == str(generation)
                assert "COLOUR=green" in container.attrs["Config"]["Env"]
            warned = [
                e["spec"]["message"]
                for e in events(client, "Server", name)
                if e["spec"]["type"] == "Warning"
            ]
            assert not warned  # no start failed, no probe failed on the way

            assert client.delete(f"/api/v1/servers/{name}").status_code == 204
            until(lambda: containers(docker_engine, name, every=True) == [], "none left")
    finally:
        for left in containers(docker_engine, name, every=True):
            left.remove(force=True)
