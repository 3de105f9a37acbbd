"""Writes are checked like `mcpctl validate` checks files, against the stored objects."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.api.harness import Api, assert_problem, path, project, rbac, secret, server
from tests.support.manifests import JSON, binding, manifest

pytestmark = pytest.mark.integration


def _issue_keys(issues: list[JSON]) -> list[tuple[str, str, str, str]]:
    return sorted((i["code"], i["kind"], i["name"], i["field"]) for i in issues)


def _validate_offline(tmp_path: Path, items: list[JSON]) -> list[JSON]:
    """The issues `mcpctl validate` reports for `items` as one file."""
    file = tmp_path / "set.json"
    file.write_text(json.dumps({"apiVersion": "mcpctl/v1", "kind": "List", "items": items}))
    mcpctl = Path(sys.executable).parent / "mcpctl"
    done = subprocess.run(
        [str(mcpctl), "validate", "-o", "json", str(file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    issues: list[JSON] = json.loads(done.stdout)["issues"]
    return issues


def test_a_server_naming_a_missing_secret_key_is_refused_like_validate_refuses_it(
    api: Api, tmp_path: Path
) -> None:
    key, name = api.name("key"), api.name("srv")
    stored = api.create(secret(key, {"token": "value"}))
    body = server(name, secret_ref=(key, "missing"))

    response = api.admin.post(path("servers"), json=body)
    problem = assert_problem(response, 422, "invalid")
    assert _issue_keys(problem["issues"]) == [
        ("reference", "Server", name, "spec.env[0].valueFrom.secretRef.key")
    ]
    assert not api.exists("servers", name)

    offline = _validate_offline(tmp_path, [secret(key, {"token": "value"}), body])
    assert _issue_keys(offline) == _issue_keys(problem["issues"])
    assert api.get("secrets", key) == stored


def test_a_server_naming_a_missing_secret_is_refused(api: Api) -> None:
    name, ghost = api.name("srv"), api.name("ghost")
    response = api.admin.post(path("servers"), json=server(name, secret_ref=(ghost, "token")))
    problem = assert_problem(response, 422, "invalid")
    assert _issue_keys(problem["issues"]) == [
        ("reference", "Server", name, "spec.env[0].valueFrom.secretRef.name")
    ]
    assert ghost in problem["issues"][0]["message"]
    assert not api.exists("servers", name)


def test_dropping_a_secret_key_a_stored_server_uses_is_refused_and_changes_nothing(
    api: Api,
) -> None:
    key, name = api.name("key"), api.name("srv")
    api.create(secret(key, {"token": "value", "spare": "other"}))
    api.create(server(name, secret_ref=(key, "token")))
    before = api.get("secrets", key, showSecrets="true")

    response = api.admin.put(path("secrets", key), json=secret(key, {"spare": "other"}))
    problem = assert_problem(response, 422, "invalid")
    assert _issue_keys(problem["issues"]) == [
        ("reference", "Server", name, "spec.env[0].valueFrom.secretRef.key")
    ]
    assert api.get("secrets", key, showSecrets="true") == before

    dropped_spare = api.admin.put(path("secrets", key), json=secret(key, {"token": "value"}))
    assert dropped_spare.status_code == 200, dropped_spare.text


def test_a_project_naming_a_missing_server_is_refused(api: Api) -> None:
    group, ghost = api.name("proj"), api.name("ghost")
    problem = assert_problem(
        api.admin.post(path("projects"), json=project(group, [ghost])), 422, "invalid"
    )
    assert _issue_keys(problem["issues"]) == [("reference", "Project", group, "spec.servers[0]")]
    assert not api.exists("projects", group)


def test_an_rbac_naming_a_missing_user_is_refused(api: Api) -> None:
    name, ghost = api.name("rbac"), api.name("ghost")
    body = rbac(name, [("User", ghost)], [binding("view", "servers")])
    problem = assert_problem(api.admin.post(path("rbacs"), json=body), 422, "invalid")
    assert _issue_keys(problem["issues"]) == [("reference", "Rbac", name, "spec.subjects[0].name")]
    assert not api.exists("rbacs", name)


def test_a_schema_error_reports_the_field_and_stores_nothing(api: Api) -> None:
    name = api.name("srv")
    body = manifest("Server", name, {"command": ["x"], "replicas": "two"})
    problem = assert_problem(api.admin.post(path("servers"), json=body), 422, "invalid")
    assert [i["field"] for i in problem["issues"]] == ["spec.replicas"]
    assert not api.exists("servers", name)


def test_a_second_default_backend_is_refused(api: Api) -> None:
    name = api.name("backend")
    body = manifest("SecretBackend", name, {"type": "plaintext", "default": True})
    problem = assert_problem(api.admin.post(path("secretbackends"), json=body), 422, "invalid")
    assert problem["issues"]
    assert not api.exists("secretbackends", name)
