"""A failover keeps an image server's containers: two real mcpd replicas on a real
PostgreSQL, both with the docker runtime on one real engine, the leader killed (-9)
while a stdio image server runs two replicas.

Containers outlive the mcpd that started them, and they belong to the cluster (their
owner label is the cluster's id), so the new leader adopts them instead of starting
others: the same containers (the same ids, started once: never a twin, counted by
the server label over running and exited ones alike), their Instances Running and
ready again on the new leader, which attached to each one's stdin and stdout anew.
The evidence that an adopted stdio server answers MCP through the new leader is its
health check, a tool call made over that new attachment: a passing one, after the
takeover, is what made the instance ready again.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.runtime.test_docker_runtime import HEALTH, containers, image_server
from tests.integration.runtime.test_reconciler import (
    BACKOFF,
    JSON,
    apply,
    events,
    instances,
    until,
)
from tests.support.cluster import running_cluster
from tests.support.postgres import PostgresServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def ready_on(client: httpx.Client, server: str, node: str, count: int) -> list[JSON] | None:
    """The Instances of `server` once there are `count`, each Running and ready on `node`."""
    found = instances(client, server)
    here = [
        i
        for i in found
        if i["status"]["node"] == node
        and i["status"]["phase"] == "Running"
        and i["status"]["ready"]
    ]
    return found if len(found) == count and len(here) == count else None


def test_a_new_leader_adopts_the_stdio_containers_of_the_killed_one(
    postgres: PostgresServer, tmp_path: Path, docker_engine: Any, testserver_image: str
) -> None:
    name = f"adopt-{uuid.uuid4().hex[:6]}"
    manifest = image_server(name, testserver_image)
    manifest["spec"]["replicas"] = 2
    manifest["spec"]["healthCheck"] = HEALTH
    try:
        with running_cluster(
            tmp_path, postgres.create_database(), count=2, args=BACKOFF
        ) as cluster:
            leader = cluster.leader()
            with cluster.client(leader) as client:
                apply(client, manifest)
                before = until(lambda: ready_on(client, name, leader.name, 2), "2 ready")
            assert all(i["spec"]["runtime"] == "docker" for i in before)
            names = {i["metadata"]["name"] for i in before}
            started = {
                c.id: c.attrs["State"]["StartedAt"]
                for c in containers(docker_engine, name, every=True)
            }
            assert len(started) == 2

            leader.pause()
            old_term = cluster.lease().term
            leader.kill()
            for container in containers(docker_engine, name, every=True):
                assert container.status == "running"  # they outlive the mcpd that started them

            new = cluster.leader(after_term=old_term)
            assert new is not leader
            with cluster.client(new) as client:
                after = until(lambda: ready_on(client, name, new.name, 2), f"2 ready on {new.name}")
                assert {i["metadata"]["name"] for i in after} == names  # the same Instances
                for item in after:
                    instance = item["metadata"]["name"]
                    said = events(client, "Instance", instance)  # newest first
                    reasons = [e["spec"]["reason"] for e in said]
                    assert "Lost" not in reasons  # adopted, not started again
                    adopted = reasons.index("Adopted")
                    assert said[adopted]["spec"]["source"] == f"mcpd/{new.name}"
                    # ready again on the new leader: a probe through the new attachment passed
                    assert any(
                        e["spec"]["reason"] == "Ready" and e["spec"]["source"] == f"mcpd/{new.name}"
                        for e in said[:adopted]
                    ), said
                    probes = item["status"].get("probes") or []
                    assert probes, item
                    assert probes[-1]["ok"], probes
                    assert "echo answered" in probes[-1]["detail"]

                # never a twin: the same two containers, each started once
                now = containers(docker_engine, name, every=True)
                assert {c.id: c.attrs["State"]["StartedAt"] for c in now} == started
                assert all(c.status == "running" for c in now)
                assert all(c.attrs["RestartCount"] == 0 for c in now)

                assert client.delete(f"/api/v1/servers/{name}").status_code == 204
                until(lambda: instances(client, name) == [], "no instance left")
                until(
                    lambda: containers(docker_engine, name, every=True) == [],
                    "the containers removed",
                )
    finally:
        for left in containers(docker_engine, name, every=True):
            left.remove(force=True)
