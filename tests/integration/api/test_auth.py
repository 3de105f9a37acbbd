"""Login sessions, `/auth/me`, passwords, and the 401/403 answers."""

from __future__ import annotations

import pytest

from tests.integration.api.harness import PASSWORD, Api, assert_problem, path, server, user
from tests.support.manifests import binding, manifest

pytestmark = pytest.mark.integration

#: One request per kind of route, each needing a caller.
GUARDED = [
    ("GET", "/api/v1/servers"),
    ("GET", "/api/v1/servers/anything"),
    ("POST", "/api/v1/servers"),
    ("PUT", "/api/v1/servers/anything"),
    ("DELETE", "/api/v1/servers/anything"),
    ("GET", "/api/v1/servers/anything/references"),
    ("GET", "/api/v1/projects/p/prompts"),
    ("POST", "/api/v1/apply"),
    ("GET", "/api/v1/auth/me"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/auditevents"),
    ("GET", "/api/v1/events"),
    ("POST", "/api/v1/mcptokens"),
    ("POST", "/api/v1/mcptokens/anything/revoke"),
    ("POST", "/api/v1/serviceaccounts/anything/tokens"),
    ("PUT", "/api/v1/users/admin/password"),
]


def test_a_user_logs_in_with_the_password_an_admin_set(api: Api) -> None:
    name = api.name("user")
    api.create(user(name))
    api.create(
        {
            "apiVersion": "mcpctl/v1",
            "kind": "Rbac",
            "metadata": {"name": name},
            "spec": {
                "subjects": [{"kind": "User", "name": name}],
                "bindings": [binding("view", "servers")],
            },
        }
    )
    set_password = api.admin.put(f"/api/v1/users/{name}/password", json={"password": PASSWORD})
    assert set_password.status_code == 204, set_password.text

    response = api.admin.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    login = response.json()
    assert login["token"].startswith("mcpctl_sess_")
    assert login["user"] == name
    assert login["expiresAt"].endswith("Z")

    me = api.client(login["token"]).get("/api/v1/auth/me")
    assert me.status_code == 200, me.text
    body = me.json()
    assert (body["user"], body["kind"]) == (name, "User")
    assert body["permissions"] == [{"role": "view", "resource": "servers"}]
    assert body["token"].startswith("session (mcpctl_sess_")
    assert login["token"] not in me.text


def test_a_wrong_password_or_unknown_user_is_unauthenticated(api: Api) -> None:
    name, _ = api.user_client([])
    for username, password in ((name, PASSWORD + "x"), (api.name("ghost"), PASSWORD)):
        response = api.client("").post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert_problem(response, 401, "unauthenticated")
        assert "token" not in response.json()


def test_a_user_without_a_password_cannot_log_in(api: Api) -> None:
    name = api.name("user")
    api.create(user(name))
    response = api.client("").post(
        "/api/v1/auth/login", json={"username": name, "password": PASSWORD}
    )
    assert_problem(response, 401, "unauthenticated")


@pytest.mark.parametrize(
    "body", [{}, {"username": "a"}, {"username": 1, "password": "x" * 10}, ["a", "b"]]
)
def test_a_malformed_login_is_refused(api: Api, body: object) -> None:
    response = api.client("").post("/api/v1/auth/login", json=body)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_logout_revokes_the_session(api: Api) -> None:
    _, token = api.login_user([binding("view", "servers")])
    client = api.client(token)
    assert client.get("/api/v1/auth/me").status_code == 200
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert_problem(client.get("/api/v1/auth/me"), 401, "unauthenticated")
    assert_problem(client.get(path("servers")), 401, "unauthenticated")
    assert_problem(client.post("/api/v1/auth/logout"), 401, "unauthenticated")


def test_logging_out_ends_only_that_session(api: Api) -> None:
    name, first = api.login_user([binding("view", "servers")])
    second = api.login(name)
    assert api.client(first).post("/api/v1/auth/logout").status_code == 204
    assert api.client(second).get("/api/v1/auth/me").json()["user"] == name


@pytest.mark.parametrize(("method", "url"), GUARDED)
def test_every_route_needs_credentials(api: Api, method: str, url: str) -> None:
    for client in (api.client(""), api.client("mcpctl_sess_not-a-session")):
        response = client.request(method, url, json={})
        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer mcpctl_sess_not-a-session",
        "Bearer mcpctl_pat_not-a-token",
        "Bearer mcpctl_sat_not-a-token",
        "Bearer garbage",
        "Basic YWRtaW46YWRtaW4=",
        "Token abc",
        "bearer",
    ],
)
def test_bad_credentials_are_unauthenticated(api: Api, header: str) -> None:
    client = api.client("")
    for method, url in (("GET", "/api/v1/servers"), ("POST", "/api/v1/apply")):
        response = client.request(method, url, headers={"Authorization": header}, json={})
        assert_problem(response, 401, "unauthenticated")


def test_a_session_token_of_the_right_shape_but_one_character_off_is_refused(api: Api) -> None:
    _, client = api.user_client([binding("view", "servers")])
    token = client.headers["authorization"].removeprefix("Bearer ")
    last = token[-1]
    forged = token[:-1] + ("A" if last != "A" else "B")
    assert_problem(api.client(forged).get("/api/v1/auth/me"), 401, "unauthenticated")
    assert api.client(token).get("/api/v1/auth/me").status_code == 200


def test_forbidden_names_the_missing_permission(api: Api) -> None:
    name = api.name("srv")
    api.create(server(name))
    _, viewer = api.user_client([binding("view", "servers")])
    assert viewer.get(path("servers", name)).status_code == 200

    cases = [
        (viewer.put(path("servers", name), json=server(name, image="x")), "edit on servers"),
        (viewer.delete(path("servers", name)), "delete on servers"),
        (viewer.post(path("servers"), json=server(api.name("srv"))), "create on servers"),
        (viewer.get(path("secrets")), "view on secrets"),
        (viewer.get("/api/v1/auditevents"), "view on auditevents"),
    ]
    for response, missing in cases:
        problem = assert_problem(response, 403, "forbidden")
        assert missing in problem["detail"], problem
    assert api.get("servers", name)["spec"]["image"] == "mcp-server-time"


def test_a_user_sets_their_own_password_but_not_anothers(api: Api) -> None:
    name, token = api.login_user([])
    other, _ = api.login_user([])
    client = api.client(token)
    elsewhere = api.login(name)  # a second session of the same user

    denied = client.put(f"/api/v1/users/{other}/password", json={"password": "x" * 12})
    assert "run set-passwords" in assert_problem(denied, 403, "forbidden")["detail"]
    api.login(other)  # unchanged

    bare = client.put(f"/api/v1/users/{name}/password", json={"password": "a-new-password"})
    assert "currentPassword" in assert_problem(bare, 422, "invalid")["detail"]
    wrong = client.put(
        f"/api/v1/users/{name}/password",
        json={"password": "a-new-password", "currentPassword": "not-it-at-all"},
    )
    assert_problem(wrong, 403, "forbidden")
    api.login(name)  # neither changed it

    changed = client.put(
        f"/api/v1/users/{name}/password",
        json={"password": "a-new-password", "currentPassword": PASSWORD},
    )
    assert changed.status_code == 204, changed.text
    api.login(name, "a-new-password")
    old = api.admin.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert_problem(old, 401, "unauthenticated")
    # the change ends the user's other sessions, not the one that made it
    assert api.client(elsewhere).get("/api/v1/auth/me").status_code == 401
    assert client.get("/api/v1/auth/me").status_code == 200


def test_set_passwords_reaches_only_users_holding_no_more_than_the_caller(api: Api) -> None:
    target, target_token = api.login_user([binding("view", "servers")])
    stronger, _ = api.login_user([binding("view", "servers"), binding("view", "secrets")])
    _, setter = api.user_client(
        [{"role": "run", "action": "set-passwords"}, binding("view", "servers")]
    )
    response = setter.put(f"/api/v1/users/{target}/password", json={"password": "set-by-setter"})
    assert response.status_code == 204, response.text
    api.login(target, "set-by-setter")
    # the target's sessions end: whoever held them is out
    assert api.client(target_token).get("/api/v1/auth/me").status_code == 401

    for victim, missing in ((stronger, "view secrets"), ("admin", "view *")):
        refused = setter.put(f"/api/v1/users/{victim}/password", json={"password": "taken-over!"})
        detail = assert_problem(refused, 403, "forbidden")["detail"]
        assert missing in detail, detail
        assert repr(victim) in detail, detail
    api.login(stronger)  # unchanged
    # edit on users is not enough any more: a password is not a field of the User
    _, editor = api.user_client([binding("edit", "users", target)])
    refused = editor.put(f"/api/v1/users/{target}/password", json={"password": "set-by-editor"})
    assert "run set-passwords" in assert_problem(refused, 403, "forbidden")["detail"]


def test_tokens_set_no_passwords(api: Api) -> None:
    target, _ = api.login_user([])
    created = api.admin.post(
        "/api/v1/mcptokens",
        json=manifest("McpToken", api.name("tok"), {"rbacMode": "clone"}),
    )
    assert created.status_code == 201, created.text
    token = api.client(created.json()["token"])
    refused = token.put(f"/api/v1/users/{target}/password", json={"password": "by-a-token!"})
    assert "not with tokens" in assert_problem(refused, 403, "forbidden")["detail"]
    api.login(target)


def test_bad_passwords_and_unknown_users_are_refused(api: Api) -> None:
    name, _ = api.user_client([])
    short = api.admin.put(f"/api/v1/users/{name}/password", json={"password": "short"})
    assert_problem(short, 422, "invalid")
    typed = api.admin.put(f"/api/v1/users/{name}/password", json={"password": 12345678})
    assert_problem(typed, 422, "invalid")
    ghost = api.admin.put(
        f"/api/v1/users/{api.name('ghost')}/password", json={"password": "long-enough"}
    )
    assert_problem(ghost, 404, "not-found")
    api.login(name)  # the password did not change
    huge = api.admin.put(f"/api/v1/users/{name}/password", json={"password": "x" * 1025})
    assert "1024 bytes" in assert_problem(huge, 422, "invalid")["detail"]
    long_login = api.admin.post(
        "/api/v1/auth/login", json={"username": name, "password": "x" * 5000}
    )
    assert_problem(long_login, 422, "invalid")
