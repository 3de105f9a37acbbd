"""The era policy against the answers a server may give, real servers aside (the
integration tests meet real ones): each script lists what the server answers, in order."""

from __future__ import annotations

import asyncio

import pytest

from mcpctl.upstream.errors import HandshakeFailed, UpstreamTimeout
from mcpctl.upstream.negotiating import Agreement, negotiate
from mcpctl.upstream.protocol import PROTOCOL_VERSION_KEY, SERVER_INFO_KEY
from mcpctl.upstream.settings import EraChoice
from mcpctl.upstream.wire import JsonObject

DISCOVERED: JsonObject = {
    "result": {
        "supportedVersions": ["2026-07-28"],
        "capabilities": {"tools": {}},
        "instructions": "hi",
        "_meta": {SERVER_INFO_KEY: {"name": "s", "version": "1"}},
    }
}
INITIALIZED: JsonObject = {
    "result": {
        "protocolVersion": "2025-06-18",
        "capabilities": {"prompts": {}},
        "serverInfo": {"name": "old", "version": "0"},
    }
}
NOT_FOUND: JsonObject = {"error": {"code": -32601, "message": "Method not found"}}
TIMEOUT = UpstreamTimeout("s-0", "server/discover", 1.0)


def _run(
    script: list[JsonObject | Exception], choice: EraChoice = "auto"
) -> tuple[Agreement, list[tuple[str, str | None]]]:
    asked: list[tuple[str, str | None]] = []

    async def ask(
        method: str, params: JsonObject, version: str | None, timeout: float | None
    ) -> JsonObject:
        meta = params.get("_meta")
        stamped = meta.get(PROTOCOL_VERSION_KEY) if isinstance(meta, dict) else None
        assert stamped == version, "the envelope and the header must name one version"
        asked.append((method, version))
        answer = script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    agreement = asyncio.run(negotiate(ask, "s-0", choice, {"name": "mcpctl"}, {}, 1.0))
    assert not script, "the server was asked less than it expected"
    return agreement, asked


def test_a_server_answering_discover_is_modern_and_says_what_it_is() -> None:
    agreement, asked = _run([DISCOVERED])
    assert asked == [("server/discover", "2026-07-28")]
    assert agreement == Agreement(
        era="modern",
        version="2026-07-28",
        server_info={"name": "s", "version": "1"},
        capabilities={"tools": {}},
        instructions="hi",
        supported_versions=("2026-07-28",),
    )


@pytest.mark.parametrize(
    "refusal",
    [
        NOT_FOUND,
        {"error": {"code": -32000, "message": "Bad Request: Server not initialized"}},
        {"error": {"code": -32603, "message": "the server answered server/discover with HTTP 405"}},
        TIMEOUT,
        {"result": {"supportedVersions": ["2025-11-25"], "capabilities": {}}},
        {"result": "not an object"},
    ],
)
def test_anything_but_a_modern_discover_result_falls_back_to_initialize(
    refusal: JsonObject | Exception,
) -> None:
    agreement, asked = _run([refusal, INITIALIZED])
    assert [method for method, _ in asked] == ["server/discover", "initialize"]
    assert agreement.era == "legacy"
    assert agreement.version == "2025-06-18"
    assert agreement.server_info == {"name": "old", "version": "0"}
    assert agreement.capabilities == {"prompts": {}}


def test_unsupported_version_naming_a_shared_modern_one_probes_again_at_it() -> None:
    unsupported: JsonObject = {
        "error": {
            "code": -32022,
            "message": "no",
            "data": {"supported": ["2026-07-28", "2099-01-01"]},
        }
    }
    agreement, asked = _run([unsupported, DISCOVERED])
    assert [method for method, _ in asked] == ["server/discover", "server/discover"]
    assert agreement.era == "modern"


def test_a_server_speaking_only_unknown_versions_is_refused_by_name() -> None:
    unsupported: JsonObject = {
        "error": {"code": -32022, "message": "no", "data": {"supported": ["2099-01-01"]}}
    }
    with pytest.raises(HandshakeFailed, match="2099-01-01"):
        _run([unsupported])


def test_initialize_refused_as_modern_after_a_late_probe_probes_once_more() -> None:
    # The first probe timed out here but reached the server, which locked the connection modern.
    modern_only: JsonObject = {
        "error": {"code": -32022, "message": "modern", "data": {"supported": ["2026-07-28"]}}
    }
    agreement, asked = _run([TIMEOUT, modern_only, DISCOVERED])
    assert [method for method, _ in asked] == ["server/discover", "initialize", "server/discover"]
    assert agreement.era == "modern"


def test_an_initialize_answer_in_a_version_the_channel_does_not_speak_is_refused() -> None:
    odd: JsonObject = {
        "result": {"protocolVersion": "1999-01-01", "capabilities": {}, "serverInfo": {}}
    }
    with pytest.raises(HandshakeFailed, match="1999-01-01"):
        _run([NOT_FOUND, odd])


def test_legacy_choice_never_probes_and_modern_choice_never_falls_back() -> None:
    agreement, asked = _run([INITIALIZED], choice="legacy")
    assert asked == [("initialize", None)]
    assert agreement.era == "legacy"
    with pytest.raises(HandshakeFailed, match="server/discover failed"):
        _run([NOT_FOUND], choice="modern")
    with pytest.raises(UpstreamTimeout):
        _run([TIMEOUT], choice="modern")
