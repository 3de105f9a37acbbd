"""The HTTP client: retries, backoff, the deadline, and answers a real mcpd does not give.

The client's handling of what mcpd answers (403, 404, 409, 413, 422, 401) is
tested against the real mcpd in tests/integration/cli/test_client.py. The
tests here need answers mcpd cannot be made to give on demand: 429/503 (with
`Retry-After`) in sequence, a 500, a 400, a body that is not JSON, malformed
issues, a late answer, or a look at the headers the request carried. They
use `fakeapi`, a stand-in HTTP server on 127.0.0.1 playing back canned
answers (see its docstring); the backoff and `Retry-After` parsing tests,
and those of an unreachable mcpd, need no server at all.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from mcpctl.client.http import ApiClient, RetryPolicy, parse_retry_after
from mcpctl.errors import BackendUnavailable, Forbidden, InvalidInput, InvalidManifest

from .conftest import Run
from .fakeapi import Canned, FakeMcpd, problem, serve

#: Short waits; the deadline is a hang guard (the deadline's own test has a clock of its own).
FAST = RetryPolicy(attempts=5, base=0.001, cap=0.01, deadline=600.0)


@pytest.fixture
def server() -> Iterator[FakeMcpd]:
    with serve() as state:
        yield state


def client_of(state: FakeMcpd, **kwargs: object) -> ApiClient:
    settings: dict[str, object] = {"token": "good-token", "retry": FAST, **kwargs}
    return ApiClient(server=state.url, **settings)  # type: ignore[arg-type]


def busy(status: int = 503, retry_after: str | None = None) -> Canned:
    slug = "unavailable" if status == 503 else "rate-limited"
    canned = problem(status, slug, "try again later")
    if retry_after is not None:
        canned.headers["Retry-After"] = retry_after
    return canned


#: Why the retry tests use the stand-in: mcpd never answers 429, and 503 only while its
#: database or secret backend is down, never in a sequence a test could choose.


def test_503_twice_then_200_succeeds_on_the_third_attempt(server: FakeMcpd) -> None:
    """Stand-in: a chosen sequence of 503s (see above)."""
    server.script = [busy(), busy(), Canned(200, {"ok": True})]

    with client_of(server) as client:
        answer = client.request("GET", "/api/v1/servers")

    assert answer == {"ok": True}
    assert len(server.requests) == 3


def test_429_is_retried_like_503(server: FakeMcpd) -> None:
    """Stand-in: mcpd does not rate-limit."""
    server.script = [busy(429), Canned(200, {"ok": True})]

    with client_of(server) as client:
        assert client.request("POST", "/api/v1/apply", body={"items": []}) == {"ok": True}

    assert [r.body for r in server.requests] == [{"items": []}, {"items": []}]


def test_retry_after_in_seconds_sets_the_least_wait(server: FakeMcpd) -> None:
    """Stand-in: mcpd never sends Retry-After."""
    server.script = [busy(retry_after="3"), Canned(200, {})]
    waits: list[float] = []

    with client_of(server, sleep=waits.append) as client:
        client.request("GET", "/api/v1/servers")

    assert len(waits) == 1
    assert waits[0] >= 3.0


def test_retry_after_as_an_http_date_is_read() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)

    assert parse_retry_after("Thu, 01 Jan 2026 12:00:07 GMT", now=now) == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    policy = RetryPolicy(base=0.5, cap=4.0)
    rng = random.Random(7)

    for retry, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 4.0, 4.0]):
        waits = [policy.backoff(retry, None, rng) for _ in range(200)]
        assert all(0.0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8  # spread over the whole range, not a fixed step
        assert min(waits) < ceiling * 0.2


def test_a_server_that_stays_busy_is_given_up_after_the_attempts(server: FakeMcpd) -> None:
    """Stand-in: a 503 for as long as the test wants."""
    server.script = [busy() for _ in range(10)]

    with client_of(server) as client, pytest.raises(BackendUnavailable) as caught:
        client.request("GET", "/api/v1/servers")

    assert len(server.requests) == 5
    assert str(caught.value) == "mcpd is busy (HTTP 503) after 5 attempts: try again later"


def test_a_wait_past_the_deadline_is_not_taken(server: FakeMcpd) -> None:
    """Stand-in: a Retry-After longer than the deadline."""
    server.script = [busy(retry_after="120"), Canned(200, {})]
    waits: list[float] = []
    policy = RetryPolicy(attempts=5, base=0.001, cap=0.01, deadline=30.0)

    with (
        client_of(server, retry=policy, sleep=waits.append, clock=lambda: 0.0) as client,
        pytest.raises(BackendUnavailable),
    ):
        client.request("GET", "/api/v1/servers")

    assert waits == []
    assert len(server.requests) == 1


class Highest(random.Random):
    """Jitter that always draws the longest wait."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_the_total_time_stays_within_the_deadline(server: FakeMcpd) -> None:
    """Stand-in: busy until the deadline; the clock and sleep are the test's."""
    server.script = [busy() for _ in range(10)]
    policy = RetryPolicy(attempts=10, base=0.1, cap=0.1, deadline=0.25)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with (
        client_of(server, retry=policy, rng=Highest(), sleep=sleep, clock=lambda: now[0]) as client,
        pytest.raises(BackendUnavailable),
    ):
        client.request("GET", "/api/v1/servers")

    assert now[0] == pytest.approx(0.2)  # two waits of 0.1 s; a third would end past 0.25 s
    assert len(server.requests) == 3


def test_other_failures_are_not_retried(server: FakeMcpd) -> None:
    """Stand-in: mcpd answers 500 only on a bug, which a test cannot ask for."""
    server.script = [problem(500, "internal", "boom"), Canned(200, {})]

    with client_of(server) as client, pytest.raises(BackendUnavailable) as caught:
        client.request("GET", "/api/v1/servers")

    assert len(server.requests) == 1
    assert str(caught.value) == "mcpd failed (HTTP 500): boom"


def test_the_bearer_token_and_user_agent_are_sent(server: FakeMcpd) -> None:
    """Stand-in: mcpd keeps no record of the headers (the token is tested for real)."""
    server.script = [Canned(200, {})]

    with client_of(server) as client:
        client.request("GET", "/api/v1/servers")

    headers = server.requests[0].headers
    assert headers["authorization"] == "Bearer good-token"
    assert headers["user-agent"].startswith("mcpctl/")


def test_a_400_is_invalid_input_naming_the_status(server: FakeMcpd) -> None:
    """mcpd answers 422 for bad input today; docs/api.md keeps 400 for it (stand-in)."""
    server.script = [problem(400, "bad-request", "limit must be a number")]

    with client_of(server) as client, pytest.raises(InvalidInput) as caught:
        client.request("GET", "/api/v1/servers")

    assert str(caught.value) == "limit must be a number (HTTP 400)"


def test_a_403_detail_saying_forbidden_already_is_not_prefixed_again(server: FakeMcpd) -> None:
    """mcpd's 403 details say what is needed (tested for real); this one is worded otherwise."""
    server.script = [problem(403, "forbidden", "forbidden: needs view on events")]

    with client_of(server) as client, pytest.raises(Forbidden) as caught:
        client.request("GET", "/api/v1/events")

    assert str(caught.value) == "forbidden: needs view on events"


def test_a_422_with_issues_carries_every_issue_and_drops_malformed_fields(
    server: FakeMcpd,
) -> None:
    """mcpd's issues are well-formed (tested for real); these are not, on purpose (stand-in)."""
    issues = [
        {"message": "unknown Secret 'gh'", "code": "reference", "kind": "Server", "name": "a"},
        {"message": "bad", "code": "schema", "field": "spec.replicas", "line": "x"},
    ]
    server.script = [problem(422, "invalid", "2 issues", issues=issues)]

    with client_of(server) as client, pytest.raises(InvalidManifest) as caught:
        client.request("POST", "/api/v1/apply", body={"items": []})

    first, second = caught.value.issues
    assert (first.kind, first.name, first.code) == ("Server", "a", "reference")
    assert (second.field, second.line) == ("spec.replicas", None)


def test_an_answer_that_is_not_json_is_reported(server: FakeMcpd) -> None:
    """Stand-in: what a proxy, or another service on mcpd's port, might answer."""
    server.script = [Canned(200, "<html>hello</html>", {"Content-Type": "text/html"})]

    with client_of(server) as client, pytest.raises(BackendUnavailable) as caught:
        client.request("GET", "/api/v1/servers")

    assert "not JSON" in str(caught.value)


def test_a_slow_answer_times_out_in_one_line(server: FakeMcpd) -> None:
    """Stand-in: mcpd cannot be made to answer late on demand."""
    server.script = [Canned(200, {}, delay=1.0)]

    with client_of(server, timeout=0.2) as client, pytest.raises(BackendUnavailable) as caught:
        client.request("GET", "/api/v1/servers")

    assert str(caught.value) == (
        f"mcpd at {server.url} did not answer GET /api/v1/servers within 0.2 s"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_connection_refused_asks_whether_mcpd_runs() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with ApiClient(server=url) as client, pytest.raises(BackendUnavailable) as caught:
        client.request("GET", "/api/v1/servers")

    assert str(caught.value) == f"cannot reach mcpd at {url}: is it running?"


def test_the_cli_reports_an_unreachable_mcpd_in_one_line_and_exits_2(run: Run) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = run("--server", url, "get", "servers")

    assert result.exit_code == 2
    assert result.stderr == f"error: cannot reach mcpd at {url}: is it running?\n"
    assert result.stdout == ""
