"""Crash consistency of the state repo: mcpd killed (-9) at each point between the database
commit, the git objects and the ref update, then restarted, loses no write and duplicates none.

Each test arms one fault point (`MCPD_FAULTS=point=kill`, src/mcpctl/faults.py), performs the
operation that crosses it, waits for mcpd to die, restarts it on the same state dir and
database without the fault, and checks, once it is quiet:

- the invariant (docs/architecture.md, "The flows and the invariant"): `verify` is in sync;
- no write lost: the objects hold what was written, in the database and at `main`;
- no write duplicated: exactly one commit of `main` writes each file's content, no commit of
  `main` leaves its tree unchanged, the `Mcpctl-Change` trailers strictly increase, the
  change log and the audit log hold each change once;
- a later write exports as usual.

The export points fire at a first start too (the repo's first commit, the bootstrap objects),
so those tests start mcpd once without the fault before arming it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml

from tests.support import manifests
from tests.support.gitrepo import quiet
from tests.support.manifests import to_yaml
from tests.support.mcpd import WAIT_TIMEOUT, Mcpd, running_mcpd, spawned_mcpd

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: How long mcpd may take to reach an armed fault point and die (a hang guard).
DEATH_TIMEOUT = 120.0
#: How long one git command may take.
GIT_TIMEOUT = 60.0
TRAILER = "Mcpctl-Change"


def server(name: str, command: str = "mcp-server-time") -> dict[str, Any]:
    """A Server manifest that runs nothing (replicas 0: the reconciler leaves it alone)."""
    return manifests.server(name, command, replicas=0)


def canonical(manifest: dict[str, Any]) -> bytes:
    """The file mcpd exports for `server(...)` (what a careful pusher writes)."""
    return to_yaml(manifest).encode()


def faults(point: str) -> dict[str, str]:
    return {"MCPD_FAULTS": f"{point}=kill"}


# ---- the state repo, read with the git CLI ---------------------------------------------------


def git(state: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(state / "state.git"), *args],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        check=check,
        env=git_env(state.parent),
    )
    return done.stdout


def git_env(home: Path) -> dict[str, str]:
    """A git environment of its own: no user or system config, never a prompt."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "MCPD_"))}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Pusher",
        GIT_AUTHOR_EMAIL="pusher@example.invalid",
        GIT_COMMITTER_NAME="Pusher",
        GIT_COMMITTER_EMAIL="pusher@example.invalid",
    )
    return env


def head(state: Path) -> str:
    return git(state, "rev-parse", "main").strip()


def main_file(state: Path, path: str) -> bytes:
    return git(state, "show", f"main:{path}").encode()


@dataclass(frozen=True)
class Commit:
    sha: str
    tree: str
    parents: list[str]
    changes: list[int]
    author: str
    subject: str


def history(state: Path) -> list[Commit]:
    """Every commit of `main`, oldest first."""
    fmt = f"%H%x1f%T%x1f%P%x1f%(trailers:key={TRAILER},valueonly,separator=%x2C)%x1f%an%x1f%s"
    out: list[Commit] = []
    for line in git(state, "log", "--reverse", f"--format={fmt}", "main").splitlines():
        sha, tree, parents, trailers, author, subject = line.split("\x1f")
        numbers = [int(n) for n in trailers.split(",") if n.strip()]
        out.append(Commit(sha, tree, parents.split(), numbers, author, subject))
    return out


def commits_writing(state: Path, path: str) -> list[str]:
    """The commits of `main` that give `path` the content it has at `main`."""
    blob = git(state, "rev-parse", f"main:{path}").strip()
    touching = git(state, "log", "--format=%H", "main", "--", path).split()
    return [
        sha
        for sha in touching
        if git(state, "rev-parse", "--verify", "-q", f"{sha}:{path}", check=False).strip() == blob
    ]


def assert_history_clean(state: Path) -> None:
    """No empty commit on `main`, no merge, and `Mcpctl-Change` trailers strictly increasing."""
    commits = history(state)
    trees = {c.sha: c.tree for c in commits}
    for commit in commits[1:]:
        assert len(commit.parents) == 1, f"{commit.sha[:12]} {commit.subject!r} is a merge"
        assert commit.tree != trees[commit.parents[0]], (
            f"{commit.sha[:12]} {commit.subject!r} changes nothing: a write committed twice?"
        )
    numbers = [n for c in commits for n in c.changes]
    assert numbers == sorted(set(numbers)), f"{TRAILER} trailers go backwards or repeat: {numbers}"


# ---- mcpd ------------------------------------------------------------------------------------


def apply(client: httpx.Client, items: list[dict[str, Any]]) -> None:
    client.post("/api/v1/apply", json={"items": items}).raise_for_status()


def killed(mcpd: Mcpd, point: str) -> None:
    """Wait (bounded) for mcpd to die of the fault armed at `point`."""
    try:
        mcpd.process.wait(timeout=DEATH_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"mcpd did not die at {point} within {DEATH_TIMEOUT}s:\n{mcpd.log.read_text()}")
    assert mcpd.process.returncode == -signal.SIGKILL, mcpd.log.read_text()
    assert mcpd.log.read_text().count(f"mcpd: fault {point}: kill -9") == 1


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll `condition` until it holds (a hang guard, not a time budget)."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


def waiting_for_a_lock(database_url: str) -> bool:
    """Whether a session of this PostgreSQL database waits for an advisory lock."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE d.datname = current_database() AND l.locktype = 'advisory'"
            " AND NOT l.granted"
        ).fetchone()
    return row is not None and row[0] > 0


def in_sync(client: httpx.Client) -> None:
    verify = client.get("/api/v1/gitops/verify").raise_for_status().json()
    assert verify == {"inSync": True, "differences": [], "diff": ""}


def spec_of(client: httpx.Client, name: str) -> dict[str, Any] | None:
    response = client.get(f"/api/v1/servers/{name}")
    if response.status_code == 404:
        return None
    spec: dict[str, Any] = response.raise_for_status().json()["spec"]
    return spec


def audited(client: httpx.Client, name: str) -> list[str]:
    """The audited verbs on Server `name`, oldest first."""
    items = (
        client.get("/api/v1/auditevents", params={"kind": "Server", "limit": 1000})
        .raise_for_status()
        .json()["items"]
    )
    spec = [i["spec"] for i in items if i["spec"].get("name") == name]
    spec.sort(key=lambda s: (s["time"], s["verb"]))
    return [s["verb"] for s in spec]


def assert_written(client: httpx.Client, state: Path, manifest: dict[str, Any]) -> None:
    """`manifest` is in the database and at `main`, written by exactly one commit."""
    name = manifest["metadata"]["name"]
    path = f"servers/{name}.yaml"
    assert spec_of(client, name) == manifest["spec"]
    assert yaml.safe_load(main_file(state, path))["spec"] == manifest["spec"]
    assert main_file(state, path) == canonical(manifest)
    writers = commits_writing(state, path)
    assert len(writers) == 1, f"{path} written by {len(writers)} commits: {writers}"


def exported(status: dict[str, Any]) -> dict[str, Any]:
    """What a status says of the export (not of the replica serving it, which a restart
    changes: its name, its address, the lag it measured)."""
    keys = ("head", "clusterHead", "exportedChange", "lastChange", "pending", "lastImported")
    return {key: status[key] for key in keys}


def assert_next_write_exports(client: httpx.Client, state: Path) -> None:
    """One more write after the restart: one commit by its author, trailer = its change."""
    before, status = head(state), quiet(client)
    manifest = server("after-restart", "mcp-server-fetch")
    apply(client, [manifest])
    after = quiet(client)
    in_sync(client)
    assert after["lastChange"] == status["lastChange"] + 1
    new = git(state, "rev-list", f"{before}..main").split()
    assert len(new) == 1, f"the next write made {len(new)} commits"
    top = history(state)[-1]
    assert (top.author, top.subject) == ("admin", "create Server/after-restart")
    assert top.changes == [after["lastChange"]]
    assert_written(client, state, manifest)
    assert_history_clean(state)


# ---- mutation -> commit (flow 1) -------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    """An API write crossing an export point: objects applied before, then the write."""

    before: list[dict[str, Any]]
    items: list[dict[str, Any]]
    verbs: dict[str, list[str]]  # the audit log of each object at the end


EXPORT_POINTS = {
    # the write is in the database, nothing exported
    "export.after-db": Write([], [server("a")], {"a": ["create"]}),
    # an update: its blob, tree and commit written, main not moved
    "export.after-objects": Write(
        [server("a")], [server("a", "mcp-server-fetch")], {"a": ["create", "update"]}
    ),
    # a batch of three: main moved, the bookkeeping of the exported change not written
    "export.after-ref": Write(
        [],
        [server("a"), server("b", "mcp-server-fetch"), server("c", "mcp-server-git")],
        {"a": ["create"], "b": ["create"], "c": ["create"]},
    ),
}


def crash_an_api_write(
    point: str, write: Write, state: Path, database_url: str
) -> tuple[dict[str, Any], str]:
    """Start, apply `write.before`, stop; start armed at `point`, apply `write.items`, die.

    Returns the status before the write and the head of main when mcpd died.
    """
    with running_mcpd(state, database_url) as first, first.client() as client:
        if write.before:
            apply(client, write.before)
        baseline = quiet(client)
    with running_mcpd(state, database_url, env=faults(point)) as armed, armed.client() as client:
        # the armed start exports nothing
        assert exported(quiet(client)) == exported(baseline)
        try:
            response = client.post("/api/v1/apply", json={"items": write.items})
        except httpx.TransportError:
            pass  # killed before answering: the write committed all the same
        else:
            assert response.status_code == 200, response.text
        killed(armed, point)
    return baseline, head(state)


@pytest.mark.parametrize("point", list(EXPORT_POINTS))
def test_an_api_write_killed_during_its_export(
    point: str, database_url: str, tmp_path: Path
) -> None:
    """Killed at each export point, the write ends up in one commit; the next one exports."""
    state, write = tmp_path / "state", EXPORT_POINTS[point]
    baseline, at_crash = crash_an_api_write(point, write, state, database_url)

    if point == "export.after-ref":
        assert at_crash != baseline["head"]  # the commit is on main already
    else:
        assert at_crash == baseline["head"]  # main not moved
    if point == "export.after-objects":  # the commit object exists, unreachable
        unreachable = git(state, "fsck", "--unreachable", "--no-reflogs", "--no-progress")
        assert any(line.startswith("unreachable commit") for line in unreachable.splitlines())

    with running_mcpd(state, database_url) as again, again.client() as client:
        status = quiet(client)
        in_sync(client)
        # the change log holds each change of the write once, all exported
        assert status["lastChange"] == baseline["lastChange"] + len(write.items)
        assert status["exportedChange"] == status["lastChange"]
        # one commit for the write, whichever point it died at
        new = git(state, "rev-list", f"{baseline['head']}..main").split()
        assert len(new) == 1, f"the write made {len(new)} commits on main"
        if point == "export.after-ref":
            assert head(state) == at_crash  # the restart committed nothing more
        top = history(state)[-1]
        assert top.author == "admin"
        assert top.changes == [status["lastChange"]]
        for manifest in write.items:
            assert_written(client, state, manifest)
        for name, verbs in write.verbs.items():
            assert audited(client, name) == verbs
        assert_history_clean(state)
        # and the exporter carries on: the next write is one commit as usual
        assert_next_write_exports(client, state)


def test_a_write_left_unexported_goes_to_no_state_repo_the_database_does_not_follow(
    tmp_path: Path,
) -> None:
    """An mcpd refused by the guard (its state repo is not the database's) exports nothing,
    not even at its stop: the write is committed by the mcpd of the database's repo."""
    state, database_url = tmp_path / "state", f"sqlite:///{tmp_path / 'mcpd.db'}"
    write = EXPORT_POINTS["export.after-db"]
    baseline, _ = crash_an_api_write("export.after-db", write, state, database_url)
    other = tmp_path / "other"

    with spawned_mcpd(other, database_url) as refused:
        assert not refused.settle()

    assert "this database follows another state repo" in refused.logged()
    assert git(other, "rev-list", "--count", "main").strip() == "1"  # its README commit alone
    with running_mcpd(state, database_url) as again, again.client() as client:
        status = quiet(client)
        in_sync(client)
        assert status["exportedChange"] == status["lastChange"]
        assert len(git(state, "rev-list", f"{baseline['head']}..main").split()) == 1
        assert history(state)[-1].changes == [status["lastChange"]]


# ---- push -> import (flow 2) -----------------------------------------------------------------


def clone_url(mcpd: Mcpd) -> str:
    return mcpd.url.replace("http://", f"http://x:{mcpd.admin_token}@") + "/git/state.git"


def in_work(work: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        check=check,
        env=git_env(work.parent),
    )


def commit_file(work: Path, path: str, content: bytes, message: str) -> str:
    target = work / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    in_work(work, "add", path)
    in_work(work, "commit", "-q", "-m", message)
    return in_work(work, "rev-parse", "HEAD").stdout.strip()


def test_a_push_killed_after_its_import(database_url: str, tmp_path: Path) -> None:
    state, work = tmp_path / "state", tmp_path / "work"
    manifest = server("a")
    point = "import.after-db"
    with running_mcpd(state, database_url, env=faults(point)) as armed, armed.client() as client:
        baseline = quiet(client)
        subprocess.run(
            ["git", "clone", "-q", clone_url(armed), str(work)],
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=True,
            env=git_env(tmp_path),
        )
        pushed = commit_file(work, "servers/a.yaml", canonical(manifest), "Add server a")
        push = in_work(work, "push", "origin", "main", check=False)
        assert push.returncode != 0, push.stderr  # mcpd died before answering
        killed(armed, point)
    assert head(state) == baseline["head"]  # the hook got no answer: git did not move main

    with running_mcpd(state, database_url) as again, again.client() as client:
        status = quiet(client)
        in_sync(client)
        assert status["lastChange"] == baseline["lastChange"] + 1
        # the database has the push; main holds it through one export commit
        assert_written(client, state, manifest)
        new = history(state)[-1]
        assert [c.sha for c in history(state)][-2] == baseline["head"]
        assert new.author == "mcpd"
        assert pushed[:12] in new.subject
        assert new.changes == [status["lastChange"]]
        assert audited(client, "a") == ["create"]
        assert_history_clean(state)

        # the pusher fetches: the rebase drops the commit (main has it), nothing to push
        in_work(work, "remote", "set-url", "origin", clone_url(again))
        in_work(work, "pull", "-q", "--rebase", "origin", "main")
        local = in_work(work, "rev-parse", "HEAD").stdout.strip()
        assert local == head(state)
        again_push = in_work(work, "push", "origin", "HEAD:main", check=False)
        assert again_push.returncode == 0, again_push.stderr
        assert "Everything up-to-date" in again_push.stderr
        assert quiet(client)["lastChange"] == status["lastChange"]
        assert_next_write_exports(client, state)


def test_a_push_to_the_repo_on_disk_is_refused(tmp_path: Path) -> None:
    state, work = tmp_path / "state", tmp_path / "work"
    with running_mcpd(state, f"sqlite:///{tmp_path / 'mcpd.db'}") as mcpd, mcpd.client() as c:
        before = quiet(c)["head"]
    env = git_env(tmp_path)
    subprocess.run(
        ["git", "clone", "-q", str(state / "state.git"), str(work)],
        capture_output=True,
        timeout=GIT_TIMEOUT,
        check=True,
        env=env,
    )
    commit_file(work, "servers/a.yaml", canonical(server("a")), "Add server a behind mcpd")

    push = in_work(work, "push", "origin", "main", check=False)

    assert push.returncode != 0
    assert "this repository is written by mcpd only" in push.stderr
    assert "pre-receive hook declined" in push.stderr
    assert head(state) == before


# ---- restore -> timeline (flow 4) ------------------------------------------------------------


FIRST, SECOND = server("a"), server("a", "mcp-server-fetch")


def crash_a_restore(state: Path, database_url: str) -> tuple[str, dict[str, Any]]:
    """Write a, update a, create b; restore to the first commit, killed at restore.after-db.

    Returns the target of the restore and the status before it.
    """
    point = "restore.after-db"
    with running_mcpd(state, database_url, env=faults(point)) as armed, armed.client() as client:
        apply(client, [FIRST])
        target = quiet(client)["head"]
        apply(client, [SECOND])
        apply(client, [server("b")])
        baseline = quiet(client)
        with pytest.raises(httpx.TransportError):
            client.post("/api/v1/gitops/restore", json={"to": target})
        killed(armed, point)
    assert head(state) == baseline["head"]  # nothing committed yet
    return target, baseline


def test_a_restore_killed_after_the_database(database_url: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    target, baseline = crash_a_restore(state, database_url)
    abandoned = baseline["head"]

    with running_mcpd(state, database_url) as again, again.client() as client:
        status = quiet(client)
        in_sync(client)
        # the restore's two changes (a back to its first version, b deleted), once
        assert status["lastChange"] == baseline["lastChange"] + 2
        assert spec_of(client, "a") == FIRST["spec"]
        assert spec_of(client, "b") is None
        assert audited(client, "a") == ["create", "update", "update"]
        assert audited(client, "b") == ["create", "delete"]
        # main: the abandoned head kept in its history, one forward commit with the target's tree
        assert git(state, "rev-parse", "main^{tree}") == git(
            state, "rev-parse", f"{target}^{{tree}}"
        )
        assert git(state, "rev-list", f"{abandoned}..main").split() == [head(state)]
        assert history(state)[-1].changes == [status["lastChange"]]
        assert main_file(state, "servers/a.yaml") == canonical(FIRST)
        assert git(state, "log", "--format=%H", "main", "--", "servers/b.yaml").count("\n") == 2
        assert_history_clean(state)
        assert_next_write_exports(client, state)


def test_a_restore_killed_after_the_database_still_saves_the_timeline(tmp_path: Path) -> None:
    """The abandoned head gets its timeline branch (docs/architecture.md), crash or not.

    The branch is saved before the database changes, so a restore killed after its database
    write leaves it, and the retry (main already there) has nothing more to do. SQLite only:
    the order of the steps is tested, not a database.
    """
    state = tmp_path / "state"
    target, baseline = crash_a_restore(state, f"sqlite:///{tmp_path / 'mcpd.db'}")

    with running_mcpd(state, f"sqlite:///{tmp_path / 'mcpd.db'}") as again, again.client() as c:
        quiet(c)
        saved = c.get("/api/v1/gitops/timelines").raise_for_status().json()["items"]
        retry = c.post("/api/v1/gitops/restore", json={"to": target}).raise_for_status().json()
        timelines = c.get("/api/v1/gitops/timelines").raise_for_status().json()["items"]
        in_sync(c)

    assert [t["commit"] for t in saved] == [baseline["head"]]
    assert f"admin restored main to {target[:12]}" in saved[0]["note"]
    assert retry["changed"] is False  # main already holds the target's tree
    assert timelines == saved


def test_a_restore_killed_after_its_timeline_changes_nothing_and_retries(
    tmp_path: Path,
) -> None:
    """Killed once the branch is saved: the database and main as before; the retry restores
    and keeps the one branch (its note gets a second line), with no second branch."""
    state, url = tmp_path / "state", f"sqlite:///{tmp_path / 'mcpd.db'}"
    point = "restore.after-timeline"
    with running_mcpd(state, url, env=faults(point)) as armed, armed.client() as client:
        apply(client, [FIRST])
        target = quiet(client)["head"]
        apply(client, [SECOND])
        baseline = quiet(client)
        with pytest.raises(httpx.TransportError):
            client.post("/api/v1/gitops/restore", json={"to": target})
        killed(armed, point)

    with running_mcpd(state, url) as again, again.client() as c:
        status = quiet(c)
        assert status["head"] == baseline["head"]
        assert status["lastChange"] == baseline["lastChange"]
        assert spec_of(c, "a") == SECOND["spec"]
        saved = c.get("/api/v1/gitops/timelines").raise_for_status().json()["items"]
        assert [t["commit"] for t in saved] == [baseline["head"]]

        retry = c.post("/api/v1/gitops/restore", json={"to": target}).raise_for_status().json()
        timelines = c.get("/api/v1/gitops/timelines").raise_for_status().json()["items"]
        assert retry["changed"] is True
        assert retry["timeline"] == saved[0]["name"]
        assert [t["name"] for t in timelines] == [saved[0]["name"]]
        assert timelines[0]["note"].count(f"admin restored main to {target[:12]}") == 2
        assert spec_of(c, "a") == FIRST["spec"]
        in_sync(c)
        assert_history_clean(state)
        assert_next_write_exports(client=c, state=state)


# ---- the change log commits in order -----------------------------------------------------------


def test_a_slow_write_is_exported_though_a_later_one_committed_first(
    database_url: str, tmp_path: Path
) -> None:
    """A write holding its transaction open (numbered, not committed) while another write
    goes on: both end up on main. On PostgreSQL the second would get the next number and
    commit first, and the exporter, following the log by its highest exported number,
    would skip the first one for good; the writers of the log are ordered instead.

    The first write is held at `write.before-commit` until the test lets it go: once the
    second has finished or (PostgreSQL) waits for the change log's lock. SQLite has one
    writer: there the second is let go as soon as it is sent, and waits for the file."""
    state, release = tmp_path / "state", tmp_path / "release"
    with running_mcpd(state, database_url) as first, first.client() as client:
        baseline = quiet(client)
    env = {"MCPD_FAULTS": f"write.before-commit=hold:{release}"}
    with running_mcpd(state, database_url, env=env) as mcpd, mcpd.client() as client:
        slow = mcpd.client()
        results: dict[str, int] = {}

        def write(name: str, with_client: httpx.Client) -> None:
            answer = with_client.post("/api/v1/apply", json={"items": [server(name)]})
            results[name] = answer.status_code

        held = threading.Thread(target=write, args=("slow", slow))
        held.start()
        mcpd.wait_logged("mcpd: fault write.before-commit: holding")  # in its transaction
        quick = threading.Thread(target=write, args=("quick", client))
        quick.start()
        if database_url.startswith("postgresql"):
            wait_until(lambda: not quick.is_alive() or waiting_for_a_lock(database_url))
        release.touch()
        for thread in (held, quick):
            thread.join(timeout=WAIT_TIMEOUT)
            assert not thread.is_alive(), "a write hung"
        slow.close()
        assert results == {"slow": 200, "quick": 200}

        status = quiet(client)
        in_sync(client)
        assert status["lastChange"] == baseline["lastChange"] + 2
        assert spec_of(client, "slow") == server("slow")["spec"]
        assert main_file(state, "servers/slow.yaml") == canonical(server("slow"))
        assert main_file(state, "servers/quick.yaml") == canonical(server("quick"))
        assert_history_clean(state)
