"""`POST /api/v1/apply`: a batch in dependency order, all or nothing; dry runs; pruning."""

from __future__ import annotations

import pytest

from tests.integration.api.harness import Api, assert_problem, path, project, secret, server
from tests.support.manifests import JSON, binding, manifest

pytestmark = pytest.mark.integration


def _batch(api: Api, **labels: str) -> tuple[list[JSON], dict[str, str]]:
    """A secret, a server using it and a project using the server, dependents first."""
    names = {"secret": api.name("key"), "server": api.name("srv"), "project": api.name("proj")}
    items = [
        project(names["project"], [names["server"]], **labels),
        server(names["server"], secret_ref=(names["secret"], "token"), labels=labels or None),
        secret(names["secret"], {"token": "v1"}, labels=labels or None),
    ]
    return items, names


def _exists(api: Api, names: dict[str, str]) -> dict[str, bool]:
    plurals = {"secret": "secrets", "server": "servers", "project": "projects"}
    return {what: api.exists(plurals[what], name) for what, name in names.items()}


def test_a_batch_is_stored_in_dependency_order(api: Api) -> None:
    items, names = _batch(api)
    result = api.apply(items)
    assert result["dryRun"] is False
    assert result["summary"] == {"add": 3, "change": 0, "remove": 0, "unchanged": 0}
    assert [(c["action"], c["kind"], c["name"]) for c in result["changes"]] == [
        ("add", "Secret", names["secret"]),
        ("add", "Server", names["server"]),
        ("add", "Project", names["project"]),
    ]
    assert _exists(api, names) == {"secret": True, "server": True, "project": True}
    versions = [
        int(api.get(plural, names[what])["metadata"]["resourceVersion"])
        for what, plural in (("secret", "secrets"), ("server", "servers"), ("project", "projects"))
    ]
    assert versions == sorted(versions)


def test_one_invalid_object_stores_nothing(api: Api) -> None:
    items, names = _batch(api)
    items[0]["spec"]["gated"] = "yes"  # a string where a boolean belongs
    response = api.admin.post("/api/v1/apply", json={"items": items})
    problem = assert_problem(response, 422, "invalid")
    assert [i["field"] for i in problem["issues"]] == ["items[0].spec.gated"]
    assert _exists(api, names) == {"secret": False, "server": False, "project": False}


def test_one_broken_reference_stores_nothing(api: Api) -> None:
    items, names = _batch(api)
    items[1]["spec"]["env"][0]["valueFrom"]["secretRef"]["key"] = "missing"
    before = api.snapshot()
    response = api.admin.post("/api/v1/apply", json={"items": items})
    problem = assert_problem(response, 422, "invalid")
    assert [(i["code"], i["name"]) for i in problem["issues"]] == [("reference", names["server"])]
    assert _exists(api, names) == {"secret": False, "server": False, "project": False}
    assert api.snapshot() == before


def test_a_change_and_a_failure_in_one_batch_change_nothing(api: Api) -> None:
    items, names = _batch(api)
    api.apply(items)
    before = api.snapshot()
    changed = server(names["server"], secret_ref=(names["secret"], "token"), image="changed")
    broken = project(api.name("proj"), [api.name("ghost")])
    response = api.admin.post("/api/v1/apply", json={"items": [changed, broken]})
    assert_problem(response, 422, "invalid")
    assert api.snapshot() == before
    assert api.get("servers", names["server"])["spec"]["image"] == "mcp-server-time"


def test_a_forbidden_object_in_a_batch_stores_nothing(api: Api) -> None:
    _, caller = api.user_client([binding("create", "secrets"), binding("view", "secrets")])
    items, names = _batch(api)
    response = caller.post("/api/v1/apply", json={"items": items[1:]})
    problem = assert_problem(response, 403, "forbidden")
    assert "create on servers" in problem["detail"]
    assert _exists(api, names) == {"secret": False, "server": False, "project": False}


def test_a_dry_run_returns_the_diff_and_stores_nothing(api: Api) -> None:
    items, names = _batch(api)
    api.apply(items[1:])
    before = api.snapshot()

    changed = server(names["server"], secret_ref=(names["secret"], "token"), image="v2")
    result = api.apply([changed, *items[:1]], dryRun=True)
    assert result["dryRun"] is True
    assert result["summary"] == {"add": 1, "change": 1, "remove": 0, "unchanged": 0}
    by_name = {c["name"]: c for c in result["changes"]}
    assert by_name[names["project"]]["action"] == "add"
    assert by_name[names["server"]]["action"] == "change"
    assert by_name[names["server"]]["fields"] == [
        {"path": "spec.image", "old": "mcp-server-time", "new": "v2"}
    ]
    assert api.snapshot() == before
    assert not api.exists("projects", names["project"])


def test_reapplying_unchanged_objects_does_not_rewrite_them(api: Api) -> None:
    items, names = _batch(api)
    api.apply(items)
    stored = {what: api.get(f"{what}s", name) for what, name in names.items()}

    again = api.apply(items)
    assert again["changes"] == []
    assert again["summary"] == {"add": 0, "change": 0, "remove": 0, "unchanged": 3}
    for what, name in names.items():
        assert api.get(f"{what}s", name) == stored[what]

    # the stored form (server-written metadata and masked secret values included) too
    served = [stored["project"], stored["server"], stored["secret"]]
    assert api.apply(served)["summary"]["unchanged"] == 3
    assert api.get("secrets", names["secret"], showSecrets="true")["spec"]["data"] == {
        "token": "v1"
    }


def test_prune_deletes_labelled_objects_missing_from_the_batch(api: Api) -> None:
    suite = api.name("suite")
    items, names = _batch(api, suite=suite)
    extra = server(api.name("srv"), labels={"suite": suite})
    unlabelled = server(api.name("srv"))
    other = server(api.name("srv"), labels={"suite": api.name("other")})
    api.apply([*items, extra, unlabelled, other])

    dry = api.apply(items, prune=True, selector=f"suite={suite}", dryRun=True)
    assert dry["summary"] == {"add": 0, "change": 0, "remove": 1, "unchanged": 3}
    assert api.exists("servers", extra["metadata"]["name"])

    result = api.apply(items, prune=True, selector=f"suite={suite}")
    assert result["summary"] == {"add": 0, "change": 0, "remove": 1, "unchanged": 3}
    assert [(c["action"], c["name"]) for c in result["changes"]] == [
        ("remove", extra["metadata"]["name"])
    ]
    assert not api.exists("servers", extra["metadata"]["name"])
    assert api.exists("servers", unlabelled["metadata"]["name"])
    assert api.exists("servers", other["metadata"]["name"])
    assert _exists(api, names) == {"secret": True, "server": True, "project": True}


def test_prune_without_a_selector_is_refused(api: Api) -> None:
    items, names = _batch(api)
    before = api.snapshot()
    for body in ({"items": items, "prune": True}, {"items": items, "prune": True, "selector": ""}):
        assert_problem(api.admin.post("/api/v1/apply", json=body), 422, "invalid")
    assert api.snapshot() == before
    assert _exists(api, names) == {"secret": False, "server": False, "project": False}


def test_prune_that_would_break_a_reference_deletes_nothing(api: Api) -> None:
    suite = api.name("suite")
    key, name = api.name("key"), api.name("srv")
    api.apply(
        [
            secret(key, {"token": "x"}, labels={"suite": suite}),
            server(name, secret_ref=(key, "token")),
        ]
    )
    keep = server(api.name("srv"), labels={"suite": suite})
    response = api.admin.post(
        "/api/v1/apply", json={"items": [keep], "prune": True, "selector": f"suite={suite}"}
    )
    problem = assert_problem(response, 422, "invalid")
    assert [(i["code"], i["name"]) for i in problem["issues"]] == [("reference", name)]
    assert api.exists("secrets", key)
    assert not api.exists("servers", keep["metadata"]["name"])


def test_a_batch_naming_one_object_twice_is_refused(api: Api) -> None:
    name = api.name("srv")
    response = api.admin.post(
        "/api/v1/apply", json={"items": [server(name), server(name, image="other")]}
    )
    problem = assert_problem(response, 422, "invalid")
    assert problem["issues"]
    assert not api.exists("servers", name)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"items": {}},
        {"items": [], "dryRun": "yes"},
        {"items": [], "prune": 1},
        {"items": [], "selector": ["a=b"]},
        {"items": [], "force": True},
        [],
    ],
)
def test_a_malformed_apply_request_is_refused(api: Api, body: object) -> None:
    assert_problem(api.admin.post("/api/v1/apply", json=body), 422, "invalid")


def test_prompts_apply_after_their_project(api: Api) -> None:
    group, name = api.name("proj"), api.name("prompt")
    items = [
        manifest("Prompt", name, {"content": "Hi."}, project=group),
        project(group),
    ]
    result = api.apply(items)
    assert [(c["kind"], c.get("project")) for c in result["changes"]] == [
        ("Project", None),
        ("Prompt", group),
    ]
    assert api.exists("prompts", name, project=group)
    assert api.admin.get(path("prompts", name, project=group)).status_code == 200
