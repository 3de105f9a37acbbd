"""The issue renderers on their own: escaping and edge cases the CLI rarely produces."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from mcpctl.cli.rendering.issues import render, render_github, render_junit
from mcpctl.errors import ManifestIssue

MULTILINE = ManifestIssue(
    message="first line\nsecond line\r\n100% sure",
    code="schema",
    file="dir,with:odd\nname.yaml",
    line=3,
    column=5,
    kind="Server",
    name="time",
    field="spec.command",
)


def test_github_annotations_escape_newlines_and_percents_in_the_message() -> None:
    first, summary = render_github([MULTILINE], objects=1, files=1).splitlines()

    assert first.endswith(
        "::first line%0Asecond line%0D%0A100%25 sure (Server/time, field spec.command)"
    )
    assert summary == "1 object in 1 file: 1 issue"


def test_github_annotations_escape_commas_colons_and_newlines_in_properties() -> None:
    first = render_github([MULTILINE], objects=1, files=1).splitlines()[0]

    assert first.startswith("::error file=dir%2Cwith%3Aodd%0Aname.yaml,line=3,col=5,")


def test_github_annotations_leave_out_an_unknown_location() -> None:
    issue = ManifestIssue(message="too large", code="file-too-large", file="big.yaml")

    first = render_github([issue], objects=0, files=1).splitlines()[0]

    assert first == "::error file=big.yaml,title=mcpctl validate%3A file-too-large::too large"


def test_junit_names_an_issue_without_file_or_object_by_its_document() -> None:
    issue = ManifestIssue(message="cannot parse", code="yaml-syntax", document=1)

    case = ET.fromstring(render_junit([issue], objects=0, files=1)).find("testsuite/testcase")

    assert case is not None
    assert (case.get("classname"), case.get("name")) == ("<input>", "document 2")


def test_issues_are_reported_sorted_by_file_and_line() -> None:
    later = ManifestIssue(message="b", code="schema", file="a.yaml", line=9)
    earlier = ManifestIssue(message="a", code="schema", file="a.yaml", line=2)
    other = ManifestIssue(message="c", code="schema", file="0.yaml", line=5)

    text = render("json", [later, earlier, other], objects=3, files=2, color=False)

    assert [i["message"] for i in json.loads(text)["issues"]] == ["c", "a", "b"]
