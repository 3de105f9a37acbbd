"""A Server's spec into the limits its containers get."""

from __future__ import annotations

from mcpctl.runtime.base import Limits
from mcpctl.runtime.limits import limits_for
from mcpctl.schemas import ServerSpec


def test_a_server_that_says_nothing_gets_the_stated_defaults() -> None:
    spec = ServerSpec.model_validate({"image": "example/server:1"})
    assert limits_for(spec) == Limits(memory_bytes=512 * 2**20, cpus=1.0, no_new_privileges=True)


def test_what_a_server_says_is_what_its_containers_get() -> None:
    spec = ServerSpec.model_validate(
        {
            "image": "example/server:1",
            "resources": {"memory": "1.5Gi", "cpus": 0.25},
            "noNewPrivileges": False,
        }
    )
    assert limits_for(spec) == Limits(memory_bytes=3 * 2**29, cpus=0.25, no_new_privileges=False)


def test_memory_alone_keeps_the_default_cpus() -> None:
    spec = ServerSpec.model_validate({"image": "x", "resources": {"memory": "100M"}})
    assert limits_for(spec) == Limits(memory_bytes=100_000_000, cpus=1.0)
