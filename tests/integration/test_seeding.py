"""`seed_templates` against a real database (SQLite and PostgreSQL), with catalogues of
the test's own: what a newer mcpctl's catalogue does to what an older one seeded.

The whole mcpd is tested in test_builtin_templates.py; here the seeding alone, so
that a catalogue can change between two seedings as it does between two releases.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mcpctl.access.policy import SYSTEM
from mcpctl.errors import Deposed
from mcpctl.manifests import Manifest, validate_object
from mcpctl.manifests.builtins import BUILTIN_LABEL
from mcpctl.objects import ObjectService
from mcpctl.reconciler.seeding import Seeded, seed_templates
from mcpctl.schemas import Template
from mcpctl.store import Session, make_engine, make_sessionmaker, upgrade
from tests.support.manifests import manifest

pytestmark = pytest.mark.integration

Step = Callable[[ObjectService], Awaitable[Any]]


def shipped(name: str, spec: dict[str, Any]) -> Manifest:
    body = manifest("Template", name, spec, labels={BUILTIN_LABEL: "true"})
    checked = validate_object(body)
    assert isinstance(checked, Manifest)
    return checked


V1 = (
    shipped("clock", {"command": ["clock-mcp"]}),
    shipped("old", {"command": ["old-mcp"]}),
)
#: The next release: `clock` needs a token now, `old` is gone, `new` is new.
V2 = (
    shipped(
        "clock",
        {
            "command": ["clock-mcp", "--v2"],
            "parameters": [{"name": "CLOCK_TOKEN", "required": True, "secret": True}],
        },
    ),
    shipped("new", {"command": ["new-mcp"]}),
)


def run(database_url: str, *steps: Step) -> list[Any]:
    """Each step on one ObjectService over a migrated database; what each returned."""

    async def go() -> list[Any]:
        engine = make_engine(database_url)
        try:
            await upgrade(engine)
            objects = ObjectService(make_sessionmaker(engine))
            return [await step(objects) for step in steps]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def seed(catalogue: tuple[Manifest, ...]) -> Step:
    async def step(objects: ObjectService) -> Seeded:
        return await seed_templates(objects, shipped=catalogue)

    return step


def apply(*items: dict[str, Any]) -> Step:
    async def step(objects: ObjectService) -> None:
        await objects.apply(SYSTEM, list(items))

    return step


async def stored(objects: ObjectService) -> dict[str, dict[str, Any]]:
    page, _ = await objects.list_page(SYSTEM, Template, None)
    return {t["metadata"]["name"]: t for t in map(json.loads, page)}


def test_a_newer_catalogue_updates_labelled_built_ins_and_keeps_the_rest(
    database_url: str,
) -> None:
    server = manifest("Server", "uses-clock", {"template": "clock"})
    first, _, second, third, templates = run(
        database_url, seed(V1), apply(server), seed(V2), seed(V2), stored
    )

    assert first == Seeded(created=["clock", "old"])
    # a stored Server that does not give the new required parameter stops nothing
    assert second == Seeded(created=["new"], updated=["clock"])
    assert third == Seeded()
    assert sorted(templates) == ["clock", "new", "old"]  # no longer shipped: kept
    assert templates["clock"]["spec"]["command"] == ["clock-mcp", "--v2"]
    assert templates["clock"]["metadata"]["updatedBy"] == "mcpd"


def test_labels_added_to_a_built_in_go_with_the_shipped_version_unless_it_is_unlabelled(
    database_url: str,
) -> None:
    tagged = manifest(
        "Template", "clock", {"command": ["clock-mcp"]},
        labels={BUILTIN_LABEL: "true", "team": "infra"},
    )  # fmt: skip
    owned = manifest("Template", "old", {"command": ["our-old-mcp"]}, labels={"team": "infra"})
    _, _, again, templates = run(database_url, seed(V1), apply(tagged, owned), seed(V1), stored)

    assert again == Seeded(updated=["clock"], kept=["old"])
    assert templates["clock"]["metadata"]["labels"] == {BUILTIN_LABEL: "true"}
    assert templates["old"]["spec"] == {"command": ["our-old-mcp"]}


def test_a_deposed_leader_seeds_nothing(database_url: str) -> None:
    async def deposed(session: Session) -> None:
        raise Deposed("this replica no longer leads")

    async def refused(objects: ObjectService) -> str:
        with pytest.raises(Deposed) as caught:
            await seed_templates(objects, deposed, shipped=V1)
        return str(caught.value)

    message, templates = run(database_url, refused, stored)

    assert message == "this replica no longer leads"
    assert templates == {}
