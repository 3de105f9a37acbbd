"""`mcplocal` between the `mcp` SDK's own client (over STDIO, as Claude Code starts a
server from `.mcp.json`) and a real mcpd's `/mcp/<project>`, in both protocol eras; and
an mcpd restart in the middle of a session, which the client never notices."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from mcp import Client, StdioServerParameters

from tests.integration.proxy.test_endpoint import ERAS, _project, _token
from tests.integration.runtime.test_reconciler import apply, manifest_of, until
from tests.support.mcpd import WAIT_TIMEOUT, running_mcpd
from tests.support.postgres import free_port

pytestmark = [pytest.mark.integration]


@contextlib.asynccontextmanager
async def _through_mcplocal(
    url: str, project: str, token: str, era: str, home: Path
) -> AsyncIterator[Client]:
    # the token comes from the environment, never from the client's configuration
    env = {"PATH": os.environ["PATH"], "MCPCTL_TOKEN": token, "MCPCTL_HOME": str(home)}
    command = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcpctl.proxy.local", project, "--server", url, "--retry-for", "120"],
        env=env,
    )
    async with Client(command, mode=era) as client:
        yield client


def _ready(client: httpx.Client, *servers: str) -> None:
    def check() -> bool:
        for name in servers:
            status = client.get(f"/api/v1/servers/{name}").json().get("status") or {}
            if status.get("readyReplicas") != 1:
                return False
        return True

    until(check, f"{servers} ready")


@pytest.mark.parametrize("era", ERAS)
def test_a_client_reaches_the_project_through_mcplocal_and_across_an_mcpd_restart(
    tmp_path: Path, era: str
) -> None:
    state, port = tmp_path / "state", free_port()
    url = f"http://127.0.0.1:{port}"
    called, down, up, answers = threading.Event(), threading.Event(), threading.Event(), []

    async def client_side(token: str) -> None:
        async with _through_mcplocal(url, "local", token, era, tmp_path / "home") as client:
            tools = [t.name for t in (await client.list_tools()).tools]
            assert "tools__echo" in tools
            answers.append((await client.call_tool("tools__echo", {"text": "before"})).content)
            called.set()
            await asyncio.to_thread(down.wait, WAIT_TIMEOUT)
            # mcpd is down: the request waits for it to come back (and for the session,
            # which the new mcpd does not know, to be opened again), then goes through
            await client.list_tools()
            await asyncio.to_thread(up.wait, WAIT_TIMEOUT)
            answers.append((await client.call_tool("tools__echo", {"text": "after"})).content)

    with ThreadPoolExecutor(1) as pool:
        with running_mcpd(state, port=port) as mcpd, mcpd.client() as admin:
            apply(admin, manifest_of("tools"), _project("local", "tools"))
            token = _token(admin, "laptop", {"project": "local", "rbacMode": "clone"})
            _ready(admin, "tools")
            running = pool.submit(asyncio.run, client_side(token))
            assert called.wait(WAIT_TIMEOUT), "the first call never returned"
        down.set()  # mcpd stopped, with every session it knew
        with running_mcpd(state, port=port) as mcpd, mcpd.client() as admin:
            _ready(admin, "tools")
            up.set()
            running.result(timeout=WAIT_TIMEOUT)
    texts = [content[0].text for content in answers]  # type: ignore[union-attr]
    assert texts == ["before", "after"]
