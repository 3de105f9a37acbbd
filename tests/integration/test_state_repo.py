"""mcpd keeps the state repo equal to the export of its database (docs/architecture.md)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pygit2
import pytest

from tests.support.gitrepo import quiet
from tests.support.mcpd import Mcpd, running_mcpd

pytestmark = pytest.mark.integration

SECRET_VALUE = "ghp_do-not-leak-0123456789"


def git(state: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(state / "state.git"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def objects() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "mcpctl/v1",
            "kind": "Secret",
            "metadata": {"name": "github"},
            "spec": {"data": {"token": SECRET_VALUE}},
        },
        {
            "apiVersion": "mcpctl/v1",
            "kind": "Server",
            "metadata": {"name": "time"},
            "spec": {
                "command": ["mcp-server-time"],
                "env": [
                    {"name": "T", "valueFrom": {"secretRef": {"name": "github", "key": "token"}}}
                ],
            },
        },
        {
            "apiVersion": "mcpctl/v1",
            "kind": "Project",
            "metadata": {"name": "demo"},
            "spec": {"servers": ["time"]},
        },
        {
            "apiVersion": "mcpctl/v1",
            "kind": "Prompt",
            "metadata": {"name": "intro", "project": "demo"},
            "spec": {"content": "Be brief."},
        },
    ]


def test_every_write_is_one_commit_and_main_equals_the_export(mcpd: Mcpd) -> None:
    with mcpd.client() as client:
        client.post("/api/v1/apply", json={"items": objects()}).raise_for_status()
        server = client.get("/api/v1/servers/time").raise_for_status().json()
        server["spec"]["replicas"] = 2
        client.put("/api/v1/servers/time", json=server).raise_for_status()
        client.delete("/api/v1/projects/demo/prompts/intro").raise_for_status()
        status = quiet(client)
        verify = client.get("/api/v1/gitops/verify").raise_for_status().json()

    assert verify == {"inSync": True, "differences": [], "diff": ""}
    assert git(mcpd.state_dir, "rev-parse", "main").strip() == status["head"]
    log = git(mcpd.state_dir, "log", "--format=%an|%s", "main").splitlines()
    assert log[:3] == [
        "admin|delete Prompt/demo/intro",
        "admin|update Server/time",
        "admin|4 objects: create 4",
    ]
    assert f"Mcpctl-Change: {status['lastChange']}" in git(
        mcpd.state_dir, "log", "-1", "--format=%B", "main"
    )
    files = git(mcpd.state_dir, "ls-tree", "-r", "--name-only", "main").split()
    assert {"servers/time.yaml", "projects/demo.yaml", "secrets/github.yaml"} <= set(files)
    assert "prompts/demo/intro.yaml" not in files
    assert "replicas: 2" in git(mcpd.state_dir, "show", "main:servers/time.yaml")


def test_writes_waiting_for_the_exporter_are_each_committed_as_they_were(tmp_path: Path) -> None:
    """The exporter held back, one object is written twice and another deleted: three
    commits, each with its own write's version (not the database's latest for all)."""
    state, database = tmp_path / "state", f"sqlite:///{tmp_path / 'mcpd.db'}"
    with running_mcpd(state, database) as first, first.client() as client:
        client.post("/api/v1/apply", json={"items": objects()}).raise_for_status()
        before = quiet(client)["head"]
    release = tmp_path / "release"  # the exporter holds its first round until it exists
    env = {"MCPD_FAULTS": f"export.delay=hold:{release}"}
    with running_mcpd(state, database, env=env) as mcpd, mcpd.client() as client:
        for replicas in (2, 3):
            server = client.get("/api/v1/servers/time").raise_for_status().json()
            server["spec"]["replicas"] = replicas
            client.put("/api/v1/servers/time", json=server).raise_for_status()
        client.delete("/api/v1/projects/demo/prompts/intro").raise_for_status()
        secret = objects()[0]
        secret["spec"]["data"]["other"] = "second-value"  # a Secret: read back, not handed
        client.put("/api/v1/secrets/github", json=secret).raise_for_status()
        assert git(state, "rev-parse", "main").strip() == before  # nothing exported yet
        release.touch()
        status = quiet(client)
        verify = client.get("/api/v1/gitops/verify").raise_for_status().json()

    assert verify["inSync"] is True
    log = git(state, "log", "--format=%H %s", f"{before}..main").splitlines()
    assert [line.split(" ", 1)[1] for line in log] == [
        "update Secret/github",
        "delete Prompt/demo/intro",
        "update Server/time",
        "update Server/time",
    ]
    assert log[0].split()[0] == status["head"]
    third, second = log[2].split()[0], log[3].split()[0]
    assert "replicas: 2" in git(state, "show", f"{second}:servers/time.yaml")
    assert "replicas: 3" in git(state, "show", f"{third}:servers/time.yaml")
    everything = git(state, "log", "--all", "-p", "--format=%B")
    assert "second-value" not in everything


@pytest.mark.slow
def test_the_exporter_packs_the_repo_once_writes_stop(tmp_path: Path) -> None:
    """Past MAINTAIN_EVERY commits and MAINTAIN_IDLE seconds without a write, mcpd has
    git pack the loose objects its commits wrote (more than GC_AUTO of them); the repo
    stays whole and in sync."""
    from mcpctl.reconciler.exporting import MAINTAIN_EVERY, MAINTAIN_IDLE
    from mcpctl.staterepo.repo import GC_AUTO

    state = tmp_path / "state"
    packs = state / "state.git" / "objects" / "pack"
    with running_mcpd(state, f"sqlite:///{tmp_path / 'mcpd.db'}") as mcpd, mcpd.client() as client:
        client.post("/api/v1/apply", json={"items": objects()}).raise_for_status()
        server = client.get("/api/v1/servers/time").raise_for_status().json()
        for i in range(max(MAINTAIN_EVERY, GC_AUTO // 4 + 20)):  # 4 objects a commit
            server["metadata"]["labels"] = {"n": str(i)}  # a new blob and trees each time
            server = client.put("/api/v1/servers/time", json=server).raise_for_status().json()
        head = quiet(client)["head"]
        assert not list(packs.glob("*.pack"))  # writes kept coming: not yet
        deadline = time.monotonic() + MAINTAIN_IDLE + 60
        while not list(packs.glob("*.pack")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list(packs.glob("*.pack")), "the repo was not packed"
        verify = client.get("/api/v1/gitops/verify").raise_for_status().json()
        server["spec"]["replicas"] = 5  # and writes go on after it
        client.put("/api/v1/servers/time", json=server).raise_for_status()
        after = quiet(client)

    assert verify["inSync"] is True
    assert git(state, "rev-list", "--count", f"{head}..main").strip() == "1"
    assert after["head"] != head
    subprocess.run(["git", "--git-dir", str(state / "state.git"), "fsck", "--strict"], check=True)


def test_no_secret_value_reaches_the_history(mcpd: Mcpd) -> None:
    with mcpd.client() as client:
        client.post("/api/v1/apply", json={"items": objects()}).raise_for_status()
        quiet(client)

    everything = git(mcpd.state_dir, "log", "--all", "-p", "--format=%B")
    assert "sealedData" in everything
    assert SECRET_VALUE not in everything


def test_a_restart_commits_nothing_new(tmp_path: Path) -> None:
    state, database = tmp_path / "state", f"sqlite:///{tmp_path / 'mcpd.db'}"
    with running_mcpd(state, database) as first, first.client() as client:
        client.post("/api/v1/apply", json={"items": objects()}).raise_for_status()
        head = quiet(client)["head"]
    with running_mcpd(state, database) as second, second.client() as client:
        assert quiet(client)["head"] == head
        assert client.get("/api/v1/gitops/verify").json()["inSync"] is True


def test_a_database_refuses_the_state_repo_of_another(tmp_path: Path) -> None:
    first_state, second_state = tmp_path / "first", tmp_path / "second"
    second_db = f"sqlite:///{tmp_path / 'second.db'}"
    with (
        running_mcpd(first_state, f"sqlite:///{tmp_path / 'first.db'}") as first,
        first.client() as client,
    ):
        client.post("/api/v1/apply", json={"items": objects()}).raise_for_status()
        head = quiet(client)["head"]
    with running_mcpd(second_state, second_db) as second, second.client() as client:
        quiet(client)

    with (
        pytest.raises(RuntimeError, match="follows another state repo"),
        running_mcpd(first_state, second_db),
    ):
        pass
    assert git(first_state, "rev-parse", "main").strip() == head


def test_mcpctl_gitops_verify_and_status_report_the_invariant(mcpd: Mcpd) -> None:
    mcpctl = str(Path(sys.executable).parent / "mcpctl")
    with mcpd.client() as client:
        client.post("/api/v1/apply", json={"items": objects()}).raise_for_status()
        head = quiet(client)["head"]

    verify = subprocess.run(
        [mcpctl, "gitops", "verify"], env=mcpd.env(), capture_output=True, text=True, timeout=60
    )
    status = subprocess.run(
        [mcpctl, "gitops", "status"], env=mcpd.env(), capture_output=True, text=True, timeout=60
    )

    assert verify.returncode == 0, verify.stderr
    assert "in sync" in verify.stdout
    assert status.returncode == 0, status.stderr
    assert head in status.stdout
    assert "pending:          no" in status.stdout


def test_no_password_hash_raw_token_or_status_reaches_the_history(mcpd: Mcpd) -> None:
    password = "a-long-password-for-ann-42"
    with mcpd.client() as client:
        client.post("/api/v1/apply", json={"items": objects()}).raise_for_status()
        user = {
            "apiVersion": "mcpctl/v1",
            "kind": "User",
            "metadata": {"name": "ann"},
            "spec": {"email": "ann@example.com"},
        }
        client.post("/api/v1/users", json=user).raise_for_status()
        client.put("/api/v1/users/ann/password", json={"password": password}).raise_for_status()
        token = {
            "apiVersion": "mcpctl/v1",
            "kind": "McpToken",
            "metadata": {"name": "laptop"},
            "spec": {"project": "demo"},
        }
        raw = client.post("/api/v1/mcptokens", json=token).raise_for_status().json()["token"]
        quiet(client)

    everything = git(mcpd.state_dir, "log", "--all", "-p", "--format=%B")
    assert "users/ann.yaml" in git(mcpd.state_dir, "ls-tree", "-r", "--name-only", "main")
    assert "tokenHash: sha256:" in everything  # the McpToken's file holds its hash only
    for leaked in (password, raw, raw.removeprefix("mcpctl_pat_"), "$argon2", "status:"):
        assert leaked not in everything, leaked


def test_verify_prints_what_differs_when_main_was_changed_behind_mcpd(mcpd: Mcpd) -> None:
    """A commit written into the repo on disk, past mcpd (pygit2, no hook): verify shows it."""
    mcpctl = str(Path(sys.executable).parent / "mcpctl")
    with mcpd.client() as client:
        client.post("/api/v1/apply", json={"items": objects()}).raise_for_status()
        quiet(client)
        repo = pygit2.Repository(str(mcpd.state_dir / "state.git"))
        head = repo.references["refs/heads/main"].peel(pygit2.Commit)
        servers = repo[head.tree["servers"].id]
        assert isinstance(servers, pygit2.Tree)
        blob = repo[servers["time.yaml"].id]
        assert isinstance(blob, pygit2.Blob)
        text = blob.data.replace(b"mcp-server-time", b"tampered")
        builder = repo.TreeBuilder(servers)
        builder.insert("time.yaml", repo.create_blob(text), pygit2.GIT_FILEMODE_BLOB)
        builder.insert("stray.yaml", repo.create_blob(b"kind: Server\n"), pygit2.GIT_FILEMODE_BLOB)
        root = repo.TreeBuilder(head.tree)
        root.insert("servers", builder.write(), pygit2.GIT_FILEMODE_TREE)
        who = pygit2.Signature("intruder", "intruder@example.com")
        oid = repo.create_commit(None, who, who, "behind mcpd's back", root.write(), [head.id])
        repo.references["refs/heads/main"].set_target(oid)

        answer = client.get("/api/v1/gitops/verify").raise_for_status().json()
        done = subprocess.run(
            [mcpctl, "gitops", "verify"], env=mcpd.env(), capture_output=True, text=True, timeout=60
        )

    assert answer["inSync"] is False
    assert answer["differences"] == ["servers/stray.yaml", "servers/time.yaml"]
    assert done.returncode == 1
    out = done.stdout.splitlines()
    assert out[:2] == ["differs: servers/stray.yaml", "differs: servers/time.yaml"]
    assert "--- a/servers/stray.yaml" in out
    assert "+++ /dev/null" in out
    assert "--- a/servers/time.yaml" in out
    assert "+++ b/servers/time.yaml" in out
    assert "-  - tampered" in out
    assert "+  - mcp-server-time" in out
    assert "2 path(s) differ from the export of the database" in done.stderr


def test_verify_counts_a_mode_as_a_difference_and_a_restart_repairs_it(tmp_path: Path) -> None:
    """Links, submodules and executables written at main past mcpd: verify names each (the
    layout holds regular files only), and the full export at the next start replaces them."""
    mcpctl = str(Path(sys.executable).parent / "mcpctl")
    state, database = tmp_path / "state", f"sqlite:///{tmp_path / 'mcpd.db'}"
    with running_mcpd(state, database) as mcpd, mcpd.client() as client:
        client.post("/api/v1/apply", json={"items": objects()}).raise_for_status()
        quiet(client)
        repo = pygit2.Repository(str(state / "state.git"))
        head = repo.references["refs/heads/main"].peel(pygit2.Commit)
        servers = repo[head.tree["servers"].id]
        assert isinstance(servers, pygit2.Tree)
        builder = repo.TreeBuilder(servers)
        builder.insert("time.yaml", servers["time.yaml"].id, pygit2.GIT_FILEMODE_BLOB_EXECUTABLE)
        builder.insert("link.yaml", repo.create_blob(b"time.yaml"), pygit2.GIT_FILEMODE_LINK)
        submodule = pygit2.Oid(hex="12ab" * 10)  # a commit of another repository
        builder.insert("sub.yaml", submodule, pygit2.GIT_FILEMODE_COMMIT)
        root = repo.TreeBuilder(head.tree)
        root.insert("servers", builder.write(), pygit2.GIT_FILEMODE_TREE)
        who = pygit2.Signature("intruder", "intruder@example.com")
        oid = repo.create_commit(None, who, who, "modes behind mcpd", root.write(), [head.id])
        repo.references["refs/heads/main"].set_target(oid)

        answer = client.get("/api/v1/gitops/verify").raise_for_status().json()
        done = subprocess.run(
            [mcpctl, "gitops", "verify"], env=mcpd.env(), capture_output=True, text=True, timeout=60
        )

    assert answer["inSync"] is False
    assert answer["differences"] == ["servers/link.yaml", "servers/sub.yaml", "servers/time.yaml"]
    assert done.returncode == 1
    out = done.stdout.splitlines()
    mode_change = out.index("diff --git a/servers/time.yaml b/servers/time.yaml")
    assert out[mode_change + 1 : mode_change + 3] == ["old mode 100755", "new mode 100644"]
    assert "--- a/servers/link.yaml" in out
    assert "-time.yaml" in out
    assert "--- a/servers/sub.yaml" in out
    assert f"-Subproject commit {submodule}" in out
    assert "3 path(s) differ from the export of the database" in done.stderr

    with running_mcpd(state, database) as mcpd, mcpd.client() as client:
        quiet(client)
        assert client.get("/api/v1/gitops/verify").raise_for_status().json()["inSync"] is True
    tree = git(state, "ls-tree", "-r", "main").splitlines()
    assert {line.split()[0] for line in tree} == {"100644"}
    assert not [line for line in tree if "link.yaml" in line or "sub.yaml" in line]
