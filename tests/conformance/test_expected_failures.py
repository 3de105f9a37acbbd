"""The judgement of a conformance run against the expected failures: what makes
tests/conformance/test_conformance.py fail, shown on runs made up here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.conformance import Check, SuiteRun
from tests.support.expectedfailures import BadExpectedFailures, Expected, judge, load

ERAS = ("2025-11-25", "2026-07-28")


def run_of(**scenarios: list[tuple[str, str]]) -> SuiteRun:
    return SuiteRun(
        "2026-07-28",
        "http://127.0.0.1:1/mcp",
        {
            name: [Check(i, status, f"{i} said so") for i, status in checks]
            for name, checks in scenarios.items()
        },
        "",
    )


PASSING = [("a", "SUCCESS"), ("b", "SUCCESS")]
ONE_FAILING = [("a", "SUCCESS"), ("b", "FAILURE")]


def test_a_run_whose_failures_are_all_expected_conforms() -> None:
    verdict = judge(
        run_of(ok=PASSING, whole=ONE_FAILING, narrow=ONE_FAILING),
        {"whole": Expected("whole", "why"), "narrow": Expected("narrow", "why", frozenset({"b"}))},
    )
    assert verdict.conforms
    assert verdict.expected == ["whole", "narrow:b"]


def test_an_unexpected_failure_or_warning_fails_the_run_naming_its_check() -> None:
    verdict = judge(run_of(s=[("a", "WARNING"), ("b", "FAILURE"), ("c", "SKIPPED")]), {})
    assert not verdict.conforms
    assert verdict.unexpected == ["s:a (WARNING): a said so", "s:b (FAILURE): b said so"]


def test_an_expected_failure_that_passes_is_stale() -> None:
    verdict = judge(run_of(fixed=PASSING), {"fixed": Expected("fixed", "why")})
    assert not verdict.conforms
    assert verdict.stale == ["fixed"]
    assert "remove them" in verdict.report()


def test_an_expected_check_excuses_no_other_check_and_is_stale_once_it_passes() -> None:
    verdict = judge(
        run_of(s=[("a", "FAILURE"), ("b", "SUCCESS")]),
        {"s": Expected("s", "why", frozenset({"b", "gone"}))},
    )
    assert verdict.unexpected == ["s:a (FAILURE): a said so"]
    assert verdict.stale == ["s:b", "s:gone"]


def test_an_entry_for_a_scenario_the_era_does_not_have_fails_the_run() -> None:
    verdict = judge(run_of(ok=PASSING), {"renamed": Expected("renamed", "why")})
    assert verdict.unknown == ["renamed"]
    assert not verdict.conforms


def test_the_file_loads_per_era(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(
        '"2025-11-25": {}\n"2026-07-28":\n  s:\n    reason: " because "\n    checks: [a, b]\n'
    )
    assert load(path, ERAS) == {
        "2025-11-25": {},
        "2026-07-28": {"s": Expected("s", "because", frozenset({"a", "b"}))},
    }


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("2025-11-25: {}\n'2026-07-28': {}\n", "must be quoted"),
        ('"2025-11-25": {}\n', "missing ['2026-07-28']"),
        ('"2025-11-25": {}\n"2026-07-28": {}\n"2024-01-01": {}\n', "unknown ['2024-01-01']"),
        ('"2025-11-25": {}\n"2026-07-28":\n  s: {}\n', "2026-07-28: s: needs a reason"),
        (
            '"2025-11-25": {}\n"2026-07-28":\n  s: {reason: x, check: [a]}\n',
            "unknown keys ['check']",
        ),
        ('"2025-11-25": {}\n"2026-07-28":\n  s: {reason: x, checks: []}\n', "non-empty list"),
        ('"2025-11-25": [s]\n"2026-07-28": {}\n', "2025-11-25: must be a mapping"),
        ("[", "not YAML"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_file_and_where(
    tmp_path: Path, text: str, names: str
) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(text)
    with pytest.raises(BadExpectedFailures) as raised:
        load(path, ERAS)
    assert str(path) in str(raised.value)
    assert names in str(raised.value)
