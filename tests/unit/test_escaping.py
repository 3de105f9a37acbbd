"""The one escaping rule of tables and log lines: nothing a user wrote breaks a line."""

from __future__ import annotations

import logging

import pytest

from mcpctl.escaping import escape, escape_log_args


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\r\\nb"),
        ("tab\there", "tab\\there"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("bell\x07", "bell\\x07"),
        ("nul\x00", "nul\\x00"),
        ("del\x7f", "del\\x7f"),
        ("next line\x85", "next line\\x85"),
        ("vertical\x0btab\x0cfeed", "vertical\\x0btab\\x0cfeed"),
        ("line\u2028separator\u2029", "line\\u2028separator\\u2029"),
        ("abc\u202eevil", "abc\\u202eevil"),
        ("isolate\u2066x\u2069", "isolate\\u2066x\\u2069"),
        ("lone\ud800", "lone\\ud800"),
    ],
)
def test_characters_that_break_a_line_or_drive_a_terminal_are_escaped(
    text: str, shown: str
) -> None:
    assert escape(text) == shown
    assert escape(text).isprintable()


@pytest.mark.parametrize(
    "text",
    ["", "plain", "café ☕ 日本語 🚀", r"C:\path\n-is-literal", "a b  c", "x=1,y=2"],
)
def test_printable_text_is_left_as_it_is(text: str) -> None:
    assert escape(text) is text


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("t", logging.INFO, __file__, 1, message, args, None)


def test_a_log_records_values_are_escaped_not_its_template() -> None:
    record = escape_log_args(_record("line one\nuser %s tried %d times", "a\nb", 3))

    assert record.getMessage() == "line one\nuser a\\nb tried 3 times"


def test_a_log_value_that_is_no_text_is_escaped_once_formatted() -> None:
    error = ValueError("bad\nINFO forged line")
    record = escape_log_args(_record("failed: %s (%r) %.1f", error, error, 1.25))

    assert record.getMessage() == (
        "failed: bad\\nINFO forged line (ValueError('bad\\nINFO forged line')) 1.2"
    )
    assert "\n" not in record.getMessage()


def test_a_log_value_shown_with_repr_is_escaped_once() -> None:
    record = escape_log_args(_record("no revision %r, %s", "a\x1bb\nc", "plain"))

    assert record.getMessage() == "no revision 'a\\x1bb\\nc', plain"


def test_named_log_values_are_escaped() -> None:
    record = escape_log_args(_record("%(who)s did %(n)d", {"who": "x\x1b]0;t\x07", "n": 2}))

    assert record.getMessage() == "x\\x1b]0;t\\x07 did 2"
