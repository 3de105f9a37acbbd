"""An independent model of what mcpd's Rbacs grant: the oracle of the access property test.

It reads the objects as the API lists them (Rbacs, Groups, Users,
ServiceAccounts, McpTokens) and says what each principal may do, without
importing any of mcpctl's access code: a bug shared by mcpd and its oracle would
hide itself. `tests/integration/test_access_properties.py` compares what each
accepted write changed against the rule of issue 9: what a principal holds
after a write, beyond what it held before, must be held by the writer.

A grant is a role (`view`, `create`, `edit`, `delete`) on a resource kind by
plural or `*` (optionally one object of it), or `run` on an operation or `*`.
A set of grants covers a grant when one of them is equal or wider. A user holds
the grants of every Rbac naming it or a Group listing it; a ServiceAccount those
naming it; an McpToken those naming it, met with its creator's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

ROLES = ("view", "create", "edit", "delete")


@dataclass(frozen=True, repr=False)
class Grant:
    role: str
    resource: str | None = None
    name: str | None = None
    action: str | None = None

    @classmethod
    def of(cls, binding: Mapping[str, Any]) -> Grant:
        return cls(
            binding["role"], binding.get("resource"), binding.get("name"), binding.get("action")
        )

    @classmethod
    def run(cls, action: str) -> Grant:
        return cls("run", action=action)

    def binding(self) -> JSON:
        """The Rbac binding of this grant."""
        if self.role == "run":
            return {"role": "run", "action": self.action}
        return {
            "role": self.role,
            "resource": self.resource,
            **({"name": self.name} if self.name else {}),
        }

    def within(self, wider: Grant) -> bool:
        """Whether `wider` allows everything this grant allows."""
        if self.role != wider.role:
            return False
        if self.role == "run":
            return wider.action in ("*", self.action)
        if wider.resource == "*":
            return wider.name is None
        return wider.resource == self.resource and wider.name in (None, self.name)

    def meet(self, other: Grant) -> Grant | None:
        """What this grant and `other` both allow (one grant), or None."""
        if self.within(other):
            return self
        if other.within(self):
            return other
        return None

    def __repr__(self) -> str:
        if self.role == "run":
            return f"Grant.run({self.action!r})"
        name = f", {self.name!r}" if self.name else ""
        return f"Grant({self.role!r}, {self.resource!r}{name})"

    def __str__(self) -> str:
        if self.role == "run":
            return f"run {self.action}"
        return f"{self.role} {self.resource}" + (f"/{self.name}" if self.name else "")


#: Every permission: what the admin holds, and what someone must always hold.
ADMIN_SET = frozenset({*(Grant(role, "*") for role in ROLES), Grant.run("*")})

Grants = frozenset[Grant]
NOTHING: Grants = frozenset()


def covers(held: Iterable[Grant], grant: Grant) -> bool:
    return any(grant.within(g) for g in held)


def uncovered(wanted: Iterable[Grant], held: Iterable[Grant]) -> list[Grant]:
    """The grants of `wanted` that `held` does not cover, sorted."""
    held = tuple(held)
    return sorted({g for g in wanted if not covers(held, g)}, key=str)


def meet(a: Iterable[Grant], b: Iterable[Grant]) -> Grants:
    """What both sets allow (for a token: its own grants capped by its creator's)."""
    b = tuple(b)
    return frozenset(m for x in a for y in b if (m := x.meet(y)) is not None)


@dataclass(frozen=True)
class State:
    """The identity objects as the admin lists them: plural -> name -> object."""

    objects: Mapping[str, Mapping[str, JSON]]

    def names(self, plural: str) -> set[str]:
        return set(self.objects.get(plural, {}))

    def get(self, plural: str, name: str) -> JSON | None:
        return self.objects.get(plural, {}).get(name)

    def specs(self) -> dict[str, dict[str, Any]]:
        """What a write of these kinds can set (spec and labels), without the server's
        bookkeeping: to compare a state with the one a reset aims at."""
        return {
            plural: {
                name: {"spec": o.get("spec"), "labels": o["metadata"].get("labels")}
                for name, o in items.items()
            }
            for plural, items in self.objects.items()
        }


def principal(kind: str, name: str) -> str:
    return f"{kind}/{name}"


def effective_permissions(state: State) -> dict[str, Grants]:
    """What each existing principal (`User/NAME`, `ServiceAccount/NAME`, `McpToken/NAME`)
    may do; a principal that does not exist holds nothing."""
    rbacs = list(state.objects.get("rbacs", {}).values())
    groups = state.objects.get("groups", {})

    def granted(subjects: set[tuple[str, str]]) -> Grants:
        return frozenset(
            Grant.of(b)
            for rbac in rbacs
            if any((s["kind"], s["name"]) in subjects for s in rbac["spec"]["subjects"])
            for b in rbac["spec"]["bindings"]
        )

    held: dict[str, Grants] = {}
    for user, obj in state.objects.get("users", {}).items():
        if obj.get("spec", {}).get("disabled") is True:  # a disabled user acts as no one
            held[principal("User", user)] = NOTHING
            continue
        subjects = {("User", user)} | {
            ("Group", name)
            for name, group in groups.items()
            if user in group["spec"].get("members", [])
        }
        held[principal("User", user)] = granted(subjects)
    for account in state.names("serviceaccounts"):
        held[principal("ServiceAccount", account)] = granted({("ServiceAccount", account)})
    for token, obj in state.objects.get("mcptokens", {}).items():
        spec = obj.get("spec", {})
        creator = held.get(principal("User", obj["metadata"].get("createdBy", "")), NOTHING)
        if spec.get("revoked"):
            own = NOTHING
        elif spec.get("rbacMode") == "clone":
            # frozen at creation and kept out of the object: at most the creator's
            own = creator
        else:
            own = granted({("McpToken", token)})
        held[principal("McpToken", token)] = meet(own, creator)
    return held


def admins(held: Mapping[str, Grants]) -> list[str]:
    """The users holding every permission (the admin set)."""
    return sorted(
        who
        for who, grants in held.items()
        if who.startswith("User/") and all(covers(grants, g) for g in ADMIN_SET)
    )
