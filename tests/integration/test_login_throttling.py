"""Login throttling over the real API: failures back off per user name and per address.

One mcpd per database for the module, started with a schedule whose blocks
last an hour (`SCHEDULE`), so that a blocked key is still blocked when the next
request comes however slow the machine is; the back-off's timing itself (the
doubling, the cap, expiry, forgetting) is tested on an injected clock in
`tests/unit/identity/test_throttling.py`.

Each test tries its own user names from client addresses of its own: the test
client sits on loopback, and uvicorn (which serves mcpd) trusts a loopback
peer's `X-Forwarded-For`, as it would a reverse proxy on the same host; so
`X-Forwarded-For` here is the client address mcpd throttles.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.api.harness import PASSWORD, Api, assert_problem
from tests.support.manifests import JSON
from tests.support.mcpd import running_mcpd
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.integration

#: Per user name: 3 free failures; per address: 6; then blocked for an hour.
USER_FREE, ADDRESS_FREE = 3, 6
SCHEDULE = [
    "--login-throttle-user",
    f"{USER_FREE},3600,3600",
    "--login-throttle-address",
    f"{ADDRESS_FREE},3600,3600",
]
WRONG = "not-the-password"

_addresses = (f"203.0.113.{n}" for n in itertools.count(1))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """An mcpd throttling logins on `SCHEDULE`, on SQLite and on PostgreSQL."""
    database: str = request.param
    base = tmp_path_factory.mktemp(f"throttle-{database}")
    if database == "sqlite":
        url = f"sqlite:///{base / 'mcpd.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database()
    with running_mcpd(base / "state", url, args=SCHEDULE) as mcpd, Api(mcpd, database) as api:
        yield api


def address() -> str:
    """A client address no other test uses."""
    return next(_addresses)


def log_in(api: Api, who: str, password: str, client: str) -> httpx.Response:
    """A login by `who` from the client address `client`."""
    return api.client("").post(
        "/api/v1/auth/login",
        json={"username": who, "password": password},
        headers={"X-Forwarded-For": client},
    )


def fail(api: Api, who: str, client: str, times: int = 1) -> None:
    for _ in range(times):
        assert_problem(log_in(api, who, WRONG, client), 401, "unauthenticated")


def assert_throttled(response: httpx.Response, limit: str) -> int:
    """`response` is a 429 naming `limit`; the seconds its `Retry-After` says."""
    body = assert_problem(response, 429, "rate-limited")
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= 3600
    assert (body["limit"], body["retryAfter"]) == (limit, retry_after)
    assert str(retry_after) in body["detail"]
    assert "token" not in body
    return retry_after


def logins_audited(api: Api, who: str) -> list[JSON]:
    """The audit entries of logins as `who`, oldest first."""
    response = api.admin.get("/api/v1/auditevents", params={"user": who, "limit": "5000"})
    assert response.status_code == 200, response.text
    entries: list[JSON] = [i["spec"] for i in response.json()["items"]]
    return [e for e in reversed(entries) if e["verb"] == "login"]


def assert_refusal_audited(entry: JSON, limit: str, client: str) -> None:
    assert (entry["verb"], entry["outcome"], entry["kind"]) == ("login", "throttled", "User")
    details = entry["details"]
    assert (details["limit"], details["address"]) == (limit, client)
    assert 0 < details["retryAfter"] <= 3600


def test_failures_past_the_free_ones_are_refused_with_429_and_retry_after(api: Api) -> None:
    who, _ = api.login_user([])
    client = address()
    fail(api, who, client, times=USER_FREE)

    assert_throttled(log_in(api, who, WRONG, client), "user")


def test_a_blocked_name_refuses_even_the_right_password_without_checking_it(api: Api) -> None:
    who, _ = api.login_user([])
    client = address()
    fail(api, who, client, times=USER_FREE)

    for _ in range(3):
        assert_throttled(log_in(api, who, PASSWORD, client), "user")
    assert_throttled(log_in(api, who, PASSWORD, address()), "user")  # from anywhere

    # the password was checked only for the attempts let through: one entry each; the
    # refusals, cheap and unchecked, are audited once for the period they were refused in
    entries = logins_audited(api, who)
    assert [e["outcome"] for e in entries] == ["success", "denied", "denied", "denied", "throttled"]
    assert entries[1]["details"] == {"address": client}
    assert_refusal_audited(entries[-1], "user", client)
    assert entries[-1]["name"] == who
    assert PASSWORD not in str(entries)


def test_a_success_resets_the_names_failures(api: Api) -> None:
    who, _ = api.login_user([])
    client = address()
    fail(api, who, client, times=USER_FREE - 1)
    assert log_in(api, who, PASSWORD, client).status_code == 200

    fail(api, who, client, times=USER_FREE - 1)

    # without the reset, the last failure above would have blocked the name
    assert log_in(api, who, PASSWORD, client).status_code == 200


def test_one_names_block_leaves_other_names_alone(api: Api) -> None:
    blocked, _ = api.login_user([])
    other, _ = api.login_user([])
    client = address()
    fail(api, blocked, client, times=USER_FREE)
    assert_throttled(log_in(api, blocked, PASSWORD, client), "user")

    answer = log_in(api, other, PASSWORD, client)

    assert answer.status_code == 200, answer.text
    assert answer.json()["user"] == other


def test_failures_against_many_names_block_the_client_address(api: Api) -> None:
    who, _ = api.login_user([])
    sprayer, elsewhere = address(), address()
    for _ in range(ADDRESS_FREE):
        fail(api, api.name("ghost"), sprayer)

    assert_throttled(log_in(api, who, PASSWORD, sprayer), "address")
    assert_throttled(log_in(api, api.name("ghost"), WRONG, sprayer), "address")
    assert log_in(api, who, PASSWORD, elsewhere).status_code == 200
    [refused] = [e for e in logins_audited(api, who) if e["outcome"] == "throttled"]
    assert_refusal_audited(refused, "address", sprayer)


def test_logging_in_as_oneself_does_not_clear_failures_against_other_names(api: Api) -> None:
    insider, _ = api.login_user([])
    client = address()
    fail(api, insider, client, times=2)  # typos, taken back by the success below
    for _ in range(ADDRESS_FREE - 3):
        fail(api, api.name("ghost"), client)
    assert log_in(api, insider, PASSWORD, client).status_code == 200

    # the address holds the failures against the other names only: 3 more are free
    for _ in range(3):
        fail(api, api.name("ghost"), client)

    assert_throttled(log_in(api, insider, PASSWORD, client), "address")


def test_guesses_of_the_current_password_through_a_session_are_throttled_too(api: Api) -> None:
    """A stolen session cannot guess the password at `mcpctl passwd`'s route faster than
    at the login: the failures count against the same name."""
    who, token = api.login_user([])
    session = api.client(token)
    url = f"/api/v1/users/{who}/password"
    for _ in range(USER_FREE):
        guess = session.put(url, json={"password": "a-new-password", "currentPassword": WRONG})
        assert_problem(guess, 403, "forbidden")
    blocked = session.put(url, json={"password": "a-new-password", "currentPassword": PASSWORD})
    assert_throttled(blocked, "user")
    assert_throttled(log_in(api, who, PASSWORD, address()), "user")
