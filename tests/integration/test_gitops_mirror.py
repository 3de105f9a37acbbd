"""The mirrored remote: mcpd pushes `main` there and imports commits made there (issue 4, 3).

Remotes are real: a bare repo by path, and the same over ssh through a real
SSH server (asyncssh) that accepts only mcpd's generated deploy key.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcpctl.staterepo.remote import ensure_deploy_key
from tests.support.gitrepo import Clone
from tests.support.manifests import server
from tests.support.mcpd import WAIT_TIMEOUT, Mcpd, failed_start, running_mcpd
from tests.support.sshgit import ssh_git_server

pytestmark = pytest.mark.integration

MCPCTL = str(Path(sys.executable).parent / "mcpctl")


def git(*args: str, cwd: Path | None = None, check: bool = True) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "carol",
        "GIT_AUTHOR_EMAIL": "carol@example.com",
        "GIT_COMMITTER_NAME": "carol",
        "GIT_COMMITTER_EMAIL": "carol@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=env, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def wait_for(what: Callable[[], Any], message: str = "") -> Any:
    """Poll `what` until it is true; its value (the limit is a hang guard)."""
    end = time.monotonic() + WAIT_TIMEOUT
    while True:
        value = what()
        if value:
            return value
        assert time.monotonic() < end, message or "timed out"
        time.sleep(0.05)


def remote_head(remote: Path) -> str:
    return git("--git-dir", str(remote), "rev-parse", "--verify", "--quiet", "main", check=False)


def status(client: httpx.Client) -> dict[str, Any]:
    answer: dict[str, Any] = client.get("/api/v1/gitops/status").raise_for_status().json()
    return answer


def in_sync(client: httpx.Client) -> bool:
    s = status(client)
    mirrored = s["remote"] is None or s["remote"]["lastPushed"] == s["head"]
    return not s["pending"] and mirrored


def settle(client: httpx.Client) -> dict[str, Any]:
    wait_for(lambda: in_sync(client), message=f"not settled: {status(client)}")
    verify = client.get("/api/v1/gitops/verify").raise_for_status().json()
    assert verify == {"inSync": True, "differences": [], "diff": ""}
    return status(client)


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "remote.git"
    git("init", "--quiet", "--bare", "--initial-branch", "main", str(path))
    return path


@pytest.fixture
def mirrored(tmp_path: Path, remote: Path) -> Iterator[Mcpd]:
    args = ["--git-remote", str(remote), "--git-sync-interval", "300"]
    with running_mcpd(tmp_path / "state", args=args) as mcpd:
        yield mcpd


def commit_on_remote(remote: Path, work: Path, files: dict[str, str | None], message: str) -> str:
    if not work.exists():
        git("clone", "--quiet", str(remote), str(work))
    git("pull", "--quiet", "--ff-only", cwd=work)
    for path, text in files.items():
        target = work / path
        if text is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    git("add", "--all", cwd=work)
    git("commit", "--quiet", "-m", message, cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work).strip()


def sync(mcpd: Mcpd) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MCPCTL, "gitops", "sync"], env=mcpd.env(), capture_output=True, text=True, timeout=60
    )


SERVER_YAML = """\
apiVersion: mcpctl/v1
kind: Server
metadata:
  name: {name}
spec:
  command: [{command}]
"""


def test_every_commit_reaches_the_remote(mirrored: Mcpd, remote: Path) -> None:
    with mirrored.client() as client:
        first = settle(client)
        assert remote_head(remote).strip() == first["head"]
        client.post("/api/v1/apply", json={"items": [server("a"), server("b")]}).raise_for_status()
        after = settle(client)

    assert after["head"] != first["head"]
    assert remote_head(remote).strip() == after["head"]
    assert "servers/a.yaml" in git("--git-dir", str(remote), "ls-tree", "-r", "main")
    assert after["remote"]["url"] == str(remote)
    assert after["remote"]["transport"] == "path"
    assert after["publicKey"].startswith("ssh-ed25519 ")


def test_a_commit_made_on_the_remote_is_imported_by_gitops_sync(
    mirrored: Mcpd, remote: Path, tmp_path: Path
) -> None:
    with mirrored.client() as client:
        settle(client)
        pushed = commit_on_remote(
            remote,
            tmp_path / "work",
            {"servers/remote.yaml": SERVER_YAML.format(name="remote", command="from-remote")},
            "add a server on the remote",
        )
        done = sync(mirrored)
        assert done.returncode == 0, done.stderr
        assert f"imported {pushed[:12]}: 1 created" in done.stdout

        item = client.get("/api/v1/servers/remote").raise_for_status().json()
        assert item["spec"]["command"] == ["from-remote"]
        assert item["metadata"]["createdBy"] == "gitops-mirror"
        final = settle(client)

    # a fast-forward: the remote's commit is on main, the canonical form on top of it
    assert git("--git-dir", str(remote), "merge-base", "--is-ancestor", pushed, "main") == ""
    assert final["lastImported"] == {"commit": pushed, "via": "sync"}
    assert remote_head(remote).strip() == final["head"]


def freeze_for_mcpd(remote: Path, flag: Path) -> None:
    """While `flag` exists the remote refuses pushes of mcpd's commits (a host outage, say)."""
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        "while read old new ref; do\n"
        f'  if [ -e "{flag}" ] && [ "$(git log -1 --format=%cn $new)" = mcpd ]; then\n'
        '    echo "frozen for mcpd" >&2; exit 1\n'
        "  fi\n"
        "done\n"
    )
    hook.chmod(0o755)


def test_diverged_histories_merge_and_the_database_wins_a_conflict(
    mirrored: Mcpd, remote: Path, tmp_path: Path
) -> None:
    flag = tmp_path / "frozen"
    freeze_for_mcpd(remote, flag)
    with mirrored.client() as client:
        client.post("/api/v1/apply", json={"items": [server("x"), server("y")]}).raise_for_status()
        settle(client)
        work = tmp_path / "work"
        git("clone", "--quiet", str(remote), str(work))
        # mcpd changes x but cannot push it; meanwhile a clone changes x and y on the remote
        flag.touch()
        client.put("/api/v1/servers/x", json=server("x", "api-edit")).raise_for_status()
        wait_for(lambda: status(client)["remote"]["lastError"], message="the push should fail")
        ours = status(client)["head"]
        for name in ("x", "y"):
            (work / f"servers/{name}.yaml").write_text(
                SERVER_YAML.format(name=name, command="remote-edit")
            )
        git("commit", "--quiet", "-am", "edit x and y", cwd=work)
        git("push", "--quiet", "origin", "main", cwd=work)
        theirs = remote_top = git("rev-parse", "HEAD", cwd=work).strip()
        flag.unlink()

        done = sync(mirrored)
        assert done.returncode == 0, done.stderr
        assert "conflict: Server/x: mcpd's version kept" in done.stdout

        x = client.get("/api/v1/servers/x").raise_for_status().json()
        y = client.get("/api/v1/servers/y").raise_for_status().json()
        assert x["spec"]["command"] == ["api-edit"]  # the database wins
        assert y["spec"]["command"] == ["remote-edit"]  # the rest of the change applies
        final = settle(client)
        events = client.get("/api/v1/events", params={"kind": "Server", "name": "x"}).json()
        audit = client.get("/api/v1/auditevents", params={"kind": "Server"}).json()

    conflict = next(e for e in events["items"] if e["spec"]["reason"] == "GitConflict")
    assert conflict["spec"]["type"] == "Warning"
    assert remote_top[:12] in conflict["spec"]["message"]
    entries = [e for e in audit["items"] if e["spec"]["verb"] == "import"]
    assert [e["spec"]["name"] for e in entries] == ["x"]
    assert entries[0]["spec"]["outcome"] == "overridden"
    assert entries[0]["spec"]["details"]["commit"] == remote_top
    assert entries[0]["spec"]["details"]["overriddenBy"]["commit"] == ours
    assert final["conflicts"][0]["object"] == {"kind": "Server", "name": "x"}

    # main merges both sides; nothing forced: both histories stay reachable on the remote
    merge = git("--git-dir", str(remote), "log", "--merges", "--format=%H %P", "main")
    assert merge, "a merge commit joins the two histories"
    for commit in (ours, theirs, remote_top):
        git("--git-dir", str(remote), "merge-base", "--is-ancestor", commit, "main")
    shown = git("--git-dir", str(remote), "show", "main:servers/x.yaml")
    assert "api-edit" in shown


def test_diverged_histories_changing_an_object_alike_are_no_conflict(
    mirrored: Mcpd, remote: Path, tmp_path: Path
) -> None:
    """mcpd changes x and cannot push it; the remote gets the very same change of x (in
    another YAML form, as another mcpd sharing the remote would push it), and a change of y.
    The histories merge with no conflict: no Event, no audit entry, y applied."""
    flag = tmp_path / "frozen"
    freeze_for_mcpd(remote, flag)
    with mirrored.client() as client:
        client.post("/api/v1/apply", json={"items": [server("x"), server("y")]}).raise_for_status()
        settle(client)
        work = tmp_path / "work"
        git("clone", "--quiet", str(remote), str(work))
        flag.touch()
        edited = client.put("/api/v1/servers/x", json=server("x", "same-edit"))
        version = edited.raise_for_status().json()["metadata"]["resourceVersion"]
        wait_for(lambda: status(client)["remote"]["lastError"], message="the push should fail")
        for name, command in (("x", "same-edit"), ("y", "remote-edit")):
            (work / f"servers/{name}.yaml").write_text(
                SERVER_YAML.format(name=name, command=command)
            )
        git("commit", "--quiet", "-am", "the same edit of x, and y", cwd=work)
        git("push", "--quiet", "origin", "main", cwd=work)
        flag.unlink()

        done = sync(mirrored)
        assert done.returncode == 0, done.stderr
        assert "conflict" not in done.stdout, done.stdout

        x = client.get("/api/v1/servers/x").raise_for_status().json()
        y = client.get("/api/v1/servers/y").raise_for_status().json()
        assert x["spec"]["command"] == ["same-edit"]
        assert x["metadata"]["resourceVersion"] == version  # the import wrote nothing for it
        assert y["spec"]["command"] == ["remote-edit"]
        final = settle(client)
        events = client.get("/api/v1/events", params={"kind": "Server", "name": "x"}).json()
        audit = client.get("/api/v1/auditevents", params={"kind": "Server"}).json()

    assert [e for e in events["items"] if e["spec"]["reason"] == "GitConflict"] == []
    assert [e for e in audit["items"] if e["spec"]["outcome"] == "overridden"] == []
    assert final["conflicts"] == []
    assert final["remote"]["conflicts"] == []
    assert git("--git-dir", str(remote), "log", "--merges", "--format=%H", "main")
    assert "same-edit" in git("--git-dir", str(remote), "show", "main:servers/x.yaml")


def test_an_invalid_commit_on_the_remote_changes_nothing_and_says_where(
    mirrored: Mcpd, remote: Path, tmp_path: Path
) -> None:
    with mirrored.client() as client:
        before = settle(client)
        commit_on_remote(
            remote,
            tmp_path / "work",
            {"servers/bad.yaml": SERVER_YAML.format(name="bad", command="x") + "  replicas: -2\n"},
            "a bad server",
        )
        done = sync(mirrored)
        after = status(client)
        missing = client.get("/api/v1/servers/bad")

    assert done.returncode != 0
    assert "servers/bad.yaml:7" in done.stderr
    assert missing.status_code == 404
    assert after["head"] == before["head"]
    assert "servers/bad.yaml:7" in after["remote"]["lastError"]


def test_the_interval_imports_without_being_asked(tmp_path: Path, remote: Path) -> None:
    args = ["--git-remote", str(remote), "--git-sync-interval", "1"]
    with running_mcpd(tmp_path / "state", args=args) as mcpd, mcpd.client() as client:
        settle(client)
        commit_on_remote(
            remote,
            tmp_path / "work",
            {"servers/later.yaml": SERVER_YAML.format(name="later", command="x")},
            "add later",
        )
        wait_for(
            lambda: client.get("/api/v1/servers/later").status_code == 200,
            message="the interval did not import the remote's commit",
        )
        settle(client)


def test_sync_without_a_remote_is_a_clear_409(mcpd: Mcpd) -> None:
    with mcpd.client() as client:
        answer = client.post("/api/v1/gitops/sync")
    assert answer.status_code == 409
    assert "--git-remote" in answer.json()["detail"]


def test_credentials_in_a_remote_url_never_show(tmp_path: Path) -> None:
    url = "http://deploy:s3cret-token-value@127.0.0.1:9/state.git"
    args = ["--git-remote", url, "--git-sync-interval", "300"]
    # a new state dir starts from the remote: out of reach, mcpd refuses, redacting the URL
    refused = failed_start(tmp_path / "new", args=args)
    assert refused.returncode == 2
    assert "http://deploy:***@127.0.0.1:9/state.git" in refused.log
    # a state dir of its own: mcpd starts and reports the remote's failures
    with running_mcpd(tmp_path / "state"):
        pass
    with running_mcpd(tmp_path / "state", args=args) as mcpd, mcpd.client() as client:
        failed = sync(mcpd)
        answer = status(client)
    text = failed.stdout + failed.stderr + str(answer) + mcpd.log.read_text() + refused.log
    assert failed.returncode != 0
    assert "s3cret-token-value" not in text
    assert answer["remote"]["url"] == "http://deploy:***@127.0.0.1:9/state.git"
    assert answer["remote"]["lastError"]


def test_ssh_remote_with_the_generated_deploy_key(tmp_path: Path, remote: Path) -> None:
    state = tmp_path / "state"
    public = ensure_deploy_key(state / "ssh")  # what mcpd shows at its first start
    with ssh_git_server(remote, [public]) as host:
        args = ["--git-remote", host.url, "--git-sync-interval", "300"]
        with running_mcpd(state, args=args) as mcpd, mcpd.client() as client:
            client.post("/api/v1/apply", json={"items": [server("over-ssh")]}).raise_for_status()
            final = settle(client)
            assert final["publicKey"] == public
            assert final["remote"]["transport"] == "ssh"
        assert remote_head(remote).strip() == final["head"]


def test_ssh_remote_refuses_another_key(tmp_path: Path, remote: Path) -> None:
    other = ensure_deploy_key(tmp_path / "other-ssh")
    with ssh_git_server(remote, [other]) as host:
        args = ["--git-remote", host.url, "--git-sync-interval", "300"]
        with running_mcpd(tmp_path / "state"):
            pass  # the state repo exists: mcpd does not start from the remote
        with running_mcpd(tmp_path / "state", args=args) as mcpd, mcpd.client() as client:
            done = sync(mcpd)
            answer = status(client)
    assert done.returncode != 0
    assert "Permission denied" in answer["remote"]["lastError"]
    assert remote_head(remote) == ""


def test_a_push_to_mcpd_reaches_the_remote(mirrored: Mcpd, remote: Path, tmp_path: Path) -> None:
    with mirrored.client() as client:
        settle(client)
        clone = Clone.of(mirrored, tmp_path / "clone")
        clone.write("servers/pushed.yaml", SERVER_YAML.format(name="pushed", command="x"))
        pushed = clone.commit("push to mcpd")
        done = clone.push()
        assert done.returncode == 0, done.stderr
        final = settle(client)

    assert remote_head(remote).strip() == final["head"]
    git("--git-dir", str(remote), "merge-base", "--is-ancestor", pushed, "main")
    assert "pushed" in git("--git-dir", str(remote), "show", "main:servers/pushed.yaml")


def test_a_new_machine_comes_back_from_the_remote(database_url: str, tmp_path: Path) -> None:
    """No state dir, an empty database, the remote: mcpd starts from the remote's main and
    restores every object from it (with the sealing key given), in sync with the remote."""
    remote = tmp_path / "remote.git"
    git("init", "--quiet", "--bare", "--initial-branch", "main", str(remote))
    secret = {
        "apiVersion": "mcpctl/v1",
        "kind": "Secret",
        "metadata": {"name": "github"},
        "spec": {"data": {"token": "ghp_from-the-remote-0042"}},
    }
    args = ["--git-remote", str(remote), "--git-sync-interval", "300"]
    old_db = f"sqlite:///{tmp_path / 'old.db'}"
    with running_mcpd(tmp_path / "old", old_db, args=args) as old, old.client() as client:
        client.post("/api/v1/apply", json={"items": [secret, server("s")]}).raise_for_status()
        before = settle(client)
    key = (tmp_path / "old" / "sealing.key").read_text().strip()
    assert remote_head(remote).strip() == before["head"]

    new_state = tmp_path / "new"
    env = {"MCPCTL_SEALING_KEY": key}
    with (
        running_mcpd(new_state, database_url, args=args, env=env) as new,
        new.client() as client,
    ):
        after = settle(client)
        shown = client.get("/api/v1/secrets/github", params={"showSecrets": "true"})
        item = client.get("/api/v1/servers/s").raise_for_status().json()
        log = new.log.read_text()

    assert "it starts from" in log
    assert "disaster recovery done" in log
    assert shown.raise_for_status().json()["spec"]["data"] == {"token": "ghp_from-the-remote-0042"}
    assert item["spec"]["command"] == ["mcp-server-time"]
    assert after["head"] == before["head"]  # nothing new to commit: the same history
    assert remote_head(remote).strip() == before["head"]
    assert "ghp_from-the-remote-0042" not in log


def test_a_new_machine_refuses_to_start_when_the_remote_is_out_of_reach(tmp_path: Path) -> None:
    missing = tmp_path / "gone.git"
    args = ["--git-remote", str(missing), "--git-sync-interval", "300"]
    failed = failed_start(tmp_path / "state", f"sqlite:///{tmp_path / 'mcpd.db'}", args=args)
    assert failed.returncode != 0
    assert "gone.git" in failed.log
    assert not (tmp_path / "state" / "state.git").exists()


GROUP_YAML = """\
apiVersion: mcpctl/v1
kind: Group
metadata:
  name: ops
spec:
  members: [{member}]
"""


def test_a_mirror_acting_as_a_serviceaccount_grants_nothing_beyond_it(
    tmp_path: Path, remote: Path
) -> None:
    """With --git-mirror-as, a commit on the remote is written as that ServiceAccount: its
    RBAC and the no-escalation rule bound what someone pushing there may change."""
    args = ["--git-remote", str(remote), "--git-sync-interval", "300", "--git-mirror-as", "mirror"]
    with running_mcpd(tmp_path / "state", args=args) as mcpd, mcpd.client() as client:
        everything = [
            *({"role": r, "resource": "*"} for r in ("view", "create", "edit", "delete")),
            {"role": "run", "action": "*"},
        ]
        mirror_may = [
            *(
                {"role": role, "resource": kind}
                for role in ("view", "create", "edit", "delete")
                for kind in ("servers", "groups")
            ),
            {"role": "run", "action": "host-commands"},  # its Servers run commands
        ]
        items = [
            {"apiVersion": "mcpctl/v1", "kind": "ServiceAccount", "metadata": {"name": "mirror"}},
            {
                "apiVersion": "mcpctl/v1",
                "kind": "User",
                "metadata": {"name": "mallory"},
                "spec": {"email": "mallory@example.com"},
            },
            {
                "apiVersion": "mcpctl/v1",
                "kind": "Group",
                "metadata": {"name": "ops"},
                "spec": {"members": []},
            },
            {
                "apiVersion": "mcpctl/v1",
                "kind": "Rbac",
                "metadata": {"name": "ops"},
                "spec": {"subjects": [{"kind": "Group", "name": "ops"}], "bindings": everything},
            },
            {
                "apiVersion": "mcpctl/v1",
                "kind": "Rbac",
                "metadata": {"name": "mirror"},
                "spec": {
                    "subjects": [{"kind": "ServiceAccount", "name": "mirror"}],
                    "bindings": mirror_may,
                },
            },
        ]
        client.post("/api/v1/apply", json={"items": items}).raise_for_status()
        settle(client)
        work = tmp_path / "work"
        # what the ServiceAccount may do goes in
        commit_on_remote(
            remote, work, {"servers/ok.yaml": SERVER_YAML.format(name="ok", command="x")}, "ok"
        )
        assert sync(mcpd).returncode == 0
        item = client.get("/api/v1/servers/ok").raise_for_status().json()
        assert item["metadata"]["createdBy"] == "serviceaccount:mirror"
        settle(client)
        # joining the powerful group through the remote does not
        commit_on_remote(
            remote, work, {"groups/ops.yaml": GROUP_YAML.format(member="mallory")}, "join"
        )
        done = sync(mcpd)
        assert done.returncode != 0
        assert "would grant User 'mallory'" in done.stderr, done.stderr
        ops = client.get("/api/v1/groups/ops").raise_for_status().json()
        assert ops["spec"].get("members", []) == []
