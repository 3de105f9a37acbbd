"""YAML parsing: YAML 1.2 core scalars, marks, and every input the parser refuses."""

from __future__ import annotations

import math
from typing import Any

import pytest

from mcpctl.errors import ManifestIssue
from mcpctl.manifests import parsing
from mcpctl.manifests.parsing import (
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    Document,
    format_path,
    parse_documents,
)


def parse(text: str) -> list[Document | ManifestIssue]:
    return list(parse_documents(text, "in.yaml"))


def only_data(text: str) -> Any:
    items = parse(text)
    assert len(items) == 1
    document = items[0]
    assert isinstance(document, Document)
    return document.data


def only_issue(text: str) -> ManifestIssue:
    items = parse(text)
    issues = [i for i in items if isinstance(i, ManifestIssue)]
    assert len(issues) == 1, items
    return issues[0]


# --- YAML 1.2 core schema ------------------------------------------------------------


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "y", "n", "Yes", "ON"])
def test_yaml_11_booleans_stay_strings(word: str) -> None:
    assert only_data(f"a: {word}\n") == {"a": word}


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("null", None),
        ("~", None),
        ("", None),
        ("0o17", 15),
        ("0x1f", 31),
        ("017", 17),
        ("-12", -12),
        ("+3", 3),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("-.inf", -math.inf),
        (".Inf", math.inf),
    ],
)
def test_core_schema_scalars_resolve_as_yaml_12_says(literal: str, value: object) -> None:
    data = only_data(f"a: {literal}\n")
    assert data == {"a": value}
    assert type(data["a"]) is type(value)


@pytest.mark.parametrize(
    "literal", ["1_000", "0b101", "017:30", "12:30:00", "2001-12-14", "=", "<<x"]
)
def test_yaml_11_only_numbers_and_dates_stay_strings(literal: str) -> None:
    assert only_data(f"a: {literal}\n") == {"a": literal}


def test_nan_is_parsed_as_a_float_nan() -> None:
    value = only_data("a: .nan\n")["a"]
    assert isinstance(value, float)
    assert math.isnan(value)


def test_core_tags_may_be_spelled_out() -> None:
    data = only_data("a: !!str 12\nb: !!int '12'\nc: !!float '1'\nd: !!bool 'true'\ne: !!null ''\n")
    assert data == {"a": "12", "b": 12, "c": 1.0, "d": True, "e": None}


@pytest.mark.parametrize(
    "text",
    ["a: !!int 1.5\n", "a: !!bool yes\n", "a: !!null x\n", "a: !!float abc\n"],
)
def test_explicit_core_tag_on_a_mismatching_scalar_is_refused(text: str) -> None:
    issue = only_issue(text)
    assert issue.code == "yaml-tag"
    assert issue.field == "a"
    assert (issue.line, issue.column) == (1, 4)


def test_json_is_parsed_as_yaml() -> None:
    assert only_data('{"a": [1, 2.5, true, null, "x"], "b": {"c": "yes"}}') == {
        "a": [1, 2.5, True, None, "x"],
        "b": {"c": "yes"},
    }


# --- marks ----------------------------------------------------------------------------


def test_every_key_and_item_records_its_line_and_column() -> None:
    items = parse("top:\n  inner: 1\n  list:\n  - a\n  - b: 2\n")
    document = items[0]
    assert isinstance(document, Document)
    assert document.marks[("top",)] == (1, 1)
    assert document.marks[("top", "inner")] == (2, 3)
    assert document.marks[("top", "list", 0)] == (4, 5)
    assert document.marks[("top", "list", 1, "b")] == (5, 5)


def test_locate_falls_back_to_the_nearest_present_ancestor() -> None:
    items = parse("---\nfirst: 1\n---\ntop:\n  inner: 1\n")
    document = items[1]
    assert isinstance(document, Document)
    assert document.locate(("top", "inner", "missing", 3)) == (5, 3)
    assert document.locate(("absent",)) == (document.line, document.column) == (4, 1)


def test_documents_are_numbered_from_zero_in_order() -> None:
    items = parse("a: 1\n---\nb: 2\n---\nc: 3\n")
    assert [(d.index, d.data) for d in items if isinstance(d, Document)] == [
        (0, {"a": 1}),
        (1, {"b": 2}),
        (2, {"c": 3}),
    ]


# --- syntax errors --------------------------------------------------------------------


def test_syntax_error_names_its_line_and_column() -> None:
    issue = only_issue("a: 1\nb: [1, 2\nc: 3\n")
    assert issue.code == "yaml-syntax"
    assert issue.file == "in.yaml"
    assert issue.document == 0
    assert (issue.line, issue.column) == (3, 2)


def test_syntax_error_ends_the_stream_after_the_documents_before_it() -> None:
    items = parse("a: 1\n---\nb: 2\n---\nc: [\n---\nd: 4\n")
    assert [type(i) for i in items] == [Document, Document, ManifestIssue]
    issue = items[2]
    assert isinstance(issue, ManifestIssue)
    assert issue.document == 2


def test_tab_indentation_is_a_syntax_error() -> None:
    issue = only_issue("a:\n\tb: 1\n")
    assert issue.code == "yaml-syntax"
    assert issue.line == 2


# --- refused constructs ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object:os.system {}\n",
        "a: !!python/object/apply:os.system ['echo pwned']\n",
        "a: !!python/name:os.system\n",
        "a: !!binary aGVsbG8=\n",
        "a: !!timestamp 2001-12-14\n",
        "a: !!set {x}\n",
        "a: !!omap [{x: 1}]\n",
        "a: !custom thing\n",
    ],
)
def test_tags_outside_the_core_schema_are_refused(text: str) -> None:
    issue = only_issue(text)
    assert issue.code == "yaml-tag"
    assert issue.field == "a"
    assert (issue.line, issue.column) == (1, 4)


def test_unsupported_tag_message_names_the_tag() -> None:
    assert "!!python/object:os.system" in only_issue("a: !!python/object:os.system {}\n").message


def test_duplicate_key_is_refused_at_the_second_key() -> None:
    issue = only_issue("spec:\n  a: 1\n  b: 2\n  a: 3\n")
    assert issue.code == "yaml-duplicate-key"
    assert issue.field == "spec.a"
    assert (issue.line, issue.column) == (4, 3)


def test_keys_equal_after_resolution_are_duplicates() -> None:
    assert only_issue("0x10: a\n16: b\n").code == "yaml-duplicate-key"


def test_semantic_error_ends_only_its_own_document() -> None:
    items = parse("a: 1\na: 2\n---\nb: 1\n")
    assert isinstance(items[0], ManifestIssue)
    assert items[0].document == 0
    assert isinstance(items[1], Document)
    assert items[1].index == 1
    assert items[1].data == {"b": 1}


@pytest.mark.parametrize("text", ["? [a]\n: 1\n", "? {a: 1}\n: 1\n"])
def test_collection_keys_are_refused(text: str) -> None:
    assert only_issue(text).code == "yaml-complex-key"


def test_null_key_is_refused() -> None:
    assert only_issue("~: 1\n").code == "yaml-complex-key"


def test_recursive_alias_is_refused_at_the_anchored_node() -> None:
    issue = only_issue("a: &loop\n  b: *loop\n")
    assert issue.code == "yaml-alias"
    assert (issue.line, issue.column) == (1, 4)


def test_recursive_alias_through_a_sequence_is_refused() -> None:
    assert only_issue("a: &loop [1, *loop]\n").code == "yaml-alias"


def billion_laughs(levels: int = 9, fanout: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * fanout) + "]"]
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * fanout)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_without_expanding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted, not timed: not one node is built (an expansion of the 9**30 nodes is
    stopped by the count, so a parser that tried would fail here, not hang)."""
    built: list[parsing.Path] = []
    build = parsing._Builder.build

    def counted(self: parsing._Builder, node: Any, path: parsing.Path, depth: int) -> Any:
        built.append(path)
        assert len(built) < 1000, "the parser expands the aliases"
        return build(self, node, path, depth)

    monkeypatch.setattr(parsing._Builder, "build", counted)
    issue = only_issue(billion_laughs(levels=30))
    assert issue.code == "yaml-alias-bomb"
    assert issue.file == "in.yaml"
    assert issue.line is not None
    assert built == []


def test_moderate_alias_reuse_is_expanded() -> None:
    data = only_data("base: &b {x: 1}\nuses: [*b, *b, *b]\n")
    assert data == {"base": {"x": 1}, "uses": [{"x": 1}] * 3}


def test_alias_expansion_just_under_the_bound_is_accepted() -> None:
    fanout = 300
    assert fanout * fanout < MAX_EXPANDED_NODES
    data = only_data(billion_laughs(levels=2, fanout=fanout))
    assert len(data["a1"]) == fanout


def test_nesting_deeper_than_the_bound_is_refused() -> None:
    depth = MAX_DEPTH + 5
    issue = only_issue("a: " + "[" * depth + "]" * depth + "\n")
    assert issue.code == "yaml-depth"
    assert issue.line == 1


def test_nesting_at_the_bound_is_accepted() -> None:
    depth = MAX_DEPTH - 1
    data = only_data("[" * depth + "]" * depth)
    for _ in range(depth - 1):
        data = data[0]
    assert data == []


def test_very_deep_flow_nesting_is_an_issue_not_a_crash() -> None:
    items = parse("[" * 100_000 + "]" * 100_000)
    assert all(isinstance(i, ManifestIssue) for i in items)
    assert items


def test_very_deep_anchored_nesting_is_an_issue_not_a_crash() -> None:
    items = parse("a: &x " + "[" * 900 + "]" * 900 + "\nb: *x\n")
    assert len(items) == 1
    assert isinstance(items[0], ManifestIssue)
    assert items[0].code in ("yaml-depth", "yaml-syntax")


# --- merge keys -----------------------------------------------------------------------


def test_merge_key_fills_in_keys_the_mapping_does_not_set() -> None:
    data = only_data("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n")
    assert data["m"] == {"x": 1, "y": 3}


def test_merge_key_takes_a_list_of_mappings_earlier_ones_winning() -> None:
    data = only_data("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nm:\n  <<: [*a, *b]\n")
    assert data["m"] == {"x": 1, "y": 2}


@pytest.mark.parametrize("text", ["<<: 1\n", "a: {<<: [1]}\n"])
def test_merge_of_a_non_mapping_is_refused(text: str) -> None:
    assert only_issue(text).code == "yaml-merge"


def test_merge_key_as_a_value_is_refused() -> None:
    issue = only_issue("a: <<\n")
    assert issue.code == "yaml-merge"
    assert issue.field == "a"


def test_quoted_merge_key_is_an_ordinary_key() -> None:
    assert only_data("'<<': 1\n") == {"<<": 1}


def test_overlong_decimal_integer_is_refused() -> None:
    issue = only_issue("a: " + "9" * 5000 + "\n")
    assert issue.code == "yaml-scalar"
    assert issue.field == "a"


@pytest.mark.parametrize(
    "literal",
    [
        "9223372036854775808",
        "-9223372036854775809",
        "99999999999999999999999",
        "0x8000000000000000",
        "0o1000000000000000000000",
        "+9223372036854775808",
    ],
)
def test_an_integer_outside_the_signed_64_bit_range_is_refused_where_it_is(literal: str) -> None:
    issue = only_issue(f"spec:\n  extra:\n    t: {literal}\n")

    assert issue.code == "int-range"
    assert (issue.file, issue.line, issue.column, issue.field) == ("in.yaml", 3, 8, "spec.extra.t")
    assert "signed 64-bit" in issue.message


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
        ("0x7fffffffffffffff", 2**63 - 1),
        ("-0", 0),
    ],
)
def test_the_ends_of_the_signed_64_bit_range_are_integers(literal: str, value: int) -> None:
    assert only_data(f"a: [{literal}]\n") == {"a": [value]}


def test_an_integer_key_out_of_range_is_refused_too() -> None:
    assert only_issue("a:\n  99999999999999999999: x\n").code == "int-range"


def test_a_json_integer_out_of_range_is_refused_where_it_is() -> None:
    issue = only_issue('{"spec": {"replicas": 1,\n "extra": [18446744073709551616]}}\n')

    assert (issue.code, issue.line, issue.field) == ("int-range", 2, "spec.extra[0]")


def test_empty_stream_has_no_documents() -> None:
    assert parse("") == []
    assert parse("# only a comment\n") == []


# --- format_path ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("spec",), "spec"),
        (
            ("spec", "env", 2, "valueFrom", "secretRef", "name"),
            "spec.env[2].valueFrom.secretRef.name",
        ),
        (("items", 0, "metadata", "name"), "items[0].metadata.name"),
        (("metadata", "labels", "mcpctl.dev/builtin"), "metadata.labels.'mcpctl.dev/builtin'"),
        (("spec", "data", "API-KEY"), "spec.data.API-KEY"),
        ((0, 1), "[0][1]"),
    ],
)
def test_format_path_renders_keys_and_indexes(path: tuple[str | int, ...], text: str) -> None:
    assert format_path(path) == text
