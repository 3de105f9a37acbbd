"""Rendering validation issues: text, JSON, JUnit XML and GitHub annotations.

Issues arrive sorted by file, line and column. Text is for people (colour on
a terminal only), JSON for tools, JUnit for CI test reports, and `github` for
workflow annotations that GitHub shows on the lines of a pull request.
Called by `validate`, `diff`, `hooks pre-commit`, and `connection.show_issues`
for the issues of manifests that `apply`, `delete`, `seal` or mcpd refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from xml.etree import ElementTree as ET

import click

from mcpctl.errors import ManifestIssue

FORMATS = ("text", "json", "junit", "github")


def sort_issues(issues: Sequence[ManifestIssue]) -> list[ManifestIssue]:
    return sorted(
        issues,
        key=lambda i: (i.file or "", i.document or 0, i.line or 0, i.column or 0, i.message),
    )


def summary_line(issues: Sequence[ManifestIssue], objects: int, files: int) -> str:
    what = (
        f"{objects} object{'s' if objects != 1 else ''} in {files} file{'s' if files != 1 else ''}"
    )
    if not issues:
        return f"{what}: valid"
    return f"{what}: {len(issues)} issue{'s' if len(issues) != 1 else ''}"


def render(
    fmt: str,
    issues: Sequence[ManifestIssue],
    *,
    objects: int,
    files: int,
    color: bool,
) -> str:
    issues = sort_issues(issues)
    if fmt == "json":
        return render_json(issues, objects=objects, files=files)
    if fmt == "junit":
        return render_junit(issues, objects=objects, files=files)
    if fmt == "github":
        return render_github(issues, objects=objects, files=files)
    return render_text(issues, objects=objects, files=files, color=color)


def render_text(issues: Sequence[ManifestIssue], *, objects: int, files: int, color: bool) -> str:
    lines = []
    for issue in issues:
        label = click.style("error", fg="red", bold=True) if color else "error"
        suffix = issue.context()
        location = click.style(issue.location(), bold=True) if color else issue.location()
        lines.append(f"{location}: {label}: {issue.message}{suffix} [{issue.code}]")
    summary = summary_line(issues, objects, files)
    if color:
        summary = click.style(summary, fg="red" if issues else "green")
    lines.append(summary)
    return "\n".join(lines) + "\n"


def render_json(issues: Sequence[ManifestIssue], *, objects: int, files: int) -> str:
    body = {
        "valid": not issues,
        "files": files,
        "objects": objects,
        "issues": [{k: v for k, v in asdict(issue).items() if v is not None} for issue in issues],
    }
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def render_junit(issues: Sequence[ManifestIssue], *, objects: int, files: int) -> str:
    """One test case per object (or file) with issues; passing objects count as tests."""
    by_case: dict[tuple[str, str], list[ManifestIssue]] = {}
    for issue in issues:
        case = (
            issue.file or "<input>",
            issue.object_ref or f"document {(issue.document or 0) + 1}",
        )
        by_case.setdefault(case, []).append(issue)
    passing = max(objects - len({c for c in by_case if "/" in c[1]}), 0)
    tests = passing + len(by_case)
    suites = ET.Element(
        "testsuites", name="mcpctl validate", tests=str(tests), failures=str(len(by_case))
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="mcpctl validate",
        tests=str(tests),
        failures=str(len(by_case)),
        errors="0",
        skipped="0",
    )
    for (file, name), found in by_case.items():
        testcase = ET.SubElement(suite, "testcase", classname=file, name=name)
        for issue in found:
            failure = ET.SubElement(testcase, "failure", message=issue.message, type=issue.code)
            failure.text = str(issue)
    if passing:
        ET.SubElement(
            suite,
            "testcase",
            classname="mcpctl validate",
            name=f"{passing} valid object{'s' if passing != 1 else ''}",
        )
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(issues: Sequence[ManifestIssue], *, objects: int, files: int) -> str:
    """GitHub Actions workflow commands: `::error file=..,line=..,col=..::message`."""
    lines = []
    for issue in issues:
        props = []
        if issue.file:
            props.append(f"file={_escape_property(issue.file)}")
        if issue.line is not None:
            props.append(f"line={issue.line}")
        if issue.column is not None:
            props.append(f"col={issue.column}")
        props.append(f"title={_escape_property('mcpctl validate: ' + issue.code)}")
        context = [
            c for c in (issue.object_ref, f"field {issue.field}" if issue.field else None) if c
        ]
        message = issue.message + (f" ({', '.join(context)})" if context else "")
        lines.append(f"::error {','.join(props)}::{_escape_data(message)}")
    lines.append(summary_line(issues, objects, files))
    return "\n".join(lines) + "\n"
