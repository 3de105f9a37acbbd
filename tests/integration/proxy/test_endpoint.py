"""`/mcp/<project>` in a real mcpd, reached by the `mcp` SDK's own client in both protocol
eras, in front of real servers run by the runtime: the project's test server and PyPI's
`mcp-server-time`, each over stdio.

What a client sees: the project's instructions, the tools, prompts and resources of its
servers under namespaced names, calls routed back to the right server (with the
server's progress notifications on the way), and every refusal a token can meet.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.integration.runtime.test_reconciler import JSON, apply, manifest_of, until
from tests.support.mcpd import WAIT_TIMEOUT, Mcpd, running_mcpd
from tests.support.runtime import MCP_SERVER_TIME

pytestmark = [pytest.mark.integration]

#: the initialize handshake, and auto: server/discover first, as the SDK's client does by
#: default (it finds the endpoint speaks 2026-07-28)
ERAS = ["legacy", "auto"]
INSTRUCTIONS = "Use the tools of demo wisely."


def _time_server() -> JSON:
    return {
        "apiVersion": "mcpctl/v1",
        "kind": "Server",
        "metadata": {"name": "time"},
        "spec": {"command": [str(MCP_SERVER_TIME), "--local-timezone=UTC"]},
    }


def _project(name: str, *servers: str) -> JSON:
    return {
        "apiVersion": "mcpctl/v1",
        "kind": "Project",
        "metadata": {"name": name},
        "spec": {"servers": list(servers), "instructions": INSTRUCTIONS},
    }


def _token(client: httpx.Client, name: str, spec: JSON, bindings: list[JSON] | None = None) -> str:
    body: JSON = {
        "apiVersion": "mcpctl/v1",
        "kind": "McpToken",
        "metadata": {"name": name},
        "spec": spec,
    }
    if bindings is not None:
        body["bindings"] = bindings
    answer = client.post("/api/v1/mcptokens", json=body)
    assert answer.status_code == 201, answer.text
    token: str = answer.json()["token"]
    return token


@pytest.fixture(scope="module")
def mcpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mcpd]:
    state = tmp_path_factory.mktemp("proxy") / "state"
    with running_mcpd(state) as server:
        with server.client() as client:
            apply(
                client,
                manifest_of("tools"),
                _time_server(),
                _project("demo", "tools", "time"),
                _project("other", "tools"),
            )

            def ready() -> bool:
                for name in ("tools", "time"):
                    status = client.get(f"/api/v1/servers/{name}").json().get("status") or {}
                    if status.get("readyReplicas") != 1:
                        return False
                return True

            until(ready, "the servers tools and time ready")
        yield server


@pytest.fixture(scope="module")
def token(mcpd: Mcpd) -> str:
    with mcpd.client() as client:
        return _token(client, "laptop", {"project": "demo", "rbacMode": "clone"})


@contextlib.asynccontextmanager
async def _client(url: str, token: str, era: str) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), mode=era) as client,
    ):
        yield client


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


@pytest.mark.parametrize("era", ERAS)
def test_a_client_sees_every_server_of_the_project_under_namespaced_names(
    mcpd: Mcpd, token: str, era: str
) -> None:
    async def scenario() -> None:
        async with _client(f"{mcpd.url}/mcp/demo", token, era) as client:
            assert client.instructions == INSTRUCTIONS
            assert client.protocol_version == ("2025-11-25" if era == "legacy" else "2026-07-28")
            tools = [t.name for t in (await client.list_tools()).tools]
            assert "tools__echo" in tools
            assert "tools__add" in tools
            assert "time__get_current_time" in tools
            assert tools.index("tools__echo") < tools.index("time__get_current_time")
            prompts = [p.name for p in (await client.list_prompts()).prompts]
            assert prompts == ["tools__greet"]
            resources = [str(r.uri) for r in (await client.list_resources()).resources]
            assert resources == ["tools+test://static"]

            echoed = await client.call_tool("tools__echo", {"text": "hello"})
            assert not echoed.is_error
            assert echoed.content[0].text == "hello"  # type: ignore[union-attr]
            added = await client.call_tool("tools__add", {"a": 2, "b": 40})
            assert added.content[0].text == "42"  # type: ignore[union-attr]
            now = await client.call_tool("time__get_current_time", {"timezone": "UTC"})
            assert not now.is_error
            assert "UTC" in now.content[0].text  # type: ignore[union-attr]

            greeting = await client.get_prompt("tools__greet", {"who": "Ada"})
            assert "Hello, Ada!" in str(greeting.messages[0].content)
            static = await client.read_resource("tools+test://static")
            assert static.contents[0].text == "static text"  # type: ignore[union-attr]

    _run(scenario())


@pytest.mark.parametrize("era", ERAS)
def test_an_unknown_tool_is_a_clear_error_and_the_endpoint_goes_on(
    mcpd: Mcpd, token: str, era: str
) -> None:
    async def scenario() -> None:
        async with _client(f"{mcpd.url}/mcp/demo", token, era) as client:
            with pytest.raises(Exception, match="unknown tool 'nope__x'"):
                await client.call_tool("nope__x", {})
            echoed = await client.call_tool("tools__echo", {"text": "still here"})
            assert echoed.content[0].text == "still here"  # type: ignore[union-attr]

    _run(scenario())


@pytest.mark.parametrize("era", ERAS)
def test_progress_of_a_call_reaches_the_client(mcpd: Mcpd, token: str, era: str) -> None:
    heard: list[float] = []

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        heard.append(progress)

    async def scenario() -> None:
        async with _client(f"{mcpd.url}/mcp/demo", token, era) as client:
            done = await client.call_tool(
                "tools__progress", {"steps": 3}, progress_callback=progress
            )
            assert not done.is_error

    _run(scenario())
    assert heard == [1, 2, 3]


def _post(mcpd: Mcpd, project: str, token: str | None, **headers: str) -> httpx.Response:
    sent = {"accept": "application/json, text/event-stream", **headers}
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    return httpx.post(f"{mcpd.url}/mcp/{project}", json=body, headers=sent)


def test_no_token_is_401_with_www_authenticate(mcpd: Mcpd) -> None:
    answer = _post(mcpd, "demo", None)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert _post(mcpd, "demo", "mcpctl_pat_notatoken").status_code == 401


def test_a_token_for_another_project_is_refused_naming_its_project(mcpd: Mcpd, token: str) -> None:
    answer = _post(mcpd, "other", token)
    assert answer.status_code == 403
    assert "limited to project demo" in answer.text


def test_a_token_without_run_on_the_project_is_refused_naming_what_it_needs(
    mcpd: Mcpd,
) -> None:
    with mcpd.client() as client:
        viewer = _token(
            client, "viewer", {"project": "demo"}, [{"role": "view", "resource": "projects"}]
        )
        runner = _token(
            client,
            "runner",
            {},
            [{"role": "run", "resource": "projects", "name": "demo"}],
        )
    answer = _post(mcpd, "demo", viewer)
    assert answer.status_code == 403
    assert "needs run on projects/demo" in answer.text
    assert _post(mcpd, "demo", runner).status_code == 200
    assert _post(mcpd, "other", runner).status_code == 403


def test_an_unknown_project_is_404_once_authorized(mcpd: Mcpd, token: str) -> None:
    with mcpd.client() as client:
        everywhere = _token(client, "everywhere", {"rbacMode": "clone"})
    assert _post(mcpd, "nowhere", everywhere).status_code == 404


def test_a_foreign_origin_is_refused(mcpd: Mcpd, token: str) -> None:
    answer = _post(mcpd, "demo", token, origin="http://evil.example")
    assert answer.status_code == 403
    assert "origin" in answer.text


def test_an_unknown_session_is_404_so_that_the_client_initializes_again(
    mcpd: Mcpd, token: str
) -> None:
    body = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    headers = {
        "authorization": f"Bearer {token}",
        "accept": "application/json, text/event-stream",
        "mcp-session-id": "forgotten",
        "mcp-protocol-version": "2025-11-25",
    }
    answer = httpx.post(f"{mcpd.url}/mcp/demo", json=body, headers=headers)
    assert answer.status_code == 404
    del headers["mcp-session-id"]
    assert httpx.post(f"{mcpd.url}/mcp/demo", json=body, headers=headers).status_code == 400


def test_a_session_serves_only_the_credential_that_opened_it(mcpd: Mcpd, token: str) -> None:
    opened = _post(mcpd, "demo", token)
    session = opened.headers["mcp-session-id"]
    with mcpd.client() as client:
        other = _token(client, "other-laptop", {"project": "demo", "rbacMode": "clone"})
    body = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    headers = {
        "accept": "application/json, text/event-stream",
        "mcp-session-id": session,
        "mcp-protocol-version": "2025-11-25",
    }
    mine = httpx.post(
        f"{mcpd.url}/mcp/demo", json=body, headers={**headers, "authorization": f"Bearer {token}"}
    )
    assert mine.status_code == 200
    theirs = httpx.post(
        f"{mcpd.url}/mcp/demo", json=body, headers={**headers, "authorization": f"Bearer {other}"}
    )
    assert theirs.status_code == 404


def test_a_modern_request_whose_headers_disagree_with_its_body_is_400(
    mcpd: Mcpd, token: str
) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/list",
        "params": {
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        },
    }
    headers = {
        "authorization": f"Bearer {token}",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
    }
    answer = httpx.post(f"{mcpd.url}/mcp/demo", json=body, headers=headers)
    assert answer.status_code == 400
    assert "mcp-method" in answer.text
    headers["mcp-method"] = "tools/list"
    listed = httpx.post(f"{mcpd.url}/mcp/demo", json=body, headers=headers)
    assert listed.status_code == 200
    result = listed.json()["result"]
    assert result["cacheScope"] == "private"
    assert "tools__echo" in [t["name"] for t in result["tools"]]


def test_every_call_is_audited_with_its_arguments_hashed_never_shown(
    mcpd: Mcpd, token: str
) -> None:
    async def known() -> None:
        async with _client(f"{mcpd.url}/mcp/demo", token, "legacy") as client:
            await client.call_tool("tools__echo", {"text": "s3cr3t-argument"})
            await client.call_tool("tools__add", {"a": "not a number", "b": 1})

    _run(known())
    with mcpd.client() as admin:

        def calls() -> list[JSON]:
            answer = admin.get("/api/v1/auditevents", params={"verb": "call", "limit": 1000})
            items: list[JSON] = answer.raise_for_status().json()["items"]
            found = [
                i["spec"]
                for i in items
                if i["spec"]["verb"] == "call" and i["spec"].get("project") == "demo"
            ]
            wanted = hashlib.sha256(b'{"a":"not a number","b":1}').hexdigest()
            done = any(c["details"]["arguments"].get("sha256") == wanted for c in found)
            return found if done else []

        entries = until(calls, "the audit entries of the calls")
        raw = admin.get("/api/v1/auditevents", params={"limit": 1000}).text

    # picked by the hash of their own arguments: earlier tests called these tools too,
    # maybe within the same second
    def by_arguments(tool: str, arguments: bytes) -> JSON:
        digest = hashlib.sha256(arguments).hexdigest()
        found: JSON = next(
            e
            for e in entries
            if e.get("tool") == tool and e["details"]["arguments"].get("sha256") == digest
        )
        return found

    echo = by_arguments("echo", b'{"text":"s3cr3t-argument"}')
    assert echo["server"] == "tools"
    assert echo["outcome"] == "success"
    assert echo["token"].startswith("laptop")
    assert echo["durationMs"] >= 0
    assert echo["details"]["arguments"]["bytes"] == len(b'{"text":"s3cr3t-argument"}')
    add = by_arguments("add", b'{"a":"not a number","b":1}')
    assert add["outcome"] == "error"  # the server refused its arguments
    assert "s3cr3t-argument" not in raw


def test_a_refused_request_is_audited_as_denied(mcpd: Mcpd, token: str) -> None:
    assert _post(mcpd, "other", token).status_code == 403
    with mcpd.client() as admin:

        def denied() -> list[JSON]:
            answer = admin.get("/api/v1/auditevents", params={"outcome": "denied", "limit": 1000})
            items: list[JSON] = answer.raise_for_status().json()["items"]
            return [
                i["spec"]
                for i in items
                if i["spec"]["verb"] == "connect" and i["spec"].get("project") == "other"
            ]

        found = until(denied, "the denied request's audit entry")
    reasons = [entry["details"]["reason"] for entry in found]
    assert any("this token is limited to project demo" in reason for reason in reasons)


def _initialize(mcpd: Mcpd, project: str, token: str) -> dict[str, str]:
    """A session of the handshake era, opened by hand: the headers its requests carry."""
    opened = _post(mcpd, project, token)
    assert opened.status_code == 200, opened.text
    return {
        "authorization": f"Bearer {token}",
        "accept": "application/json, text/event-stream",
        "mcp-session-id": opened.headers["mcp-session-id"],
        "mcp-protocol-version": "2025-11-25",
    }


def _tool_names(mcpd: Mcpd, project: str, headers: dict[str, str]) -> list[str]:
    body = {"jsonrpc": "2.0", "id": 9, "method": "tools/list"}
    answer = httpx.post(f"{mcpd.url}/mcp/{project}", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return [t["name"] for t in answer.json()["result"]["tools"]]


def test_a_session_hears_on_its_get_stream_when_its_tools_change(mcpd: Mcpd) -> None:
    with mcpd.client() as admin:
        apply(admin, _project("live", "tools"))
        token = _token(admin, "live-laptop", {"project": "live", "rbacMode": "clone"})
    headers = _initialize(mcpd, "live", token)
    assert "time__get_current_time" not in _tool_names(mcpd, "live", headers)
    # open before the change (its answer's headers come once it listens), read after it
    with httpx.stream(
        "GET", f"{mcpd.url}/mcp/live", headers=headers, timeout=WAIT_TIMEOUT
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"] == "text/event-stream"
        with mcpd.client() as admin:
            apply(admin, _project("live", "tools", "time"))
        heard = []
        for line in stream.iter_lines():
            if line.startswith("data: "):
                heard.append(json.loads(line.removeprefix("data: "))["method"])
                if "notifications/tools/list_changed" in heard:
                    break
    assert "notifications/tools/list_changed" in heard
    assert "time__get_current_time" in _tool_names(mcpd, "live", headers)


def test_a_get_stream_needs_its_session(mcpd: Mcpd, token: str) -> None:
    headers = {"authorization": f"Bearer {token}", "accept": "text/event-stream"}
    assert httpx.get(f"{mcpd.url}/mcp/demo", headers=headers).status_code == 400
    headers["mcp-session-id"] = "forgotten"
    assert httpx.get(f"{mcpd.url}/mcp/demo", headers=headers).status_code == 404


def test_a_listen_hears_when_its_tools_change(mcpd: Mcpd) -> None:
    with mcpd.client() as admin:
        apply(admin, _project("listened", "tools"))
        token = _token(admin, "listen-laptop", {"project": "listened", "rbacMode": "clone"})

    def change() -> None:
        with mcpd.client() as admin:
            apply(admin, _project("listened", "tools", "time"))

    async def scenario() -> list[str]:
        async with _client(f"{mcpd.url}/mcp/listened", token, "auto") as client:
            before = [t.name for t in (await client.list_tools()).tools]
            assert "time__get_current_time" not in before
            async with client.listen(tools_list_changed=True) as subscription:
                await asyncio.to_thread(change)
                async for event in subscription:
                    assert "tools" in repr(event).lower()
                    break
            return [t.name for t in (await client.list_tools()).tools]

    after = _run(scenario())
    assert "time__get_current_time" in after


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line")


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry))
    return found


def test_a_thousand_sessions_dropped_unclosed_leave_nothing_behind(mcpd: Mcpd, token: str) -> None:
    pid = mcpd.process.pid
    with mcpd.client() as admin:
        admin.get("/api/v1/auth/me")  # mcpd's own pools warmed before counting
    _tool_names(mcpd, "demo", _initialize(mcpd, "demo", token))
    before = (_fds(pid), _threads(pid), _children(pid))
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    headers = {"authorization": f"Bearer {token}", "accept": "application/json, text/event-stream"}
    with httpx.Client(base_url=mcpd.url, headers=headers, timeout=WAIT_TIMEOUT) as client:
        for _ in range(1000):
            opened = client.post("/mcp/demo", json=body)
            assert opened.status_code == 200
        session = opened.headers["mcp-session-id"]
        # streams opened and dropped by the client going away, without a DELETE
        for _ in range(20):
            with client.stream(
                "GET",
                "/mcp/demo",
                headers={
                    "mcp-session-id": session,
                    "mcp-protocol-version": "2025-11-25",
                    "accept": "text/event-stream",
                },
            ) as stream:
                assert stream.status_code == 200

    def settled() -> bool:
        # no more than before (a descriptor open then for a moment may be gone since)
        fds, threads, children = before
        return _fds(pid) <= fds and _threads(pid) <= threads and _children(pid) <= children

    until(settled, f"mcpd's descriptors, threads and children as before {before}")


def _call(mcpd: Mcpd, project: str, headers: dict[str, str], tool: str, arguments: JSON) -> JSON:
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }
    answer = httpx.post(
        f"{mcpd.url}/mcp/{project}", json=body, headers=headers, timeout=WAIT_TIMEOUT
    )
    assert answer.status_code == 200, answer.text
    message: JSON = answer.json()
    return message


def test_a_dead_upstream_is_left_out_and_a_restarted_one_answers_again(mcpd: Mcpd) -> None:
    with mcpd.client() as admin:
        apply(
            admin,
            manifest_of("flaky"),
            manifest_of("broken", "--exit-at-once", "3"),
            _project("mixed", "tools", "flaky", "broken"),
        )
        token = _token(admin, "mixed-laptop", {"project": "mixed", "rbacMode": "clone"})
    headers = _initialize(mcpd, "mixed", token)

    def flaky_listed() -> list[str]:
        names = _tool_names(mcpd, "mixed", headers)
        return names if "flaky__echo" in names else []

    names = until(flaky_listed, "the tools of flaky listed")
    assert "tools__echo" in names
    assert not [n for n in names if n.startswith("broken__")]  # never up: left out
    refused = _call(mcpd, "mixed", headers, "broken__anything", {})
    assert "server broken of project mixed is not available now" in refused["error"]["message"]

    crashed = _call(mcpd, "mixed", headers, "flaky__crash", {"code": 1})
    assert "error" in crashed or crashed["result"].get("isError")
    # the endpoint goes on for the others meanwhile
    assert (
        _call(mcpd, "mixed", headers, "tools__echo", {"text": "on"})["result"]["content"][0]["text"]
        == "on"
    )

    def echoed_again() -> bool:
        answer = _call(mcpd, "mixed", headers, "flaky__echo", {"text": "back"})
        if "error" in answer:
            assert "flaky" in answer["error"]["message"]  # a clear error naming the server
            return False
        return bool(answer["result"]["content"][0]["text"] == "back")

    until(echoed_again, "flaky restarted and answering through the same session")
