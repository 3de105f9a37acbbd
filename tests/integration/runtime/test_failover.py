"""A failover leaves every Server with its replicas running once: two real mcpd replicas
on a real PostgreSQL, the leader killed (-9) while its instances run.

The killed leader's process instances die with it (the death signal); the new leader
finds their Instances recorded on the old node, not running here, and starts each again
on itself: as many as each Server wants, not twice, not zero.
"""

from __future__ import annotations

import functools
from pathlib import Path

import httpx
import pytest

from tests.integration.runtime.test_reconciler import (
    BACKOFF,
    JSON,
    apply,
    instances,
    manifest_of,
    running_instances,
    until,
)
from tests.support.cluster import running_cluster
from tests.support.postgres import PostgresServer
from tests.support.runtime import running, wait_gone

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _pid(client: httpx.Client, instance: str) -> int:
    """The pid the test server wrote in its log ("... (pid N, stdio)")."""

    def read() -> int | None:
        text = client.get(f"/api/v1/instances/{instance}/log").text
        return int(text.split("pid ", 1)[1].split(",", 1)[0]) if "pid " in text else None

    pid: int = until(read, f"the pid of {instance}")
    return pid


def test_a_failover_leaves_every_server_running_once(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    with running_cluster(tmp_path, postgres.create_database(), count=2, args=BACKOFF) as cluster:
        leader = cluster.leader()
        wanted = {"alpha": 2, "beta": 1}
        with cluster.client(leader) as client:
            apply(client, *(manifest_of(n, replicas=r) for n, r in wanted.items()))
            before = {
                item["metadata"]["name"]: _pid(client, item["metadata"]["name"])
                for name, count in wanted.items()
                for item in running_instances(client, name, count)
            }
        assert all(running(pid) for pid in before.values())

        leader.pause()
        old_term = cluster.lease().term
        leader.kill()
        for pid in before.values():
            wait_gone(pid)  # they die with their mcpd

        new = cluster.leader(after_term=old_term)
        assert new is not leader
        with cluster.client(new) as client:

            def moved(name: str, count: int) -> list[JSON] | None:
                found = instances(client, name)
                here = [
                    i
                    for i in found
                    if i["status"]["node"] == new.name and i["status"]["phase"] == "Running"
                ]
                return found if len(found) == count and len(here) == count else None

            after: dict[str, int] = {}
            for name, count in wanted.items():
                items: list[JSON] = until(
                    functools.partial(moved, name, count), f"{name} on {new.name}"
                )
                for item in items:
                    after[item["metadata"]["name"]] = _pid(client, item["metadata"]["name"])
            lost = [
                e
                for e in client.get("/api/v1/events", params={"limit": 1000}).json()["items"]
                if e["spec"]["reason"] == "Lost"
            ]
        assert len(after) == sum(wanted.values())
        assert all(running(pid) for pid in after.values())
        assert not set(after.values()) & set(before.values())
        assert len({e["spec"]["involvedObject"]["name"] for e in lost}) >= sum(wanted.values())
