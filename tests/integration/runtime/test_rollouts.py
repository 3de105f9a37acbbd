"""Rollouts and probes of the runtime reconciler in a real mcpd, against real MCP servers.

A Secret's change rolls the Servers that read the changed key, one instance at a time,
and no value of it is ever shown; a health check that gets no answer makes an instance
Unhealthy: one that mcpd runs is restarted, an external one (which mcpd cannot restart)
stays Unhealthy, probed on, until it answers again.

The servers speak streamable HTTP, so the test reaches each instance at the endpoint its
status shows and asks it (`env_sha256`) what its environment holds. Waits are polls with
a hang guard, never a timing; mcpd runs with a short restart back-off.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from tests.integration.runtime.test_reconciler import (
    BACKOFF,
    apply,
    events,
    instances,
    running_instances,
    status,
    until,
)
from tests.support.mcpd import WAIT_TIMEOUT, Mcpd, running_mcpd
from tests.support.runtime import http_testserver, server_command

pytestmark = [pytest.mark.integration]

JSON = dict[str, Any]

#: The Secret's values: none of them may ever be shown by mcpd.
FIRST_TOKEN = "rollout-token-first-5d1f0c"
SECOND_TOKEN = "rollout-token-second-8a27e4"
FIRST_OTHER = "rollout-other-first-c39b11"
SECOND_OTHER = "rollout-other-second-07fd52"
VALUES = (FIRST_TOKEN, SECOND_TOKEN, FIRST_OTHER, SECOND_OTHER)


@pytest.fixture
def mcpd(tmp_path: Path) -> Iterator[Mcpd]:
    # at debug level, so that the log holds all mcpd says (none of it may be a value)
    with running_mcpd(tmp_path / "state", args=[*BACKOFF, "--log-level", "debug"]) as server:
        yield server


def secret(token: str, other: str) -> JSON:
    return {
        "apiVersion": "mcpctl/v1",
        "kind": "Secret",
        "metadata": {"name": "creds"},
        "spec": {"data": {"token": token, "other": other}},
    }


def http_server(name: str, *, replicas: int = 1, env: dict[str, str] | None = None) -> JSON:
    """A Server running the test server over streamable HTTP; `env` maps each variable
    to the key of the Secret `creds` it takes its value from."""
    spec: JSON = {
        "command": list(server_command("--transport", "streamable-http")),
        "transport": "streamable-http",
        "replicas": replicas,
    }
    if env:
        spec["env"] = [
            {"name": var, "valueFrom": {"secretRef": {"name": "creds", "key": key}}}
            for var, key in env.items()
        ]
    return {"apiVersion": "mcpctl/v1", "kind": "Server", "metadata": {"name": name}, "spec": spec}


def call_tool(url: str, tool: str, arguments: JSON) -> str:
    """The text answer of a tool of the server at `url`."""

    async def call() -> str:
        async with Client(url) as client:
            result = await asyncio.wait_for(client.call_tool(tool, arguments), WAIT_TIMEOUT)
        content = result.content[0]
        assert content.type == "text", result
        return content.text

    return asyncio.run(call())


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def env_hash(instance: JSON, variable: str) -> str:
    """The SHA-256 of `variable` in the instance's environment, as its server says."""
    return call_tool(instance["status"]["endpoint"], "env_sha256", {"name": variable})


@contextmanager
def sampling(mcpd: Mcpd, server: str) -> Iterator[list[tuple[int, int]]]:
    """The Server's instances (how many, how many ready) as `GET /api/v1/instances` shows
    them, sampled by a thread of its own as often as it can while the block runs (a
    moment of fewer ready instances lasts a few milliseconds)."""
    samples: list[tuple[int, int]] = []
    done = threading.Event()

    def sample() -> None:
        with mcpd.client() as client:
            while not done.is_set():
                found = instances(client, server)
                samples.append((len(found), sum(1 for i in found if i["status"]["ready"])))

    sampler = threading.Thread(target=sample, name=f"sampling {server}")
    sampler.start()
    try:
        yield samples
    finally:
        done.set()
        sampler.join(timeout=WAIT_TIMEOUT)


def names(found: list[JSON]) -> set[str]:
    return {i["metadata"]["name"] for i in found}


def everything_shown(mcpd: Mcpd, client: httpx.Client, server_names: list[str]) -> str:
    """All that mcpd shows of the runtime: every Event and audit entry, the Servers and
    Instances as GET returns them and as `mcpctl describe` prints them, the instances'
    logs, and mcpd's own log."""
    shown = [
        client.get("/api/v1/events", params={"limit": 1000}).raise_for_status().text,
        client.get("/api/v1/auditevents", params={"limit": 1000}).raise_for_status().text,
        client.get("/api/v1/servers").raise_for_status().text,
        client.get("/api/v1/instances").raise_for_status().text,
        client.get("/api/v1/secrets/creds").raise_for_status().text,
    ]
    env = {**os.environ, "MCPCTL_SERVER": mcpd.url, "MCPCTL_TOKEN": mcpd.admin_token}
    env["MCPCTL_HOME"] = str(mcpd.state_dir.parent / "cli-home")
    mcpctl = str(Path(sys.executable).parent / "mcpctl")
    for server in server_names:
        shown.append(client.get(f"/api/v1/servers/{server}").raise_for_status().text)
        shown.append(client.get(f"/api/v1/servers/{server}/log").raise_for_status().text)
        for instance in instances(client, server):
            name = instance["metadata"]["name"]
            shown.append(client.get(f"/api/v1/instances/{name}").raise_for_status().text)
            described = subprocess.run(
                [mcpctl, "describe", "instance", name],
                capture_output=True,
                text=True,
                env=env,
                timeout=WAIT_TIMEOUT,
            )
            assert described.returncode == 0, described.stderr
            shown.append(described.stdout)
        described = subprocess.run(
            [mcpctl, "describe", "server", server],
            capture_output=True,
            text=True,
            env=env,
            timeout=WAIT_TIMEOUT,
        )
        assert described.returncode == 0, described.stderr
        assert "Status:" in described.stdout
        shown.append(described.stdout)
    shown.append(mcpd.logged())
    return "\n".join(shown)


def test_a_secret_change_rolls_the_servers_that_read_the_changed_key(mcpd: Mcpd) -> None:
    with mcpd.client() as client:
        apply(client, secret(FIRST_TOKEN, FIRST_OTHER))
        apply(client, http_server("reader", replicas=2, env={"API_TOKEN": "token"}))
        first = running_instances(client, "reader", 2)
        revision = status(client, "reader")["revision"]
        for instance in first:
            assert env_hash(instance, "API_TOKEN") == sha256(FIRST_TOKEN)

        # another key of the Secret changes: the reader's instances stay as they are. A
        # Server started after the change (reading that key) shows that mcpd's runtime
        # has seen it: the round that started the witness also judged the reader.
        apply(client, secret(FIRST_TOKEN, SECOND_OTHER))
        apply(client, http_server("witness", env={"OTHER": "other"}))
        (witness,) = running_instances(client, "witness", 1)
        assert env_hash(witness, "OTHER") == sha256(SECOND_OTHER)
        assert names(instances(client, "reader")) == names(first)
        assert status(client, "reader")["revision"] == revision
        for instance in first:
            reasons = [
                e["spec"]["reason"]
                for e in events(client, "Instance", instance["metadata"]["name"])
            ]
            assert "Stopped" not in reasons

        # the key it reads changes: its instances roll, one at a time
        with sampling(mcpd, "reader") as samples:
            apply(client, secret(SECOND_TOKEN, SECOND_OTHER))

            def rolled() -> list[JSON] | None:
                found = instances(client, "reader")
                done = (
                    len(found) == 2
                    and not names(found) & names(first)
                    and all(i["status"]["phase"] == "Running" for i in found)
                )
                return found if done else None

            second: list[JSON] = until(rolled, "two new instances of reader in place of the old")
        assert samples
        surged = [total for total, _ in samples if total > 3]
        fewer = [ready for _, ready in samples if ready < 2]
        assert not surged, f"{len(surged)} of {len(samples)} samples: more than one surge"
        assert not fewer, f"{len(fewer)} of {len(samples)} samples: fewer ready than before"
        for instance in second:
            assert env_hash(instance, "API_TOKEN") == sha256(SECOND_TOKEN)
        after = status(client, "reader")
        assert after["revision"] != revision
        assert {c["type"]: c["status"] for c in after["conditions"]}["Progressing"] == "False"
        # the witness does not read the token: it did not roll
        assert names(instances(client, "witness")) == names([witness])

        shown = everything_shown(mcpd, client, ["reader", "witness"])
        for value in VALUES:
            assert value not in shown


def health(tool: str, arguments: JSON, *, interval: int) -> JSON:
    """A health check calling `tool`, with 1 s to answer and 2 failures in a row allowed."""
    return {
        "tool": tool,
        "arguments": arguments,
        "intervalSeconds": interval,
        "timeoutSeconds": 1,
        "failureThreshold": 2,
    }


def describe(mcpd: Mcpd, kind: str, name: str) -> str:
    env = {**os.environ, "MCPCTL_SERVER": mcpd.url, "MCPCTL_TOKEN": mcpd.admin_token}
    env["MCPCTL_HOME"] = str(mcpd.state_dir.parent / "cli-home")
    mcpctl = str(Path(sys.executable).parent / "mcpctl")
    described = subprocess.run(
        [mcpctl, "describe", kind, name],
        capture_output=True,
        text=True,
        env=env,
        timeout=WAIT_TIMEOUT,
    )
    assert described.returncode == 0, described.stderr
    return described.stdout


def test_an_http_instance_whose_probe_gets_no_answer_is_unhealthy_and_restarted(
    mcpd: Mcpd,
) -> None:
    hanging = http_server("hanging")
    hanging["spec"]["healthCheck"] = health("sleep", {"seconds": 3600}, interval=5)
    with mcpd.client() as client:
        apply(client, hanging)

        def timed_out() -> JSON | None:
            found = instances(client, "hanging")
            probes = found[0]["status"].get("probes", []) if found else []
            said = any("no answer within 1 s" in p["detail"] for p in probes)
            return found[0] if said and found[0]["status"]["restarts"] >= 2 else None

        instance: JSON = until(timed_out, "probes without an answer and two restarts")
        name = instance["metadata"]["name"]
        assert not any(p["ok"] for p in instance["status"]["probes"])
        assert not instance["status"]["ready"]
        assert instance["status"]["lastExit"]["reason"] == "unhealthy"
        said = events(client, "Instance", name)
        unhealthy = [e["spec"]["message"] for e in said if e["spec"]["reason"] == "Unhealthy"]
        assert any("no answer within 1 s" in m and "restarting it" in m for m in unhealthy)
        assert "BackOff" in [e["spec"]["reason"] for e in said]
        assert [
            e for e in events(client, "Server", "hanging") if e["spec"]["reason"] == "Unhealthy"
        ]
        assert "no answer within 1 s" in describe(mcpd, "instance", name)
        assert status(client, "hanging")["readyReplicas"] == 0


def test_an_external_server_that_gets_no_answer_is_unhealthy_until_it_answers(
    mcpd: Mcpd, tmp_path: Path
) -> None:
    """mcpd cannot restart an external server: its instance is Unhealthy (not ready) while
    its probes get no answer, probed on, and ready again once one is answered."""
    held = tmp_path / "held"
    held.touch()
    with http_testserver(tmp_path / "external.log") as (url, _), mcpd.client() as client:
        until(lambda: _answers(url), f"the external server at {url}")
        external: JSON = {
            "apiVersion": "mcpctl/v1",
            "kind": "Server",
            "metadata": {"name": "remote"},
            "spec": {
                "externalUrl": url,
                "transport": "streamable-http",
                "healthCheck": health("hold", {"path": str(held)}, interval=1),
            },
        }
        apply(client, external)

        def unhealthy_a_while() -> JSON | None:
            found = instances(client, "remote")
            probes = found[0]["status"].get("probes", []) if found else []
            # five probes kept, all failed: at least three since it turned Unhealthy
            failed = len(probes) == 5 and not any(p["ok"] for p in probes)
            return found[0] if failed and found[0]["status"]["phase"] == "Unhealthy" else None

        instance: JSON = until(unhealthy_a_while, "an external instance Unhealthy a while")
        name = instance["metadata"]["name"]
        assert "no answer within 1 s" in instance["status"]["probes"][-1]["detail"]
        assert not instance["status"]["ready"]
        assert instance["status"]["restarts"] == 0
        reasons = [e["spec"]["reason"] for e in events(client, "Instance", name)]
        assert "Unhealthy" in reasons
        assert "BackOff" not in reasons
        assert "Stopped" not in reasons
        assert status(client, "remote")["health"] == "Unavailable"
        assert "no answer within 1 s" in describe(mcpd, "instance", name)

        held.unlink()  # the server answers again
        (again,) = until(
            lambda: (
                (found := instances(client, "remote"))
                and found[0]["status"]["phase"] == "Running"
                and found[0]["status"]["ready"]
                and found
            ),
            "the external instance ready again",
        )
        assert again["metadata"]["name"] == name
        assert again["status"]["restarts"] == 0
        assert again["status"]["probes"][-1]["ok"]
        assert "Ready" in [e["spec"]["reason"] for e in events(client, "Instance", name)]
        until(lambda: status(client, "remote")["health"] == "Healthy", "a Healthy Server")


def _answers(url: str) -> bool:
    try:
        return call_tool(url, "whoami", {}).startswith("testserver ")
    except Exception:  # not listening yet
        return False
