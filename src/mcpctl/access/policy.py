"""Who is calling, and what they may do: principals and their effective permissions.

Every read and write of objects (`mcpctl.objects`), identity and the API ask
`policy_of` what a principal may do, from the stored Rbac and Group objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from mcpctl.access.cache import Compiled, compiled
from mcpctl.access.rbac import NOTHING, Grant, Permissions
from mcpctl.errors import Forbidden
from mcpctl.store import Session

PrincipalKind = Literal["User", "ServiceAccount", "McpToken", "System"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    kind: PrincipalKind
    name: str
    #: Who acts, for audit and authorship: the user, `serviceaccount:NAME`, or the token's creator.
    actor: str
    #: `name (prefix)` of the token used, for audit entries.
    token: str | None = None
    #: For McpTokens: the creator (a user) whose permissions cap the token's.
    creator: str | None = None
    #: For McpTokens in clone mode: the frozen permissions.
    frozen: Permissions | None = None
    #: The project an McpToken is limited to.
    project: str | None = None
    #: The hash of the session or token the caller presented (what it mints dies with it).
    credential: str | None = None

    @classmethod
    def user(cls, name: str, token: str | None = None, credential: str | None = None) -> Principal:
        return cls("User", name, name, token, credential=credential)


class Policy(Protocol):
    def allows(self, role: str, resource: str, name: str | None = None) -> bool: ...

    def allows_run(self, action: str) -> bool: ...


@dataclass(frozen=True)
class Capped:
    """A token's permissions, never more than its creator's."""

    own: Permissions
    ceiling: Permissions

    def allows(self, role: str, resource: str, name: str | None = None) -> bool:
        return self.own.allows(role, resource, name) and self.ceiling.allows(role, resource, name)

    def allows_run(self, action: str) -> bool:
        return self.own.allows_run(action) and self.ceiling.allows_run(action)


async def grants_of(session: Session, kind: str, name: str) -> Permissions:
    """What the Rbac objects grant one subject (a User with its groups, an SA, a token)."""
    return (await compiled(session)).grants(kind, name)


class _AllowAll:
    """mcpd itself (bootstrap, seeding): not a user, never reachable over the API."""

    def allows(self, role: str, resource: str, name: str | None = None) -> bool:
        return True

    def allows_run(self, action: str) -> bool:
        return True


#: The principal mcpd acts as for its own writes.
SYSTEM = Principal("System", "mcpd", "mcpd")


async def policy_of(session: Session, principal: Principal) -> Policy:
    """The effective permissions of `principal`."""
    if principal.kind == "System":
        return _AllowAll()
    return policy_from(await compiled(session), principal)


def policy_from(rbacs: Compiled, principal: Principal) -> Policy:
    """The effective permissions of `principal` under the compiled Rbacs and Groups."""
    if principal.kind == "System":
        return _AllowAll()
    if principal.kind == "McpToken":
        if principal.creator is None:
            return NOTHING
        ceiling = rbacs.grants("User", principal.creator)
        if principal.frozen is not None:
            return Capped(principal.frozen, ceiling)
        return Capped(rbacs.grants("McpToken", principal.name), ceiling)
    return rbacs.grants(principal.kind, principal.name)


def require(policy: Policy, role: str, resource: str, name: str | None = None) -> None:
    """Raise Forbidden naming the missing permission."""
    if not policy.allows(role, resource, name):
        target = f"{resource}/{name}" if name else resource
        raise Forbidden(f"forbidden: needs {role} on {target}")


def require_run(policy: Policy, action: str) -> None:
    if not policy.allows_run(action):
        raise Forbidden(f"forbidden: needs run {action}")


def missing_grants(policy: Policy, wanted: list[Grant]) -> list[Grant]:
    """The grants in `wanted` that `policy` does not itself hold (for the token ceiling)."""
    missing = []
    for grant in wanted:
        if isinstance(policy, Permissions):
            ok = policy.covers(grant)
        elif grant.role == "run" and grant.action is not None:
            ok = policy.allows_run(grant.action)
        else:
            ok = policy.allows(grant.role, grant.resource or "", grant.name)
        if not ok:
            missing.append(grant)
    return missing
