"""RBAC: what a set of Rbac objects grants a principal, deny by default.

A grant is a role on a resource kind (optionally one object), or `run` on an
operation. Users are matched directly and through their groups. A token's
permissions are capped by its creator's: a request passes only if both allow
it, so removing a creator's binding narrows their tokens at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mcpctl.schemas import Binding

ROLES = ("view", "create", "edit", "delete")


@dataclass(frozen=True, slots=True)
class Grant:
    role: str
    resource: str | None = None
    name: str | None = None
    action: str | None = None

    @classmethod
    def of(cls, binding: Binding) -> Grant:
        return cls(binding.role, binding.resource, binding.name, binding.action)

    def describe(self) -> str:
        if self.role == "run" and self.action is not None:
            return f"run {self.action}"
        return f"{self.role} {self.resource}" + (f"/{self.name}" if self.name else "")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role}
        for key in ("resource", "name", "action"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class Permissions:
    grants: frozenset[Grant]

    def allows(self, role: str, resource: str, name: str | None = None) -> bool:
        for g in self.grants:
            if g.role == "run" == role and g.action == "*":
                return True  # run *: every operation and every project's endpoint
            if g.role != role or g.resource not in ("*", resource):
                continue
            if g.name is None or g.name == name:
                return True
        return False

    def allows_run(self, action: str) -> bool:
        return any(g.role == "run" and g.action in ("*", action) for g in self.grants)

    def covers(self, grant: Grant) -> bool:
        """Whether everything `grant` allows is allowed here (the token ceiling)."""
        return any(_wider(g, grant) for g in self.grants)

    def covers_all(self, other: Permissions) -> bool:
        return all(self.covers(g) for g in other.grants)

    def beyond(self, other: Permissions) -> list[Grant]:
        """The grants held here that `other` does not cover, in a stable order."""
        if self.grants <= other.grants:
            return []
        return sorted((g for g in self.grants if not other.covers(g)), key=Grant.describe)

    def meet(self, other: Permissions) -> Permissions:
        """What both allow (a token's own grants under its creator's ceiling)."""
        out: set[Grant] = set()
        for a in self.grants:
            for b in other.grants:
                both = _meet(a, b)
                if both is not None:
                    out.add(both)
        return Permissions(frozenset(out))

    def union(self, other: Permissions) -> Permissions:
        return Permissions(self.grants | other.grants)

    def to_list(self) -> list[dict[str, Any]]:
        return [g.to_dict() for g in sorted(self.grants, key=lambda g: g.describe())]

    @classmethod
    def from_list(cls, items: Iterable[dict[str, Any]]) -> Permissions:
        return cls(
            frozenset(
                Grant(i["role"], i.get("resource"), i.get("name"), i.get("action")) for i in items
            )
        )


NOTHING = Permissions(frozenset())

#: Every permission: what the first start's admin holds, and what the lock-out guard keeps.
ADMIN = Permissions(
    frozenset(
        [*(Grant(role, "*") for role in ROLES), Grant("run", action="*")],
    )
)


def _wider(a: Grant, b: Grant) -> bool:
    """Whether `a` allows everything `b` allows."""
    if a.role != b.role:
        return False
    if a.role == "run":
        # run *: every operation and every project's endpoint; an operation only itself
        if a.action == "*" or (a.action is not None and a.action == b.action):
            return True
        if a.action is not None or b.action is not None:
            return False
        # endpoint grants (run projects[/NAME]) compare as resource grants do
    if a.resource != "*" and a.resource != b.resource:
        return False
    return a.name is None or (a.name == b.name and a.resource == b.resource)


def _meet(a: Grant, b: Grant) -> Grant | None:
    """The grant allowing what both `a` and `b` allow, or None when that is nothing."""
    if _wider(a, b):
        return b
    if _wider(b, a):
        return a
    # grants of one role overlap only when one is wider (a name needs a single kind)
    return None
