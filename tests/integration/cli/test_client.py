"""The CLI's HTTP client and a real mcpd: each problem answer becomes one mcpctl error.

What mcpd cannot be made to answer on demand (429/503 and retries, 5xx,
answers that are not JSON, slowness) is in tests/unit/cli/test_client.py,
against a stand-in.
"""

from __future__ import annotations

import pytest

from mcpctl.client.http import ApiClient, NotLoggedIn
from mcpctl.errors import Conflict, Forbidden, InvalidInput, InvalidManifest, NotFound
from tests.support.manifests import manifest

from .conftest import Cli

pytestmark = pytest.mark.integration


def client_of(cli: Cli, token: str | None = None, context: str | None = None) -> ApiClient:
    return ApiClient(
        server=cli.mcpd.url,
        token=cli.mcpd.admin_token if token is None else token or None,
        context=context,
    )


def test_a_forbidden_request_names_the_permission(cli: Cli, viewer: str) -> None:
    with client_of(cli, viewer) as client, pytest.raises(Forbidden) as caught:
        client.request("GET", "/api/v1/secrets")

    assert str(caught.value) == "forbidden: needs view on secrets"


def test_a_missing_object_is_not_found(cli: Cli) -> None:
    with client_of(cli) as client, pytest.raises(NotFound) as caught:
        client.request("GET", "/api/v1/servers/nope-x")

    assert str(caught.value) == "Server/nope-x not found"


def test_creating_an_existing_object_is_a_conflict(cli: Cli) -> None:
    server = manifest("Server", cli.name("srv"), {"command": ["x"]})
    cli.create(server)

    with client_of(cli) as client, pytest.raises(Conflict) as caught:
        client.request("POST", "/api/v1/servers", body=server)

    assert "\n" not in str(caught.value)


def test_a_bad_parameter_is_invalid_input(cli: Cli) -> None:
    with client_of(cli) as client, pytest.raises(InvalidInput) as caught:
        client.request("GET", "/api/v1/servers", params={"limit": "many"})

    assert str(caught.value) == "limit must be an integer"


def test_invalid_manifests_carry_every_issue(cli: Cli) -> None:
    name = cli.name("proj")
    items = [
        manifest("Project", name, {"servers": [f"{name}-nope"]}),
        manifest("Server", f"{name}-s", {"template": f"{name}-nope"}),
    ]

    with client_of(cli) as client, pytest.raises(InvalidManifest) as caught:
        client.request("POST", "/api/v1/apply", body={"items": items})

    found = {(i.kind, i.name, i.code, i.field) for i in caught.value.issues}
    assert found == {
        ("Project", name, "reference", "spec.servers[0]"),
        ("Server", f"{name}-s", "reference", "spec.template"),
    }


def test_a_body_too_large_is_invalid_input(cli: Cli) -> None:
    padding = "x" * (17 * 1024 * 1024)
    server = manifest("Server", cli.name("big"), {"command": ["x"], "description": padding})

    with client_of(cli) as client, pytest.raises(InvalidInput) as caught:
        client.request("POST", "/api/v1/servers", body=server)

    assert str(caught.value).endswith("(HTTP 413)")


def test_a_rejected_token_says_to_log_in_again(cli: Cli) -> None:
    with (
        client_of(cli, "mcpctl_sess_not-a-session", context="prod") as client,
        pytest.raises(NotLoggedIn) as caught,
    ):
        client.request("GET", "/api/v1/servers")

    assert str(caught.value).startswith("the token of context 'prod' was rejected (")
    assert str(caught.value).endswith(f"): log in again with `mcpctl login {cli.mcpd.url}`")


def test_no_token_says_not_logged_in(cli: Cli) -> None:
    with client_of(cli, "") as client, pytest.raises(NotLoggedIn) as caught:
        client.request("GET", "/api/v1/servers")

    url = cli.mcpd.url
    assert str(caught.value) == f"not logged in to {url}: run `mcpctl login {url}`"
