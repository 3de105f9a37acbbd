"""Every write and every denied attempt is an AuditEvent; `/api/v1/auditevents` filters them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.integration.api.harness import Api, assert_problem, path, project, prompt, server
from tests.support.manifests import JSON, binding, manifest

pytestmark = pytest.mark.integration


def _audit(client: httpx.Client, **query: str) -> list[JSON]:
    response = client.get("/api/v1/auditevents", params={"limit": "5000", **query})
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    assert (body["apiVersion"], body["kind"]) == ("mcpctl/v1", "List")
    items: list[JSON] = body["items"]
    for item in items:
        assert item["kind"] == "AuditEvent"
    return items


def _about(items: list[JSON], name: str) -> list[JSON]:
    return [i["spec"] for i in items if i["spec"].get("name") == name]


def test_every_write_is_an_audit_event_naming_who_what_and_how(api: Api) -> None:
    who, session = api.login_user(
        [binding("create", "servers"), binding("edit", "servers"), binding("delete", "servers")]
    )
    client = api.client(session)
    name = api.name("srv")
    assert client.post(path("servers"), json=server(name)).status_code == 201
    assert client.put(path("servers", name), json=server(name, image="x")).status_code == 200
    assert client.delete(path("servers", name)).status_code == 204

    events = _about(_audit(api.admin, user=who), name)
    assert [(e["verb"], e["outcome"], e["kind"]) for e in events] == [
        ("delete", "success", "Server"),
        ("update", "success", "Server"),
        ("create", "success", "Server"),
    ]
    for event in events:
        assert event["user"] == who
        assert event["token"] == f"session ({session[:16]})"
        assert event["time"].endswith("Z")


def test_an_apply_records_each_object_it_wrote_and_none_it_left_alone(api: Api) -> None:
    first, second = api.name("srv"), api.name("srv")
    api.apply([server(first)])
    api.apply([server(first), server(second)])
    events = _audit(api.admin, kind="Server")
    assert [(e["verb"], e["details"]) for e in _about(events, first)] == [
        ("create", {"via": "apply"})
    ]
    assert [e["verb"] for e in _about(events, second)] == ["create"]


def test_a_denied_attempt_is_an_audit_event(api: Api) -> None:
    who, session = api.login_user([binding("view", "servers")])
    client = api.client(session)
    name = api.name("srv")
    api.create(server(name))
    assert_problem(
        client.put(path("servers", name), json=server(name, image="x")), 403, "forbidden"
    )
    assert_problem(client.delete(path("servers", name)), 403, "forbidden")
    created = api.name("srv")
    assert_problem(client.post(path("servers"), json=server(created)), 403, "forbidden")

    events = [e for e in _audit(api.admin, user=who) if e["spec"]["outcome"] == "denied"]
    assert [(e["verb"], e["kind"], e.get("name")) for e in (i["spec"] for i in events)] == [
        ("create", "Server", created),
        ("delete", "Server", name),
        ("update", "Server", name),
    ]
    for item in events:
        assert item["spec"]["token"] == f"session ({session[:16]})"
    assert "edit on servers" in events[-1]["spec"]["details"]["reason"]


def test_a_failed_login_is_an_audit_event(api: Api) -> None:
    ghost = api.name("ghost")
    response = api.client("").post(
        "/api/v1/auth/login", json={"username": ghost, "password": "not-the-password"}
    )
    assert_problem(response, 401, "unauthenticated")
    events = _audit(api.admin, user=ghost)
    assert [(e["spec"]["verb"], e["spec"]["outcome"]) for e in events] == [("login", "denied")]
    assert "not-the-password" not in str(events)


def test_token_writes_name_the_token(api: Api) -> None:
    token_name = api.name("tok")
    created = api.admin.post(
        path("mcptokens"),
        json={**manifest("McpToken", token_name, {}), "bindings": [binding("create", "servers")]},
    )
    raw = created.json()["token"]
    name = api.name("srv")
    assert api.client(raw).post(path("servers"), json=server(name)).status_code == 201
    [event] = _about(_audit(api.admin, kind="Server"), name)
    assert event["user"] == "admin"
    assert event["token"] == f"{token_name} ({raw[:15]})"


def test_audit_events_filter_by_kind_project_and_time(api: Api) -> None:
    group, name = api.name("proj"), api.name("prompt")
    api.create(project(group))
    start = datetime.now(UTC) - timedelta(seconds=1)
    api.create(prompt(group, name))
    api.admin.put(path("prompts", name, project=group), json=prompt(group, name, "v2"))
    end = datetime.now(UTC) + timedelta(seconds=1)

    by_project = _audit(api.admin, project=group)
    assert [(e["spec"]["verb"], e["spec"]["kind"], e["spec"]["name"]) for e in by_project] == [
        ("update", "Prompt", name),
        ("create", "Prompt", name),
    ]
    assert all(e["spec"]["kind"] == "Prompt" for e in _audit(api.admin, kind="Prompt"))
    assert _about(_audit(api.admin, kind="Server"), name) == []

    window = {"since": start.isoformat(), "until": end.isoformat()}
    assert len(_about(_audit(api.admin, **window), name)) == 2
    before = {"until": start.isoformat()}
    assert _about(_audit(api.admin, **before), name) == []
    after = {"since": end.isoformat()}
    assert _about(_audit(api.admin, **after), name) == []

    newest = _audit(api.admin, project=group, limit="1")
    assert [e["spec"]["verb"] for e in newest] == ["update"]


def test_audit_events_are_newest_first(api: Api) -> None:
    items = _audit(api.admin)
    ids = [int(i["metadata"]["name"].removeprefix("audit-")) for i in items]
    assert ids == sorted(ids, reverse=True)
    times = [i["spec"]["time"] for i in items]
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize(
    "query", [{"since": "yesterday"}, {"until": "2024-01-01T00:00:00"}, {"limit": "x"}]
)
def test_bad_audit_filters_are_refused(api: Api, query: dict[str, str]) -> None:
    response = api.admin.get("/api/v1/auditevents", params=query)
    assert_problem(response, 422, "invalid")


def test_reading_the_audit_log_needs_view_on_auditevents(api: Api) -> None:
    _, viewer = api.user_client([binding("view", "servers")])
    assert_problem(viewer.get("/api/v1/auditevents"), 403, "forbidden")
    _, auditor = api.user_client([binding("view", "auditevents")])
    assert auditor.get("/api/v1/auditevents", params={"limit": "1"}).status_code == 200


def test_audit_events_are_not_objects_to_write(api: Api) -> None:
    body = manifest(
        "AuditEvent",
        api.name("audit"),
        {"time": "2024-01-01T00:00:00Z", "user": "x", "verb": "create", "outcome": "success"},
    )
    assert_problem(api.admin.post("/api/v1/auditevents", json=body), 404, "not-found")
    response = api.admin.delete("/api/v1/auditevents/audit-1")
    assert response.status_code in (404, 405)


def test_audit_entries_name_only_objects_that_could_exist(api: Api) -> None:
    odd = "Not A Name " + "x" * 300
    response = api.client("").post(
        "/api/v1/auth/login", json={"username": odd, "password": "whatever-it-is"}
    )
    assert_problem(response, 401, "unauthenticated")
    _, viewer = api.user_client([binding("view", "llms")])
    assert_problem(viewer.get(path("servers", "UPPER")), 403, "forbidden")
    for item in _audit(api.admin, limit="20"):
        name = item["spec"].get("name")
        assert name is None or (name == name.lower() and len(name) <= 63), item
    assert any(i["spec"]["user"] == odd[:253] for i in _audit(api.admin, limit="20"))
