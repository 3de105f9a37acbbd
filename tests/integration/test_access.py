"""Access as a hostile team member tries it: escalation, lock-out, revoked credentials.

Each case drives a real mcpd over its API (and over git where a push can do
the same), and checks that the refusal names what is wrong, changes nothing
and is audited, or that a revoked credential stays dead whatever comes back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.api.harness import assert_problem
from tests.integration.test_gitops_push import PASSWORD, rejected, user_token
from tests.integration.test_gitops_restore import empty_database
from tests.support.gitrepo import Clone, assert_in_sync, quiet
from tests.support.manifests import JSON, binding, manifest
from tests.support.mcpd import Mcpd, running_mcpd

pytestmark = pytest.mark.integration

EVERYTHING = [
    *(binding(role, "*") for role in ("view", "create", "edit", "delete")),
    {"role": "run", "action": "*"},
]


def rbac(name: str, subjects: list[tuple[str, str]], bindings: list[JSON]) -> JSON:
    return manifest(
        "Rbac",
        name,
        {"subjects": [{"kind": k, "name": n} for k, n in subjects], "bindings": bindings},
    )


def group(name: str, members: list[str]) -> JSON:
    return manifest("Group", name, {"members": members})


def user(name: str) -> JSON:
    return manifest("User", name, {"email": f"{name}@example.com"})


def apply(client: httpx.Client, items: list[JSON]) -> None:
    response = client.post("/api/v1/apply", json={"items": items})
    assert response.status_code == 200, response.text


def get(client: httpx.Client, plural: str, name: str) -> JSON | None:
    response = client.get(f"/api/v1/{plural}/{name}")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    found: JSON = response.json()
    return found


def denied(client: httpx.Client, user_name: str) -> list[dict[str, Any]]:
    items = client.get("/api/v1/auditevents", params={"user": user_name}).json()["items"]
    return [i["spec"] for i in items if i["spec"]["outcome"] == "denied"]


def authenticates(mcpd: Mcpd, token: str) -> bool:
    with mcpd.client(token) as client:
        return client.get("/api/v1/auth/me").status_code == 200


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def new_token(client: httpx.Client, name: str, **spec: Any) -> tuple[str, JSON]:
    bindings = spec.pop("bindings", None)
    body = {**manifest("McpToken", name, spec), **({"bindings": bindings} if bindings else {})}
    response = client.post("/api/v1/mcptokens", json=body)
    assert response.status_code == 201, response.text
    created: JSON = response.json()
    return created["token"], created["object"]


# ---- escalation ------------------------------------------------------------------------------


def test_edit_groups_cannot_join_a_powerful_group_by_api_or_push(
    mcpd: Mcpd, tmp_path: Path
) -> None:
    with mcpd.client() as admin:
        apply(admin, [group("ops", []), rbac("ops", [("Group", "ops")], EVERYTHING)])
        token = user_token(mcpd, "mallory", [binding("view", "*"), binding("edit", "groups")])
        with mcpd.client(token) as mallory:
            refused = mallory.put("/api/v1/groups/ops", json=group("ops", ["mallory"]))
            detail = assert_problem(refused, 403, "forbidden")["detail"]
            assert "would grant User 'mallory'" in detail, detail
            assert "run *" in detail, detail
            # a harmless member is fine: it gains what mallory holds... nothing here
            apply(admin, [user("harmless")])
        group_ops = get(admin, "groups", "ops")
        assert group_ops is not None
        assert group_ops["spec"].get("members", []) == []
        assert any(e["verb"] == "update" for e in denied(admin, "mallory"))

        clone = Clone.of(mcpd, tmp_path / "clone", token)
        members = clone.read("groups/ops.yaml")
        members.setdefault("spec", {})["members"] = ["mallory"]
        clone.write("groups/ops.yaml", members)
        clone.commit("join ops")
        lines = rejected(clone.push())
        assert any("would grant User 'mallory'" in line for line in lines), lines
        group_ops = get(admin, "groups", "ops")
        assert group_ops is not None
        assert group_ops["spec"].get("members", []) == []
        assert_in_sync(admin)


def test_an_rbac_editor_cannot_hand_a_token_or_itself_more(mcpd: Mcpd) -> None:
    with mcpd.client() as admin:
        holder = [binding("view", "*"), binding("create", "rbacs"), binding("edit", "rbacs")]
        token = user_token(mcpd, "rita", holder)
        with mcpd.client(token) as rita:
            refused = rita.post(
                "/api/v1/rbacs", json=rbac("more", [("User", "rita")], [binding("edit", "*")])
            )
            assert "edit *" in assert_problem(refused, 403, "forbidden")["detail"]
            # her own Rbac, widened in place
            widened = rbac("rita", [("User", "rita")], [*holder, binding("delete", "servers")])
            refused = rita.put("/api/v1/rbacs/rita", json=widened)
            assert "delete servers" in assert_problem(refused, 403, "forbidden")["detail"]
        assert get(admin, "rbacs", "more") is None


# ---- lock-out --------------------------------------------------------------------------------


def test_the_only_admin_cannot_be_stripped_or_deleted_by_any_write(
    mcpd: Mcpd, tmp_path: Path
) -> None:
    with mcpd.client() as admin:
        strong = [
            binding("view", "*"),
            *(binding(role, kind) for role in ("edit", "delete") for kind in ("rbacs", "users")),
        ]
        token = user_token(mcpd, "stripper", strong)
        with mcpd.client(token) as stripper:
            before = get(admin, "rbacs", "admin")
            cases = [
                stripper.put(
                    "/api/v1/rbacs/admin",
                    json=rbac("admin", [("User", "admin")], [binding("view", "servers")]),
                ),
                stripper.delete("/api/v1/rbacs/admin"),
                stripper.delete("/api/v1/users/admin"),
            ]
            for response in cases:
                detail = assert_problem(response, 409, "conflict")["detail"]
                assert "lock everyone out" in detail, detail
                assert "mcpd admin-reset" in detail, detail
            assert get(admin, "rbacs", "admin") == before
            # the admin itself is held to it too
            refused = admin.delete("/api/v1/users/admin")
            assert "lock everyone out" in assert_problem(refused, 409, "conflict")["detail"]

        clone = Clone.of(mcpd, tmp_path / "clone", token)
        clone.remove("rbacs/admin.yaml")
        clone.commit("no more admin")
        lines = rejected(clone.push())
        assert any("lock everyone out" in line for line in lines), lines
        assert get(admin, "rbacs", "admin") == before

        assert_in_sync(admin)
        # with a second admin, the first may go
        apply(admin, [user("second"), rbac("second", [("User", "second")], EVERYTHING)])
        with mcpd.client(token) as stripper:
            assert stripper.delete("/api/v1/rbacs/admin").status_code == 204


# ---- restore as the actor --------------------------------------------------------------------


def test_a_restore_brings_back_no_permission_its_actor_lacks(mcpd: Mcpd) -> None:
    with mcpd.client() as admin:
        apply(
            admin,
            [
                user("bob"),
                rbac(
                    "bob-reveal", [("User", "bob")], [{"role": "run", "action": "reveal-secrets"}]
                ),
            ],
        )
        granted = quiet(admin)["head"]
        assert admin.delete("/api/v1/rbacs/bob-reveal").status_code == 204
        head = quiet(admin)["head"]
        crud = [binding(role, "*") for role in ("view", "create", "edit", "delete")]
        token = user_token(mcpd, "restorer", [*crud, {"role": "run", "action": "restore"}])
        with mcpd.client(token) as restorer:
            refused = restorer.post("/api/v1/gitops/restore", json={"to": granted})
            detail = assert_problem(refused, 403, "forbidden")["detail"]
            assert "run reveal-secrets" in detail, detail
        assert get(admin, "rbacs", "bob-reveal") is None
        assert admin.get("/api/v1/gitops/timelines").json()["items"] == []
        # the admin, who holds it, may
        assert admin.post("/api/v1/gitops/restore", json={"to": granted}).status_code == 200
        assert get(admin, "rbacs", "bob-reveal") is not None
        assert head != quiet(admin)["head"]


# ---- credentials that die --------------------------------------------------------------------


def test_a_deleted_mcptoken_stays_dead_after_a_restore_or_a_new_object_of_its_name(
    mcpd: Mcpd,
) -> None:
    with mcpd.client() as admin:
        raw, created = new_token(admin, "ci", bindings=[binding("view", "servers")])
        assert authenticates(mcpd, raw)
        with_token = quiet(admin)["head"]
        assert admin.delete("/api/v1/rbacs/token-ci").status_code == 204
        assert admin.delete("/api/v1/mcptokens/ci").status_code == 204
        assert not authenticates(mcpd, raw)

        restored = admin.post("/api/v1/gitops/restore", json={"to": with_token})
        assert restored.status_code == 200, restored.text
        back = get(admin, "mcptokens", "ci")
        assert back is not None
        assert back["spec"]["revoked"] is True  # stored (and committed) as what it is
        assert not authenticates(mcpd, raw)
        assert_in_sync(admin)

        assert admin.delete("/api/v1/rbacs/token-ci").status_code == 204
        assert admin.delete("/api/v1/mcptokens/ci").status_code == 204
        again = manifest("McpToken", "ci", {"tokenHash": created["spec"]["tokenHash"]})
        assert admin.post("/api/v1/mcptokens", json=again).status_code == 201  # a new secret
        apply(admin, [again])  # the old hash, applied as is
        assert not authenticates(mcpd, raw)
        assert_in_sync(admin)


def test_a_revoked_mcptoken_stays_revoked_after_a_restore_to_before(mcpd: Mcpd) -> None:
    with mcpd.client() as admin:
        raw, _ = new_token(admin, "bot", rbacMode="clone")
        live = quiet(admin)["head"]
        assert admin.post("/api/v1/mcptokens/bot/revoke").status_code == 200
        assert not authenticates(mcpd, raw)
        assert admin.post("/api/v1/gitops/restore", json={"to": live}).status_code == 200
        back = get(admin, "mcptokens", "bot")
        assert back is not None
        assert back["spec"]["revoked"] is True
        assert not authenticates(mcpd, raw)


def test_a_recreated_serviceaccount_does_not_revive_its_old_tokens(mcpd: Mcpd) -> None:
    with mcpd.client() as admin:
        apply(admin, [manifest("ServiceAccount", "robot", {})])
        raw = admin.post("/api/v1/serviceaccounts/robot/tokens").json()["token"]
        assert authenticates(mcpd, raw)
        assert admin.delete("/api/v1/serviceaccounts/robot").status_code == 204
        apply(admin, [manifest("ServiceAccount", "robot", {})])
        assert not authenticates(mcpd, raw)
        listed = admin.get("/api/v1/serviceaccounts/robot/tokens").json()["items"]
        assert [t["active"] for t in listed] == [False]


def test_deleting_a_user_ends_its_sessions_password_and_tokens(mcpd: Mcpd) -> None:
    with mcpd.client() as admin:
        session = user_token(
            mcpd, "leaver", [binding("view", "servers"), binding("create", "mcptokens")]
        )
        with mcpd.client(session) as leaver:
            raw, _ = new_token(leaver, "leavers-token", rbacMode="clone")
        assert authenticates(mcpd, raw)
        assert admin.delete("/api/v1/rbacs/leaver").status_code == 204
        assert admin.delete("/api/v1/users/leaver").status_code == 204
        assert not authenticates(mcpd, session)
        assert not authenticates(mcpd, raw)

        # a new user of the same name inherits nothing
        apply(
            admin,
            [user("leaver"), rbac("leaver", [("User", "leaver")], [binding("view", "servers")])],
        )
        login = admin.post("/api/v1/auth/login", json={"username": "leaver", "password": PASSWORD})
        assert_problem(login, 401, "unauthenticated")
        assert not authenticates(mcpd, session)
        assert not authenticates(mcpd, raw)


def test_tokens_minted_through_a_token_die_with_it_and_cannot_outlive_it(mcpd: Mcpd) -> None:
    with mcpd.client() as admin:
        mints_itself = [binding("edit", "serviceaccounts", "deployer")]
        apply(
            admin,
            [
                manifest("ServiceAccount", "deployer", {}),
                rbac("deployer", [("ServiceAccount", "deployer")], mints_itself),
            ],
        )
        ends = datetime.now(UTC) + timedelta(hours=1)
        raw, _ = new_token(admin, "minter", rbacMode="clone", expiresAt=stamp(ends))
        with mcpd.client(raw) as minter:
            longer = minter.post(
                "/api/v1/serviceaccounts/deployer/tokens",
                json={"expiresAt": stamp(ends + timedelta(hours=1))},
            )
            assert "cannot outlive" in assert_problem(longer, 403, "forbidden")["detail"]
            child = minter.post("/api/v1/serviceaccounts/deployer/tokens").json()["token"]
        with mcpd.client(child) as client:
            seen = client.get("/api/v1/mcptokens/introspect").json()
        assert seen["active"] is True
        listed = admin.get("/api/v1/serviceaccounts/deployer/tokens").json()["items"]
        capped = datetime.fromisoformat(listed[0]["expiresAt"].replace("Z", "+00:00"))
        assert abs(capped - ends) < timedelta(seconds=1)  # the minter's own end, to the second
        # and through the child, a grandchild
        with mcpd.client(child) as client:
            grandchild = client.post("/api/v1/serviceaccounts/deployer/tokens").json()["token"]
        assert authenticates(mcpd, grandchild)

        assert admin.post("/api/v1/mcptokens/minter/revoke").status_code == 200
        assert not authenticates(mcpd, child)
        assert not authenticates(mcpd, grandchild)


def test_serviceaccount_tokens_are_listed_and_revoked_by_prefix(mcpd: Mcpd) -> None:
    with mcpd.client() as admin:
        apply(admin, [manifest("ServiceAccount", "ci", {})])
        first = admin.post("/api/v1/serviceaccounts/ci/tokens").json()["token"]
        second = admin.post("/api/v1/serviceaccounts/ci/tokens").json()["token"]
        listed = admin.get("/api/v1/serviceaccounts/ci/tokens").json()["items"]
        assert len(listed) == 2
        assert all(first not in str(t) and second not in str(t) for t in listed)
        prefix = first[: len("mcpctl_sat_") + 4]
        if second.startswith(prefix):  # the 4 characters can collide: then both go
            pytest.skip("the two tokens share their prefix")
        revoked = admin.delete("/api/v1/serviceaccounts/ci/tokens", params={"prefix": prefix})
        assert revoked.json() == {"revoked": 1}
        assert not authenticates(mcpd, first)
        assert authenticates(mcpd, second)
        missing = admin.delete("/api/v1/serviceaccounts/ci/tokens", params={"prefix": prefix})
        assert_problem(missing, 404, "not-found")
        assert admin.delete("/api/v1/serviceaccounts/ci/tokens").json() == {"revoked": 1}
        assert not authenticates(mcpd, second)


@pytest.mark.slow
def test_live_mcptokens_keep_working_after_a_disaster_recovery(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    with running_mcpd(state, database_url) as first, first.client() as admin:
        bound, _ = new_token(admin, "bound", bindings=[binding("view", "servers")])
        cloned, _ = new_token(admin, "cloned", rbacMode="clone")
        dead, _ = new_token(admin, "dead", rbacMode="clone")
        assert admin.post("/api/v1/mcptokens/dead/revoke").status_code == 200
        assert_in_sync(admin)
    empty = empty_database(database_url, request, tmp_path / "empty.db")
    with running_mcpd(state, empty) as again:
        for token, works in ((bound, True), (cloned, True), (dead, False)):
            assert authenticates(again, token) is works, token[:16]
        with again.client(bound) as client:
            assert client.get("/api/v1/servers").status_code == 200
            assert_problem(client.get("/api/v1/secrets"), 403, "forbidden")
        with again.client(cloned) as client:
            assert client.get("/api/v1/secrets").status_code == 200
