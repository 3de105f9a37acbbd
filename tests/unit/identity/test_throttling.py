"""The login throttle on an injected clock: schedules, resets, concurrency, memory (no sleeps)."""

from __future__ import annotations

import pytest

from mcpctl.identity.throttling import (
    BUSY_WAIT,
    MIN_QUIET,
    LoginThrottle,
    Throttled,
    ThrottleSchedule,
    ThrottleSettings,
    address_key,
    name_key,
)

#: Small schedules for reading the tests: 3 free failures per name, 6 per address.
USER = ThrottleSchedule(free=3, first=1.0, cap=8.0)
ADDRESS = ThrottleSchedule(free=6, first=10.0, cap=100.0)
HERE, THERE = "192.0.2.1", "198.51.100.7"


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_throttle(
    clock: Clock,
    *,
    user: ThrottleSchedule = USER,
    address: ThrottleSchedule = ADDRESS,
    max_keys: int = 1000,
) -> LoginThrottle:
    return LoginThrottle(ThrottleSettings(user, address, max_keys), clock=clock)


def fail(throttle: LoginThrottle, name: str, address: str | None = HERE, times: int = 1) -> None:
    for _ in range(times):
        with throttle.admit(name, address) as attempt:
            attempt.failed()


def fail_waiting(clock: Clock, throttle: LoginThrottle, name: str, times: int) -> None:
    """`times` failures of `name` from HERE, each after waiting out the block before it."""
    for _ in range(times):
        try:
            attempt = throttle.admit(name, HERE)
        except Throttled as e:
            clock.advance(e.retry_after)
            attempt = throttle.admit(name, HERE)
        with attempt:
            attempt.failed()


def succeed(throttle: LoginThrottle, name: str, address: str | None = HERE) -> None:
    with throttle.admit(name, address) as attempt:
        attempt.succeeded()


def refusal(throttle: LoginThrottle, name: str, address: str | None = HERE) -> Throttled:
    with pytest.raises(Throttled) as refused:
        throttle.admit(name, address)
    return refused.value


def test_the_free_failures_cost_nothing_then_the_name_waits_the_first_delay(
    clock: Clock,
) -> None:
    throttle = make_throttle(clock)
    fail(throttle, "alice", times=2)
    third = throttle.admit("alice", HERE)  # still free
    third.failed()
    third.release()

    refused = refusal(throttle, "alice")

    assert (refused.limit, refused.retry_after) == ("user", 1)


def test_the_delay_doubles_per_failure_up_to_the_cap(clock: Clock) -> None:
    throttle = make_throttle(clock, address=ThrottleSchedule(0, 0, 0))
    fail(throttle, "alice", times=USER.free)
    waits = []
    for _ in range(6):
        waits.append(refusal(throttle, "alice").retry_after)
        clock.advance(waits[-1])
        fail(throttle, "alice")

    assert waits == [1, 2, 4, 8, 8, 8]


def test_a_blocked_name_refuses_until_its_delay_has_passed_even_the_right_password(
    clock: Clock,
) -> None:
    throttle = make_throttle(clock)
    fail_waiting(clock, throttle, "alice", USER.free + 1)  # blocked for 2 s
    clock.advance(1.5)
    assert refusal(throttle, "alice").retry_after == 1  # 0.5 s, rounded up

    clock.advance(0.5)
    succeed(throttle, "alice")

    assert throttle.tracked == 0  # the name's failures, and its own at the address, are gone
    fail(throttle, "alice", THERE, times=USER.free)
    assert refusal(throttle, "alice", THERE).limit == "user"


def test_refused_attempts_do_not_count_as_failures(clock: Clock) -> None:
    throttle = make_throttle(clock)
    fail(throttle, "alice", times=USER.free)
    for _ in range(50):
        assert refusal(throttle, "alice").retry_after == 1

    clock.advance(1.0)

    succeed(throttle, "alice")


def test_a_success_resets_the_names_failures(clock: Clock) -> None:
    throttle = make_throttle(clock)
    fail(throttle, "alice", times=USER.free - 1)
    succeed(throttle, "alice")

    fail(throttle, "alice", times=USER.free - 1)

    succeed(throttle, "alice")  # without the reset, the name would be blocked by now


def test_a_success_takes_back_its_own_names_failures_at_the_address_only(clock: Clock) -> None:
    throttle = make_throttle(clock)
    fail(throttle, "mallory", times=2)
    for n in range(ADDRESS.free - 3):
        fail(throttle, f"victim-{n}")
    succeed(throttle, "mallory")  # takes back mallory's 2 failures only

    fail(throttle, "one-more", times=2)  # the victims' 3 and these 2: 5 at the address

    fail(throttle, "another")
    refused = refusal(throttle, "mallory")
    assert (refused.limit, refused.retry_after) == ("address", 10)


def test_one_names_block_leaves_other_names_and_addresses_alone(clock: Clock) -> None:
    throttle = make_throttle(clock)
    fail(throttle, "alice", times=USER.free)
    assert refusal(throttle, "alice").limit == "user"
    assert refusal(throttle, "alice", THERE).limit == "user"

    succeed(throttle, "bob")
    succeed(throttle, "bob", THERE)


def test_failures_against_many_names_block_the_address(clock: Clock) -> None:
    throttle = make_throttle(clock)
    for n in range(ADDRESS.free):
        fail(throttle, f"guess-{n}")

    refused = refusal(throttle, "bob")

    assert (refused.limit, refused.retry_after) == ("address", 10)
    succeed(throttle, "bob", THERE)
    succeed(throttle, "bob", None)  # no address known: the name alone counts


def test_the_longer_of_two_refusals_is_the_one_named(clock: Clock) -> None:
    throttle = make_throttle(clock)
    for n in range(ADDRESS.free - USER.free):
        fail(throttle, f"guess-{n}")
    fail(throttle, "alice", times=USER.free)

    refused = refusal(throttle, "alice")

    assert (refused.limit, refused.retry_after) == ("address", 10)


def test_past_the_free_failures_one_attempt_at_a_time_goes_through(clock: Clock) -> None:
    throttle = make_throttle(clock)
    fail(throttle, "alice", times=USER.free)
    clock.advance(1.0)
    first = throttle.admit("alice", HERE)

    refused = refusal(throttle, "alice")  # while the first is being checked

    assert (refused.limit, refused.retry_after) == ("user", BUSY_WAIT)
    first.failed()
    first.release()
    assert refusal(throttle, "alice").retry_after == 2


def test_concurrent_attempts_count_against_the_free_failures(clock: Clock) -> None:
    throttle = make_throttle(clock)
    attempts = [throttle.admit("alice", HERE) for _ in range(USER.free)]

    assert refusal(throttle, "alice").retry_after == BUSY_WAIT
    for attempt in attempts:
        attempt.succeeded()
        attempt.release()
    assert throttle.tracked == 0


def test_an_attempt_never_settled_counts_for_nothing(clock: Clock) -> None:
    throttle = make_throttle(clock)
    for _ in range(10):
        with throttle.admit("alice", HERE):
            pass  # the database failed before the password was checked

    assert throttle.tracked == 0


def test_settling_or_releasing_twice_counts_once(clock: Clock) -> None:
    throttle = make_throttle(clock)
    attempt = throttle.admit("alice", HERE)
    attempt.failed()
    attempt.failed()
    attempt.succeeded()
    attempt.release()
    attempt.release()

    fail(throttle, "alice", times=USER.free - 1)

    assert refusal(throttle, "alice").retry_after == 1


def test_a_quiet_key_is_forgotten(clock: Clock) -> None:
    throttle = make_throttle(clock)
    fail_waiting(clock, throttle, "alice", USER.free + 2)
    clock.advance(USER.forget_after)

    fail(throttle, "alice", THERE, times=USER.free)  # free again

    assert refusal(throttle, "alice", THERE).retry_after == 1  # not the cap: a new count


def test_a_key_is_never_forgotten_while_blocked() -> None:
    for schedule in (USER, ADDRESS, ThrottleSettings().user, ThrottleSettings().address):
        assert schedule.forget_after >= max(schedule.cap, MIN_QUIET)


def test_the_tracked_keys_are_bounded_the_least_recently_used_evicted_first(
    clock: Clock,
) -> None:
    throttle = make_throttle(clock, max_keys=10)
    fail(throttle, "alice", None, times=USER.free)
    for n in range(20):
        fail(throttle, f"guess-{n}", None)
        assert refusal(throttle, "alice", None).limit == "user"  # used, so kept

    assert throttle.tracked == 10
    for n in range(11):
        fail(throttle, f"more-{n}", None)
    succeed(throttle, "alice", None)  # evicted at last


def test_a_refusal_is_reported_once_per_period(clock: Clock) -> None:
    throttle = make_throttle(clock)
    fail_waiting(clock, throttle, "alice", USER.free + 1)  # blocked for 2 s

    reports = [refusal(throttle, "alice").report for _ in range(5)]
    clock.advance(1.0)
    reports.append(refusal(throttle, "alice").report)
    clock.advance(1.0)
    fail(throttle, "alice")
    reports.append(refusal(throttle, "alice").report)

    assert reports == [True, False, False, False, False, False, True]


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    assert Throttled("user", 0.001).retry_after == 1
    assert Throttled("user", 1.0).retry_after == 1
    assert Throttled("user", 1.2).retry_after == 2
    assert "2 s" in str(Throttled("address", 1.2))


def test_a_schedule_without_a_first_delay_is_off(clock: Clock) -> None:
    throttle = make_throttle(clock, user=ThrottleSchedule(0, 0, 0))
    fail(throttle, "alice", times=USER.free + 2)

    succeed(throttle, "alice")
    for n in range(ADDRESS.free):
        fail(throttle, f"guess-{n}")
    assert refusal(throttle, "alice").limit == "address"


@pytest.mark.parametrize(("free", "first", "cap"), [(-1, 1, 2), (1, -1, 2), (1, 3, 2)])
def test_a_schedule_needs_sane_values(free: int, first: float, cap: float) -> None:
    with pytest.raises(ValueError, match="throttle"):
        ThrottleSchedule(free, first, cap)


def test_a_schedule_reads_as_its_flag() -> None:
    assert str(ThrottleSchedule(5, 1.0, 60.0)) == "5,1,60"
    assert str(ThrottleSchedule(5, 0.5, 900.0)) == "5,0.5,900"


def test_ipv6_addresses_count_by_their_64_and_mapped_ipv4_as_ipv4() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("192.0.2.1") == "192.0.2.1"
    assert address_key("testclient") == "testclient"


def test_names_no_user_can_have_are_kept_as_their_hash() -> None:
    assert name_key("alice") == "alice"
    long = "x" * 10_000
    assert name_key(long).startswith("sha256:")
    assert len(name_key(long)) < 100
    assert name_key(long) != name_key(long + "y")
    assert name_key("\ud800" * 100).startswith("sha256:")  # a lone surrogate from JSON
