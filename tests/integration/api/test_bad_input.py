"""Bad input is answered with a clear problem and changes nothing; health and OpenAPI are served."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.integration.api.harness import Api, assert_problem, path, server
from tests.support.manifests import JSON, manifest
from tests.support.mcpd import REQUEST_TIMEOUT

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


def _unchanged(api: Api, before: dict[str, dict[str, str]]) -> None:
    assert api.snapshot(*(k for k in before if k != "newest write")) == before


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"kind": "Server",', b"not json", b"\xff\xfe", b'{"a": 1}{"b": 2}', b"[" * 100_000],
)
def test_malformed_json_is_a_problem_and_changes_nothing(api: Api, raw: bytes) -> None:
    before = api.snapshot("servers", "mcptokens")
    for method, url in (
        ("POST", path("servers")),
        ("PUT", path("servers", "x")),
        ("POST", "/api/v1/apply"),
        ("POST", "/api/v1/auth/login"),
        ("POST", path("mcptokens")),
    ):
        response = api.admin.request(
            method, url, content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code in (400, 422), (url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    _unchanged(api, before)


@pytest.mark.parametrize(
    "body",
    [
        [],
        "a string",
        42,
        None,
        {"apiVersion": "mcpctl/v1", "kind": "Server"},
        {"apiVersion": "mcpctl/v2", "kind": "Server", "metadata": {"name": "x"}, "spec": {}},
        manifest("Project", "wrong-kind", {}),
        manifest("Server", "typed", {"command": "not-a-list"}),
        manifest("Server", "typed", {"command": ["x"], "replicas": "2"}),
        manifest("Server", "typed", {"command": ["x"], "replicas": 1.5}),
        manifest("Server", "typed", {"command": ["x"], "replicas": True}),
        {
            **manifest("Server", "typed", {"command": ["x"]}),
            "metadata": {"name": "typed", "labels": ["a"]},
        },
        {**manifest("Server", "typed", {"command": ["x"]}), "extra": 1},
    ],
)
def test_a_body_of_the_wrong_shape_or_types_is_invalid(api: Api, body: object) -> None:
    before = api.snapshot("servers", "mcptokens")
    response = api.admin.post(path("servers"), json=body)
    assert_problem(response, 422, "invalid")
    _unchanged(api, before)


def test_wrong_types_in_a_replace_change_nothing(api: Api) -> None:
    name = api.name("srv")
    stored = api.create(server(name))
    for spec in ({"command": "x"}, {"command": ["x"], "replicas": "3"}, {"command": [1]}):
        response = api.admin.put(path("servers", name), json=manifest("Server", name, spec))
        assert_problem(response, 422, "invalid")
    assert api.get("servers", name) == stored


def _chunks(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        sent += MIB
        yield b" " * MIB


@pytest.mark.parametrize("url", [path("servers"), "/api/v1/apply", path("mcptokens")])
def test_a_body_over_16_mib_is_too_large(api: Api, url: str) -> None:
    before = api.snapshot("servers", "mcptokens")
    name = api.name("big")
    huge = json.dumps(manifest("Server", name, {"command": ["x" * (17 * MIB)]})).encode()
    assert_problem(api.admin.post(url, content=huge), 413, "too-large")
    streamed = api.admin.post(url, content=_chunks(17 * MIB))  # no Content-Length
    assert_problem(streamed, 413, "too-large")
    assert api.admin.get("/healthz").status_code == 200
    _unchanged(api, before)


def test_a_body_just_under_the_limit_is_read(api: Api) -> None:
    body = b" " * (16 * MIB - 16) + b"[]"
    response = api.admin.post(path("servers"), content=body)
    assert_problem(response, 422, "invalid")  # read, parsed, and refused for its shape


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_an_unknown_kind_is_not_found(api: Api, method: str) -> None:
    before = api.snapshot("servers", "mcptokens")
    for url in ("/api/v1/widgets", "/api/v1/widgets/a", "/api/v1/projects/p/widgets"):
        response = api.admin.request(method, url, json=manifest("Widget", "a", {}))
        if response.status_code == 405:
            continue
        assert_problem(response, 404, "not-found")
    _unchanged(api, before)


def test_an_unknown_route_is_a_not_found_problem(api: Api) -> None:
    for url in ("/api/v2/servers", "/api/v1/servers/a/b/c", "/nothing"):
        assert_problem(api.admin.get(url), 404, "not-found")
    assert_problem(api.admin.patch(path("servers", "a")), 405, "method-not-allowed")


def _raw_request(api: Api, method: str, target: str, body: JSON | None = None) -> tuple[int, str]:
    """A request whose path is sent byte for byte (httpx would resolve `..`)."""
    parts = urlsplit(api.mcpd.url)
    assert parts.hostname is not None
    assert parts.port is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=REQUEST_TIMEOUT)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": api.admin.headers["authorization"]}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        connection.request(method, target, body=payload, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


TRICKY_NAMES = [
    "..",
    ".",
    "%2e%2e",
    "a%2Fb",
    "..%2F..%2Fetc%2Fpasswd",
    "UPPER",
    "a" * 64,
    "-lead",
    "trail-",
    "a_b",
    "%20",
    "caf%C3%A9",
]


@pytest.mark.parametrize("name", TRICKY_NAMES)
def test_names_that_are_not_dns_labels_change_nothing(api: Api, name: str) -> None:
    before = api.snapshot("servers", "mcptokens")
    decoded = httpx.URL(f"http://x/{name}").path.lstrip("/")
    body = server(decoded)
    for method in ("GET", "PUT", "DELETE"):
        status, text = _raw_request(api, method, f"/api/v1/servers/{name}", body)
        assert 400 <= status < 500, (method, name, status, text)
    status, _ = _raw_request(api, "GET", f"/api/v1/servers/{name}/references")
    assert 400 <= status < 500, status
    status, text = _raw_request(api, "GET", f"/api/v1/projects/{name}/prompts")
    assert 400 <= status < 500 or (status == 200 and json.loads(text)["items"] == []), text
    scoped = manifest("Prompt", "p", {"content": "x"}, project=decoded)
    status, text = _raw_request(api, "POST", f"/api/v1/projects/{name}/prompts", scoped)
    assert 400 <= status < 500, (status, text)
    assert_problem(api.admin.post(path("servers"), json=body), 422, "invalid")
    assert_problem(api.admin.post("/api/v1/apply", json={"items": [body]}), 422, "invalid")
    _unchanged(api, before)


def test_a_name_of_63_characters_is_fine(api: Api) -> None:
    name = "a" * 50 + api.name("x").replace("-", "")
    name = name[:63].ljust(63, "z")
    assert len(name) == 63
    api.create(server(name))
    assert api.exists("servers", name)


@pytest.mark.parametrize(
    "query",
    [{"labelSelector": "a b"}, {"limit": "1e3"}, {"continue": "%%%"}],
)
def test_bad_query_parameters_are_refused(api: Api, query: dict[str, str]) -> None:
    assert_problem(api.admin.get(path("servers"), params=query), 422, "invalid")


def test_health_readiness_and_openapi_are_served(api: Api) -> None:
    anonymous = api.client("")
    health = anonymous.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"

    document = anonymous.get("/api/v1/openapi.json")
    assert document.status_code == 200
    spec = document.json()
    assert spec["openapi"].startswith("3.")
    for route in ("/api/v1/apply", "/api/v1/auth/login", "/api/v1/auditevents"):
        assert any(p.startswith(route) for p in spec["paths"]), route
    assert "Problem" in spec["components"]["schemas"]


def test_the_events_route_lists_events(api: Api) -> None:
    response = api.admin.get("/api/v1/events", params={"kind": "Server", "name": "x"})
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    assert (body["kind"], body["items"]) == ("List", [])


def test_events_are_read_only_through_the_api(api: Api) -> None:
    body = {
        "apiVersion": "mcpctl/v1",
        "kind": "Event",
        "metadata": {"name": api.name("ev")},
        "spec": {
            "reason": "Tried",
            "message": "m",
            "involvedObject": {"kind": "Server", "name": "x"},
            "firstTimestamp": "2026-01-01T00:00:00Z",
            "lastTimestamp": "2026-01-01T00:00:00Z",
        },
    }

    response = api.admin.post("/api/v1/events", json=body)

    assert_problem(response, 405, "method-not-allowed")


def test_instances_are_made_by_mcpd_only(api: Api) -> None:
    """An Instance is the runtime's (a Server's running copy): neither created nor replaced
    through the API, nor applied; the answer says to change the Server."""
    name = api.name("inst")
    body = {
        "apiVersion": "mcpctl/v1",
        "kind": "Instance",
        "metadata": {"name": name},
        "spec": {"server": "x", "runtime": "process"},
    }
    before = api.snapshot("instances")

    created = api.admin.post("/api/v1/instances", json=body)
    assert_problem(created, 405, "method-not-allowed")
    assert "change the Server" in created.json()["detail"]
    replaced = api.admin.put(f"/api/v1/instances/{name}", json=body)
    assert_problem(replaced, 405, "method-not-allowed")
    applied = api.admin.post("/api/v1/apply", json={"items": [body]})
    assert applied.status_code == 422, applied.text
    assert "Instances are made by mcpd" in applied.text
    assert api.snapshot("instances") == before


# ---- values mcpd cannot hold: integers past 64 bits, lone surrogates --------------------

TOO_BIG = "9223372036854775808"  # 2**63: one past the largest signed 64-bit integer
TOO_SMALL = "-9223372036854775809"
#: Where `with_value` puts the raw JSON of the value under test.
VALUE = "@value@"


def with_value(body: JSON, value: str | bytes) -> bytes:
    """`body` as JSON, with the raw JSON `value` where it holds `VALUE` (json.dumps cannot
    write a lone surrogate escape as a client may, nor is it meant to)."""
    raw = value.encode() if isinstance(value, str) else value
    return json.dumps(body).encode().replace(json.dumps(VALUE).encode(), raw)


def llm(name: str, extra: JSON | str) -> JSON:
    """An Llm: its `spec.extra` is free-form, any JSON value fits."""
    return manifest("Llm", name, {"type": "ollama", "model": "m", "extra": extra})


def _bodies(name: str) -> list[tuple[str, str, JSON, str]]:
    """(method, url, body, the field named) with `VALUE` in each body."""
    model = llm(name, {"t": VALUE})
    checked = manifest(
        "Server",
        name,
        {"command": ["x"], "healthCheck": {"tool": "t", "arguments": {"a": [VALUE]}}},
    )
    return [
        ("POST", path("llms"), model, "spec.extra.t"),
        ("PUT", path("llms", name), model, "spec.extra.t"),
        ("POST", "/api/v1/apply", {"items": [model]}, "items[0].spec.extra.t"),
        ("POST", path("servers"), checked, "spec.healthCheck.arguments.a[0]"),
        (
            "POST",
            "/api/v1/apply",
            {"items": [checked], "dryRun": True},
            "items[0].spec.healthCheck.arguments.a[0]",
        ),
        ("POST", "/api/v1/auth/login", {"username": VALUE, "password": "x"}, "username"),
        ("POST", "/api/v1/auth/login", {"username": "admin", "password": VALUE}, "password"),
        ("PUT", "/api/v1/users/admin/password", {"password": VALUE}, "password"),
        ("POST", "/api/v1/gitops/restore", {"to": VALUE}, "to"),
    ]


def _send(api: Api, method: str, url: str, body: bytes) -> httpx.Response:
    return api.admin.request(
        method, url, content=body, headers={"Content-Type": "application/json"}
    )


@pytest.mark.parametrize("value", [TOO_BIG, TOO_SMALL, "99999999999999999999999"])
def test_an_integer_outside_64_bits_is_refused_naming_its_field(api: Api, value: str) -> None:
    name = api.name("big")
    api.create(llm(name, {}))
    before = api.snapshot("llms", "servers", "users")
    for method, url, body, field in _bodies(name):
        response = _send(api, method, url, with_value(body, value))

        problem = assert_problem(response, 422, "invalid")
        assert problem["detail"].startswith(f"{field}: an integer out of range"), (url, problem)
        assert "signed 64-bit" in problem["detail"]
    _unchanged(api, before)


@pytest.mark.parametrize("value", ['"\\ud800"', '"a\\udfff"', '"\\udc00\\ud800"', '"x\\ud83d"'])
def test_a_lone_surrogate_is_refused_naming_its_field(api: Api, value: str) -> None:
    name = api.name("sur")
    api.create(llm(name, {}))
    before = api.snapshot("llms", "servers", "users", "secrets")
    secret = manifest("Secret", api.name("s"), {"data": {"k": VALUE}})
    unnamed = {"apiVersion": "mcpctl/v1", "kind": "Server", "metadata": {"name": VALUE}}
    bodies = [
        *_bodies(name),
        ("POST", path("secrets"), secret, "spec.data.k"),
        ("POST", "/api/v1/gitops/seal", {"items": [secret]}, "items[0].spec.data.k"),
        ("POST", path("servers"), unnamed, "metadata.name"),
    ]
    for method, url, body, field in bodies:
        response = _send(api, method, url, with_value(body, value))

        problem = assert_problem(response, 422, "invalid")
        assert problem["detail"].startswith(f"{field}: a lone UTF-16 surrogate"), (url, problem)
    _unchanged(api, before)


def test_a_lone_surrogate_in_a_key_is_refused(api: Api) -> None:
    before = api.snapshot("llms")
    body = with_value(llm(api.name("key"), {"t": VALUE}), '{"\\ud800": 1}')

    response = _send(api, "POST", path("llms"), body)

    problem = assert_problem(response, 422, "invalid")
    assert problem["detail"] == "spec.extra.t: the key '\\ud800' holds a lone UTF-16 surrogate"
    _unchanged(api, before)


def test_a_surrogate_encoded_in_utf_8_bytes_is_not_valid_text(api: Api) -> None:
    before = api.snapshot("llms")
    body = with_value(llm(api.name("enc"), {"t": VALUE}), b'"\xed\xa0\x80"')

    problem = assert_problem(_send(api, "POST", path("llms"), body), 422, "invalid")
    assert "utf-8" in problem["detail"]
    _unchanged(api, before)


def test_the_ends_of_the_64_bit_range_and_paired_surrogates_are_stored_as_given(api: Api) -> None:
    name = api.name("ends")
    extra = '{"max": 9223372036854775807, "min": -9223372036854775808, "rocket": "\\ud83d\\ude80"}'

    response = _send(api, "POST", path("llms"), with_value(llm(name, VALUE), extra))

    assert response.status_code == 201, response.text
    assert api.get("llms", name)["spec"]["extra"] == {
        "max": 2**63 - 1,
        "min": -(2**63),
        "rocket": "\N{ROCKET}",
    }
