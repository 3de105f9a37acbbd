"""Escaping the characters that break a line or drive a terminal, in text shown on one line.

A user name, a message, a label, a revision: what a user supplied may hold a
newline, an escape sequence, a bidirectional override or a lone surrogate.
Printed as it is, a newline forges a row of a table or a line of a log, and an
escape sequence drives the terminal of whoever reads it (a login attempt as
user "a\\nb" once split an audit row in two). `escape` writes each such
character as its Python escape (`\\n`, `\\x1b`, `\\u2028`): the text stays on
its line and shows what it holds. Backslashes are left as they are, so a path
or a regular expression reads as typed.

The CLI's tables and descriptions (`cli.rendering`) escape every cell, and
mcpd escapes the values its log records are formatted with
(`escape_log_records`, installed by the daemon): the message templates are
mcpd's own, the values may be anyone's. A top-level module, like `errors`: it
stands on nothing of ours, so both ends use the one rule.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

#: What `escape` rewrites: the C0 and C1 controls and DEL (Unicode category Cc), the
#: line and paragraph separators, the bidirectional embeddings, overrides and isolates
#: (they reorder what follows them on screen), and lone surrogates (no encoding holds one).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """`text` with every character that would break its line or drive a terminal escaped."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escaped, text)


class _Shown:
    """A log value escaped once formatted, by `%s` or `%r` alike (an exception, a path, or
    text that needs it: escaping text first would double the backslashes `%r` adds)."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        return escape(str(self.value))

    def __repr__(self) -> str:
        return escape(repr(self.value))


def _safe(value: object) -> object:
    if value is None or isinstance(value, (int, float)):  # for %d, %x, %.1f, ...
        return value
    if isinstance(value, str) and escape(value) is value:  # most values: nothing to escape
        return value
    return _Shown(value)


def escape_log_args(record: logging.LogRecord) -> logging.LogRecord:
    """`record` with the values its message is formatted with escaped (not the template)."""
    args = record.args
    if isinstance(args, Mapping):
        record.args = {key: _safe(value) for key, value in args.items()}
    elif args:
        record.args = tuple(_safe(value) for value in args)
    return record


def escape_log_records() -> None:
    """From now on, every log record of this process has its values escaped.

    mcpd calls it once at start: a record factory reaches every logger (uvicorn's
    included) and every handler, whatever configured them.
    """
    make: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return escape_log_args(make(*args, **kwargs))

    logging.setLogRecordFactory(factory)
