"""Pushes to mcpd's state repo over git smart HTTP (issue 4 point 3).

docs/architecture.md, "Push" and "Conflicts: the database wins".

Every test drives the real git CLI against a real mcpd (SQLite and PostgreSQL)
and ends with the invariant as its oracle: once mcpd is quiet, the tree at
`main` is exactly the canonical export of the database.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcpctl.schemas.runtime import AuditEventSpec
from tests.support.gitrepo import (
    Clone,
    assert_in_sync,
    bare,
    bare_has,
    git_env,
    main_of,
    quiet,
    remote_lines,
    repo_url,
    run_git,
    snapshot,
    subjects,
)
from tests.support.manifests import server, to_yaml
from tests.support.mcpd import Mcpd, running_mcpd

pytestmark = pytest.mark.integration

PASSWORD = "correct-horse-battery"
SECRET_VALUE = "ghp_push-secret-never-in-git-0042"


def server_yaml(name: str, command: str = "mcp-server-time", **labels: str) -> str:
    """A Server file in mcpd's canonical form (what `git pull` brings back unchanged)."""
    return to_yaml(server(name, command, labels=labels))


def spec_of(client: httpx.Client, plural: str, name: str) -> dict[str, Any] | None:
    answer = client.get(f"/api/v1/{plural}/{name}")
    if answer.status_code == 404:
        return None
    item: dict[str, Any] = answer.raise_for_status().json()
    return item


def audit(client: httpx.Client, **query: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (
        client.get("/api/v1/auditevents", params={"limit": "1000", **query})
        .raise_for_status()
        .json()["items"]
    )
    return [i["spec"] for i in items]


def user_token(mcpd: Mcpd, name: str, bindings: list[dict[str, Any]]) -> str:
    """A new User holding `bindings`, logged in: its session token."""
    items: list[dict[str, Any]] = [
        {
            "apiVersion": "mcpctl/v1",
            "kind": "User",
            "metadata": {"name": name},
            "spec": {"email": f"{name}@example.com"},
        }
    ]
    if bindings:
        items.append(
            {
                "apiVersion": "mcpctl/v1",
                "kind": "Rbac",
                "metadata": {"name": name},
                "spec": {"subjects": [{"kind": "User", "name": name}], "bindings": bindings},
            }
        )
    with mcpd.client() as admin:
        admin.post("/api/v1/apply", json={"items": items}).raise_for_status()
        admin.put(f"/api/v1/users/{name}/password", json={"password": PASSWORD}).raise_for_status()
        answer = admin.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
    token: str = answer.raise_for_status().json()["token"]
    return token


def view_all() -> list[dict[str, Any]]:
    return [{"role": "view", "resource": "*"}]


def rejected(push: Any) -> list[str]:
    """The `mcpd: ...` lines of a refused push (asserting git says it was refused)."""
    assert push.returncode != 0, push.stderr
    assert "pre-receive hook declined" in push.stderr, push.stderr
    return remote_lines(push.stderr)


# ---- pushes that change the system ---------------------------------------------------------


def test_a_push_creates_changes_and_deletes_objects_as_the_pusher(
    mcpd: Mcpd, tmp_path: Path
) -> None:
    ann = user_token(
        mcpd,
        "ann",
        [
            *view_all(),
            *({"role": r, "resource": "servers"} for r in ("create", "edit", "delete")),
            {"role": "run", "action": "host-commands"},  # these Servers run commands
        ],
    )
    with mcpd.client() as client:
        before = quiet(client)
        clone = Clone.of(mcpd, tmp_path / "clone", ann)
        clone.write("servers/a.yaml", server_yaml("a"))
        clone.write("servers/b.yaml", server_yaml("b", "mcp-server-fetch"))
        first = clone.commit("Add servers a and b")

        push = clone.push()

        # applied when git push returns: no polling, no delay
        assert push.returncode == 0, push.stderr
        assert remote_lines(push.stderr) == [f"mcpd: applied {first[:12]}: 2 created"]
        a = spec_of(client, "servers", "a")
        assert a is not None
        assert a["spec"] == {"command": ["mcp-server-time"]}
        assert a["metadata"]["createdBy"] == "ann"
        # files in canonical form: the pushed commit is main, nothing on top
        status = assert_in_sync(client)
        assert status["head"] == first == main_of(mcpd.state_dir)
        assert status["lastImported"] == {"commit": first, "via": "push"}
        assert status["lastChange"] == before["lastChange"] + 2

        clone.write("servers/a.yaml", server_yaml("a", "mcp-server-git", team="infra"))
        clone.remove("servers/b.yaml")
        second = clone.commit("Change a, remove b")
        push = clone.push()

        assert push.returncode == 0, push.stderr
        assert remote_lines(push.stderr) == [
            f"mcpd: applied {second[:12]}: 1 configured, 1 deleted"
        ]
        a = spec_of(client, "servers", "a")
        assert a is not None
        assert a["spec"]["command"] == ["mcp-server-git"]
        assert a["metadata"]["labels"] == {"team": "infra"}
        assert a["metadata"]["updatedBy"] == "ann"
        assert spec_of(client, "servers", "b") is None
        assert assert_in_sync(client)["head"] == second
        entries = [
            (e["name"], e["verb"], e["user"], e["details"]["source"])
            for e in audit(client, kind="Server")
            if (e.get("details") or {}).get("via") == "push"
        ]
        assert sorted(entries) == [
            ("a", "create", "ann", f"push:{first}"),
            ("a", "update", "ann", f"push:{second}"),
            ("b", "create", "ann", f"push:{first}"),
            ("b", "delete", "ann", f"push:{second}"),
        ]
    assert subjects(mcpd.state_dir, before["head"]) == [
        "Ann Pusher <ann@example.com>|Ann Pusher|Add servers a and b",
        "Ann Pusher <ann@example.com>|Ann Pusher|Change a, remove b",
    ]


def test_files_in_another_form_are_applied_and_rewritten_on_top(mcpd: Mcpd, tmp_path: Path) -> None:
    with mcpd.client() as client:
        quiet(client)
        clone = Clone.of(mcpd, tmp_path / "clone")
        clone.write(
            "servers/flow.yaml",
            "# a comment, flow style, a default spelled out\n"
            "kind: Server\napiVersion: mcpctl/v1\n"
            "metadata: {name: flow}\nspec: {command: [mcp-server-time], replicas: 1}\n",
        )
        pushed = clone.commit("Add flow, my way")
        push = clone.push()

        assert push.returncode == 0, push.stderr
        assert remote_lines(push.stderr) == [
            f"mcpd: applied {pushed[:12]}: 1 created",
            "mcpd: 1 file(s) not in canonical form (servers/flow.yaml): mcpd commits its "
            "version on top; pull before your next push",
        ]
        status = assert_in_sync(client)
        assert bare(mcpd.state_dir, "rev-parse", "main~1").strip() == pushed
        assert subjects(mcpd.state_dir, pushed) == [
            f"mcpd <mcpd@localhost>|mcpd|Canonical form of the files of {pushed[:12]} (push)"
        ]
        # the pusher pulls (a fast-forward), gets the canonical file, and pushes on
        clone.git("pull", "--quiet", "--ff-only", "origin", "main")
        assert clone.head() == status["head"]
        assert clone.text("servers/flow.yaml") == server_yaml("flow")
        clone.write("servers/flow.yaml", server_yaml("flow", "mcp-server-fetch"))
        again = clone.commit("Fetch instead")
        push = clone.push()
        assert push.returncode == 0, push.stderr
        assert assert_in_sync(client)["head"] == again


def test_a_secret_pushed_with_its_sealed_values_keeps_them_and_history_has_no_plaintext(
    mcpd: Mcpd, tmp_path: Path
) -> None:
    secret = {
        "apiVersion": "mcpctl/v1",
        "kind": "Secret",
        "metadata": {"name": "github"},
        "spec": {"data": {"token": SECRET_VALUE}},
    }
    with mcpd.client() as client:
        client.post("/api/v1/apply", json={"items": [secret]}).raise_for_status()
        quiet(client)
        clone = Clone.of(mcpd, tmp_path / "clone")
        text = clone.text("secrets/github.yaml")
        assert SECRET_VALUE not in text
        assert "sealedData" in text
        # a label added by hand next to the sealed value: the value survives
        clone.write(
            "secrets/github.yaml",
            text.replace("metadata:\n", "metadata:\n  labels:\n    team: infra\n"),
        )
        clone.commit("Label the github secret")
        push = clone.push()
        assert push.returncode == 0, push.stderr

        shown = client.get("/api/v1/secrets/github", params={"showSecrets": "true"})
        item = shown.raise_for_status().json()
        assert item["metadata"]["labels"] == {"team": "infra"}
        assert item["spec"]["data"] == {"token": SECRET_VALUE}
        assert_in_sync(client)
    history = bare(mcpd.state_dir, "log", "-p", "--all", "--format=%H %an %s%n%b")
    assert "sealedData" in history
    assert SECRET_VALUE not in history


# ---- pushes that are refused ---------------------------------------------------------------


def test_an_invalid_push_is_refused_with_every_issue_by_file_and_line(
    mcpd: Mcpd, tmp_path: Path
) -> None:
    with mcpd.client() as client:
        client.post("/api/v1/apply", json={"items": [server("kept")]}).raise_for_status()
        before, objects = quiet(client), snapshot(client)
        clone = Clone.of(mcpd, tmp_path / "clone")
        clone.write("servers/good.yaml", server_yaml("good"))
        clone.write("servers/bad.yaml", server_yaml("bad") + "  replicas: -2\n")
        clone.write("servers/typo.yaml", server_yaml("typo").replace("command:", "comand:"))
        clone.write("servers/other.yaml", server_yaml("someone-else"))
        clone.write("servers/broken.yaml", "apiVersion: mcpctl/v1\nkind: [Server\n")
        clone.write(
            "projects/demo.yaml",
            "apiVersion: mcpctl/v1\nkind: Project\nmetadata:\n  name: demo\n"
            "spec:\n  servers:\n  - missing\n",
        )
        clone.write(
            "secrets/plain.yaml",
            "apiVersion: mcpctl/v1\nkind: Secret\nmetadata:\n  name: plain\n"
            f"spec:\n  data:\n    token: {SECRET_VALUE}\n",
        )
        clone.write("notes/todo.txt", "not a manifest\n")
        clone.write("README.md", "mine now\n")
        pushed = clone.commit("A bad push")

        lines = rejected(clone.push())

        text = "\n".join(lines)
        assert lines[0].startswith("mcpd: push rejected: ")
        assert pushed[:12] in lines[0]
        for where in (
            "servers/bad.yaml:8:3:",
            "servers/typo.yaml:6:3:",
            "servers/other.yaml:4:3:",
            "servers/broken.yaml:3:1:",
            "secrets/plain.yaml:7:5:",
            "projects/demo.yaml:7:5:",
            "notes/todo.txt",
            "README.md",
        ):
            assert any(line.startswith(f"mcpd: {where}") for line in lines), (where, text)
        assert "spec.replicas" in text
        assert "comand" in text
        assert "refers to Server/missing, which does not exist" in text
        assert "holds Server/someone-else, which belongs in servers/someone-else.yaml" in text
        assert "outside the state repo's layout" in text
        assert "a Secret value in plaintext must never be committed" in text
        assert SECRET_VALUE not in text
        # nothing stored: not the ref, not the objects, not the database
        assert main_of(mcpd.state_dir) == before["head"]
        assert not bare_has(mcpd.state_dir, pushed)
        assert snapshot(client) == objects
        assert quiet(client)["lastChange"] == before["lastChange"]
        assert spec_of(client, "servers", "good") is None
        assert_in_sync(client)


def test_a_push_breaking_a_reference_is_refused_with_its_line(mcpd: Mcpd, tmp_path: Path) -> None:
    with mcpd.client() as client:
        project = {
            "apiVersion": "mcpctl/v1",
            "kind": "Project",
            "metadata": {"name": "demo"},
            "spec": {"servers": ["time"]},
        }
        client.post("/api/v1/apply", json={"items": [server("time"), project]}).raise_for_status()
        before = quiet(client)
        clone = Clone.of(mcpd, tmp_path / "clone")
        clone.write("projects/demo.yaml", clone.text("projects/demo.yaml") + "  - nowhere\n")
        clone.remove("servers/time.yaml")
        clone.commit("Dangling references")

        lines = rejected(clone.push())

        text = "\n".join(lines)
        assert any(line.startswith("mcpd: projects/demo.yaml:") for line in lines), text
        assert "projects/demo.yaml:8:5: Project 'demo' refers to Server/nowhere" in text
        assert "projects/demo.yaml:7:5: Project 'demo' refers to Server/time" in text
        assert main_of(mcpd.state_dir) == before["head"]
        assert spec_of(client, "servers", "time") is not None
        assert_in_sync(client)


# Each change stages itself: `git add --all` would drop a submodule that has no work tree.


def _executable(clone: Clone) -> None:
    (clone.path / "servers/kept.yaml").chmod(0o755)
    clone.git("add", "servers")


def _link(clone: Clone) -> None:
    (clone.path / "servers/link.yaml").symlink_to("kept.yaml")
    clone.git("add", "servers")


def _file_to_link(clone: Clone) -> None:
    (clone.path / "servers/kept.yaml").unlink()
    (clone.path / "servers/kept.yaml").symlink_to("../README.md")
    clone.git("add", "servers")


def _submodule(clone: Clone) -> None:
    # a commit of another repository: mcpd's repo does not hold it
    clone.git("update-index", "--add", "--cacheinfo", f"160000,{'12ab' * 10},servers/sub.yaml")


def _huge_integer(clone: Clone) -> None:
    clone.write(
        "llms/big.yaml",
        "apiVersion: mcpctl/v1\nkind: Llm\nmetadata:\n  name: big\nspec:\n  type: ollama\n"
        "  model: m\n  extra:\n    t: 9223372036854775808\n",
    )
    clone.git("add", "llms")


#: A change a push may not carry, and the start of the line mcpd answers it with.
NOT_ACCEPTED: list[tuple[Callable[[Clone], None], str]] = [
    (_executable, "mcpd: servers/kept.yaml:1: an executable file (mode 100755): "),
    (_link, "mcpd: servers/link.yaml:1: a symbolic link (mode 120000): "),
    (_file_to_link, "mcpd: servers/kept.yaml:1: a symbolic link (mode 120000): "),
    (_submodule, "mcpd: servers/sub.yaml:1: a submodule (gitlink) (mode 160000): "),
    (_huge_integer, "mcpd: llms/big.yaml:9:8: integer out of range: "),
]


def test_a_link_a_submodule_an_executable_or_a_64_bit_overflow_is_refused_by_file_and_line(
    mcpd: Mcpd, tmp_path: Path
) -> None:
    with mcpd.client() as client:
        client.post("/api/v1/apply", json={"items": [server("kept")]}).raise_for_status()
        before, objects = quiet(client), snapshot(client)
        clone = Clone.of(mcpd, tmp_path / "clone")
        for change, line in NOT_ACCEPTED:
            clone.sync()
            change(clone)
            clone.git("commit", "--quiet", "-m", f"Not accepted: {change.__name__}")
            pushed = clone.head()

            lines = rejected(clone.push())

            assert lines == [f"mcpd: push rejected: 1 issue(s) in {pushed[:12]}", lines[-1]]
            assert lines[1].startswith(line), lines
            assert main_of(mcpd.state_dir) == before["head"]
            assert not bare_has(mcpd.state_dir, pushed)
        assert snapshot(client) == objects
        assert quiet(client)["lastChange"] == before["lastChange"]
        assert_in_sync(client)


def test_a_file_name_holding_a_newline_cannot_forge_a_line_of_mcpds_answer(
    mcpd: Mcpd, tmp_path: Path
) -> None:
    with mcpd.client() as client:
        before = quiet(client)
        clone = Clone.of(mcpd, tmp_path / "clone")
        clone.write("servers/x\nmcpd: applied 0123456789ab: 9 created.yaml", server_yaml("x"))
        pushed = clone.commit("A forged line")

        lines = rejected(clone.push())

        assert lines == [
            f"mcpd: push rejected: 1 issue(s) in {pushed[:12]}",
            "mcpd: servers/x\\nmcpd: applied 0123456789ab: 9 created.yaml: outside the state "
            "repo's layout (expected <plural>/<name>.yaml, or prompts/<project>/<name>.yaml)",
        ]
        assert main_of(mcpd.state_dir) == before["head"]


def test_only_fast_forwards_of_main_are_accepted(mcpd: Mcpd, tmp_path: Path) -> None:
    with mcpd.client() as client:
        before = quiet(client)
        ann = Clone.of(mcpd, tmp_path / "ann")
        bob = Clone.of(mcpd, tmp_path / "bob", name="Bob", email="bob@example.com")
        ann.write("servers/a.yaml", server_yaml("a"))
        ann.commit("a")
        assert ann.push().returncode == 0
        after_ann = quiet(client)

        # bob's clone is behind: git refuses, a forced push is refused by mcpd
        bob.write("servers/b.yaml", server_yaml("b"))
        bob.commit("b")
        plain = bob.push()
        assert plain.returncode != 0
        assert "fetch first" in plain.stderr or "non-fast-forward" in plain.stderr
        forced = bob.push("--force", "main")
        assert forced.returncode != 0
        assert main_of(mcpd.state_dir) == after_ann["head"]
        assert spec_of(client, "servers", "b") is None

        # rewriting main's own history is refused too
        ann.git("commit", "--quiet", "--amend", "-m", "a, reworded")
        amended = ann.push("--force", "main")
        assert amended.returncode != 0
        assert main_of(mcpd.state_dir) == after_ann["head"]

        # other refs: a branch, a timeline, deleting main
        bob.git("checkout", "--quiet", "-b", "feature")
        branch = rejected(bob.push("feature"))
        assert branch == [
            "mcpd: only refs/heads/main can be pushed, not refs/heads/feature "
            "(timelines/ branches are written by mcpd)"
        ]
        timeline = rejected(bob.push("feature:refs/heads/timelines/mine"))
        assert "only refs/heads/main can be pushed" in timeline[0]
        deleted = bob.push(":main")
        assert deleted.returncode != 0
        assert main_of(mcpd.state_dir) == after_ann["head"]
        assert bare(mcpd.state_dir, "for-each-ref", "--format=%(refname)").split() == [
            "refs/heads/main"
        ]

        # bob rebases onto main and pushes: accepted
        bob.git("checkout", "--quiet", "main")
        bob.git("pull", "--quiet", "--rebase", "origin", "main")
        assert bob.push().returncode == 0
        assert spec_of(client, "servers", "b") is not None
        assert assert_in_sync(client)["lastChange"] == before["lastChange"] + 2


def test_pushes_need_a_valid_token_and_the_rights_for_every_object(
    mcpd: Mcpd, tmp_path: Path
) -> None:
    with mcpd.client() as client:
        client.post("/api/v1/apply", json={"items": [server("s")]}).raise_for_status()
        before = quiet(client)
        env = git_env(tmp_path / "home")

        # no token, a wrong token: git is told to authenticate, nothing is served
        for name, token in (("anonymous", ""), ("forged", "mcpctl_pat_not-a-real-token")):
            done = run_git(
                ["clone", "--quiet", repo_url(mcpd, token), str(tmp_path / name)], env, check=False
            )
            assert done.returncode != 0
            assert (
                "Authentication failed" in done.stderr  # a token mcpd does not know
                or "could not read Username" in done.stderr  # none: git would have to ask
            ), done.stderr

        # a user who may not view every kind in the repo cannot clone it
        blind = user_token(mcpd, "blind", [{"role": "view", "resource": "servers"}])
        done = run_git(
            ["clone", "--quiet", repo_url(mcpd, blind), str(tmp_path / "blind")], env, check=False
        )
        assert done.returncode != 0
        assert "the state repo shows every kind it holds" in done.stderr, done.stderr

        # a viewer clones, but may push nothing
        viewer = Clone.of(mcpd, tmp_path / "viewer", user_token(mcpd, "viewer", view_all()))
        viewer.write("servers/s.yaml", server_yaml("s", "mcp-server-fetch"))
        refused_viewer = viewer.commit("viewer edits s")
        lines = rejected(viewer.push())
        assert len(lines) == 1
        assert lines[0].startswith("mcpd: push rejected: ")
        assert "edit" in lines[0]
        assert "servers" in lines[0]

        # an editor of servers pushing a server and a project: all or nothing
        editor_token = user_token(
            mcpd,
            "editor",
            [
                *view_all(),
                {"role": "edit", "resource": "servers"},
                {"role": "run", "action": "host-commands"},
            ],
        )
        editor = Clone.of(mcpd, tmp_path / "editor", editor_token)
        editor.write("servers/s.yaml", server_yaml("s", "mcp-server-git"))
        editor.write(
            "projects/p.yaml",
            "apiVersion: mcpctl/v1\nkind: Project\nmetadata:\n  name: p\n"
            "spec:\n  servers:\n  - s\n",
        )
        refused_editor = editor.commit("s and a project")
        lines = rejected(editor.push())
        assert "create" in lines[0], lines
        assert "projects" in lines[0], lines
        s = spec_of(client, "servers", "s")
        assert s is not None
        assert s["spec"]["command"] == ["mcp-server-time"]
        assert main_of(mcpd.state_dir) == quiet(client)["head"]

        # without the project, the same user's push goes in
        editor.git("reset", "--quiet", "--hard", "origin/main")
        editor.write("servers/s.yaml", server_yaml("s", "mcp-server-git"))
        editor.commit("only s")
        assert editor.push().returncode == 0
        s = spec_of(client, "servers", "s")
        assert s is not None
        assert s["spec"]["command"] == ["mcp-server-git"]
        assert s["metadata"]["updatedBy"] == "editor"
        denied = sorted(
            (e["user"], e["verb"], e["details"].get("commit", "")[:7])
            for e in audit(client)
            if e["outcome"] == "denied"
        )
        assert denied == [
            ("blind", "fetch", ""),
            ("editor", "push", refused_editor[:7]),
            ("viewer", "push", refused_viewer[:7]),
        ]
        assert_in_sync(client)
    assert before["head"] != main_of(mcpd.state_dir)


# ---- the database wins ---------------------------------------------------------------------


def test_a_conflicting_push_keeps_the_database_version_and_applies_the_rest(
    database_url: str, tmp_path: Path
) -> None:
    """The API changes x; before that change is exported, a push (based on the older main)
    changes x and y. x keeps the database's version, y is applied, both are said."""
    state = tmp_path / "state"
    with running_mcpd(state, database_url) as first, first.client() as client:
        client.post("/api/v1/apply", json={"items": [server("x"), server("y")]}).raise_for_status()
        quiet(client)
    # the exporter holds the next write until the test lets it go: the window of a conflict
    release = tmp_path / "release"
    env = {"MCPD_FAULTS": f"export.delay=hold:{release}"}
    with running_mcpd(state, database_url, env=env) as mcpd, mcpd.client() as client:
        base = quiet(client)
        clone = Clone.of(mcpd, tmp_path / "clone")
        client.put("/api/v1/servers/x", json=server("x", "api-edit")).raise_for_status()
        assert client.get("/api/v1/gitops/status").json()["pending"] is True
        clone.write("servers/x.yaml", server_yaml("x", "pushed-edit"))
        clone.write("servers/y.yaml", server_yaml("y", "pushed-edit"))
        pushed = clone.commit("Edit x and y")

        push = clone.push()
        release.touch()

        assert push.returncode == 0, push.stderr
        change = base["lastChange"] + 1
        assert remote_lines(push.stderr) == [
            f"mcpd: Server/x: commit {pushed[:12]} changed it, but mcpd changed it too since "
            f"(change {change}, update by admin): mcpd's version is kept and committed on top",
            f"mcpd: applied {pushed[:12]}: 1 configured",
            "mcpd: 1 object(s) kept as mcpd has them: mcpd commits its version on top; "
            "pull before your next push",
        ]
        x, y = spec_of(client, "servers", "x"), spec_of(client, "servers", "y")
        assert x is not None
        assert x["spec"]["command"] == ["api-edit"]
        assert y is not None
        assert y["spec"]["command"] == ["pushed-edit"]
        status = assert_in_sync(client)
        assert status["conflicts"][0]["object"] == {"kind": "Server", "name": "x"}

        events = client.get("/api/v1/events", params={"kind": "Server", "name": "x"}).json()
        conflict = [e["spec"] for e in events["items"] if e["spec"]["reason"] == "GitConflict"]
        assert len(conflict) == 1
        assert conflict[0]["type"] == "Warning"
        assert pushed[:12] in conflict[0]["message"]
        assert f"change {change}" in conflict[0]["message"]
        overridden = [e for e in audit(client, kind="Server") if e["verb"] == "import"]
        assert len(overridden) == 1
        assert overridden[0]["name"] == "x"
        assert overridden[0]["outcome"] == "overridden"
        AuditEventSpec.model_validate(overridden[0])  # the answer keeps its own schema
        assert overridden[0]["details"]["commit"] == pushed
        assert overridden[0]["details"]["overriddenBy"] == {
            "actor": "admin",
            "verb": "update",
            "change": change,
        }
        log = (
            client.get("/api/v1/gitops/status").json(),
            bare(state, "log", "--format=%an|%s", f"{base['head']}..main"),
        )

    # main: the push as it was, then mcpd's version of x on top; the pushed x stays in history
    # newest first: the API's change of x, exported on top of the push (it carries the
    # database's version of x: no commit of mcpd's own is needed beside it)
    assert log[1].splitlines() == ["admin|update Server/x", "Ann Pusher|Edit x and y"]
    trailer = bare(state, "log", "-1", "--format=%(trailers:key=Mcpctl-Change,valueonly)", "main")
    assert trailer.strip() == str(change)  # the change that commit exports
    assert "api-edit" in bare(state, "show", "main:servers/x.yaml")
    assert "pushed-edit" in bare(state, "show", "main:servers/y.yaml")
    assert "pushed-edit" in bare(state, "show", f"{pushed}:servers/x.yaml")
    assert bare(state, "merge-base", "--is-ancestor", pushed, "main") == ""


def secret(name: str, value: str) -> dict[str, Any]:
    return {
        "apiVersion": "mcpctl/v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "spec": {"data": {"token": value}},
    }


def test_a_push_bringing_what_the_database_holds_is_no_conflict(
    database_url: str, tmp_path: Path
) -> None:
    """The API changes x and a Secret; before those changes are exported, a push brings the
    very same content (the Secret sealed), and changes y. Identical content on both sides is
    no conflict: no Event, no audit entry, nothing applied for x and the Secret; y applies.
    (Several mcpd sharing one remote see each other's writes come back this way.)"""
    state = tmp_path / "state"
    with running_mcpd(state, database_url) as first, first.client() as client:
        items = [server("x"), server("y"), secret("github", "old-value")]
        client.post("/api/v1/apply", json={"items": items}).raise_for_status()
        quiet(client)
    release = tmp_path / "release"
    env = {"MCPD_FAULTS": f"export.delay=hold:{release}"}
    with running_mcpd(state, database_url, env=env) as mcpd, mcpd.client() as client:
        clone = Clone.of(mcpd, tmp_path / "clone")
        edited = [
            client.put("/api/v1/servers/x", json=server("x", "same-edit")),
            client.put("/api/v1/secrets/github", json=secret("github", SECRET_VALUE)),
        ]
        versions = [e.raise_for_status().json()["metadata"]["resourceVersion"] for e in edited]
        assert client.get("/api/v1/gitops/status").json()["pending"] is True
        sealed = client.post(
            "/api/v1/gitops/seal", json={"items": [secret("github", SECRET_VALUE)]}
        )
        clone.write("servers/x.yaml", server_yaml("x", "same-edit"))
        clone.write("secrets/github.yaml", to_yaml(sealed.raise_for_status().json()["items"][0]))
        clone.write("servers/y.yaml", server_yaml("y", "pushed-edit"))
        pushed = clone.commit("The same edits, and y")

        push = clone.push()
        release.touch()

        assert push.returncode == 0, push.stderr
        lines = remote_lines(push.stderr)
        assert lines[0] == f"mcpd: applied {pushed[:12]}: 1 configured", lines
        assert not any("changed it" in line or "kept as mcpd" in line for line in lines), lines
        x, y = spec_of(client, "servers", "x"), spec_of(client, "servers", "y")
        assert x is not None
        assert x["spec"]["command"] == ["same-edit"]
        assert y is not None
        assert y["spec"]["command"] == ["pushed-edit"]
        shown = client.get("/api/v1/secrets/github", params={"showSecrets": "true"})
        github = shown.raise_for_status().json()
        assert github["spec"]["data"] == {"token": SECRET_VALUE}
        # the push wrote nothing for them: their last change is still the API's
        now = [x["metadata"]["resourceVersion"], github["metadata"]["resourceVersion"]]
        assert now == versions
        status = assert_in_sync(client)
        assert status["conflicts"] == []
        for kind, name in (("Server", "x"), ("Secret", "github")):
            events = client.get("/api/v1/events", params={"kind": kind, "name": name}).json()
            assert [e for e in events["items"] if e["spec"]["reason"] == "GitConflict"] == []
        assert [e for e in audit(client) if e["outcome"] == "overridden"] == []


# ---- many writers at once ------------------------------------------------------------------


def test_concurrent_api_writes_and_pushes_lose_nothing(mcpd: Mcpd, tmp_path: Path) -> None:
    """Two pushers (rebasing when main moved) and an API writer, at the same time.

    Bounded by count: a push is refused only when main moved, that is when another
    writer's write landed, so a pusher gives up past twice as many refusals as the
    others write in all."""
    rounds = 8
    others = rounds * 2 + rounds  # the API writer's writes and the other pusher's
    errors: list[str] = []
    with mcpd.client() as client:
        before = quiet(client)

    def api_writer() -> None:
        with mcpd.client() as client:
            for i in range(rounds * 2):
                answer = client.post("/api/v1/apply", json={"items": [server(f"api-{i}")]})
                if answer.status_code != 200:
                    errors.append(f"api-{i}: {answer.status_code} {answer.text}")

    def pusher(who: str) -> Callable[[], None]:
        def run() -> None:
            clone = Clone.of(mcpd, tmp_path / who, name=who, email=f"{who}@example.com")
            refusals = 0
            for i in range(rounds):
                clone.write(f"servers/{who}-{i}.yaml", server_yaml(f"{who}-{i}"))
                clone.commit(f"{who} {i}")
                while True:
                    push = clone.push()
                    if push.returncode == 0:
                        break
                    refusals += 1
                    if refusals > 2 * others:
                        errors.append(f"{who}-{i}: gave up: {push.stderr}")
                        return
                    if "pre-receive hook declined" in push.stderr and not any(
                        "main is now" in line for line in remote_lines(push.stderr)
                    ):
                        errors.append(f"{who}-{i}: refused: {push.stderr}")
                        return
                    clone.git("pull", "--quiet", "--rebase", "origin", "main")

        return run

    threads = [threading.Thread(target=t) for t in (api_writer, pusher("ann"), pusher("bob"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)  # a hang guard: the work is bounded by count
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert errors == []

    with mcpd.client() as client:
        status = assert_in_sync(client)
        names = {
            i["metadata"]["name"]
            for i in client.get("/api/v1/servers", params={"limit": "1000"}).json()["items"]
        }
    wanted = {f"api-{i}" for i in range(rounds * 2)}
    wanted |= {f"{who}-{i}" for who in ("ann", "bob") for i in range(rounds)}
    assert names == wanted
    # each object created once: one change each, no more
    assert status["lastChange"] == before["lastChange"] + len(wanted)
    files = bare(mcpd.state_dir, "ls-tree", "-r", "--name-only", "main").split()
    assert {f.removeprefix("servers/").removesuffix(".yaml") for f in files if "servers/" in f} == (
        wanted
    )
    # no merge on main, every commit changes the tree
    assert bare(mcpd.state_dir, "rev-list", "--merges", "main") == ""
    for line in bare(mcpd.state_dir, "log", "--format=%H %T %P", "main").splitlines():
        sha, tree, *parents = line.split()
        if parents:
            parent_tree = bare(mcpd.state_dir, "rev-parse", f"{parents[0]}^{{tree}}").strip()
            assert tree != parent_tree, f"{sha} changes nothing"


# ---- a clone that keeps no token -------------------------------------------------------------


def test_mcpctl_gitops_clone_pushes_with_the_context_token_kept_out_of_the_clone(
    mcpd: Mcpd, tmp_path: Path
) -> None:
    mcpctl = str(Path(sys.executable).parent / "mcpctl")
    env = {**git_env(tmp_path / "home"), "MCPCTL_HOME": str(mcpd.state_dir)}
    work = tmp_path / "state-clone"
    done = subprocess.run(
        [mcpctl, "gitops", "clone", str(work)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    clone = Clone(work, env)
    clone.write("servers/cloned.yaml", server_yaml("cloned"))
    clone.commit("Add cloned")
    push = clone.push()
    assert push.returncode == 0, push.stderr
    with mcpd.client() as client:
        assert spec_of(client, "servers", "cloned") is not None
        assert_in_sync(client)
    # the token is in no file of the clone
    for path in (work / ".git").rglob("*"):
        if path.is_file():
            assert mcpd.admin_token.encode() not in path.read_bytes(), path
    assert clone.git("remote", "get-url", "origin").stdout.strip() == mcpd.url + "/git/state.git"

    def helper(stdin: str) -> str:
        answer = subprocess.run(
            [mcpctl, "gitops", "credential", "get"],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return answer.stdout

    host = mcpd.url.removeprefix("http://")
    assert helper(f"protocol=http\nhost={host}\n") == (
        f"username=mcpctl\npassword={mcpd.admin_token}\n"
    )
    # another host, another scheme: nothing
    assert helper("protocol=http\nhost=evil.example.com\n") == ""
    assert helper(f"protocol=https\nhost={host}\n") == ""
    # --server or --token cannot be kept by a clone
    refused = subprocess.run(
        [mcpctl, "gitops", "clone", "--token", "x", str(tmp_path / "other")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert "a clone keeps a context, not a --server or --token" in refused.stderr
