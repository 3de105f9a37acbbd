"""The official MCP conformance suite's server scenarios, once per protocol era, against
one MCP endpoint: every failure must be one tests/conformance/expected-failures.yaml
names, and every failure it names must happen (the file may only shrink).

The endpoint is the `target` fixture's URL. Today it is the conformance fixture
(tests/support/servers/everything.py) served directly over streamable HTTP, which
proves the harness: the suite, its results, the judgement. To test mcpd's proxy,
`target` alone changes: it starts an mcpd, applies a Project whose Server runs the
fixture (`mcpservers.fixture_server_command()`, over stdio or streamable HTTP), waits
until its Instance is ready, and yields `<mcpd>/mcp/<project>` (with whatever
credentials the proxy asks for, as headers the suite can send). The expected failures
then become the proxy's, and entries that the proxy fixes go.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import conformance, expectedfailures, mcpservers
from tests.support.servers import everything as everything_fixture

pytestmark = pytest.mark.integration

EXPECTED_FAILURES = Path(__file__).with_name("expected-failures.yaml")


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the MCP endpoint under test, serving both eras (see the module's
    docstring for switching it to mcpd's /mcp/<project>)."""
    log = tmp_path_factory.mktemp("fixture") / "everything.log"
    with mcpservers.http_fixture(log=log) as server:
        yield server.url


@pytest.fixture(scope="module")
def expected() -> dict[str, dict[str, expectedfailures.Expected]]:
    return expectedfailures.load(EXPECTED_FAILURES, conformance.ERAS)


@pytest.mark.parametrize("era", conformance.ERAS)
def test_endpoint_fails_only_the_expected_scenarios(
    era: str,
    target: str,
    expected: dict[str, dict[str, expectedfailures.Expected]],
    tmp_path: Path,
) -> None:
    run = conformance.run_suite(target, era, tmp_path / "results")
    verdict = expectedfailures.judge(run, expected[era])
    assert verdict.conforms, (
        f"conformance suite at era {era} against {target}:\n{verdict.report()}\n"
        f"(each scenario's checks are under {tmp_path / 'results'})"
    )
    # Nothing passed vacuously: each scenario not excused whole had a check succeed.
    vacuous = [
        name
        for name, checks in run.scenarios.items()
        if not (name in expected[era] and not expected[era][name].checks)
        and not any(check.status == "SUCCESS" for check in checks)
    ]
    assert not vacuous, f"scenarios of era {era} in which no check succeeded: {vacuous}"


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_fixture_serves_either_era_over_stdio(mode: str) -> None:
    """The fixture runs over stdio too (as mcpd's process driver would run it behind
    the proxy), in the session era and in the stateless one."""
    from mcp import Client, StdioServerParameters

    command, *args = mcpservers.fixture_server_command()
    # The SDK's stdio client passes the child only a few variables; PYTHONPATH keeps its
    # `mcp` the one this test imports (the virtualenv's, from an editable checkout).
    params = StdioServerParameters(command=command, args=args, env=dict(os.environ))

    async def main() -> tuple[set[str], str]:
        async with Client(params, mode=mode) as client:
            tools = await client.list_tools()
            result = await client.call_tool("test_simple_text", {})
        block = result.content[0]
        return {tool.name for tool in tools.tools}, block.text if block.type == "text" else ""

    names, text = asyncio.run(main())
    assert {"test_simple_text", "test_sampling", "test_input_required_result_elicitation"} <= names
    assert text == everything_fixture.SIMPLE_TEXT
