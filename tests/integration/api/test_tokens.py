"""McpTokens and ServiceAccount tokens: shown once, hashed at rest, capped, expiring, revocable."""

from __future__ import annotations

import hashlib
import inspect
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from mcpctl.identity import service as identity
from tests.integration.api.harness import (
    Api,
    assert_problem,
    path,
    project,
    rbac,
    run,
    secret,
    server,
)
from tests.support.manifests import JSON, binding, manifest
from tests.support.mcpd import WAIT_TIMEOUT

pytestmark = pytest.mark.integration


def _token(name: str, **spec: object) -> JSON:
    return manifest("McpToken", name, dict(spec))


def _create(client: httpx.Client, body: JSON, bindings: list[JSON] | None = None) -> JSON:
    payload = {**body, **({"bindings": bindings} if bindings is not None else {})}
    response = client.post(path("mcptokens"), json=payload)
    assert response.status_code == 201, response.text
    created: JSON = response.json()
    return created


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_the_raw_token_is_shown_once_and_only_its_hash_is_stored(api: Api) -> None:
    name = api.name("tok")
    created = _create(api.admin, _token(name, description="ci"))
    raw = created["token"]
    assert raw.startswith("mcpctl_pat_")
    digest = hashlib.sha256(raw.encode()).hexdigest()
    assert created["object"]["spec"]["tokenHash"] == f"sha256:{digest}"
    assert raw not in str(created["object"])

    for response in (
        api.admin.get(path("mcptokens", name)),
        api.admin.get(path("mcptokens")),
        api.admin.get("/api/v1/auditevents", params={"limit": "5000"}),
        api.admin.get(path("mcptokens", name), params={"showSecrets": "true"}),
    ):
        assert response.status_code == 200, response.text
        assert raw not in response.text
    assert api.get("mcptokens", name)["spec"]["tokenHash"] == f"sha256:{digest}"


def test_a_chosen_token_hash_is_replaced_by_the_real_one(api: Api) -> None:
    name = api.name("tok")
    chosen = "sha256:" + "0" * 64
    created = _create(api.admin, _token(name, tokenHash=chosen))
    assert created["object"]["spec"]["tokenHash"] != chosen
    digest = hashlib.sha256(created["token"].encode()).hexdigest()
    assert created["object"]["spec"]["tokenHash"] == f"sha256:{digest}"


def test_a_token_authenticates_with_its_bindings_capped_by_its_creator(api: Api) -> None:
    who, creator = api.user_client(
        [
            binding("view", "servers"),
            binding("edit", "servers"),
            binding("create", "mcptokens"),
        ]
    )
    name = api.name("srv")
    api.create(server(name))
    created = _create(creator, _token(api.name("tok")), [binding("view", "servers")])
    token = api.client(created["token"])

    me = token.get("/api/v1/auth/me").json()
    assert (me["kind"], me["user"]) == ("McpToken", who)
    assert me["permissions"] == [{"role": "view", "resource": "servers"}]
    assert token.get(path("servers", name)).status_code == 200
    denied = token.put(path("servers", name), json=server(name, image="x"))
    assert "edit on servers" in assert_problem(denied, 403, "forbidden")["detail"]

    # the creator loses the binding: the token loses it at once
    api.admin.put(
        path("rbacs", who),
        json=rbac(who, [("User", who)], [binding("create", "mcptokens")]),
    )
    assert_problem(token.get(path("servers", name)), 403, "forbidden")


def test_a_token_cannot_be_given_more_than_its_creator_holds(api: Api) -> None:
    _, creator = api.user_client([binding("view", "servers"), binding("create", "mcptokens")])
    name = api.name("tok")
    for wanted, named in (
        ([binding("delete", "servers")], "delete servers"),
        ([binding("view", "*")], "view *"),
        ([run("reveal-secrets")], "run reveal-secrets"),
    ):
        response = creator.post(path("mcptokens"), json={**_token(name), "bindings": wanted})
        assert named in assert_problem(response, 403, "forbidden")["detail"]
    assert not api.exists("mcptokens", name)
    assert not api.exists("rbacs", f"token-{name}")


def test_token_bindings_become_an_rbac_named_after_the_token(api: Api) -> None:
    name = api.name("tok")
    _create(api.admin, _token(name), [binding("view", "servers")])
    stored = api.get("rbacs", f"token-{name}")
    assert stored["spec"] == {
        "subjects": [{"kind": "McpToken", "name": name}],
        "bindings": [{"role": "view", "resource": "servers"}],
    }


def test_a_failed_token_creation_leaves_nothing_behind(api: Api) -> None:
    name = api.name("tok")
    api.create(rbac(f"token-{name}", [("User", "admin")], [binding("view", "llms")]))
    response = api.admin.post(
        path("mcptokens"), json={**_token(name), "bindings": [binding("view", "servers")]}
    )
    assert_problem(response, 409, "conflict")
    assert not api.exists("mcptokens", name)


def test_a_user_without_create_rbacs_may_still_bind_a_token(api: Api) -> None:
    _, creator = api.user_client([binding("view", "servers"), binding("create", "mcptokens")])
    name = api.name("tok")
    created = _create(creator, _token(name), [binding("view", "servers")])
    assert api.client(created["token"]).get(path("servers")).status_code == 200


def test_a_clone_token_keeps_the_creators_permissions_of_its_creation(api: Api) -> None:
    who, creator = api.user_client([binding("view", "servers"), binding("create", "mcptokens")])
    created = _create(creator, _token(api.name("tok"), rbacMode="clone"))
    token = api.client(created["token"])
    assert token.get(path("servers")).status_code == 200
    assert_problem(token.get(path("secrets")), 403, "forbidden")

    widened = [
        binding("view", "servers"),
        binding("view", "secrets"),
        binding("create", "mcptokens"),
    ]
    api.admin.put(path("rbacs", who), json=rbac(who, [("User", who)], widened))
    assert creator.get(path("secrets")).status_code == 200
    assert_problem(token.get(path("secrets")), 403, "forbidden")

    # never more than the creator holds now, either
    api.admin.put(path("rbacs", who), json=rbac(who, [("User", who)], [binding("view", "secrets")]))
    assert_problem(token.get(path("servers")), 403, "forbidden")


def test_a_token_expired_at_creation_is_refused(api: Api) -> None:
    name = api.name("tok")
    past = _rfc3339(datetime.now(UTC) - timedelta(minutes=1))
    refused = api.admin.post(path("mcptokens"), json=_token(name, expiresAt=past))
    assert "in the past" in assert_problem(refused, 422, "invalid")["detail"]
    assert api.admin.get(path("mcptokens", name)).status_code == 404


def test_a_token_stops_working_when_it_expires(api: Api) -> None:
    """Valid before its expiresAt, refused from then on, judged by the clock around each
    answer: a busy machine that only sees the token once it has expired tries again with
    a new one (a few times), it does not fail."""
    for _ in range(5):
        soon = datetime.now(UTC) + timedelta(seconds=5)
        body = _token(api.name("tok"), expiresAt=_rfc3339(soon))
        created = api.admin.post(path("mcptokens"), json=body)
        if created.status_code != 201:  # a past expiry is refused at creation
            assert datetime.now(UTC) >= soon, created.text
            continue
        token = api.client(created.json()["token"])
        status = token.get("/api/v1/auth/me").status_code
        if datetime.now(UTC) < soon:
            assert status == 200
            break
    else:
        pytest.fail("the machine never answered before the token expired")
    deadline = time.monotonic() + WAIT_TIMEOUT
    while status == 200:
        assert time.monotonic() < deadline, "the token did not expire"
        time.sleep(0.1)
        status = token.get("/api/v1/auth/me").status_code
    assert status == 401
    assert datetime.now(UTC) >= soon
    assert token.get("/api/v1/mcptokens/introspect").json() == {"active": False}


def test_a_revoked_token_is_refused(api: Api) -> None:
    name = api.name("tok")
    created = _create(api.admin, _token(name), [binding("view", "servers")])
    token = api.client(created["token"])
    assert token.get(path("servers")).status_code == 200

    revoked = api.admin.post(f"/api/v1/mcptokens/{name}/revoke")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["spec"]["revoked"] is True
    assert_problem(token.get(path("servers")), 401, "unauthenticated")
    assert token.get("/api/v1/mcptokens/introspect").json() == {"active": False}
    assert api.get("mcptokens", name)["spec"]["revoked"] is True

    missing = api.admin.post(f"/api/v1/mcptokens/{api.name('ghost')}/revoke")
    assert_problem(missing, 404, "not-found")


def test_revoking_needs_edit_on_the_token(api: Api) -> None:
    name = api.name("tok")
    created = _create(api.admin, _token(name))
    _, viewer = api.user_client([binding("view", "mcptokens")])
    assert_problem(viewer.post(f"/api/v1/mcptokens/{name}/revoke"), 403, "forbidden")
    assert api.client(created["token"]).get("/api/v1/auth/me").status_code == 200


def test_introspect_describes_the_bearer_token(api: Api) -> None:
    group, name = api.name("proj"), api.name("tok")
    api.create(project(group))
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    created = _create(api.admin, _token(name, project=group, expiresAt=_rfc3339(later)))
    answer = api.client(created["token"]).get("/api/v1/mcptokens/introspect")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "active": True,
        "kind": "McpToken",
        "name": name,
        "user": "admin",
        "project": group,
        "expiresAt": _rfc3339(later),
    }
    assert api.client("mcpctl_pat_nope").get("/api/v1/mcptokens/introspect").json() == {
        "active": False
    }


def test_a_token_cannot_create_tokens(api: Api) -> None:
    created = _create(api.admin, _token(api.name("tok"), rbacMode="clone"))
    name = api.name("tok")
    response = api.client(created["token"]).post(path("mcptokens"), json=_token(name))
    assert_problem(response, 403, "forbidden")
    assert not api.exists("mcptokens", name)


def test_a_token_one_character_off_is_refused(api: Api) -> None:
    raw = _create(api.admin, _token(api.name("tok"), rbacMode="clone"))["token"]
    for forged in (raw[:-1] + ("A" if raw[-1] != "A" else "B"), raw + "x", raw[:-1]):
        assert_problem(api.client(forged).get("/api/v1/auth/me"), 401, "unauthenticated")
    assert api.client(raw).get("/api/v1/auth/me").status_code == 200


def test_tokens_are_compared_in_constant_time() -> None:
    """A complement to the behaviour above: the comparison is `hmac.compare_digest`."""
    source = inspect.getsource(identity.IdentityService._authenticate)
    assert source.count("hmac.compare_digest(") >= 2  # sessions and machine tokens


def test_a_service_account_token_acts_as_the_service_account(api: Api) -> None:
    account, name = api.name("robot"), api.name("srv")
    api.create(manifest("ServiceAccount", account, {"description": "CI"}))
    api.create(rbac(account, [("ServiceAccount", account)], [binding("view", "servers")]))
    api.create(server(name))

    issued = api.admin.post(f"/api/v1/serviceaccounts/{account}/tokens")
    assert issued.status_code == 201, issued.text
    raw = issued.json()["token"]
    assert raw.startswith("mcpctl_sat_")
    client = api.client(raw)

    me = client.get("/api/v1/auth/me").json()
    assert (me["user"], me["kind"]) == (f"serviceaccount:{account}", "ServiceAccount")
    assert me["permissions"] == [{"role": "view", "resource": "servers"}]
    assert client.get(path("servers", name)).status_code == 200
    denied = client.post(path("servers"), json=server(api.name("srv")))
    assert "create on servers" in assert_problem(denied, 403, "forbidden")["detail"]

    api.admin.put(
        path("rbacs", account),
        json=rbac(account, [("ServiceAccount", account)], [binding("create", "servers")]),
    )
    written = client.post(path("servers"), json=server(api.name("srv")))
    assert written.status_code == 201, written.text
    assert written.json()["metadata"]["createdBy"] == f"serviceaccount:{account}"
    assert raw not in api.admin.get("/api/v1/auditevents", params={"limit": "5000"}).text


def test_service_account_tokens_need_the_account_and_edit_on_it(api: Api) -> None:
    account = api.name("robot")
    missing = api.admin.post(f"/api/v1/serviceaccounts/{account}/tokens")
    assert_problem(missing, 404, "not-found")
    api.create(manifest("ServiceAccount", account, {}))
    _, viewer = api.user_client([binding("view", "serviceaccounts")])
    denied = viewer.post(f"/api/v1/serviceaccounts/{account}/tokens")
    assert "edit on serviceaccounts" in assert_problem(denied, 403, "forbidden")["detail"]


def test_a_service_account_token_expires_and_dies_with_its_account(api: Api) -> None:
    account = api.name("robot")
    api.create(manifest("ServiceAccount", account, {}))
    past = _rfc3339(datetime.now(UTC) - timedelta(seconds=1))
    expired = api.admin.post(f"/api/v1/serviceaccounts/{account}/tokens", json={"expiresAt": past})
    assert "in the past" in assert_problem(expired, 422, "invalid")["detail"]

    live = api.client(api.admin.post(f"/api/v1/serviceaccounts/{account}/tokens").json()["token"])
    assert live.get("/api/v1/auth/me").status_code == 200
    assert api.admin.delete(path("serviceaccounts", account)).status_code == 204
    assert_problem(live.get("/api/v1/auth/me"), 401, "unauthenticated")


def test_a_token_limited_to_a_project_is_a_reference_to_it(api: Api) -> None:
    group, name = api.name("proj"), api.name("tok")
    missing = api.admin.post(path("mcptokens"), json=_token(name, project=group))
    assert_problem(missing, 422, "invalid")
    api.create(project(group))
    _create(api.admin, _token(name, project=group))
    problem = assert_problem(api.admin.delete(path("projects", group)), 409, "conflict")
    assert f"McpToken/{name}" in problem["detail"]


def test_a_token_reads_secrets_only_masked_unless_it_may_reveal(api: Api) -> None:
    key = api.name("key")
    api.create(secret(key, {"a": "token-visible-value"}))
    created = _create(api.admin, _token(api.name("tok")), [binding("view", "secrets")])
    token = api.client(created["token"])
    masked = token.get(path("secrets", key))
    assert masked.json()["spec"]["data"] == {"a": None}
    assert_problem(
        token.get(path("secrets", key), params={"showSecrets": "true"}), 403, "forbidden"
    )


def test_an_expiry_written_to_the_token_object_later_ends_the_token(api: Api) -> None:
    name = api.name("tok")
    created = _create(api.admin, _token(name))
    token = api.client(created["token"])
    assert token.get("/api/v1/auth/me").status_code == 200
    past = _rfc3339(datetime.now(UTC) - timedelta(minutes=1))
    edited = {**created["object"], "spec": {**created["object"]["spec"], "expiresAt": past}}
    assert api.admin.put(path("mcptokens", name), json=edited).status_code == 200
    assert_problem(token.get("/api/v1/auth/me"), 401, "unauthenticated")
    assert token.get("/api/v1/mcptokens/introspect").json() == {"active": False}


def test_revoked_written_to_the_token_object_ends_the_token(api: Api) -> None:
    name = api.name("tok")
    created = _create(api.admin, _token(name))
    token = api.client(created["token"])
    revoked = {**created["object"], "spec": {**created["object"]["spec"], "revoked": True}}
    assert api.apply([revoked])["summary"]["change"] == 1
    assert_problem(token.get("/api/v1/auth/me"), 401, "unauthenticated")
