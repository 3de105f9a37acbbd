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

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import conformance, expectedfailures
from tests.support.mcpservers import http_fixture

pytestmark = pytest.mark.integration

EXPECTED_FAILURES = Path(__file__).with_name("expected-failures.yaml")


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the MCP endpoint under test, serving both eras (see the module's
    docstring for switching it to mcpd's /mcp/<project>)."""
    log = tmp_path_factory.mktemp("fixture") / "everything.log"
    with http_fixture(log=log) as server:
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
