"""Safe YAML (and JSON) parsing that remembers where every value came from.

libyaml composes the node graph (fast, in C); this module turns nodes into
plain Python data under YAML 1.2 core rules (`yes` and `on` stay strings,
`0o17` is an int) and records the line and column of every field path.

What it refuses, each as a `ManifestIssue` with file, line and column:
tags other than the core ones (no object construction, ever), duplicate keys,
non-scalar keys, recursive aliases, alias expansion past a bound (the
"billion laughs" document), nesting deeper than a bound, invalid UTF-8,
integers outside the signed 64-bit range (`INT_MIN`..`INT_MAX`, the rule the
API applies to JSON bodies too). JSON is parsed by the same code: it is a
subset of YAML 1.2.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml._yaml import CParser
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from mcpctl.errors import ManifestIssue

#: A field path: keys and list indexes from the document root.
Path = tuple[str | int, ...]

#: The most nodes a document may expand to through aliases.
MAX_EXPANDED_NODES = 100_000
#: How deeply collections may nest.
MAX_DEPTH = 64
#: The integers a manifest may hold: those of a signed 64-bit integer. orjson renders no
#: more (mcpd stores and serves objects through it), PostgreSQL's bigint holds no more,
#: and a client in another language reads no more as an integer.
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
INT_RULE = f"integers must fit in a signed 64-bit integer ({INT_MIN} to {INT_MAX})"

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"

_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class _CoreResolver(BaseResolver):
    """YAML 1.2 core schema resolution, plus the `<<` merge key."""


for _tag, _regexp, _first in (
    (_BOOL, _BOOL_RE, "tTfF"),
    (_NULL, _NULL_RE, ["~", "n", "N", ""]),
    (_INT, _INT_RE, "-+0123456789"),
    (_FLOAT, _FLOAT_RE, "-+.0123456789"),
    (_MERGE, re.compile(r"^<<$"), "<"),
):
    _CoreResolver.add_implicit_resolver(_tag, _regexp, list(_first))


#: For each first character a plain scalar may start with, the tags it may resolve to.
_TYPED_BY_FIRST: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    first: list(resolvers) for first, resolvers in _CoreResolver.yaml_implicit_resolvers.items()
}


class _Composer(CParser, _CoreResolver):
    def __init__(self, stream: str) -> None:
        CParser.__init__(self, stream)
        _CoreResolver.__init__(self)

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        """BaseResolver.resolve without path resolvers: libyaml calls it for every node."""
        if kind is ScalarNode:
            if implicit[0]:
                if value == "":
                    return _NULL
                candidates = _TYPED_BY_FIRST.get(value[0])
                if candidates is not None:
                    for tag, regexp in candidates:
                        if regexp.match(value):
                            return tag
            return _STR
        if kind is SequenceNode:
            return _SEQ
        return _MAP


@dataclass
class Document:
    """One YAML document: its data and where each field path starts."""

    index: int
    data: Any
    line: int
    column: int
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path) -> tuple[int, int]:
        """Line and column (1-based) of `path`, or of its nearest present ancestor."""
        marks = self.marks
        while path:
            found = marks.get(path)
            if found is not None:
                return found
            path = path[:-1]
        return self.line, self.column


class _Abort(Exception):
    """Stops construction of one document with an issue."""

    def __init__(self, message: str, code: str, node: Node, path: Path) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.node = node
        self.path = path


def parse_documents(text: str, file: str | None) -> Iterator[Document | ManifestIssue]:
    """Every document of `text`, or the issue that stopped it.

    A syntax error ends the stream (libyaml cannot resume); a semantic error
    (duplicate key, bad tag, ...) ends only its document.
    """
    if "\\u" in text and text.lstrip()[:1] in ("{", "["):
        text = _join_surrogate_escapes(text)  # JSON only: in YAML, `\u` may be literal
    composer = _Composer(text)
    has_anchors = "&" in text
    index = 0
    try:
        while True:
            try:
                if not composer.check_node():
                    return
                node = composer.get_node()
                assert node is not None  # check_node() said there is one
            except yaml.MarkedYAMLError as e:
                yield _syntax_issue(e, file, index)
                return
            except yaml.YAMLError as e:
                yield ManifestIssue(
                    message=f"cannot parse YAML: {e}", code="yaml-syntax", file=file, document=index
                )
                return
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
            try:
                if has_anchors:
                    _check_expansion(node)
                builder = _Builder()
                data = builder.build(node, (), 0)
                yield Document(
                    index=index, data=data, line=line, column=column, marks=builder.marks
                )
            except _Abort as e:
                mark = e.node.start_mark
                yield ManifestIssue(
                    message=e.message,
                    code=e.code,
                    file=file,
                    line=mark.line + 1,
                    column=mark.column + 1,
                    document=index,
                    field=format_path(e.path) or None,
                )
            index += 1
    finally:
        composer.dispose()


#: A UTF-16 surrogate pair written as two escapes (how JSON encoders write emoji),
#: not preceded by an odd number of backslashes (which would make it literal text).
_SURROGATE_PAIR = re.compile(
    r"(?<!\\)((?:\\\\)*)\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"
)


def _join_surrogate_escapes(text: str) -> str:
    """Replace escaped surrogate pairs with the character they encode.

    JSON (and YAML 1.2) read `"\\ud83d\\ude80"` as one character; libyaml refuses
    the halves. Line and column numbers stay right: escapes never span lines.
    """

    def join(match: re.Match[str]) -> str:
        high, low = int(match.group(2), 16), int(match.group(3), 16)
        char = chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        return match.group(1) + char

    return _SURROGATE_PAIR.sub(join, text)


def _syntax_issue(e: yaml.MarkedYAMLError, file: str | None, index: int) -> ManifestIssue:
    mark = e.problem_mark or e.context_mark
    problem = e.problem or "invalid YAML"
    if e.context:
        problem = f"{problem} ({e.context})"
    return ManifestIssue(
        message=f"invalid YAML: {problem}",
        code="yaml-syntax",
        file=file,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
        document=index,
    )


def _check_expansion(root: Node) -> None:
    """Refuse recursive aliases and documents that alias-expand past the bound."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        known = sizes.get(key)
        if known is not None:
            return known
        if key in active:
            raise _Abort("recursive alias: a node contains itself", "yaml-alias", node, ())
        total = 1
        if isinstance(node, (MappingNode, SequenceNode)):
            active.add(key)
            children = (
                [n for pair in node.value for n in pair]
                if isinstance(node, MappingNode)
                else node.value
            )
            for child in children:
                total += size(child)
                if total > MAX_EXPANDED_NODES:
                    raise _Abort(
                        f"document expands to more than {MAX_EXPANDED_NODES} nodes through "
                        "aliases; refusing it (an alias bomb?)",
                        "yaml-alias-bomb",
                        node,
                        (),
                    )
            active.discard(key)
        sizes[key] = total
        return total

    try:
        size(root)
    except RecursionError:
        raise _Abort(
            f"document nests deeper than {MAX_DEPTH} levels", "yaml-depth", root, ()
        ) from None


class _Builder:
    """Turns one document's nodes into dicts, lists and scalars, recording marks.

    The hot loop of `mcpctl validate`: plain strings are handled inline.
    """

    def __init__(self) -> None:
        self.marks: dict[Path, tuple[int, int]] = {}

    def build(self, node: Node, path: Path, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _Abort(f"document nests deeper than {MAX_DEPTH} levels", "yaml-depth", node, path)
        cls = node.__class__
        if cls is ScalarNode:
            return _scalar(node, path)  # type: ignore[arg-type]  # checked by class
        if cls is MappingNode:
            if node.tag != _MAP:
                raise _unsupported_tag(node, path)
            return self._mapping(node, path, depth)  # type: ignore[arg-type]  # checked by class
        if cls is SequenceNode:
            if node.tag != _SEQ:
                raise _unsupported_tag(node, path)
            marks = self.marks
            items: list[Any] = []
            for i, child in enumerate(node.value):
                child_path = (*path, i)
                mark = child.start_mark
                marks[child_path] = (mark.line + 1, mark.column + 1)
                if child.__class__ is ScalarNode and child.tag == _STR:
                    items.append(child.value)
                else:
                    items.append(self.build(child, child_path, depth + 1))
            return items
        raise _Abort("unsupported YAML node", "yaml-node", node, path)  # pragma: no cover

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        marks = self.marks
        for key_node, value_node in node.value:
            if key_node.__class__ is not ScalarNode:
                raise _Abort(
                    "mapping keys must be scalars (strings)", "yaml-complex-key", key_node, path
                )
            key_tag = key_node.tag
            if key_tag == _STR:
                key = key_node.value
            elif key_tag == _MERGE:
                self._merge_into(merged, value_node, path, depth)
                continue
            else:
                key = _scalar(key_node, path)
                if key is None:
                    raise _Abort(
                        "mapping keys must not be null", "yaml-complex-key", key_node, path
                    )
            if key in result:
                raise _Abort(f"duplicate key {key!r}", "yaml-duplicate-key", key_node, (*path, key))
            child_path = (*path, key)
            mark = key_node.start_mark
            marks[child_path] = (mark.line + 1, mark.column + 1)
            if value_node.__class__ is ScalarNode and value_node.tag == _STR:
                result[key] = value_node.value
            else:
                result[key] = self.build(value_node, child_path, depth + 1)
        if merged:
            for key, value in merged.items():
                result.setdefault(key, value)
        return result

    def _merge_into(self, merged: dict[Any, Any], value: Node, path: Path, depth: int) -> None:
        sources = value.value if isinstance(value, SequenceNode) else [value]
        for source in sources:
            if not isinstance(source, MappingNode):
                raise _Abort(
                    "a merge key (<<) takes a mapping or a list of mappings",
                    "yaml-merge",
                    source,
                    path,
                )
            for key, item in self._mapping(source, path, depth + 1).items():
                merged.setdefault(key, item)


def _unsupported_tag(node: Node, path: Path) -> _Abort:
    tag = str(node.tag)
    if tag.startswith("tag:yaml.org,2002:"):
        tag = "!!" + tag.removeprefix("tag:yaml.org,2002:")
    return _Abort(
        f"unsupported YAML tag {tag}: only the core tags (!!str, !!int, !!float, !!bool, "
        "!!null, !!map, !!seq) are allowed",
        "yaml-tag",
        node,
        path,
    )


def _scalar(node: ScalarNode, path: Path) -> Any:
    tag = node.tag
    value: str = node.value
    if tag == _STR:
        return value
    if tag == _INT:
        if not _INT_RE.match(value):
            raise _Abort("the value tagged !!int is not an integer", "yaml-tag", node, path)
        if value.startswith("0o"):
            number = int(value[2:], 8)
        elif value.startswith("0x"):
            number = int(value[2:], 16)
        elif len(value) > 4300:
            raise _Abort("integer too long", "yaml-scalar", node, path)
        else:
            number = int(value)
        if not INT_MIN <= number <= INT_MAX:
            raise _Abort(f"integer out of range: {INT_RULE}", "int-range", node, path)
        return number
    if tag == _FLOAT:
        if not _FLOAT_RE.match(value):
            raise _Abort("the value tagged !!float is not a number", "yaml-tag", node, path)
        lowered = value.lower()
        if lowered.endswith(".inf"):
            return -math.inf if value.startswith("-") else math.inf
        if lowered == ".nan":
            return math.nan
        return float(value)
    if tag == _BOOL:
        if not _BOOL_RE.match(value):
            raise _Abort("the value tagged !!bool is not true or false", "yaml-tag", node, path)
        return value.lower() == "true"
    if tag == _NULL:
        if not _NULL_RE.match(value):
            raise _Abort("the value tagged !!null is not null", "yaml-tag", node, path)
        return None
    if tag == _MERGE:
        raise _Abort("a merge key (<<) is only allowed as a mapping key", "yaml-merge", node, path)
    raise _unsupported_tag(node, path)


def format_path(path: Path) -> str:
    """``spec.env[2].name`` for ``("spec", "env", 2, "name")``."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out.append(f"[{part}]")
        else:
            text = str(part)
            if out and not (text.isidentifier() or re.fullmatch(r"[A-Za-z0-9_-]+", text)):
                text = repr(text)
            out.append(f".{text}" if out else text)
    return "".join(out)
