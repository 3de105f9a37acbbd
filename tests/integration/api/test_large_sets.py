"""Writes over more objects than one database query takes: every stored one is found."""

from __future__ import annotations

import pytest

from tests.integration.api.harness import Api, assert_problem, path, project, prompt, server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(fresh_api: Api) -> Api:
    """An mcpd of this module's own: the others need not list 1,600 more servers."""
    return fresh_api


def test_a_batch_spanning_many_queries_finds_every_stored_object(api: Api) -> None:
    servers = [api.name("many") for _ in range(1600)]  # more names than one query binds
    projects = [api.name("proj"), api.name("proj")]
    items = [server(n) for n in servers]
    items += [project(projects[0], servers[:700]), project(projects[1], servers[900:])]
    items += [prompt(p, api.name("prompt")) for p in projects for _ in range(3)]

    first = api.apply(items)
    again = api.apply(items)

    assert first["summary"] == {"add": len(items), "change": 0, "remove": 0, "unchanged": 0}
    # every object is found stored, whatever query its kind, project and name fell in
    assert again["summary"] == {"add": 0, "change": 0, "remove": 0, "unchanged": len(items)}
    # who refers to a server is found the same way: the last one is used by the second project
    refused = api.admin.delete(path("servers", servers[-1]))
    problem = assert_problem(refused, 409, "conflict")
    assert projects[1] in problem["detail"]
    assert api.admin.delete(path("servers", servers[800])).status_code == 204
    assert api.exists("servers", servers[-1])
    assert not api.exists("servers", servers[800])
