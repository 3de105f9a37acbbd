"""RBAC over the API: deny by default; each role grants exactly its verbs, on its kind.

The matrix runs as one user per database whose single binding is rewritten
before each case (an Rbac change applies to the next request), so it costs
one login per database rather than one per case.
"""

from __future__ import annotations

import itertools

import httpx
import pytest

from tests.integration.api.harness import Api, assert_problem, path, rbac, run, secret, server, user
from tests.support.manifests import JSON, binding, manifest

pytestmark = pytest.mark.integration

ROLES = ("view", "create", "edit", "delete")
#: The role each verb needs.
VERBS = {"list": "view", "get": "view", "create": "create", "replace": "edit", "delete": "delete"}
#: The kinds of the matrix: a project-scoped one, and the two with routes of their own.
KINDS = ("servers", "secrets", "projects", "users", "rbacs", "mcptokens", "prompts")
#: Where a binding must not reach: every kind a client writes.
EVERY_KIND = (
    *KINDS,
    "secretbackends",
    "llms",
    "templates",
    "groups",
    "serviceaccounts",
)
ALLOWED = {"list": 200, "get": 200, "create": 201, "replace": 200, "delete": 204}


class Matrix:
    """One user, a target object per kind, and the requests of each verb."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.user, token = api.login_user([])
        self.client = api.client(token)
        self.targets: dict[str, JSON] = {}
        self.held: tuple[str, str] | None = None
        self.bound = False
        self._labels = itertools.count()

    def hold(self, role: str, plural: str) -> None:
        """Make `role` on `plural` the user's only binding."""
        if self.held == (role, plural):
            return
        body = rbac(self.user, [("User", self.user)], [binding(role, plural)])
        if self.bound:
            response = self.api.admin.put(path("rbacs", self.user), json=body)
            assert response.status_code == 200, response.text
        else:
            self.api.create(body)
            self.bound = True
        self.held = (role, plural)

    def target(self, plural: str) -> JSON:
        if plural not in self.targets:
            self.targets[plural] = self.api.create(self.api.sample(plural, self.api.name("target")))
        return self.targets[plural]

    def attempt(self, verb: str, plural: str, *, fresh: bool = True) -> httpx.Response:
        """Do `verb` on an object of `plural` as the user (delete: a `fresh` one)."""
        scope = self.api.shared_project() if plural in ("prompts", "promptrequests") else None
        if verb == "list":
            return self.client.get(path(plural, project=scope))
        if verb == "create":
            return self.client.post(
                path(plural, project=scope),
                json=self._within_reach(plural, self.api.sample(plural, self.api.name("new"))),
            )
        if verb == "delete" and fresh:
            doomed = self.api.create(self.api.sample(plural, self.api.name("doomed")))
            return self.client.delete(path(plural, doomed["metadata"]["name"], project=scope))
        target = self.target(plural)
        url = path(plural, target["metadata"]["name"], project=scope)
        if verb == "get":
            return self.client.get(url)
        if verb == "delete":
            return self.client.delete(url)
        assert verb == "replace"
        metadata = {"name": target["metadata"]["name"], "labels": {"case": str(next(self._labels))}}
        if scope is not None:
            metadata["project"] = scope
        return self.client.put(
            url, json=self._within_reach(plural, {**target, "metadata": metadata})
        )

    def _within_reach(self, plural: str, body: JSON) -> JSON:
        """An Rbac the user writes grants only what the user holds (no escalation)."""
        if plural != "rbacs" or self.held is None:
            return body
        return {**body, "spec": {**body["spec"], "bindings": [binding(*self.held)]}}


@pytest.fixture(scope="module")
def api(fresh_api: Api) -> Api:
    """This module's own mcpd: the matrix pays for its own Rbac objects only."""
    return fresh_api


@pytest.fixture(scope="module")
def matrix(api: Api) -> Matrix:
    return Matrix(api)


@pytest.mark.parametrize("verb", VERBS)  # the first parameter varies fastest:
@pytest.mark.parametrize("plural", KINDS)  # one Rbac rewrite per (role, kind)
@pytest.mark.parametrize("role", ROLES)
def test_a_single_binding_allows_exactly_its_verbs_on_its_kind(
    matrix: Matrix, role: str, plural: str, verb: str
) -> None:
    matrix.hold(role, plural)
    response = matrix.attempt(verb, plural)
    if VERBS[verb] == role:
        assert response.status_code == ALLOWED[verb], response.text
    else:
        problem = assert_problem(response, 403, "forbidden")
        assert f"{VERBS[verb]} on {plural}" in problem["detail"]
    # and the binding reaches no other kind (a different one for each verb)
    shift = 1 + list(VERBS).index(verb)
    neighbour = EVERY_KIND[(EVERY_KIND.index(plural) + shift) % len(EVERY_KIND)]
    assert_problem(matrix.attempt(verb, neighbour, fresh=False), 403, "forbidden")


def test_without_any_binding_everything_is_forbidden(api: Api) -> None:
    name = api.name("srv")
    api.create(server(name))
    _, nobody = api.user_client([])
    requests = [
        nobody.get(path("servers")),
        nobody.get(path("servers", name)),
        nobody.post(path("servers"), json=server(api.name("srv"))),
        nobody.put(path("servers", name), json=server(name, image="x")),
        nobody.delete(path("servers", name)),
        nobody.get(f"/api/v1/servers/{name}/references"),
        nobody.post("/api/v1/apply", json={"items": [server(api.name("srv"))]}),
        nobody.get("/api/v1/auditevents"),
        nobody.get("/api/v1/events"),
    ]
    for response in requests:
        assert_problem(response, 403, "forbidden")
    me = nobody.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["permissions"] == []


@pytest.mark.parametrize("role", ROLES)
def test_a_name_scoped_binding_covers_that_object_only(api: Api, role: str) -> None:
    allowed, other = api.name("srv"), api.name("srv")
    if role != "create":
        api.create(server(allowed))
        api.create(server(other))
    _, caller = api.user_client([binding(role, "servers", allowed)])

    def attempt(name: str) -> httpx.Response:
        if role == "view":
            return caller.get(path("servers", name))
        if role == "create":
            return caller.post(path("servers"), json=server(name))
        if role == "edit":
            return caller.put(path("servers", name), json=server(name, image="edited"))
        return caller.delete(path("servers", name))

    assert (
        attempt(allowed).status_code
        == {"view": 200, "create": 201, "edit": 200, "delete": 204}[role]
    )
    problem = assert_problem(attempt(other), 403, "forbidden")
    assert f"{role} on servers/{other}" in problem["detail"]
    assert api.exists("servers", other) == (role != "create")


def test_a_name_scoped_view_lists_only_that_object(api: Api) -> None:
    suite = api.name("suite")
    allowed, other = api.name("srv"), api.name("srv")
    api.create(server(allowed, labels={"suite": suite}))
    api.create(server(other, labels={"suite": suite}))
    _, caller = api.user_client([binding("view", "servers", allowed)])
    listed = caller.get(path("servers"), params={"labelSelector": f"suite={suite}"})
    assert listed.status_code == 200, listed.text
    assert [i["metadata"]["name"] for i in listed.json()["items"]] == [allowed]
    everything = caller.get(path("servers"))
    assert [i["metadata"]["name"] for i in everything.json()["items"]] == [allowed]


def test_a_wildcard_binding_covers_every_kind_for_its_role_only(api: Api) -> None:
    name = api.name("srv")
    api.create(server(name))
    _, viewer = api.user_client([binding("view", "*")])
    for plural in ("servers", "secrets", "users", "rbacs", "mcptokens", "auditevents"):
        url = "/api/v1/auditevents" if plural == "auditevents" else path(plural)
        assert viewer.get(url).status_code == 200, plural
    assert_problem(
        viewer.put(path("servers", name), json=server(name, image="x")), 403, "forbidden"
    )
    assert_problem(
        viewer.get(path("secrets", "default"), params={"showSecrets": "true"}), 403, "forbidden"
    )


def test_group_members_get_the_groups_bindings(api: Api) -> None:
    member, token = api.login_user([])
    group = api.name("group")
    api.create(manifest("Group", group, {"members": [member]}))
    client = api.client(token)
    assert_problem(client.get(path("servers")), 403, "forbidden")
    api.create(rbac(api.name("rbac"), [("Group", group)], [binding("view", "servers")]))
    assert client.get(path("servers")).status_code == 200
    api.admin.put(path("groups", group), json=manifest("Group", group, {"members": ["admin"]}))
    assert_problem(client.get(path("servers")), 403, "forbidden")


def test_run_bindings_grant_operations_not_objects(api: Api) -> None:
    key = api.name("key")
    api.create(secret(key, {"a": "1"}))
    _, runner = api.user_client([run("*")])
    assert_problem(runner.get(path("secrets", key)), 403, "forbidden")
    _, revealer = api.user_client([run("*"), binding("view", "secrets")])
    shown = revealer.get(path("secrets", key), params={"showSecrets": "true"})
    assert shown.status_code == 200, shown.text
    assert shown.json()["spec"]["data"] == {"a": "1"}
    _, restorer = api.user_client([run("restore"), binding("view", "secrets")])
    denied = restorer.get(path("secrets", key), params={"showSecrets": "true"})
    assert "run reveal-secrets" in assert_problem(denied, 403, "forbidden")["detail"]


def test_removing_a_binding_takes_effect_at_once(api: Api) -> None:
    who, client = api.user_client([binding("view", "servers")])
    assert client.get(path("servers")).status_code == 200
    assert api.admin.delete(path("rbacs", who)).status_code == 204
    assert_problem(client.get(path("servers")), 403, "forbidden")


def test_an_unchanged_write_still_needs_the_write_permission(api: Api) -> None:
    """Otherwise a 200 for an identical body would confirm guessed contents, secrets too."""
    key, name = api.name("key"), api.name("srv")
    stored = api.create(secret(key, {"a": "guess-me"}))
    api.create(server(name))
    _, viewer = api.user_client([binding("view", "secrets"), binding("view", "servers")])
    same = secret(key, {"a": "guess-me"})
    assert_problem(viewer.put(path("secrets", key), json=same), 403, "forbidden")
    assert_problem(viewer.put(path("servers", name), json=server(name)), 403, "forbidden")
    assert_problem(viewer.post("/api/v1/apply", json={"items": [same]}), 403, "forbidden")
    assert api.get("secrets", key) == stored


def test_without_permission_existence_is_not_revealed(api: Api) -> None:
    name, ghost = api.name("srv"), api.name("ghost")
    api.create(server(name))
    _, nobody = api.user_client([binding("view", "llms")])
    for target in (name, ghost):
        assert_problem(nobody.get(path("servers", target)), 403, "forbidden")
        assert_problem(nobody.delete(path("servers", target)), 403, "forbidden")
        assert_problem(
            nobody.put(path("servers", target), json=server(target, image="x")), 403, "forbidden"
        )
        assert_problem(nobody.post(path("servers"), json=server(target)), 403, "forbidden")
    assert not api.exists("servers", ghost)


def test_a_user_object_without_rbac_is_not_an_admin(api: Api) -> None:
    who = api.name("user")
    api.create(user(who))
    me = api.admin.get("/api/v1/auth/me").json()
    assert me["user"] == "admin"
    assert {"role": "run", "action": "*"} in me["permissions"]


def test_an_rbac_cannot_grant_more_than_its_writer_holds(api: Api) -> None:
    who, client = api.user_client([binding("create", "rbacs"), binding("view", "servers")])
    mine = api.name("grant")

    wider = client.post(path("rbacs"), json=rbac(mine, [("User", who)], [binding("delete", "*")]))
    within = client.post(
        path("rbacs"), json=rbac(api.name("grant"), [("User", who)], [binding("view", "servers")])
    )

    problem = assert_problem(wider, 403, "forbidden")
    assert "delete *" in problem["detail"]
    assert not api.exists("rbacs", mine)
    assert within.status_code == 201, within.text


def test_a_serviceaccount_token_needs_everything_the_account_holds(api: Api) -> None:
    account = api.name("sa")
    api.apply(
        [
            {"apiVersion": "mcpctl/v1", "kind": "ServiceAccount", "metadata": {"name": account}},
            rbac(account, [("ServiceAccount", account)], [binding("delete", "*")]),
        ]
    )
    _, client = api.user_client([binding("edit", "serviceaccounts")])

    response = client.post(f"/api/v1/serviceaccounts/{account}/tokens", json={})

    problem = assert_problem(response, 403, "forbidden")
    assert "delete *" in problem["detail"]
