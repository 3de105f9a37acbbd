"""The writes of the access property test, and the rule each is checked against (issue 9).

Each write type makes one request as its writer through `AccessHarness`:
apply, replace, create or delete an object (Groups, Rbacs, Users,
ServiceAccounts), set a user's password (and log in as that user when it is
accepted), create an McpToken with bindings, create a ServiceAccount's token.
`check_writes` runs a sequence of them from the baseline and judges each with
the model of `tests/support/permission_model.py`:

- an accepted write may add to a principal's effective permissions only what
  the writer held before it; setting another user's password, or getting a
  ServiceAccount's token, lets the writer act as that principal, so what it
  holds counts as the writer's gain; and some user must still hold every
  permission (the admin set);
- a refused write changes nothing, answers problem+json, and a 403 is in the
  audit log as denied.

The first write that breaks the rule raises an `AccessViolation` (`LockOut`,
`Takeover`, `Escalation` or `BadRefusal`), naming each way it broke it
(`Finding`) and the writes that led there.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeAlias

import httpx

from tests.support.access_harness import AccessHarness, AdminLockedOut
from tests.support.manifests import JSON, manifest
from tests.support.permission_model import (
    ADMIN_SET,
    Grant,
    State,
    admins,
    effective_permissions,
    uncovered,
)


def user_manifest(name: str, display: str = "") -> JSON:
    spec = {"email": f"{name}@example.com", **({"displayName": display} if display else {})}
    return manifest("User", name, spec)


def rbac_manifest(name: str, subjects: Sequence[tuple[str, str]], grants: Sequence[Grant]) -> JSON:
    return manifest(
        "Rbac",
        name,
        {
            "subjects": [{"kind": kind, "name": who} for kind, who in subjects],
            "bindings": [g.binding() for g in grants],
        },
    )


# ---- the writes -------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupObject:
    name: str
    members: tuple[str, ...]
    plural: ClassVar[str] = "groups"

    def manifest(self) -> JSON:
        return manifest("Group", self.name, {"members": list(self.members)})


@dataclass(frozen=True)
class RbacObject:
    name: str
    subjects: tuple[tuple[str, str], ...]
    grants: tuple[Grant, ...]
    plural: ClassVar[str] = "rbacs"

    def manifest(self) -> JSON:
        return rbac_manifest(self.name, self.subjects, self.grants)


@dataclass(frozen=True)
class UserObject:
    name: str
    display: str = ""
    plural: ClassVar[str] = "users"

    def manifest(self) -> JSON:
        return user_manifest(self.name, self.display)


@dataclass(frozen=True)
class AccountObject:
    name: str
    description: str = ""
    plural: ClassVar[str] = "serviceaccounts"

    def manifest(self) -> JSON:
        return manifest("ServiceAccount", self.name, {"description": self.description})


Object: TypeAlias = GroupObject | RbacObject | UserObject | AccountObject


@dataclass(frozen=True)
class Apply:
    """`POST /api/v1/apply` of one or two objects."""

    writer: str
    items: tuple[Object, ...]

    def perform(self, harness: AccessHarness, request_id: str) -> httpx.Response | None:
        body = {"items": [i.manifest() for i in self.items]}
        return harness.send(self.writer, "POST", "/api/v1/apply", body, request_id=request_id)


@dataclass(frozen=True)
class Replace:
    """`PUT /api/v1/PLURAL/NAME`, unconditional."""

    writer: str
    item: Object

    def perform(self, harness: AccessHarness, request_id: str) -> httpx.Response | None:
        path = f"/api/v1/{self.item.plural}/{self.item.name}"
        return harness.send(self.writer, "PUT", path, self.item.manifest(), request_id=request_id)


@dataclass(frozen=True)
class Create:
    """`POST /api/v1/PLURAL`."""

    writer: str
    item: Object

    def perform(self, harness: AccessHarness, request_id: str) -> httpx.Response | None:
        path = f"/api/v1/{self.item.plural}"
        return harness.send(self.writer, "POST", path, self.item.manifest(), request_id=request_id)


@dataclass(frozen=True)
class Delete:
    """`DELETE /api/v1/PLURAL/NAME`."""

    writer: str
    plural: str
    name: str

    def perform(self, harness: AccessHarness, request_id: str) -> httpx.Response | None:
        path = f"/api/v1/{self.plural}/{self.name}"
        response = harness.send(self.writer, "DELETE", path, request_id=request_id)
        if response is not None and response.is_success and self.plural == "users":
            harness.forget(self.name)
        return response


@dataclass(frozen=True)
class SetPassword:
    """`PUT /api/v1/users/TARGET/password` (one's own with the current one); if accepted,
    the writer logs in as the target."""

    writer: str
    target: str

    def perform(self, harness: AccessHarness, request_id: str) -> httpx.Response | None:
        password = harness.new_password(self.target)
        path = f"/api/v1/users/{self.target}/password"
        body = {"password": password}
        current = harness.passwords.get(self.writer)
        if self.target == self.writer and current is not None:
            body["currentPassword"] = current
        response = harness.send(self.writer, "PUT", path, body, request_id=request_id)
        if response is not None and response.is_success:
            harness.forget(self.target)
            harness.passwords[self.target] = password
            assert harness.login(self.target) is not None, (
                f"{self}: accepted, but {self.target} cannot log in with the password set"
            )
        return response


@dataclass(frozen=True)
class MintToken:
    """`POST /api/v1/mcptokens` with bindings (the token's Rbac `token-NAME` comes with it)."""

    writer: str
    name: str
    grants: tuple[Grant, ...]

    def perform(self, harness: AccessHarness, request_id: str) -> httpx.Response | None:
        body = {
            "apiVersion": "mcpctl/v1",
            "kind": "McpToken",
            "metadata": {"name": self.name},
            "bindings": [g.binding() for g in self.grants],
        }
        return harness.send(self.writer, "POST", "/api/v1/mcptokens", body, request_id=request_id)


@dataclass(frozen=True)
class MintAccountToken:
    """`POST /api/v1/serviceaccounts/ACCOUNT/tokens`: if accepted, the writer holds a token
    of the account, and it authenticates."""

    writer: str
    account: str

    def perform(self, harness: AccessHarness, request_id: str) -> httpx.Response | None:
        path = f"/api/v1/serviceaccounts/{self.account}/tokens"
        response = harness.send(self.writer, "POST", path, {}, request_id=request_id)
        if response is not None and response.is_success:
            token = response.json()["token"]
            me = harness.http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200, f"{self}: accepted, but the token does not work"
        return response


Write: TypeAlias = Apply | Replace | Create | Delete | SetPassword | MintToken | MintAccountToken


def becomes(op: Write) -> str | None:
    """The principal the writer can act as after `op` is accepted, besides itself: the user
    whose password it set, the ServiceAccount whose token it holds."""
    if isinstance(op, SetPassword) and op.target != op.writer:
        return f"User/{op.target}"
    if isinstance(op, MintAccountToken):
        return f"ServiceAccount/{op.account}"
    return None


# ---- the rule ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One way a write broke the rule: `rule` is escalation, takeover, lock-out or
    refusal (a refused write that changed something, or answered or audited wrongly)."""

    rule: str
    principal: str
    grants: tuple[Grant, ...]
    message: str


class AccessViolation(AssertionError):
    """A write broke the rule; `ops` are the writes up to and including it."""

    def __init__(self, ops: Sequence[Write], findings: Sequence[Finding]) -> None:
        steps = "".join(f"\n  {i}. {op}" for i, op in enumerate(ops, 1))
        broken = "".join(f"\n  - {f.message}" for f in findings)
        super().__init__(f"write {len(ops)} broke the rule.{broken}\nThe writes:{steps}")
        self.ops = tuple(ops)
        self.findings = tuple(findings)


class LockOut(AccessViolation):
    """No user holds every permission any more."""


class Takeover(AccessViolation):
    """The writer can now act as a principal holding what it did not (it set the user's
    password, or holds a token of the ServiceAccount)."""


class Escalation(AccessViolation):
    """A principal gained what the writer did not hold."""


class BadRefusal(AccessViolation):
    """A refused write changed something, or was answered or audited wrongly."""


#: The class of a violation by the gravest rule it broke: one class per rule makes each a
#: distinct failure to hypothesis, which then reports (and shrinks) each of them.
_VIOLATIONS: dict[str, type[AccessViolation]] = {
    "lock-out": LockOut,
    "takeover": Takeover,
    "escalation": Escalation,
}


def violation(ops: Sequence[Write], findings: Sequence[Finding]) -> AccessViolation:
    rules = {f.rule for f in findings}
    kind = next((cls for rule, cls in _VIOLATIONS.items() if rule in rules), BadRefusal)
    return kind(ops, findings)


def judge_accepted(op: Write, before: State, after: State) -> list[Finding]:
    """What an accepted write did that the rule forbids."""
    held_before = effective_permissions(before)
    held_after = effective_permissions(after)
    writer = f"User/{op.writer}"
    writers_own = held_before.get(writer, frozenset())
    findings = []
    for who, grants in sorted(held_after.items()):
        gained = uncovered(grants, held_before.get(who, ()))
        beyond = tuple(uncovered(gained, writers_own))
        if beyond:
            findings.append(
                Finding(
                    "escalation",
                    who,
                    beyond,
                    f"{who} gained {', '.join(map(str, beyond))}, "
                    f"which the writer {op.writer} did not hold",
                )
            )
    taken = becomes(op)
    if taken is not None:
        beyond = tuple(uncovered(held_after.get(taken, ()), writers_own))
        if beyond:
            how = (
                "set its password and logged in as it"
                if isinstance(op, SetPassword)
                else "holds a token of it"
            )
            findings.append(
                Finding(
                    "takeover",
                    writer,
                    beyond,
                    f"{op.writer} took over {taken} ({how}) and so gained "
                    f"{', '.join(map(str, beyond))}, which it did not hold",
                )
            )
    if not admins(held_after):
        findings.append(
            Finding(
                "lock-out",
                "User/admin",
                tuple(sorted(ADMIN_SET, key=str)),
                "no user holds every permission any more (the admin set): a lock-out",
            )
        )
    return findings


def judge_refused(
    harness: AccessHarness,
    op: Write,
    response: httpx.Response,
    request_id: str,
    before: State,
    after: State,
) -> list[Finding]:
    """What a refused write did that it should not: change something, answer other than
    problem+json, go unaudited (a 403)."""
    findings = []
    if after.objects != before.objects:
        changed = sorted(
            f"{plural}/{name}"
            for plural in {*before.objects, *after.objects}
            for name in {*before.names(plural), *after.names(plural)}
            if before.get(plural, name) != after.get(plural, name)
        )
        findings.append(
            Finding(
                "refusal",
                "",
                (),
                f"refused ({response.status_code}) but changed {', '.join(changed)}",
            )
        )
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        findings.append(
            Finding("refusal", "", (), f"refused ({response.status_code}) without problem+json")
        )
    if response.status_code == 403 and not any(
        entry.get("requestId") == request_id for entry in harness.denied_entries(op.writer)
    ):
        findings.append(Finding("refusal", "", (), "refused (403) but not audited as denied"))
    return findings


def check_writes(harness: AccessHarness, ops: Sequence[Write], tally: Counter[str]) -> None:
    """Run `ops` against the baseline; raise AccessViolation at the first that breaks the rule.

    `tally` counts the writes by type and outcome, to show that a run was not vacuous.
    """
    harness.reset()
    before = harness.read_state()
    for step, op in enumerate(ops, 1):
        request_id = uuid.uuid4().hex
        response = op.perform(harness, request_id)
        if response is None:
            continue  # the writer was deleted (or its password set by another): it cannot log in
        assert response.status_code < 500, f"{op}: {response.status_code} {response.text}"
        tally[f"{type(op).__name__} {'accepted' if response.is_success else 'refused'}"] += 1
        try:
            after = harness.read_state()
        except AdminLockedOut as e:
            finding = Finding(
                "lock-out",
                "User/admin",
                tuple(sorted(ADMIN_SET, key=str)),
                f"the admin can no longer read the identity objects ({e}): a lock-out",
            )
            raise violation(ops[:step], [finding]) from None
        if response.is_success:
            findings = judge_accepted(op, before, after)
        else:
            findings = judge_refused(harness, op, response, request_id, before, after)
        if findings:
            raise violation(ops[:step], findings)
        before = after
    check_model(harness, before)


def check_model(harness: AccessHarness, state: State) -> None:
    """The model agrees with mcpd: what it says each logged-in user holds is what mcpd
    answers that user at `GET /api/v1/auth/me`."""
    held = effective_permissions(state)
    for user in sorted(harness.sessions):
        if state.get("users", user) is None:
            continue
        answer = harness.send(user, "GET", "/api/v1/auth/me")
        assert answer is not None
        assert answer.status_code == 200, answer.text
        told = {Grant.of(b) for b in answer.json()["permissions"]}
        assert told == held[f"User/{user}"], (
            f"the model says {user} holds {sorted(map(str, held[f'User/{user}']))}, "
            f"mcpd says {sorted(map(str, told))}"
        )
