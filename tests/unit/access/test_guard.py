"""The grant algebra and the write guards, on objects built in memory."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from mcpctl.access import guard
from mcpctl.access.cache import Compiled
from mcpctl.access.policy import Capped, _AllowAll
from mcpctl.access.rbac import ADMIN, NOTHING, Grant, Permissions
from mcpctl.errors import Conflict, Forbidden
from mcpctl.schemas import BY_KIND, Group, Rbac, Resource

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def obj(kind: str, name: str, spec: dict[str, Any] | None = None) -> Resource:
    body = {"apiVersion": "mcpctl/v1", "kind": kind, "metadata": {"name": name}}
    if spec is not None:
        body["spec"] = spec
    return BY_KIND[kind].model_validate(body)


def user(name: str) -> Resource:
    return obj("User", name, {"email": f"{name}@example.com"})


def rbac(name: str, subjects: list[tuple[str, str]], *grants: dict[str, str]) -> Resource:
    return obj(
        "Rbac",
        name,
        {"subjects": [{"kind": k, "name": n} for k, n in subjects], "bindings": list(grants)},
    )


def group(name: str, *members: str) -> Resource:
    return obj("Group", name, {"members": list(members)})


def token(name: str, **spec: Any) -> Resource:
    return obj("McpToken", name, {"tokenHash": "sha256:" + "0" * 64, **spec})


def perms(*grants: Grant) -> Permissions:
    return Permissions(frozenset(grants))


EVERYTHING = [
    *({"role": r, "resource": "*"} for r in ("view", "create", "edit", "delete")),
    {"role": "run", "action": "*"},
]
VIEW_SERVERS = Grant("view", "servers")
EDIT_SERVER_X = Grant("edit", "servers", "x")


# ---- the algebra -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("held", "asked", "covered"),
    [
        (Grant("view", "*"), VIEW_SERVERS, True),
        (VIEW_SERVERS, Grant("view", "*"), False),
        (Grant("edit", "servers"), EDIT_SERVER_X, True),
        (EDIT_SERVER_X, Grant("edit", "servers"), False),
        (EDIT_SERVER_X, Grant("edit", "servers", "y"), False),
        (Grant("edit", "secrets"), Grant("edit", "servers"), False),
        (Grant("view", "*"), Grant("edit", "servers"), False),
        (Grant("run", action="*"), Grant("run", action="restore"), True),
        (Grant("run", action="sync"), Grant("run", action="restore"), False),
        (Grant("run", action="restore"), Grant("run", action="*"), False),
        # a project's endpoint: run projects[/NAME]; run * covers every one
        (Grant("run", action="*"), Grant("run", "projects", "demo"), True),
        (Grant("run", "projects"), Grant("run", "projects", "demo"), True),
        (Grant("run", "projects", "demo"), Grant("run", "projects", "other"), False),
        (Grant("run", "projects", "demo"), Grant("run", "projects"), False),
        (Grant("run", "projects"), Grant("run", action="restore"), False),
        (Grant("run", action="restore"), Grant("run", "projects", "demo"), False),
        (Grant("view", "projects", "demo"), Grant("run", "projects", "demo"), False),
    ],
)
def test_covers(held: Grant, asked: Grant, covered: bool) -> None:
    assert perms(held).covers(asked) is covered


def test_meet_keeps_what_both_allow() -> None:
    own = perms(Grant("view", "*"), EDIT_SERVER_X, Grant("run", action="sync"))
    ceiling = perms(VIEW_SERVERS, Grant("edit", "servers"), Grant("run", action="restore"))
    assert own.meet(ceiling) == perms(VIEW_SERVERS, EDIT_SERVER_X)
    assert own.meet(NOTHING) == NOTHING
    assert ADMIN.meet(own) == own


def test_a_project_endpoint_is_allowed_by_run_on_it_or_run_star_only() -> None:
    demo = perms(Grant("run", "projects", "demo"))
    assert demo.allows("run", "projects", "demo")
    assert not demo.allows("run", "projects", "other")
    assert not demo.allows_run("restore")
    assert not demo.allows_run("*")
    assert perms(Grant("run", action="*")).allows("run", "projects", "any")
    assert not perms(Grant("run", action="logs")).allows("run", "projects", "demo")
    assert not perms(Grant("view", "*"), Grant("edit", "*")).allows("run", "projects", "demo")
    # a token's run on a project is capped by its creator's
    capped = Capped(perms(Grant("run", "projects")), demo)
    assert capped.allows("run", "projects", "demo")
    assert not capped.allows("run", "projects", "other")


@pytest.mark.parametrize(
    ("binding", "error"),
    [
        ({"role": "run"}, "needs action (an operation) or resource: projects"),
        ({"role": "run", "resource": "servers"}, "not to servers"),
        ({"role": "run", "action": "logs", "resource": "projects"}, "not both"),
        ({"role": "run", "resource": "*"}, "not to *"),
    ],
)
def test_a_run_binding_names_an_operation_or_projects(binding: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error)):
        rbac("r", [("User", "ann")], binding)


def test_beyond_lists_what_the_other_does_not_cover() -> None:
    wide = perms(Grant("view", "*"), EDIT_SERVER_X)
    assert wide.beyond(perms(Grant("view", "*"))) == [EDIT_SERVER_X]
    assert perms(VIEW_SERVERS).beyond(wide) == []


# ---- who holds what --------------------------------------------------------------------------


def test_users_hold_their_rbacs_and_their_groups_rbacs() -> None:
    state = guard.AccessState.of(
        [
            user("ann"),
            user("bob"),
            group("ops", "bob"),
            rbac("r1", [("User", "ann")], {"role": "view", "resource": "servers"}),
            rbac("r2", [("Group", "ops")], {"role": "edit", "resource": "servers"}),
        ]
    )
    held = state.effective(NOW)
    assert held[("User", "ann")] == perms(VIEW_SERVERS)
    assert held[("User", "bob")] == perms(Grant("edit", "servers"))


def test_tokens_hold_their_grants_under_their_creator_and_only_while_usable() -> None:
    state = guard.AccessState.of(
        [
            user("ann"),
            rbac("ann", [("User", "ann")], {"role": "view", "resource": "servers"}),
            token("bound", createdBy="ann"),
            rbac("bound", [("McpToken", "bound")], *EVERYTHING),
            token("cloned", createdBy="ann", rbacMode="clone", clonedBindings=EVERYTHING),
            token("orphan", rbacMode="clone", clonedBindings=EVERYTHING),
            token("revoked", createdBy="ann", rbacMode="clone", revoked=True),
            token("expired", createdBy="ann", expiresAt="2026-12-01T00:00:00Z"),
        ]
    )
    held = state.effective(NOW)
    assert held[("McpToken", "bound")] == perms(VIEW_SERVERS)
    assert held[("McpToken", "cloned")] == perms(VIEW_SERVERS)
    assert held[("McpToken", "orphan")] == NOTHING
    assert ("McpToken", "revoked") not in held
    assert ("McpToken", "expired") not in held


def test_compiled_rbacs_give_the_same_grants_as_the_guard() -> None:
    items = [
        user("ann"),
        group("ops", "ann"),
        rbac("r1", [("User", "ann")], {"role": "view", "resource": "servers"}),
        rbac("r2", [("Group", "ops")], {"role": "run", "action": "sync"}),
    ]
    rbacs = [i for i in items if isinstance(i, Rbac)]
    groups = [i for i in items if isinstance(i, Group)]
    assert (
        Compiled.of(rbacs, groups).grants("User", "ann")
        == guard.AccessState.of(items).effective(NOW)[("User", "ann")]
    )


# ---- the guards ------------------------------------------------------------------------------


def powerful() -> guard.AccessState:
    return guard.AccessState.of(
        [
            user("admin"),
            user("mallory"),
            rbac("admin", [("User", "admin")], *EVERYTHING),
            group("ops"),
            rbac("ops", [("Group", "ops")], *EVERYTHING),
            rbac("mallory", [("User", "mallory")], {"role": "edit", "resource": "groups"}),
        ]
    )


def test_joining_a_powerful_group_is_an_escalation() -> None:
    before = powerful()
    after = before.changed([group("ops", "mallory")], [])
    mallory = perms(Grant("edit", "groups"))
    with pytest.raises(Forbidden, match=r"would grant User 'mallory' .*run \*"):
        guard.check_escalation(mallory, before, after, NOW)
    guard.check_escalation(ADMIN, before, after, NOW)  # who holds it may
    guard.check_escalation(_AllowAll(), before, after, NOW)  # and mcpd itself


def test_a_new_user_named_by_an_rbac_gains_what_it_grants() -> None:
    before = guard.AccessState.of(
        [rbac("eve", [("User", "eve")], {"role": "view", "resource": "secrets"})]
    )
    after = before.changed([user("eve")], [])
    with pytest.raises(Forbidden, match="User 'eve' view secrets"):
        guard.check_escalation(perms(Grant("create", "users")), before, after, NOW)
    guard.check_escalation(perms(Grant("view", "secrets")), before, after, NOW)


def test_a_token_writer_is_held_to_its_capped_grants() -> None:
    before = powerful()
    after = before.changed([group("ops", "mallory")], [])
    capped = Capped(own=ADMIN, ceiling=perms(Grant("edit", "groups")))
    with pytest.raises(Forbidden):
        guard.check_escalation(capped, before, after, NOW)


def test_losses_are_never_escalations() -> None:
    before = powerful()
    after = before.changed([], [("Rbac", "ops"), ("User", "mallory")])
    guard.check_escalation(NOTHING, before, after, NOW)


def test_removing_the_last_admin_is_a_lockout_whoever_writes() -> None:
    before = powerful()
    for after in (
        before.changed([], [("Rbac", "admin")]),
        before.changed([], [("User", "admin")]),
        before.changed([rbac("admin", [("User", "admin")], {"role": "view", "resource": "*"})], []),
    ):
        with pytest.raises(Conflict, match="lock everyone out"):
            guard.check_lockout(before, after, NOW)
    # another admin through a group is enough
    with_ops = before.changed([group("ops", "mallory")], [])
    guard.check_lockout(with_ops, with_ops.changed([], [("Rbac", "admin")]), NOW)
    # and with no admin before, nothing gets worse
    none = before.changed([], [("Rbac", "admin")])
    guard.check_lockout(none, none.changed([], [("User", "mallory")]), NOW)


def test_switched_off_the_guards_let_everything_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guard, "ENFORCED", False)
    before = powerful()
    guard.check_escalation(NOTHING, before, before.changed([group("ops", "mallory")], []), NOW)
    guard.check_lockout(before, before.changed([], [("Rbac", "admin")]), NOW)
    guard.require_holds(NOTHING, ADMIN, "User 'admin'")


def test_require_holds_names_what_the_caller_lacks() -> None:
    with pytest.raises(Forbidden, match=r"User 'admin' holds what you do not: .*view \*"):
        guard.require_holds(perms(VIEW_SERVERS), ADMIN, "User 'admin'")
    guard.require_holds(ADMIN, perms(VIEW_SERVERS), "User 'ann'")
