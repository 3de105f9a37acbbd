"""The OpenAPI document against the app's routes: neither may hold a route the other lacks.

The document (`api/openapi.py`) is written by hand beside the routes
(`api/app.py`); this keeps them from drifting apart. The one exception is the
state repo's `/git/state.git/...`: git's smart HTTP protocol (pkt-lines, text
errors, Basic auth), which the document leaves out on purpose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from starlette.routing import Route

from mcpctl.api.app import Services, build_app
from mcpctl.api.githttp import PREFIX as GIT_PREFIX
from mcpctl.api.githttp import GitEndpoint
from mcpctl.api.openapi import openapi_document

#: The routes between replicas (api/cluster.py), outside /api/v1.
REPLICAS_PREFIX = "/cluster/"

#: The keys of an OpenAPI path item that name an operation.
OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def served() -> set[tuple[str, str]]:
    """(METHOD, path) of every route mcpd serves, git's included.

    HEAD is left out: starlette adds it to every GET route.
    """
    # build_app reads no service until a request comes: none is needed to list its routes
    unused = cast(Any, None)
    git = GitEndpoint(Path("state.git"), unused, unused, unused)
    app = build_app(Services(unused, unused, unused, unused, unused, git=git))
    return {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }


def documented() -> set[tuple[str, str]]:
    paths: dict[str, dict[str, Any]] = openapi_document()["paths"]
    return {
        (key.upper(), path) for path, item in paths.items() for key in item if key in OPERATIONS
    }


def test_every_route_of_the_api_is_in_the_openapi_document() -> None:
    json_routes = {(m, p) for m, p in served() if not p.startswith((GIT_PREFIX, REPLICAS_PREFIX))}

    assert sorted(json_routes - documented()) == []


def test_the_openapi_document_holds_no_route_mcpd_lacks() -> None:
    assert sorted(documented() - served()) == []


def test_the_git_protocol_routes_are_served_but_left_out_of_the_document() -> None:
    git_routes = {(m, p) for m, p in served() if p.startswith(GIT_PREFIX)}

    assert git_routes  # the exception above is not empty: mcpd serves them
    assert not any(path.startswith("/git/") for _, path in documented())


def test_what_replicas_ask_each_other_is_served_but_left_out_of_the_document() -> None:
    """The leader hands its sealing key to replicas that present the database's
    replication secret: not an API for users (docs/architecture.md, "Several replicas")."""
    assert ("GET", "/cluster/v1/sealing-key") in served()
    assert not any(path.startswith(REPLICAS_PREFIX) for _, path in documented())


def test_the_gitops_routes_are_documented() -> None:
    gitops = {(m, p) for m, p in documented() if p.startswith("/api/v1/gitops/")}

    assert gitops == {
        ("GET", "/api/v1/gitops/status"),
        ("GET", "/api/v1/gitops/verify"),
        ("GET", "/api/v1/gitops/timelines"),
        ("POST", "/api/v1/gitops/restore"),
        ("POST", "/api/v1/gitops/sync"),
        ("POST", "/api/v1/gitops/seal"),
    }
