"""The oracle of the access property test (`tests/support/permission_model.py`) says what
mcpd's RBAC means: a judge that is wrong would pass escalations or fail correct writes."""

from __future__ import annotations

from typing import Any

from tests.support.permission_model import (
    ADMIN_SET,
    Grant,
    State,
    admins,
    covers,
    effective_permissions,
    meet,
    uncovered,
)

VIEW_SERVERS = Grant("view", "servers")
VIEW_WEB = Grant("view", "servers", "web")


def test_a_grant_is_covered_by_itself_and_by_wider_ones_only() -> None:
    assert covers([VIEW_WEB], VIEW_WEB)
    assert covers([VIEW_SERVERS], VIEW_WEB)
    assert covers([Grant("view", "*")], VIEW_SERVERS)
    assert covers([Grant.run("*")], Grant.run("restore"))
    assert not covers([VIEW_WEB], VIEW_SERVERS)
    assert not covers([VIEW_SERVERS], Grant("view", "*"))
    assert not covers([Grant("edit", "*")], VIEW_SERVERS)
    assert not covers([Grant.run("restore")], Grant.run("*"))
    assert not covers([Grant("view", "servers", "api")], VIEW_WEB)


def test_uncovered_leaves_out_what_a_wider_grant_holds() -> None:
    wanted = [VIEW_WEB, Grant("edit", "users"), Grant.run("sync")]
    assert uncovered(wanted, [Grant("view", "*"), Grant.run("*")]) == [Grant("edit", "users")]


def test_meet_is_what_both_allow() -> None:
    assert meet([Grant("view", "*")], [VIEW_WEB]) == {VIEW_WEB}
    assert meet([VIEW_SERVERS, Grant.run("*")], [Grant.run("sync"), Grant("edit", "*")]) == {
        Grant.run("sync")
    }
    assert meet([VIEW_WEB], [Grant("view", "servers", "api")]) == frozenset()


def _obj(kind: str, name: str, spec: dict[str, Any], creator: str = "admin") -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": name, "createdBy": creator}, "spec": spec}


def _rbac(name: str, subjects: list[tuple[str, str]], grants: list[Grant]) -> dict[str, Any]:
    spec = {
        "subjects": [{"kind": k, "name": n} for k, n in subjects],
        "bindings": [g.binding() for g in grants],
    }
    return _obj("Rbac", name, spec)


def test_users_hold_their_rbacs_and_their_groups_tokens_are_capped_by_their_creator() -> None:
    state = State(
        {
            "users": {n: _obj("User", n, {}) for n in ("admin", "ann", "bob")},
            "groups": {"ops": _obj("Group", "ops", {"members": ["bob"]})},
            "serviceaccounts": {"ci": _obj("ServiceAccount", "ci", {})},
            "mcptokens": {
                "t": _obj("McpToken", "t", {}, creator="ann"),
                "gone": _obj("McpToken", "gone", {"revoked": True}, creator="admin"),
            },
            "rbacs": {
                "admin": _rbac("admin", [("User", "admin")], sorted(ADMIN_SET, key=str)),
                "ann": _rbac("ann", [("User", "ann")], [VIEW_SERVERS]),
                "ops": _rbac("ops", [("Group", "ops"), ("ServiceAccount", "ci")], [VIEW_WEB]),
                "t": _rbac("t", [("McpToken", "t"), ("McpToken", "gone")], [Grant("view", "*")]),
            },
        }
    )
    held = effective_permissions(state)
    assert held["User/ann"] == {VIEW_SERVERS}
    assert held["User/bob"] == {VIEW_WEB}
    assert held["ServiceAccount/ci"] == {VIEW_WEB}
    assert held["McpToken/t"] == {VIEW_SERVERS}
    assert held["McpToken/gone"] == frozenset()
    assert "User/nobody" not in held
    assert admins(held) == ["User/admin"]
