"""Reading the parameters a caller gives as text: a count, a timestamp.

The API's query strings and request fields arrive as text; the operations
that take them (listings of objects, audit entries and events, token expiry)
read them here, each raising `InvalidInput` that names the parameter. A
top-level module, like `errors`: it stands on nothing of ours but `errors`,
so that every layer reads a parameter the same way.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from mcpctl.errors import InvalidInput


def int_param(value: str | None, name: str, default: int) -> int:
    """A parameter that counts something (`limit`): an integer, at least 1."""
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer") from None
    if number < 1:
        raise InvalidInput(f"{name} must be at least 1")
    return number


def parse_timestamp(value: Any) -> datetime:
    """An RFC 3339 timestamp with a time zone, as UTC."""
    if not isinstance(value, str):
        raise InvalidInput("a timestamp must be an RFC 3339 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"invalid timestamp {value!r}") from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"timestamp {value!r} needs a time zone (e.g. Z)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00
        raise InvalidInput(f"timestamp {value!r} is out of range") from None


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str, name: str) -> float:
    """A duration as Go and kubectl write it (`90s`, `5m`, `1h30m`, `2d`), or seconds;
    in seconds. `InvalidInput` names the parameter."""
    text = value.strip()
    if not text:
        raise InvalidInput(f"{name} must be a duration like 30s, 5m or 1h")
    try:
        seconds = float(text)
        if not math.isfinite(seconds):  # `nan`, `inf`, `1e400`: no span of time
            raise InvalidInput(f"{name}: {value!r} is not a duration (like 30s, 5m, 1h30m, 2d)")
    except ValueError:
        seconds = 0.0
        number = ""
        for char in text:
            if char.isdigit() or char == ".":
                number += char
            elif char in _DURATION_UNITS and number:
                try:
                    seconds += float(number) * _DURATION_UNITS[char]
                except ValueError:
                    raise InvalidInput(f"{name}: {value!r} is not a duration") from None
                number = ""
            else:
                raise InvalidInput(
                    f"{name}: {value!r} is not a duration (like 30s, 5m, 1h30m, 2d)"
                ) from None
        if number:
            raise InvalidInput(
                f"{name}: {value!r} lacks a unit after {number} (s, m, h or d)"
            ) from None
    if seconds < 0:
        raise InvalidInput(f"{name} must not be negative")
    return seconds
