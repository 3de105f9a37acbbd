"""The cluster's one state repo on every replica: fetched from the leader, aligned on takeover.

Several mcpd replicas on one database keep one history: the leader alone moves
`main` (and the timelines and their notes); a follower fetches them from the
leader (`fetch_from_replica`, at the `PEER_PATH` every replica serves,
authenticated by the cluster's replication secret) whenever the leader says
`main` moved, and a replica sharing the leader's state dir (a shared volume)
finds them there already. A replica taking over brings its `main` to the
cluster's (`align_main`) before it exports anything, fetching it from the old
leader or from any follower that has it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

import pygit2

from mcpctl.errors import BackendUnavailable
from mcpctl.staterepo.rendering import CHANGE_TRAILER
from mcpctl.staterepo.repo import BRANCH, StateRepo

#: Where every replica serves its own repo to the others (fetch only).
PEER_PATH = "/cluster/v1/state.git"
#: Where a fetch from the leader puts its refs (then `align_main` and `adopt_refs` decide).
CLUSTER_PREFIX = "refs/cluster/"
GIT_TIMEOUT = 300.0
#: Commits walked back from `main` at most to find the last change it holds.
TRAILER_WALK = 10_000

__all__ = [
    "CLUSTER_PREFIX",
    "PEER_PATH",
    "Alignment",
    "adopt_refs",
    "align_main",
    "fetch_from_replica",
    "last_change_in",
    "newest_export",
    "set_identity",
]


def fetch_from_replica(
    repo: StateRepo, url: str, secret: str, *, timeout: float = GIT_TIMEOUT
) -> None:
    """Fetch every branch and note of the replica at `url` (the leader, or any other, at
    its `PEER_PATH`) under `refs/cluster/` (the secret goes in a header through the
    environment, never argv)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": repo.repo.path,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Bearer {secret}",
        "LANG": "C.UTF-8",
    }
    command = [
        "git",
        "--git-dir",
        repo.repo.path,
        "fetch",
        "--no-tags",
        "--quiet",
        "--prune",
        "--",
        f"{url.rstrip('/')}{PEER_PATH}",
        f"+refs/heads/*:{CLUSTER_PREFIX}heads/*",
        f"+refs/notes/*:{CLUSTER_PREFIX}notes/*",
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        raise BackendUnavailable(f"fetch from the replica at {url}: no answer") from None
    if done.returncode != 0:
        message = done.stderr.strip().replace(secret, "***")[-500:]
        raise BackendUnavailable(f"fetch from the replica at {url} failed: {message}")


def last_change_in(repo: StateRepo, commit: pygit2.Oid | None = None) -> int | None:
    """The last change (`Mcpctl-Change` trailer) `main` (or `commit`) holds, walking back
    its first parents (None: none within `TRAILER_WALK` commits)."""
    head = repo.head() if commit is None else repo.repo[commit].peel(pygit2.Commit)
    for _ in range(TRAILER_WALK):
        if head is None:
            return None
        for line in reversed(head.message.splitlines()):
            key, colon, value = line.partition(":")
            if colon and key == CHANGE_TRAILER and value.strip().isdigit():
                return int(value.strip())
        head = head.parents[0] if head.parents else None
    return None


@dataclass(frozen=True)
class Alignment:
    """What `align_main` did: `main` before and after, and what it kept aside."""

    before: str | None
    after: str | None
    #: "same", "forward" (moved to the cluster's), "ahead" (kept: it holds the cluster's),
    #: "diverged" (moved; the old head kept under `refs/heads/timelines/`), "missing"
    #: (the cluster's commit is nowhere here: kept).
    how: str
    kept: str | None = None


def align_main(repo: StateRepo, cluster: str, timeline: str, *, fenced: bool = True) -> Alignment:
    """Bring `main` to the cluster's commit `cluster` when this repo has it: forward when
    `main` is behind, as it is when `main` holds it already; when they diverged (a
    leader's commits that never reached the others), `main`'s head is kept as the
    branch `timelines/<timeline>` and `main` moves to the cluster's."""
    r = repo.repo
    head = repo.head()
    before = str(head.id) if head is not None else None
    try:
        target = r[cluster].peel(pygit2.Commit)
    except (KeyError, ValueError):
        return Alignment(before, before, "missing")
    if head is None:
        repo.move_main(target.id, None, "the cluster's main", fenced=fenced)
        return Alignment(before, cluster, "forward")
    if head.id == target.id:
        return Alignment(before, before, "same")
    if r.descendant_of(head.id, target.id):
        return Alignment(before, before, "ahead")
    kept = None
    if not r.descendant_of(target.id, head.id) and _holds_objects(head):
        kept = f"refs/heads/timelines/{timeline}"
        r.references.create(kept, head.id, force=True)
    repo.move_main(target.id, head.id, "align with the cluster's main", fenced=fenced)
    return Alignment(before, cluster, "diverged" if kept else "forward", kept)


def newest_export(repo: StateRepo, ref: str) -> str | None:
    """The newest commit on `ref`'s first parents that mcpd's exporter made (it carries a
    `Mcpctl-Change` trailer) and that holds `main` (None: none such within the walk).

    A leader taking over whose repo lacks the cluster's last commit takes the remote's
    `main` this far: what the old leader pushed, without the commits someone else made
    there since, which the mirror then imports as it would any."""
    r = repo.repo
    try:
        commit: pygit2.Commit | None = r.references[ref].peel(pygit2.Commit)
    except (KeyError, ValueError):
        return None
    head = repo.head()
    for _ in range(TRAILER_WALK):
        if commit is None:
            return None
        if head is not None and not (commit.id == head.id or r.descendant_of(commit.id, head.id)):
            return None  # not ahead of main: nothing to take
        if any(line.startswith(f"{CHANGE_TRAILER}:") for line in commit.message.splitlines()):
            return str(commit.id)
        commit = commit.parents[0] if commit.parents else None
    return None


def _holds_objects(commit: pygit2.Commit) -> bool:
    """Whether `commit` holds any object (a repo's first commit holds the README only:
    nothing worth keeping when it gives way to the cluster's)."""
    return any(entry.type_str == "tree" for entry in commit.tree)


def adopt_refs(repo: StateRepo) -> None:
    """Take the leader's timelines and notes fetched under `refs/cluster/` as this repo's
    own (`main` is `align_main`'s)."""
    r = repo.repo
    for name in list(r.references):
        if not name.startswith(CLUSTER_PREFIX):
            continue
        local = "refs/" + name[len(CLUSTER_PREFIX) :]
        if local == f"refs/heads/{BRANCH}":
            continue
        target = r.references[name].target
        current = r.references.get(local)
        if current is None or current.target != target:
            r.references.create(local, target, force=True)


def set_identity(repo: StateRepo, identity: str) -> None:
    """Make this repo the cluster's (`StateRepo.identity`): a replica that joined."""
    repo.repo.config["mcpd.repoid"] = identity
