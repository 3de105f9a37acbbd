"""Label selectors, kubectl-style: `team=infra,tier!=db,canary,!legacy`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcpctl.errors import InvalidInput

_TERM = re.compile(
    r"^\s*(!?)([A-Za-z0-9][-A-Za-z0-9_./]*)\s*(?:(==|=|!=)\s*([-A-Za-z0-9_.]*))?\s*$"
)


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "exists", "!exists"
    value: str = ""

    def matches(self, labels: Mapping[str, Any]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op == "=":
            return labels.get(self.key) == self.value
        return labels.get(self.key) != self.value


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, Any]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    @classmethod
    def parse(cls, text: str) -> Selector:
        requirements = []
        for term in text.split(","):
            if not term.strip():
                continue
            match = _TERM.match(term)
            if match is None:
                raise InvalidInput(f"invalid label selector term {term.strip()!r}")
            negated, key, op, value = match.groups()
            if op is None:
                requirements.append(Requirement(key, "!exists" if negated else "exists"))
            elif negated:
                raise InvalidInput(f"invalid label selector term {term.strip()!r}")
            else:
                requirements.append(Requirement(key, "!=" if op == "!=" else "=", value))
        if not requirements:
            raise InvalidInput("empty label selector")
        return cls(tuple(requirements))
