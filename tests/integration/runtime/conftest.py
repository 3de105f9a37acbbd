"""Fixtures of the runtime's tests: a state dir, the processes a test started, and a
real Docker engine with the offline test image and an owner label
(`tests/support/dockerengine.py`: not `docker.py`, which would hide the SDK from the
scripts run from that folder).

`started` is the set of pids a test started (servers and their children): after
the test, none of them may still run. Those left are killed, and the test fails.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.runtime import end_leftovers

_PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def started() -> Iterator[set[int]]:
    pids: set[int] = set()
    yield pids
    left = end_leftovers(pids)
    assert not left, f"processes the test started still ran after it: {left}"


@pytest.fixture
def subreaper() -> Iterator[None]:
    """This process adopts the orphans of its descendants (instead of init), so that a test
    can read how a process that a killed child left behind ended (`reap`)."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        yield
    finally:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


from tests.support.dockerengine import docker_engine as docker_engine  # noqa: E402
from tests.support.dockerengine import docker_owner as docker_owner  # noqa: E402
from tests.support.dockerengine import testserver_image as testserver_image  # noqa: E402
