"""No write escalates, none locks everyone out: a property test against a real mcpd (issue 9).

Random sequences of writes, each by a random user who is not the admin: apply
or replace Groups and Rbacs with random members, subjects and bindings, create
and delete objects, set another user's password (and log in as them), create
McpTokens with bindings. After each accepted write, the oracle
(`tests/support/permission_model.py`, which imports none of mcpctl's access
code) computes every principal's effective permissions from the objects the
admin reads back, and checks the rule: what a principal holds after the write,
beyond what it held before, the writer held before the write; and some user
still holds every permission. Setting someone's password makes the writer able
to become them, so it counts as the writer gaining what the target holds. After
each refused write: nothing changed, the answer is problem+json, and a 403 is in
the audit log as denied.

The same machine runs against an mcpd whose guards are switched off
(`tests/support/unguarded_mcpd.py`) and must find the escalations they stop:
the scenarios below run there as explicit examples, and random search alone
must find a violation too.

Budget: a fixed number of examples of a fixed number of steps, no time limit.
The harness resets mcpd to the baseline between examples through the API.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import ClassVar, TypeAlias, TypeVar, get_args

import httpx
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from mcpctl.schemas.identity import Operation
from tests.support.access_harness import AccessHarness, AdminLockedOut, Baseline
from tests.support.manifests import JSON, manifest
from tests.support.mcpd import Mcpd, running_mcpd, unguarded_mcpd_command
from tests.support.permission_model import (
    ADMIN_SET,
    Grant,
    State,
    admins,
    effective_permissions,
    uncovered,
)
from tests.support.postgres import PostgresServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

T = TypeVar("T")

# ---- who exists: the baseline every example starts from ------------------------------------

#: Whether mcpd knows the operation of setting others' passwords (issue 9, part 3).
SET_PASSWORDS = "set-passwords" in get_args(Operation)


def _grants(*spec: str) -> tuple[Grant, ...]:
    """Grants written `role resource[/name]` or `run action`."""
    made = []
    for text in spec:
        role, _, target = text.partition(" ")
        if role == "run":
            made.append(Grant.run(target))
        else:
            resource, _, name = target.partition("/")
            made.append(Grant(role, resource, name or None))
    return tuple(made)


#: The users who write, and what their own Rbac (named after them) grants them.
WRITERS: dict[str, tuple[Grant, ...]] = {
    "grouper": _grants("view groups", "edit groups", "view servers"),
    "keeper": _grants("view users", "edit users"),
    "binder": _grants(
        "view rbacs", "create rbacs", "edit rbacs", "view servers", "create mcptokens"
    ),
    "resetter": (
        *(_grants("run set-passwords") if SET_PASSWORDS else ()),
        *_grants("view users", "view servers"),
    ),
    "manager": _grants(
        *(
            f"{role} {plural}"
            for role in ("view", "create", "edit", "delete")
            for plural in ("groups", "rbacs")
        ),
        "view servers",
        "create users",
        "delete users",
        "create serviceaccounts",
    ),
    "viewer": (),  # view servers, edit servers through its groups
}

#: Groups: members, and what the Rbac `<group>-grants` gives them.
GROUPS: dict[str, tuple[tuple[str, ...], tuple[Grant, ...]]] = {
    "operators": ((), tuple(sorted(ADMIN_SET, key=str))),
    "readers": (("viewer",), _grants("view servers")),
    "editors": (("viewer", "deployer"), _grants("view servers", "edit servers")),
}


def _user(name: str, display: str = "") -> JSON:
    spec = {"email": f"{name}@example.com", **({"displayName": display} if display else {})}
    return manifest("User", name, spec)


def _rbac(name: str, subjects: Sequence[tuple[str, str]], grants: Sequence[Grant]) -> JSON:
    return manifest(
        "Rbac",
        name,
        {
            "subjects": [{"kind": kind, "name": who} for kind, who in subjects],
            "bindings": [g.binding() for g in grants],
        },
    )


def baseline() -> Baseline:
    objects = [_user(name) for name in (*WRITERS, "deployer")]
    objects += [_rbac(name, [("User", name)], grants) for name, grants in WRITERS.items() if grants]
    for group, (members, grants) in GROUPS.items():
        objects.append(manifest("Group", group, {"members": list(members)}))
        objects.append(_rbac(f"{group}-grants", [("Group", group)], grants))
    objects.append(manifest("ServiceAccount", "ci", {"description": "deploys"}))
    objects.append(
        _rbac("ci-deploy", [("ServiceAccount", "ci")], _grants("view servers", "edit servers"))
    )
    token = {
        "apiVersion": "mcpctl/v1",
        "kind": "McpToken",
        "metadata": {"name": "admin-ci"},
        "bindings": [g.binding() for g in _grants("view servers")],
    }
    return Baseline(
        objects, tokens=[("admin", token)], passwords={w: f"{w}-password-0" for w in WRITERS}
    )


# ---- what a write can be -------------------------------------------------------------------

#: The names a write may use, by plural: (those of the baseline, new ones).
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "users": (("admin", *WRITERS, "deployer"), ("newcomer",)),
    "groups": (tuple(GROUPS), ("crew",)),
    "rbacs": (
        (
            "admin",
            *(w for w, grants in WRITERS.items() if grants),
            *(f"{g}-grants" for g in GROUPS),
            "ci-deploy",
            "token-admin-ci",
        ),
        ("extra",),
    ),
    "serviceaccounts": (("ci",), ("robot",)),
    "mcptokens": (("admin-ci",), ("minted", "spare")),
}


def _every(plural: str) -> tuple[str, ...]:
    existing, new = NAMES[plural]
    return (*existing, *new)


USERS = _every("users")
GROUP_NAMES = _every("groups")
RBAC_NAMES = _every("rbacs")
ACCOUNTS = _every("serviceaccounts")
TOKENS = _every("mcptokens")
SUBJECTS = (
    *(("User", u) for u in USERS),
    *(("Group", g) for g in GROUP_NAMES),
    *(("ServiceAccount", a) for a in ACCOUNTS),
    *(("McpToken", t) for t in TOKENS),
)
#: Every grant a write may ask for: the admin set, the writers' and a few more.
GRANTS = tuple(
    sorted(
        {
            *ADMIN_SET,
            *(g for grants in WRITERS.values() for g in grants),
            *(g for _, grants in GROUPS.values() for g in grants),
            *_grants("view servers/web", "create servers", "view auditevents", "run restore"),
        },
        key=str,
    )
)


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
        return _rbac(self.name, self.subjects, self.grants)


@dataclass(frozen=True)
class UserObject:
    name: str
    display: str = ""
    plural: ClassVar[str] = "users"

    def manifest(self) -> JSON:
        return _user(self.name, self.display)


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
    """`PUT /api/v1/users/TARGET/password`; if accepted, the writer logs in as the target."""

    writer: str
    target: str

    def perform(self, harness: AccessHarness, request_id: str) -> httpx.Response | None:
        password = harness.new_password(self.target)
        path = f"/api/v1/users/{self.target}/password"
        response = harness.send(
            self.writer, "PUT", path, {"password": password}, request_id=request_id
        )
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


Write: TypeAlias = Apply | Replace | Create | Delete | SetPassword | MintToken


# ---- the strategies --------------------------------------------------------------------------


#: What a write is for, and who may do it: most writes of each purpose are by one of those
#: writers, so that writes get through and not only refusals are tested.
ABLE: dict[str, tuple[str, ...]] = {
    "groups": ("grouper", "manager"),
    "rbacs": ("binder", "manager"),
    "users": ("keeper", "manager"),
    "serviceaccounts": ("manager",),
    "delete": ("manager",),
    "password": ("keeper", "resetter"),
    "token": ("binder",),
}

#: What a write may delete.
DELETABLE = (
    *(("users", u) for u in USERS),
    *(("groups", g) for g in GROUP_NAMES),
    *(("rbacs", r) for r in RBAC_NAMES),
    *(("serviceaccounts", a) for a in ACCOUNTS),
    *(("mcptokens", t) for t in TOKENS),
)


def _mostly(anything: st.SearchStrategy[T], focus: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """Two times in three `focus`, else `anything`."""
    return st.one_of(focus, focus, anything)


def grants_for(writer: str) -> st.SearchStrategy[Grant]:
    """Mostly a grant the writer holds, else any."""
    own = WRITERS[writer] or _grants("view servers", "edit servers")
    return _mostly(st.sampled_from(GRANTS), st.sampled_from(own))


def names(plural: str, how: str) -> st.SearchStrategy[str]:
    """Names of `plural` for a write: mostly new ones to create, existing ones to replace."""
    existing, new = NAMES[plural]
    every = st.sampled_from((*existing, *new))
    if how == "create":
        return _mostly(every, st.sampled_from(new))
    if how == "replace":
        return _mostly(every, st.sampled_from(existing))
    return every


def objects_of(plural: str, writer: str, how: str) -> st.SearchStrategy[Object]:
    if plural == "groups":
        return st.builds(
            GroupObject,
            names(plural, how),
            st.lists(st.sampled_from(USERS), unique=True, max_size=3).map(tuple),
        )
    if plural == "rbacs":
        return st.builds(
            RbacObject,
            names(plural, how),
            st.lists(st.sampled_from(SUBJECTS), min_size=1, max_size=3, unique=True).map(tuple),
            st.lists(grants_for(writer), min_size=1, max_size=2, unique=True).map(tuple),
        )
    if plural == "users":
        return st.builds(UserObject, names(plural, how), st.sampled_from(("", "Renamed")))
    return st.builds(AccountObject, names(plural, how), st.sampled_from(("", "bot")))


@st.composite
def writes(draw: st.DrawFn) -> Write:
    """One write: its purpose, then (mostly) a writer able to do it, then what it writes."""
    purpose = draw(st.sampled_from(tuple(ABLE)))
    writer = draw(_mostly(st.sampled_from(tuple(WRITERS)), st.sampled_from(ABLE[purpose])))
    if purpose == "password":
        return SetPassword(writer, draw(st.sampled_from(USERS)))
    if purpose == "token":
        grants = draw(st.lists(grants_for(writer), min_size=1, max_size=2, unique=True))
        return MintToken(writer, draw(names("mcptokens", "create")), tuple(grants))
    if purpose == "delete":
        return Delete(writer, *draw(st.sampled_from(DELETABLE)))
    how = draw(st.sampled_from(("apply", "replace", "create")))
    item = draw(objects_of(purpose, writer, how))
    if how == "replace":
        return Replace(writer, item)
    if how == "create":
        return Create(writer, item)
    # an apply may carry a second object, of any kind
    more = draw(
        st.lists(st.sampled_from(("groups", "rbacs", "users", "serviceaccounts")), max_size=1)
    )
    items = [item, *(draw(objects_of(plural, writer, how)) for plural in more)]
    unique = {(i.plural, i.name): i for i in items}
    return Apply(writer, tuple(unique.values()))


# ---- the rule ------------------------------------------------------------------------------


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
    if isinstance(op, SetPassword) and op.target != op.writer:
        taken = held_after.get(f"User/{op.target}", frozenset())
        beyond = tuple(uncovered(taken, writers_own))
        if beyond:
            findings.append(
                Finding(
                    "takeover",
                    writer,
                    beyond,
                    f"{op.writer} set the password of User/{op.target}, logged in as it and so "
                    f"gained {', '.join(map(str, beyond))}, which it did not hold",
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
            raise AccessViolation(ops[:step], [finding]) from None
        if response.is_success:
            findings = judge_accepted(op, before, after)
        else:
            findings = judge_refused(harness, op, response, request_id, before, after)
        if findings:
            raise AccessViolation(ops[:step], findings)
        before = after


# ---- the scenarios of issue 9, and a few more --------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """Writes that break the rule unless mcpd refuses one, and what the oracle then reports."""

    ops: list[Write]
    rule: str
    principals: tuple[str, ...]


#: The escalations issue 9 found, as explicit examples: the guarded run must refuse them,
#: the unguarded run must find each.
ISSUE_SCENARIOS: dict[str, Scenario] = {
    "edit groups joins a powerful group": Scenario(
        [Apply("grouper", (GroupObject("operators", ("grouper",)),))],
        "escalation",
        ("User/grouper",),
    ),
    "edit users sets the admin's password and logs in as admin": Scenario(
        [
            SetPassword("keeper", "admin"),
            # once setting others' passwords is an operation of its own (`run set-passwords`)
            SetPassword("resetter", "admin"),
        ],
        "takeover",
        ("User/keeper", "User/resetter"),
    ),
    "edit rbacs strips the only admin down to view servers": Scenario(
        [Replace("binder", RbacObject("admin", (("User", "admin"),), _grants("view servers")))],
        "lock-out",
        ("User/admin",),
    ),
}

#: More explicit examples for the guarded run: through each kind that grants.
MORE_SCENARIOS: dict[str, list[Write]] = {
    "create rbacs grants itself more": [
        Create("binder", RbacObject("extra", (("User", "binder"),), _grants("run *"))),
    ],
    "edit rbacs widens a ServiceAccount": [
        Replace(
            "binder",
            RbacObject("ci-deploy", (("ServiceAccount", "ci"),), _grants("delete users")),
        ),
    ],
    "edit rbacs widens the admin's McpToken": [
        Replace(
            "binder",
            RbacObject("token-admin-ci", (("McpToken", "admin-ci"),), _grants("edit *")),
        ),
    ],
    "edit groups adds another user to a group of more": [
        Replace("grouper", GroupObject("editors", ("viewer", "deployer", "keeper"))),
    ],
    "delete rbacs removes the admin's": [
        Delete("manager", "rbacs", "admin"),
    ],
    "set-passwords takes over a user holding more": [
        SetPassword("resetter", "deployer"),
    ],
}


def run_property(
    harness: AccessHarness,
    tally: Counter[str],
    *,
    examples: int,
    steps: int,
    phases: Sequence[Phase],
    explicit: Sequence[Sequence[Write]] = (),
    derandomize: bool = False,
) -> None:
    """Hypothesis over lists of up to `steps` writes, `examples` of them, and `explicit`."""

    @settings(
        max_examples=examples,
        deadline=None,
        phases=phases,
        derandomize=derandomize,
        database=None,
        report_multiple_bugs=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(ops=st.lists(writes(), min_size=1, max_size=steps))
    def writes_keep_the_rule(ops: list[Write]) -> None:
        check_writes(harness, ops, tally)

    for ops in reversed(explicit):
        writes_keep_the_rule = example(ops=list(ops))(writes_keep_the_rule)
    writes_keep_the_rule()


# ---- the mcpds ------------------------------------------------------------------------------

Start = Callable[[], AbstractContextManager[Mcpd]]


def starter(
    tmp_path_factory: pytest.TempPathFactory,
    database: str,
    postgres: Callable[[], PostgresServer],
    command: Sequence[str] | None = None,
) -> Start:
    """Each call: a fresh mcpd (new state dir, new database)."""

    def start() -> AbstractContextManager[Mcpd]:
        state = tmp_path_factory.mktemp("access") / "state"
        url = postgres().create_database() if database == "postgresql" else None
        return running_mcpd(state, url, command=command)

    return start


@pytest.fixture(scope="module")
def unguarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AccessHarness]:
    """An mcpd on SQLite with the guards switched off."""
    start = starter(tmp_path_factory, "sqlite", _no_postgres, unguarded_mcpd_command())
    with AccessHarness(start, baseline()) as harness:
        yield harness


def _no_postgres() -> PostgresServer:
    raise AssertionError("this mcpd runs on SQLite")


# ---- the tests ------------------------------------------------------------------------------

#: The budget of the guarded run, by database: (examples, steps per example).
BUDGET = {"sqlite": (60, 10), "postgresql": (15, 10)}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_no_write_escalates_or_locks_out(
    database: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> None:
    def postgres() -> PostgresServer:
        server: PostgresServer = request.getfixturevalue("postgres")
        return server

    examples, steps = BUDGET[database]
    tally: Counter[str] = Counter()
    with AccessHarness(starter(tmp_path_factory, database, postgres), baseline()) as harness:
        run_property(
            harness,
            tally,
            examples=examples,
            steps=steps,
            phases=(Phase.explicit, Phase.generate, Phase.shrink),
            explicit=[
                *(scenario.ops for scenario in ISSUE_SCENARIOS.values()),
                *MORE_SCENARIOS.values(),
            ],
        )
    # not vacuous: writes of each type got through, and others were refused
    for name in ("Apply", "Replace", "Create", "Delete", "SetPassword", "MintToken"):
        assert tally[f"{name} accepted"], tally
        assert tally[f"{name} refused"], tally


@pytest.mark.parametrize("scenario", list(ISSUE_SCENARIOS))
def test_unguarded_mcpd_lets_the_escalations_of_issue_9_through(
    unguarded: AccessHarness, scenario: str
) -> None:
    expected = ISSUE_SCENARIOS[scenario]
    with pytest.raises(AccessViolation) as raised:
        run_property(
            unguarded,
            Counter(),
            examples=1,
            steps=1,
            phases=(Phase.explicit,),
            explicit=[expected.ops],
        )
    violation = raised.value
    assert violation.ops == tuple(expected.ops[: len(violation.ops)]), violation
    assert any(
        f.rule == expected.rule and f.principal in expected.principals for f in violation.findings
    ), violation


def test_random_writes_find_an_escalation_on_an_unguarded_mcpd(unguarded: AccessHarness) -> None:
    with pytest.raises(AccessViolation) as raised:
        run_property(
            unguarded,
            Counter(),
            examples=50,
            steps=10,
            phases=(Phase.generate,),
            derandomize=True,
        )
    assert raised.value.findings
