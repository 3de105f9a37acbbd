"""The guards every write passes: no escalation, no lock-out.

Escalation: a write may add to a principal's effective permissions only what
the writer itself holds. For every principal P (the writer included), what P
holds after the write and did not hold before must be held by the writer
before the write. Principals are the Users, ServiceAccounts and usable
McpTokens; what they hold comes from the Rbac, Group, User, ServiceAccount and
McpToken objects (`AccessState`), so one rule covers Rbac subjects and
bindings, Group members, a new User named by an existing Rbac, and an
McpToken's grants, creator and frozen bindings, whatever the path of the write
(API, apply, push, mirror, restore).

Secret reads: a write that makes a Secret's value flow into what the writer
controls (a Server's or Template's env and headers, an Llm's key, a backend's
token) reads that value as surely as `GET ?showSecrets=true` does: a Server
that prints its environment to its log, or an external one whose URL is the
writer's, hands it over. So the writer must be able to read it: `view` on the
Secret and `run reveal-secrets` (`check_secret_read`).

Lock-out: a write may not leave no User holding every permission (`ADMIN`)
when one did before (409, whoever writes). `mcpd admin-reset` is the local way
back.

`mcpctl.objects` calls both on every write that touches those kinds, inside
its transaction and before storing anything; identity calls `require_holds`
when a caller would take over another principal (setting its password).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from mcpctl.access.cache import Compiled
from mcpctl.access.policy import Capped, Policy
from mcpctl.access.rbac import ADMIN, NOTHING, Grant, Permissions
from mcpctl.errors import Conflict, Forbidden
from mcpctl.schemas import Binding, Group, McpToken, Rbac, Resource

#: Whether the guards run. Only the property test turns them off (in its own mcpd
#: process), to prove it finds the escalations they stop; no setting reaches it.
ENFORCED = True

#: The kinds whose objects decide who holds what.
ACCESS_KINDS = ("Rbac", "Group", "User", "ServiceAccount", "McpToken")

#: A principal: (kind, name), e.g. ("User", "alice").
Subject = tuple[str, str]

LOCKOUT = (
    "no User would hold every permission any more (view, create, edit and delete on "
    "every kind, and run every operation), which would lock everyone out of mcpd: grant "
    "them to another User first. If it happens anyway, `mcpd admin-reset USER` on the "
    "mcpd host restores an admin"
)


@dataclass
class AccessState:
    """The objects that decide effective permissions, by name."""

    rbacs: dict[str, Rbac] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)
    serviceaccounts: set[str] = field(default_factory=set)
    tokens: dict[str, McpToken] = field(default_factory=dict)

    @classmethod
    def of(cls, resources: Iterable[Resource]) -> AccessState:
        state = cls()
        for resource in resources:
            state._put(resource)
        return state

    def _put(self, resource: Resource) -> None:
        if isinstance(resource, Rbac):
            self.rbacs[resource.name] = resource
        elif isinstance(resource, Group):
            self.groups[resource.name] = resource
        elif isinstance(resource, McpToken):
            self.tokens[resource.name] = resource
        elif resource.KIND == "User":
            self.users.add(resource.name)
        elif resource.KIND == "ServiceAccount":
            self.serviceaccounts.add(resource.name)

    def _drop(self, kind: str, name: str) -> None:
        if kind == "Rbac":
            self.rbacs.pop(name, None)
        elif kind == "Group":
            self.groups.pop(name, None)
        elif kind == "McpToken":
            self.tokens.pop(name, None)
        elif kind == "User":
            self.users.discard(name)
        elif kind == "ServiceAccount":
            self.serviceaccounts.discard(name)

    def changed(
        self, written: Iterable[Resource], deleted: Iterable[tuple[str, str]]
    ) -> AccessState:
        """A copy with `written` stored and `deleted` (kind, name) gone."""
        after = AccessState(
            dict(self.rbacs),
            dict(self.groups),
            set(self.users),
            set(self.serviceaccounts),
            dict(self.tokens),
        )
        for kind, name in deleted:
            after._drop(kind, name)
        for resource in written:
            after._put(resource)
        return after

    def effective(self, now: datetime) -> dict[Subject, Permissions]:
        """What every principal holds: Users (directly and through Groups),
        ServiceAccounts, and McpTokens that can authenticate (capped by their creator)."""
        rbacs = Compiled.of(list(self.rbacs.values()), list(self.groups.values()))
        out: dict[Subject, Permissions] = {}
        for user in self.users:
            out[("User", user)] = rbacs.grants("User", user)
        for sa in self.serviceaccounts:
            out[("ServiceAccount", sa)] = rbacs.grants("ServiceAccount", sa)
        for name, token in self.tokens.items():
            if not usable(token, now):
                continue
            creator = token.spec.created_by
            ceiling = out.get(("User", creator), NOTHING) if creator else NOTHING
            own = (
                frozen_permissions(token.spec.cloned_bindings)
                if token.spec.rbac_mode == "clone"
                else rbacs.grants("McpToken", name)
            )
            out[("McpToken", name)] = own.meet(ceiling)
        return out


def usable(token: McpToken, now: datetime) -> bool:
    """Whether the McpToken object lets its token authenticate (mcpd's token rows decide
    the rest: a hash mcpd did not issue, or revoked, never authenticates)."""
    spec = token.spec
    if spec.revoked or spec.token_hash is None:
        return False
    return spec.expires_at is None or spec.expires_at > now


def frozen_permissions(bindings: list[Binding] | None) -> Permissions:
    return Permissions(frozenset(Grant.of(b) for b in bindings or ()))


def held(policy: Policy) -> Permissions | None:
    """What `policy` holds as grants; None for mcpd itself, which holds everything."""
    if isinstance(policy, Permissions):
        return policy
    if isinstance(policy, Capped):
        return policy.own.meet(policy.ceiling)
    return None


def _describe(subject: Subject) -> str:
    return f"{subject[0]} {subject[1]!r}"


def check_escalation(
    policy: Policy, before: AccessState, after: AccessState, now: datetime
) -> None:
    """Refuse a write giving any principal what the writer (`policy`) does not hold."""
    _no_escalation(policy, before.effective(now), after.effective(now))


def _no_escalation(
    policy: Policy, was: Mapping[Subject, Permissions], will: Mapping[Subject, Permissions]
) -> None:
    if not ENFORCED:
        return
    writer = held(policy)
    if writer is None:
        return
    for subject, perms in sorted(will.items()):
        gained = perms.beyond(was.get(subject, NOTHING))
        missing = [g for g in gained if not writer.covers(g)]
        if missing:
            raise Forbidden(
                f"forbidden: this write would grant {_describe(subject)} "
                + ", ".join(g.describe() for g in missing)
                + ", which you do not hold yourself"
            )


def check_bindings(policy: Policy, rbac: Rbac) -> None:
    """Nobody writes an Rbac granting more than they hold (even to nobody yet)."""
    if not ENFORCED:
        return
    writer = held(policy)
    if writer is None:
        return
    missing = [g for g in (Grant.of(b) for b in rbac.spec.bindings) if not writer.covers(g)]
    if missing:
        raise Forbidden(
            f"forbidden: Rbac {rbac.name!r} would grant what you do not hold: "
            + ", ".join(g.describe() for g in sorted(set(missing), key=Grant.describe))
        )


def check_secret_read(policy: Policy, where: str, secret: str) -> None:
    """Refuse a write whose `where` (an object's field) takes Secret `secret`'s value,
    unless the writer may read that value itself (see the module's docstring)."""
    if not ENFORCED:
        return
    missing = []
    if not policy.allows("view", "secrets", secret):
        missing.append(f"view on secrets/{secret}")
    if not policy.allows_run("reveal-secrets"):
        missing.append("run reveal-secrets")
    if missing:
        raise Forbidden(
            f"forbidden: {where} reads the value of Secret {secret!r}, which needs "
            + " and ".join(missing)
        )


def check_host_command(policy: Policy, where: str) -> None:
    """Refuse a write whose `where` runs a command on mcpd's host, unless the writer holds
    `run host-commands`: a host process runs as mcpd's user, beside its database and keys,
    so whoever may start one holds everything mcpd holds."""
    if ENFORCED and not policy.allows_run("host-commands"):
        raise Forbidden(
            f"forbidden: {where} runs on mcpd's host, which needs run host-commands "
            "(an image or an external URL does not)"
        )


def has_admin(effective: Mapping[Subject, Permissions]) -> bool:
    return any(
        subject[0] == "User" and perms.covers_all(ADMIN) for subject, perms in effective.items()
    )


def check_lockout(before: AccessState, after: AccessState, now: datetime) -> None:
    """Refuse a write after which no User holds every permission, if one did before."""
    _no_lockout(before.effective(now), after.effective(now))


def _no_lockout(was: Mapping[Subject, Permissions], will: Mapping[Subject, Permissions]) -> None:
    if not ENFORCED:
        return
    if has_admin(was) and not has_admin(will):
        raise Conflict(f"refused, nothing was changed: after this write {LOCKOUT}")


def check_write(policy: Policy, before: AccessState, after: AccessState, now: datetime) -> None:
    """Both guards for one write, each side's effective permissions computed once."""
    was, will = before.effective(now), after.effective(now)
    _no_escalation(policy, was, will)
    _no_lockout(was, will)


def require_holds(policy: Policy, what: Permissions, whose: str) -> None:
    """Refuse unless `policy` holds everything in `what` (before taking over `whose`)."""
    if not ENFORCED:
        return
    writer = held(policy)
    if writer is None:
        return
    missing = what.beyond(writer)
    if missing:
        raise Forbidden(
            f"forbidden: {whose} holds what you do not: " + ", ".join(g.describe() for g in missing)
        )
