"""Status writes re-render the listed form: a list never shows an old status."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcpctl.access.policy import SYSTEM
from mcpctl.objects import ObjectService
from mcpctl.schemas import Server
from mcpctl.store import make_engine, make_sessionmaker, upgrade

pytestmark = pytest.mark.integration

SERVER = Path(__file__).parents[3] / "examples" / "servers" / "time.yaml"


def listed_and_read(database_url: str, status: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Apply a Server, write its status (twice: a status replaces the one before), and
    return what a list then answers and what a read answers."""

    async def run() -> list[dict[str, Any]]:
        engine = make_engine(database_url)
        try:
            await upgrade(engine)
            objects = ObjectService(make_sessionmaker(engine))
            await objects.apply(SYSTEM, [yaml.safe_load(SERVER.read_text())])
            await objects.write_status(("Server", None, "time"), {"phase": "Starting"})
            written = await objects.write_status(("Server", None, "time"), status)
            page, _ = await objects.list_page(SYSTEM, Server, None)
            read = await objects.get(SYSTEM, Server, None, "time")
            return [json.loads(page[0]), read, written]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_a_status_write_shows_in_the_list_and_the_read(database_url: str) -> None:
    listed, read, written = listed_and_read(database_url, {"phase": "Running", "instances": 1})

    assert listed["status"] == {"phase": "Running", "instances": 1}
    assert read["status"] == listed["status"]
    assert written == read


def test_a_cleared_status_leaves_the_list(database_url: str) -> None:
    listed, read, _ = listed_and_read(database_url, None)

    assert "status" not in listed
    assert "status" not in read


def test_a_status_write_keeps_the_versions(database_url: str) -> None:
    listed, _, _ = listed_and_read(database_url, {"phase": "Running"})

    assert listed["metadata"]["generation"] == 1
    assert listed["metadata"]["resourceVersion"] == "1"
