"""The conformance suite's expected failures (tests/conformance/expected-failures.yaml),
and the judgement of a run against them.

The file may only shrink: a run fails on a failure it does not name (unexpected), and
on an entry whose failure did not happen (stale: what it excused now passes, so the
entry must go). Its form, one mapping per era, of scenario to entry:

    "2026-07-28":
      some-scenario:
        reason: why it fails, and what would make it pass
        checks: [a-check-id]    # optional: only these checks may fail

An entry without `checks` excuses the whole scenario; with them, only those checks
(the scenario's others must pass), which keeps an entry as narrow as its cause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.conformance import SuiteRun


@dataclass(frozen=True)
class Expected:
    """One scenario expected to fail in one era."""

    scenario: str
    reason: str
    #: The checks that may fail; empty: the whole scenario may.
    checks: frozenset[str] = frozenset()


class BadExpectedFailures(ValueError):
    """The expected-failures file is malformed; the message names the file and where."""


def load(path: Path, eras: Sequence[str]) -> dict[str, dict[str, Expected]]:
    """Each era's expected failures, by scenario. Every era in `eras` must be present
    (an empty one is `{}`), and none other."""
    where = str(path)
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise BadExpectedFailures(f"{where}: not YAML: {e}") from e
    if not isinstance(document, dict):
        raise BadExpectedFailures(f"{where}: must be a mapping of era to scenarios")
    # An unquoted 2026-07-28 is a YAML date, not the era's name.
    names = {str(key): key for key in document}
    for name, key in names.items():
        if not isinstance(key, str):
            raise BadExpectedFailures(f'{where}: era {name} must be quoted ("{name}")')
    missing = [era for era in eras if era not in names]
    unknown = [name for name in names if name not in eras]
    if missing or unknown:
        raise BadExpectedFailures(
            f"{where}: the eras must be exactly {list(eras)}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unknown {unknown}" if unknown else "")
        )
    return {era: _era(document[era], f"{where}: {era}") for era in eras}


def _era(entries: Any, where: str) -> dict[str, Expected]:
    if entries is None or entries == {}:
        return {}
    if not isinstance(entries, dict):
        raise BadExpectedFailures(f"{where}: must be a mapping of scenario to entry")
    return {
        str(name): _entry(str(name), entry, f"{where}: {name}") for name, entry in entries.items()
    }


def _entry(scenario: str, entry: Any, where: str) -> Expected:
    if not isinstance(entry, dict):
        raise BadExpectedFailures(f"{where}: must be a mapping with a reason")
    unknown = sorted(set(map(str, entry)) - {"reason", "checks"})
    if unknown:
        raise BadExpectedFailures(f"{where}: unknown keys {unknown} (known: reason, checks)")
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise BadExpectedFailures(f"{where}: needs a reason, a non-empty text")
    checks = entry.get("checks", [])
    if (
        not isinstance(checks, list)
        or not all(isinstance(check, str) and check for check in checks)
        or ("checks" in entry and not checks)
    ):
        raise BadExpectedFailures(f"{where}: checks must be a non-empty list of check ids")
    if len(set(checks)) != len(checks):
        raise BadExpectedFailures(f"{where}: checks names a check twice")
    return Expected(scenario, reason.strip(), frozenset(checks))


@dataclass
class Verdict:
    """What a run shows against the expected failures; all empty when it conforms."""

    #: Failures no entry excuses: `scenario` or `scenario:check`, with the suite's message.
    unexpected: list[str] = field(default_factory=list)
    #: Entries whose failure did not happen: remove them from the file.
    stale: list[str] = field(default_factory=list)
    #: Entries naming a scenario the era does not have.
    unknown: list[str] = field(default_factory=list)
    #: Failures an entry excused.
    expected: list[str] = field(default_factory=list)

    @property
    def conforms(self) -> bool:
        return not (self.unexpected or self.stale or self.unknown)

    def report(self) -> str:
        parts = []
        if self.unexpected:
            parts.append("unexpected failures:\n" + "\n".join(f"  {u}" for u in self.unexpected))
        if self.stale:
            parts.append(
                "expected failures that did not happen (remove them from the file):\n"
                + "\n".join(f"  {s}" for s in self.stale)
            )
        if self.unknown:
            parts.append(
                "expected failures of scenarios this era does not have:\n"
                + "\n".join(f"  {u}" for u in self.unknown)
            )
        return "\n".join(parts)


def judge(run: SuiteRun, expected: Mapping[str, Expected]) -> Verdict:
    """`run` against the expected failures of its era."""
    verdict = Verdict()
    verdict.unknown = sorted(name for name in expected if name not in run.scenarios)
    for scenario, checks in run.scenarios.items():
        failed = [check for check in checks if check.failed]
        entry = expected.get(scenario)
        if entry is None:
            verdict.unexpected += [f"{scenario}:{c.id} ({c.status}): {c.message}" for c in failed]
        elif not entry.checks:
            (verdict.expected if failed else verdict.stale).append(scenario)
        else:
            failed_ids = {check.id for check in failed}
            for check in failed:
                if check.id in entry.checks:
                    verdict.expected.append(f"{scenario}:{check.id}")
                else:
                    verdict.unexpected.append(
                        f"{scenario}:{check.id} ({check.status}): {check.message}"
                    )
            # A named check that passed, or that the suite no longer runs, excuses nothing.
            verdict.stale += sorted(f"{scenario}:{i}" for i in entry.checks - failed_ids)
    return verdict
