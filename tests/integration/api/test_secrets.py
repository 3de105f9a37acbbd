"""Secret values stay masked in every answer unless asked for by someone allowed to see them."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.integration.api.harness import Api, assert_problem, path, run, secret, server
from tests.support.manifests import binding

pytestmark = pytest.mark.integration


def _value() -> str:
    return f"sv-{uuid.uuid4().hex}"


def _clean(response: httpx.Response, *values: str) -> httpx.Response:
    for value in values:
        assert value not in response.text, f"{response.request.url} leaked a secret value"
    return response


def test_values_are_masked_in_every_answer_and_the_audit_log(api: Api) -> None:
    key, name = api.name("key"), api.name("srv")
    first, second, third = _value(), _value(), _value()
    admin = api.admin

    created = _clean(admin.post(path("secrets"), json=secret(key, {"a": first})), first)
    assert created.status_code == 201
    assert created.json()["spec"]["data"] == {"a": None}

    got = _clean(admin.get(path("secrets", key)), first)
    assert got.json()["spec"]["data"] == {"a": None}
    listed = _clean(admin.get(path("secrets")), first)
    assert {"a": None} in [i["spec"]["data"] for i in listed.json()["items"]]
    selected = _clean(admin.get(path("secrets"), params={"limit": "1"}), first)
    assert selected.status_code == 200

    replaced = _clean(
        admin.put(path("secrets", key), json=secret(key, {"a": second})), first, second
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["spec"]["data"] == {"a": None}

    for dry_run in (True, False):
        applied = _clean(
            admin.post(
                "/api/v1/apply",
                json={
                    "items": [
                        secret(key, {"a": third, "b": third}),
                        server(name, secret_ref=(key, "b")),
                        secret(api.name("key"), {"c": third}),
                    ],
                    "dryRun": dry_run,
                },
            ),
            first,
            second,
            third,
        )
        assert applied.status_code == 200, applied.text
        fields = {f["path"]: f for c in applied.json()["changes"] for f in c["fields"]}
        assert fields["spec.data.a"] == {
            "path": "spec.data.a",
            "old": "(hidden)",
            "new": "(hidden)",
            "secret": True,
        }

    _clean(admin.get(f"/api/v1/secrets/{key}/references"), first, second, third)
    _clean(admin.get("/api/v1/auditevents", params={"limit": "5000"}), first, second, third)
    _clean(admin.get("/api/v1/events"), first, second, third)
    revealed = admin.get(path("secrets", key), params={"showSecrets": "true"})
    assert revealed.json()["spec"]["data"] == {"a": third, "b": third}


def test_an_error_about_a_secret_does_not_echo_its_value(api: Api) -> None:
    key, value = api.name("key"), _value()
    bad_key = _clean(api.admin.post(path("secrets"), json=secret(key, {"no spaces": value})), value)
    assert_problem(bad_key, 422, "invalid")
    huge = "x" * (1_048_576 + 1)
    too_long = api.admin.post(path("secrets"), json=secret(key, {"a": huge}))
    assert_problem(too_long, 422, "invalid")
    assert huge not in too_long.text
    _clean(api.admin.get("/api/v1/auditevents", params={"limit": "5000"}), value)
    assert not api.exists("secrets", key)


def test_show_secrets_needs_run_reveal_secrets(api: Api) -> None:
    key, value = api.name("key"), _value()
    api.create(secret(key, {"a": value}))
    _, viewer = api.user_client([binding("view", "secrets")])
    _, revealer = api.user_client([binding("view", "secrets"), run("reveal-secrets")])
    _, revealer_only = api.user_client([run("reveal-secrets")])

    asked = _clean(viewer.get(path("secrets", key), params={"showSecrets": "true"}), value)
    problem = assert_problem(asked, 403, "forbidden")
    assert "run reveal-secrets" in problem["detail"]
    plain = _clean(viewer.get(path("secrets", key)), value)
    assert plain.json()["spec"]["data"] == {"a": None}

    assert _clean(revealer.get(path("secrets", key))).json()["spec"]["data"] == {"a": None}
    shown = revealer.get(path("secrets", key), params={"showSecrets": "true"})
    assert shown.json()["spec"]["data"] == {"a": value}
    listed = _clean(revealer.get(path("secrets"), params={"showSecrets": "true"}), value)
    assert listed.status_code == 200

    denied = revealer_only.get(path("secrets", key), params={"showSecrets": "true"})
    assert "view on secrets" in assert_problem(denied, 403, "forbidden")["detail"]


def test_a_replace_sending_masked_values_keeps_the_stored_ones(api: Api) -> None:
    key, kept, changed = api.name("key"), _value(), _value()
    api.create(secret(key, {"kept": kept, "changed": "old"}))
    masked = api.get("secrets", key)
    assert masked["spec"]["data"] == {"changed": None, "kept": None}

    unchanged = api.admin.put(path("secrets", key), json=masked)
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.json()["metadata"]["resourceVersion"] == masked["metadata"]["resourceVersion"]

    masked["spec"]["data"]["changed"] = changed
    updated = _clean(api.admin.put(path("secrets", key), json=masked), kept, changed)
    assert updated.status_code == 200, updated.text
    shown = api.get("secrets", key, showSecrets="true")
    assert shown["spec"]["data"] == {"changed": changed, "kept": kept}


def test_a_masked_value_for_a_key_never_stored_is_refused(api: Api) -> None:
    key = api.name("key")
    api.create(secret(key, {"a": "1"}))
    before = api.get("secrets", key, showSecrets="true")
    response = api.admin.put(path("secrets", key), json=secret(key, {"a": None, "b": None}))
    problem = assert_problem(response, 422, "invalid")
    assert [(i["code"], i["field"]) for i in problem["issues"]] == [("secret-value", "spec.data.b")]
    assert api.get("secrets", key, showSecrets="true") == before
    created = api.admin.post(path("secrets"), json=secret(api.name("key"), {"a": None}))
    assert_problem(created, 422, "invalid")
