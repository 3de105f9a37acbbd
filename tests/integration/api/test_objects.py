"""CRUD over `/api/v1`: every kind, label selectors, pagination, versions, references."""

from __future__ import annotations

import pytest

from tests.integration.api.harness import Api, assert_problem, path, project, prompt, secret, server
from tests.support.manifests import JSON, manifest

pytestmark = pytest.mark.integration

#: Every kind a client creates through the generic object routes.
KINDS = [
    "secretbackends",
    "secrets",
    "llms",
    "templates",
    "servers",
    "projects",
    "prompts",
    "promptrequests",
    "users",
    "groups",
    "serviceaccounts",
    "rbacs",
    "mcptokens",
]

SERVER_METADATA = ("resourceVersion", "generation", "createdAt", "updatedAt", "createdBy")


@pytest.mark.parametrize("plural", KINDS)
def test_every_kind_is_created_read_listed_replaced_and_deleted(api: Api, plural: str) -> None:
    name = api.name(plural[:6])
    body = api.sample(plural, name)
    scope = body["metadata"].get("project")
    url = path(plural, name, project=scope)

    created = api.create(body)
    assert created["kind"] == body["kind"]
    assert created["metadata"]["name"] == name
    for key in SERVER_METADATA:
        assert key in created["metadata"], key
    assert created["metadata"]["createdBy"] == "admin"
    assert created["metadata"]["generation"] == 1

    assert api.admin.get(url).json() == created
    listed = api.admin.get(path(plural, project=scope)).json()
    assert listed["apiVersion"] == "mcpctl/v1"
    assert listed["kind"] == "List"
    assert name in [item["metadata"]["name"] for item in listed["items"]]

    changed = {**created, "metadata": {**created["metadata"], "labels": {"touched": "yes"}}}
    replaced = api.admin.put(url, json=changed)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["metadata"]["labels"] == {"touched": "yes"}
    assert api.admin.get(url).json() == replaced.json()

    deleted = api.admin.delete(url)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_problem(api.admin.get(url), 404, "not-found")


def test_creating_an_existing_name_is_a_conflict_that_keeps_the_first(api: Api) -> None:
    name = api.name("srv")
    first = api.create(server(name, image="first"))
    again = api.admin.post(path("servers"), json=server(name, image="second"))
    assert_problem(again, 409, "conflict")
    assert api.get("servers", name) == first


def test_reading_deleting_or_replacing_a_missing_object_is_not_found(api: Api) -> None:
    name = api.name("ghost")
    assert_problem(api.admin.get(path("servers", name)), 404, "not-found")
    assert_problem(api.admin.delete(path("servers", name)), 404, "not-found")
    assert_problem(api.admin.put(path("servers", name), json=server(name)), 404, "not-found")
    assert not api.exists("servers", name)


def test_replace_with_the_current_resource_version_succeeds_and_a_stale_one_conflicts(
    api: Api,
) -> None:
    name = api.name("srv")
    created = api.create(server(name))
    version = created["metadata"]["resourceVersion"]

    current = server(name, image="v2")
    current["metadata"]["resourceVersion"] = version
    updated = api.admin.put(path("servers", name), json=current)
    assert updated.status_code == 200, updated.text
    assert updated.json()["metadata"]["resourceVersion"] != version

    stale = server(name, image="v3")
    stale["metadata"]["resourceVersion"] = version
    assert_problem(api.admin.put(path("servers", name), json=stale), 409, "conflict")
    assert api.get("servers", name) == updated.json()


def test_generation_counts_spec_changes_while_resource_version_counts_every_write(
    api: Api,
) -> None:
    name = api.name("srv")
    created = api.create(server(name))
    meta = created["metadata"]

    relabelled = api.admin.put(path("servers", name), json=server(name, labels={"tier": "a"}))
    after_labels = relabelled.json()["metadata"]
    assert int(after_labels["resourceVersion"]) > int(meta["resourceVersion"])
    assert after_labels["generation"] == meta["generation"]
    assert after_labels["createdAt"] == meta["createdAt"]

    respecced = api.admin.put(
        path("servers", name), json=server(name, labels={"tier": "a"}, image="other")
    )
    after_spec = respecced.json()["metadata"]
    assert int(after_spec["resourceVersion"]) > int(after_labels["resourceVersion"])
    assert after_spec["generation"] == meta["generation"] + 1


def test_replacing_with_an_identical_object_keeps_its_version(api: Api) -> None:
    name = api.name("srv")
    created = api.create(server(name, labels={"a": "b"}))
    again = api.admin.put(path("servers", name), json=created)
    assert again.status_code == 200, again.text
    assert again.json() == created


def test_replace_refuses_a_body_naming_another_object(api: Api) -> None:
    name, other = api.name("srv"), api.name("srv")
    created = api.create(server(name))
    response = api.admin.put(path("servers", name), json=server(other, image="x"))
    assert_problem(response, 422, "invalid")
    assert api.get("servers", name) == created
    assert not api.exists("servers", other)


def test_label_selector_keeps_objects_matching_every_term(api: Api) -> None:
    suite = api.name("suite")
    labelled = {
        "match-plain": {"team": "a", "k": "1"},
        "match-other-x": {"team": "a", "x": "z", "k": ""},
        "wrong-x": {"team": "a", "x": "y", "k": "1"},
        "has-k2": {"team": "a", "k": "1", "k2": "1"},
        "other-team": {"team": "b", "k": "1"},
        "no-k": {"team": "a", "x": "z"},
    }
    names = {}
    for label, labels in labelled.items():
        names[label] = name = f"{suite}-{label}"
        api.create(server(name, labels={"suite": suite, **labels}))

    listed = api.admin.get(
        path("servers"), params={"labelSelector": f"suite={suite},team=a,x!=y,k,!k2"}
    )
    assert listed.status_code == 200, listed.text
    found = [item["metadata"]["name"] for item in listed.json()["items"]]
    assert found == [names["match-plain"], names["match-other-x"]]

    everything = api.admin.get(path("servers"), params={"labelSelector": f"suite={suite}"})
    assert len(everything.json()["items"]) == len(labelled)


def test_an_invalid_label_selector_is_refused(api: Api) -> None:
    for selector in ("team=a=b", "!k=v", "(x)", ","):
        response = api.admin.get(path("servers"), params={"labelSelector": selector})
        assert_problem(response, 422, "invalid")


def _pages(api: Api, url: str, limit: int, **query: str) -> list[list[str]]:
    pages: list[list[str]] = []
    params = {"limit": str(limit), **query}
    while True:
        response = api.admin.get(url, params=params)
        assert response.status_code == 200, response.text
        body: JSON = response.json()
        pages.append([item["metadata"]["name"] for item in body["items"]])
        token = body["metadata"].get("continue")
        if not token:
            return pages
        params["continue"] = token


def test_pages_return_every_object_exactly_once_in_order(api: Api) -> None:
    suite = api.name("pages")
    names = [f"{suite}-{i}" for i in range(7)]
    for name in names:
        api.create(server(name, labels={"suite": suite}))

    pages = _pages(api, path("servers"), 3, labelSelector=f"suite={suite}")
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [name for page in pages for name in page] == names

    exact = _pages(api, path("servers"), 7, labelSelector=f"suite={suite}")
    assert exact == [names]

    whole = [item["metadata"]["name"] for item in api.admin.get(path("servers")).json()["items"]]
    by_two = [name for page in _pages(api, path("servers"), 2) for name in page]
    assert by_two == whole
    assert len(set(whole)) == len(whole)


def test_a_page_survives_deletes_between_requests(api: Api) -> None:
    suite = api.name("pages")
    names = [f"{suite}-{i}" for i in range(5)]
    for name in names:
        api.create(server(name, labels={"suite": suite}))
    first = api.admin.get(path("servers"), params={"limit": "2", "labelSelector": f"suite={suite}"})
    token = first.json()["metadata"]["continue"]
    assert api.admin.delete(path("servers", names[2])).status_code == 204
    rest = api.admin.get(
        path("servers"),
        params={"limit": "10", "labelSelector": f"suite={suite}", "continue": token},
    )
    assert [i["metadata"]["name"] for i in rest.json()["items"]] == names[3:]


@pytest.mark.parametrize(
    "query",
    [{"limit": "0"}, {"limit": "-1"}, {"limit": "ten"}, {"continue": "not-a-token"}],
)
def test_bad_paging_parameters_are_refused(api: Api, query: dict[str, str]) -> None:
    assert_problem(api.admin.get(path("servers"), params=query), 422, "invalid")


def test_deleting_a_secret_in_use_is_a_conflict_naming_its_users(api: Api) -> None:
    key = api.name("key")
    users = [api.name("user-of"), api.name("user-of")]
    api.create(secret(key, {"token": "x"}))
    for name in users:
        api.create(server(name, secret_ref=(key, "token")))

    response = api.admin.delete(path("secrets", key))
    problem = assert_problem(response, 409, "conflict")
    for name in users:
        assert f"Server/{name}" in problem["detail"]
    assert api.exists("secrets", key)

    for name in users:
        assert api.admin.delete(path("servers", name)).status_code == 204
    assert api.admin.delete(path("secrets", key)).status_code == 204


def test_deleting_a_server_in_a_project_is_a_conflict(api: Api) -> None:
    name, group = api.name("srv"), api.name("proj")
    api.create(server(name))
    api.create(project(group, [name]))
    problem = assert_problem(api.admin.delete(path("servers", name)), 409, "conflict")
    assert f"Project/{group}" in problem["detail"]


def test_prompts_live_under_their_project(api: Api) -> None:
    first, second = api.name("proj"), api.name("proj")
    api.create(project(first))
    api.create(project(second))
    name = api.name("prompt")

    created = api.create(prompt(first, name, "first"))
    assert created["metadata"]["project"] == first
    api.create(prompt(second, name, "second"))
    assert_problem(
        api.admin.post(path("prompts", project=first), json=prompt(first, name)), 409, "conflict"
    )

    assert api.get("prompts", name, project=first)["spec"]["content"] == "first"
    assert api.get("prompts", name, project=second)["spec"]["content"] == "second"
    listed = api.admin.get(path("prompts", project=first)).json()["items"]
    assert [(i["metadata"]["project"], i["metadata"]["name"]) for i in listed] == [(first, name)]

    replaced = api.admin.put(path("prompts", name, project=first), json=prompt(first, name, "new"))
    assert replaced.status_code == 200, replaced.text
    assert api.get("prompts", name, project=second)["spec"]["content"] == "second"

    problem = assert_problem(api.admin.delete(path("projects", first)), 409, "conflict")
    assert f"Prompt/{first}/{name}" in problem["detail"]
    assert api.admin.delete(path("prompts", name, project=first)).status_code == 204
    assert not api.exists("prompts", name, project=first)
    assert api.exists("prompts", name, project=second)


def test_project_scoped_kinds_are_only_served_under_a_project(api: Api) -> None:
    group = api.name("proj")
    api.create(project(group))
    name = api.name("prompt")
    assert_problem(api.admin.get("/api/v1/prompts"), 404, "not-found")
    assert_problem(api.admin.post("/api/v1/prompts", json=prompt(group, name)), 404, "not-found")
    assert_problem(api.admin.get(f"/api/v1/projects/{group}/servers"), 404, "not-found")
    assert not api.exists("prompts", name, project=group)


def test_a_prompt_must_match_its_url_and_name_an_existing_project(api: Api) -> None:
    group, missing = api.name("proj"), api.name("missing")
    api.create(project(group))
    name = api.name("prompt")
    mismatch = api.admin.post(path("prompts", project=group), json=prompt(missing, name))
    assert_problem(mismatch, 422, "invalid")
    orphan = api.admin.post(path("prompts", project=missing), json=prompt(missing, name))
    problem = assert_problem(orphan, 422, "invalid")
    assert [i["code"] for i in problem["issues"]] == ["reference"]
    assert not api.exists("prompts", name, project=group)
    assert not api.exists("prompts", name, project=missing)


def test_references_name_what_an_object_uses_and_what_uses_it(api: Api) -> None:
    key, name, group = api.name("key"), api.name("srv"), api.name("proj")
    api.create(secret(key, {"token": "x"}))
    api.create(server(name, secret_ref=(key, "token")))
    api.create(project(group, [name]))
    title = api.name("prompt")
    api.create(prompt(group, title))

    refs = api.admin.get(f"/api/v1/servers/{name}/references")
    assert refs.status_code == 200, refs.text
    assert refs.json() == {"uses": [f"Secret/{key}"], "usedBy": [f"Project/{group}"]}
    assert api.admin.get(f"/api/v1/secrets/{key}/references").json() == {
        "uses": [],
        "usedBy": [f"Server/{name}"],
    }
    assert api.admin.get(f"/api/v1/projects/{group}/references").json() == {
        "uses": [f"Server/{name}"],
        "usedBy": [f"Prompt/{group}/{title}"],
    }
    scoped = api.admin.get(f"/api/v1/projects/{group}/prompts/{title}/references")
    assert scoped.status_code == 200, scoped.text
    assert scoped.json() == {"uses": [f"Project/{group}"], "usedBy": []}
    missing = api.admin.get(f"/api/v1/servers/{api.name('ghost')}/references")
    assert_problem(missing, 404, "not-found")


def test_status_and_server_fields_in_a_body_are_ignored(api: Api) -> None:
    name = api.name("srv")
    body = server(name)
    body["status"] = {"phase": "Running"}
    body["metadata"].update(
        {"generation": 42, "createdBy": "mallory", "createdAt": "2001-01-01T00:00:00Z"}
    )
    created = api.create(body)
    assert "status" not in created
    assert created["metadata"]["generation"] == 1
    assert created["metadata"]["createdBy"] == "admin"
    assert not created["metadata"]["createdAt"].startswith("2001")


def test_an_unknown_field_is_refused_and_nothing_is_stored(api: Api) -> None:
    name = api.name("srv")
    body = manifest("Server", name, {"command": ["x"], "replica": 2})
    problem = assert_problem(api.admin.post(path("servers"), json=body), 422, "invalid")
    assert problem["issues"]
    assert not api.exists("servers", name)
