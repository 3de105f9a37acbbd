"""Kubernetes-style quantities of bytes ("256Mi", "1Gi", "500M"), as manifests write them.

A Server's `resources.memory` is written the way Kubernetes writes a Pod's memory,
so that people and tools moving between the two read it the same way. The text is
kept as written (the canonical form does not rewrite "1Gi" into bytes); the docker
driver asks `memory_bytes` for the number.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, Field

#: A number, an optional fraction, an optional suffix: binary (Ki = 1024) or decimal (k = 1000).
QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"
_QUANTITY_RE = re.compile(QUANTITY_PATTERN)

_MULTIPLIERS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}

#: Docker refuses a memory limit under 6 MiB; saying so here beats a failed start.
MIN_MEMORY_BYTES = 6 * 2**20
#: The kernel's counters are signed 64-bit.
MAX_MEMORY_BYTES = 2**63 - 1

_RULE = (
    "a quantity like 256Mi, 1Gi or 500M "
    "(a number with an optional suffix Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P or E)"
)


def parse_quantity(text: str) -> int:
    """The whole number of bytes `text` says; `ValueError` naming the rule otherwise.

    Fractions are allowed where they make whole bytes ("1.5Gi"), not otherwise ("1.5")."""
    match = _QUANTITY_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not {_RULE}")
    suffix = match.group(2) or ""
    number = text[: len(text) - len(suffix)]
    try:
        exact = Decimal(number) * _MULTIPLIERS[suffix]
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"{text!r} is not {_RULE}") from None
    if exact != exact.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number of bytes")
    return int(exact)


def memory_bytes(text: str) -> int:
    """The bytes of a memory quantity, within what a container can be given."""
    value = parse_quantity(text)
    if value < MIN_MEMORY_BYTES:
        raise ValueError(f"{text!r} is less than 6Mi, the least memory Docker gives a container")
    if value > MAX_MEMORY_BYTES:
        raise ValueError(f"{text!r} is more memory than any machine has (at most 8Ei)")
    return value


def _check_memory(text: str) -> str:
    memory_bytes(text)
    return text


#: A memory size as a manifest writes it; the pattern is in the JSON Schema for editors.
MemoryQuantity = Annotated[
    str,
    AfterValidator(_check_memory),
    Field(max_length=64, json_schema_extra={"pattern": QUANTITY_PATTERN}),
]

__all__ = [
    "MAX_MEMORY_BYTES",
    "MIN_MEMORY_BYTES",
    "QUANTITY_PATTERN",
    "MemoryQuantity",
    "memory_bytes",
    "parse_quantity",
]
