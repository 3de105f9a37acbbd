"""No write escalates, none locks everyone out: a property test against a real mcpd (issue 9).

Random sequences of writes, each by a user who is not the admin: apply, replace
or create Groups, Rbacs, Users and ServiceAccounts with random members, subjects
and bindings; delete them; set a user's password (and log in as that user);
create McpTokens with bindings, and ServiceAccount tokens. After each write, `check_writes`
(`tests/support/access_writes.py`) reads the identity objects back as the admin
and judges it with a model of effective permissions that imports none of
mcpctl's access code (`tests/support/permission_model.py`): an accepted write
may add to a principal's permissions only what the writer held, and must leave
some user holding every permission; a refused one changes nothing, answers
problem+json, and a 403 is audited as denied.

The baseline (`baseline()`): the admin; users who write, each holding a few
grants (`WRITERS`); users who do not; Groups bound to grants, one of them to
every permission and empty; a ServiceAccount; an McpToken of the admin's.
`AccessHarness` (`tests/support/access_harness.py`) brings mcpd back to it
through the API before each example.

The guarded test runs `SCENARIOS` (the escalations issue 9 found, and one
through each other way to grant) and writes of each type a correct mcpd lets
through (`COVERAGE`, so that it is never vacuous) as explicit examples, then
`BUDGET` random examples. The same machine runs against an mcpd whose guards
are switched off (`tests/support/unguarded_mcpd.py`): it must find each
scenario's escalation, and random writes alone must find one too.

Budgets are counts of examples and writes, never time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TypeVar, get_args

import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

from mcpctl.schemas.identity import Operation
from tests.support.access_harness import AccessHarness, Baseline
from tests.support.access_writes import (
    AccessViolation,
    AccountObject,
    Apply,
    Create,
    Delete,
    GroupObject,
    MintAccountToken,
    MintToken,
    Object,
    RbacObject,
    Replace,
    SetPassword,
    UserObject,
    Write,
    check_writes,
    rbac_manifest,
    user_manifest,
)
from tests.support.manifests import manifest
from tests.support.mcpd import Mcpd, running_mcpd, unguarded_mcpd_command
from tests.support.permission_model import ADMIN_SET, Grant
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
        "edit serviceaccounts",
    ),
    "viewer": (),  # view servers, edit servers through its groups
}

#: Users who do not write (they hold what their groups grant).
OTHERS = ("reader", "deployer")

#: Groups: members, and what the Rbac `<group>-grants` gives them.
GROUPS: dict[str, tuple[tuple[str, ...], tuple[Grant, ...]]] = {
    "operators": ((), tuple(sorted(ADMIN_SET, key=str))),
    "readers": (("viewer", "reader"), _grants("view servers")),
    "editors": (("viewer", "deployer"), _grants("view servers", "edit servers")),
}


def baseline() -> Baseline:
    objects = [user_manifest(name) for name in (*WRITERS, *OTHERS)]
    objects += [
        rbac_manifest(name, [("User", name)], grants) for name, grants in WRITERS.items() if grants
    ]
    for group, (members, grants) in GROUPS.items():
        objects.append(manifest("Group", group, {"members": list(members)}))
        objects.append(rbac_manifest(f"{group}-grants", [("Group", group)], grants))
    objects.append(manifest("ServiceAccount", "ci", {"description": "deploys"}))
    objects.append(
        rbac_manifest(
            "ci-deploy", [("ServiceAccount", "ci")], _grants("view servers", "edit servers")
        )
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
    "users": (("admin", *WRITERS, *OTHERS), ("newcomer",)),
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
    "account token": ("manager",),
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
    if purpose == "account token":
        return MintAccountToken(writer, draw(st.sampled_from(ACCOUNTS)))
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


# ---- the scenarios: issue 9's escalations, and one through each other way to grant ------------


@dataclass(frozen=True)
class Scenario:
    """Writes that break the rule unless mcpd refuses one, and what the model then reports:
    the rule broken and who gained (or, for a lock-out, who lost)."""

    ops: list[Write]
    rule: str
    principals: tuple[str, ...]


#: Explicit examples: the guarded run must refuse each, the unguarded run must find each.
SCENARIOS: dict[str, Scenario] = {
    "issue 9: edit groups joins a powerful group": Scenario(
        [Apply("grouper", (GroupObject("operators", ("grouper",)),))],
        "escalation",
        ("User/grouper",),
    ),
    "issue 9: edit users sets the admin's password and logs in as admin": Scenario(
        [
            SetPassword("keeper", "admin"),
            # since setting others' passwords is an operation of its own (`run set-passwords`)
            SetPassword("resetter", "admin"),
        ],
        "takeover",
        ("User/keeper", "User/resetter"),
    ),
    "issue 9: edit rbacs strips the only admin down to view servers": Scenario(
        [Replace("binder", RbacObject("admin", (("User", "admin"),), _grants("view servers")))],
        "lock-out",
        ("User/admin",),
    ),
    "create rbacs grants itself more": Scenario(
        [Create("binder", RbacObject("extra", (("User", "binder"),), _grants("run *")))],
        "escalation",
        ("User/binder",),
    ),
    "edit rbacs widens a ServiceAccount": Scenario(
        [
            Replace(
                "binder",
                RbacObject("ci-deploy", (("ServiceAccount", "ci"),), _grants("delete users")),
            )
        ],
        "escalation",
        ("ServiceAccount/ci",),
    ),
    "edit rbacs widens the admin's McpToken": Scenario(
        [
            Replace(
                "binder",
                RbacObject("token-admin-ci", (("McpToken", "admin-ci"),), _grants("edit *")),
            )
        ],
        "escalation",
        ("McpToken/admin-ci",),
    ),
    "edit groups adds another user to a group of more": Scenario(
        [Replace("grouper", GroupObject("editors", ("viewer", "deployer", "keeper")))],
        "escalation",
        ("User/keeper",),
    ),
    "delete rbacs removes the admin's": Scenario(
        [Delete("manager", "rbacs", "admin")], "lock-out", ("User/admin",)
    ),
    "set-passwords takes over a user holding more": Scenario(
        [SetPassword("resetter", "deployer")], "takeover", ("User/resetter",)
    ),
    "edit serviceaccounts takes a token of one holding more": Scenario(
        [MintAccountToken("manager", "ci")], "takeover", ("User/manager",)
    ),
}


#: Writes of each type that a correct mcpd lets through (in this order), then one of each
#: type it refuses: so that the guarded run is never vacuous.
COVERAGE: list[list[Write]] = [
    [
        Apply("grouper", (GroupObject("readers", ("viewer", "reader", "keeper")),)),
        Replace(
            "binder", RbacObject("ci-deploy", (("ServiceAccount", "ci"),), _grants("view servers"))
        ),
        Create("binder", RbacObject("extra", (("User", "viewer"),), _grants("view servers"))),
        Delete("manager", "rbacs", "ci-deploy"),
        SetPassword("keeper", "keeper"),
        SetPassword("resetter", "reader"),
        MintToken("binder", "minted", _grants("view servers")),
        Create("manager", AccountObject("robot")),
        MintAccountToken("manager", "robot"),
    ],
    [
        Apply("viewer", (GroupObject("readers", ()),)),
        Replace("viewer", UserObject("viewer", "Renamed")),
        Create("viewer", AccountObject("robot")),
        Delete("viewer", "rbacs", "ci-deploy"),
        SetPassword("viewer", "keeper"),
        MintToken("viewer", "spare", _grants("view servers")),
        MintAccountToken("viewer", "ci"),
    ],
]

WRITE_TYPES = (
    "Apply",
    "Replace",
    "Create",
    "Delete",
    "SetPassword",
    "MintToken",
    "MintAccountToken",
)


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

    # no deadline and no too_slow health check: the profile of tests/conftest.py
    @settings(
        max_examples=examples,
        phases=phases,
        derandomize=derandomize,
        database=None,
        report_multiple_bugs=True,
    )
    @given(ops=st.lists(writes(), min_size=1, max_size=steps))
    def writes_keep_the_rule(ops: list[Write]) -> None:
        check_writes(harness, ops, tally)

    for ops in reversed(explicit):
        writes_keep_the_rule = example(ops=list(ops))(writes_keep_the_rule)
    writes_keep_the_rule()


# ---- the mcpds ------------------------------------------------------------------------------


def starter(
    tmp_path_factory: pytest.TempPathFactory,
    new_database: Callable[[], str | None] = lambda: None,
    command: Sequence[str] | None = None,
) -> Callable[[], AbstractContextManager[Mcpd]]:
    """Each call: a fresh mcpd, with a new state dir and a new database (None: SQLite in
    the state dir), started by `command` (None: the `mcpd` command)."""

    def start() -> AbstractContextManager[Mcpd]:
        state = tmp_path_factory.mktemp("access") / "state"
        # random Servers are records only: the access rules are what is tested
        return running_mcpd(state, new_database(), command=command, args=["--runtimes", "none"])

    return start


@dataclass(frozen=True)
class Database:
    name: str
    new: Callable[[], str | None]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Database:
    """SQLite, or a new PostgreSQL database for each mcpd started."""
    if request.param == "sqlite":
        return Database("sqlite", lambda: None)
    server: PostgresServer = request.getfixturevalue("postgres")
    return Database("postgresql", server.create_database)


@pytest.fixture(scope="module")
def unguarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AccessHarness]:
    """An mcpd on SQLite with the guards switched off."""
    with AccessHarness(
        starter(tmp_path_factory, command=unguarded_mcpd_command()), baseline()
    ) as harness:
        yield harness


# ---- the tests ------------------------------------------------------------------------------

#: The budget of the guarded run, by database: (examples, writes at most in each).
BUDGET = {"sqlite": (60, 10), "postgresql": (15, 10)}


def test_no_write_escalates_or_locks_out(
    database: Database, tmp_path_factory: pytest.TempPathFactory
) -> None:
    examples, steps = BUDGET[database.name]
    explicit: Counter[str] = Counter()
    generated: Counter[str] = Counter()
    with AccessHarness(starter(tmp_path_factory, database.new), baseline()) as harness:
        run_property(
            harness,
            explicit,
            examples=1,
            steps=1,
            phases=(Phase.explicit,),
            explicit=[*(scenario.ops for scenario in SCENARIOS.values()), *COVERAGE],
        )
        run_property(
            harness,
            generated,
            examples=examples,
            steps=steps,
            phases=(Phase.generate, Phase.shrink),
        )
        # every example started from the baseline through the API: nothing locked the admin out
        assert harness.restarts == 0
    # not vacuous: writes of each type got through, and others were refused
    for name in WRITE_TYPES:
        assert explicit[f"{name} accepted"], explicit
        assert explicit[f"{name} refused"], explicit
    # random writes get through too: about one in ten does, so the floor scales with the
    # budget (15 examples on PostgreSQL once met only 7 accepted writes of 60 tried)
    floor = max(3, examples // 6)
    accepted = sum(n for outcome, n in generated.items() if outcome.endswith("accepted"))
    assert accepted >= floor, generated


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_unguarded_mcpd_lets_each_scenario_through(unguarded: AccessHarness, scenario: str) -> None:
    expected = SCENARIOS[scenario]
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
    assert any(f.rule in ("escalation", "takeover", "lock-out") for f in raised.value.findings), (
        raised.value
    )
