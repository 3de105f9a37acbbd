"""Image servers under the runtime reconciler of a real mcpd, on a real Docker engine with
the offline test image: they run as containers, a kill -9 of mcpd leaves them running
and the next mcpd adopts them (no twin), a deleted Server's containers go, and a bad
image is a clear event while the others run on."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest

from mcpctl.runtime.base import SERVER_LABEL
from tests.integration.runtime.test_reconciler import (
    BACKOFF,
    JSON,
    apply,
    events,
    instances,
    running_instances,
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


def containers(engine: Any, server: str) -> list[Any]:
    found: list[Any] = engine.containers.list(filters={"label": f"{SERVER_LABEL}={server}"})
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
