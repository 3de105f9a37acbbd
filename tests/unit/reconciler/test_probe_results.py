"""What the runtime reconciler makes of probe results (`RuntimeReconciler.probed`), on a
clock the test moves: when failures count, and what an Unhealthy instance becomes."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest

from mcpctl.reconciler.running import RUNNING, STARTING, UNHEALTHY, RuntimeReconciler, Tracked
from mcpctl.store import Sessions


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    clock = _Clock()
    # (the time module's own: nothing else in these tests reads it)
    monkeypatch.setattr(time, "monotonic", clock)
    return clock


def _runtime(kind: str) -> tuple[RuntimeReconciler, Tracked]:
    def unused(*_: Any) -> Any:
        raise AssertionError("probed touches neither the database nor the leadership")

    runtime = RuntimeReconciler(
        cast(Sessions, unused),
        {},
        node="n",
        owner="o",
        check=unused,
        fence=unused,
        fingerprint=unused,
    )
    tracked = Tracked(
        name="i-1",
        server="s",
        revision="r",
        runtime=kind,
        generation=1,
        node="n",
        phase=STARTING,
        started=1000.0,
    )
    runtime.tracked[tracked.name] = tracked
    return runtime, tracked


def _reasons(runtime: RuntimeReconciler) -> list[str]:
    return [e.reason for e in runtime._events if e.kind == "Instance"]


def test_a_starting_instance_has_threshold_times_interval_to_answer(clock: _Clock) -> None:
    # Before: the probes of an instance not ready yet come every second (READY_POLL), and
    # each failure counted, so an HTTP server that took over `threshold` seconds to listen
    # was restarted before it could, again and again.
    runtime, tracked = _runtime("process")
    for second in range(10):  # a refused probe every second: one counted per 10 s
        clock.now = 1000.0 + second
        runtime.probed("i-1", False, "cannot connect", threshold=2, interval=10.0)
    assert (tracked.phase, tracked.failures) == (STARTING, 1)
    assert len(tracked.probes) == 5  # each is kept all the same

    clock.now = 1010.0
    runtime.probed("i-1", False, "no answer within 1 s", threshold=2, interval=10.0)
    assert (tracked.phase, tracked.ready) == (UNHEALTHY, False)
    assert _reasons(runtime) == ["Unhealthy"]
    assert runtime._restart == {"i-1"}


def test_a_success_starts_the_count_over(clock: _Clock) -> None:
    runtime, tracked = _runtime("process")
    runtime.probed("i-1", False, "no answer", threshold=2, interval=1.0)
    clock.now += 1
    runtime.probed("i-1", True, "tools/list answered", threshold=2, interval=1.0)
    assert (tracked.phase, tracked.ready, tracked.failures) == (RUNNING, True, 0)
    clock.now += 1
    runtime.probed("i-1", False, "no answer", threshold=2, interval=1.0)
    assert (tracked.phase, tracked.ready, tracked.failures) == (RUNNING, True, 1)


def test_an_unhealthy_external_instance_is_not_restarted_and_recovers(clock: _Clock) -> None:
    runtime, tracked = _runtime("external")
    for _ in range(2):
        clock.now += 1
        runtime.probed("i-1", False, "no answer within 1 s", threshold=2, interval=1.0)
    assert (tracked.phase, tracked.ready) == (UNHEALTHY, False)
    assert runtime._restart == set()
    (unhealthy,) = [e for e in runtime._events if e.kind == "Instance"]
    assert "not restarted" in unhealthy.message

    for _ in range(5):  # probed on: still Unhealthy, and said once
        clock.now += 1
        runtime.probed("i-1", False, "no answer within 1 s", threshold=2, interval=1.0)
    assert tracked.phase == UNHEALTHY
    assert _reasons(runtime) == ["Unhealthy"]

    runtime.probed("i-1", True, "hold answered", threshold=2, interval=1.0)
    assert (tracked.phase, tracked.ready, tracked.restarts) == (RUNNING, True, 0)
    assert _reasons(runtime) == ["Unhealthy", "Ready"]
