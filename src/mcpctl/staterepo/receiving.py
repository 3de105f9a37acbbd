"""The state repo as a push reaches it: receive settings, and the pushed objects in quarantine.

mcpd's git endpoint (`api.githttp`) lets git's `receive-pack` store pushes;
`configure_receiving` sets the repo up for it at every start. While the
pre-receive hook runs, the pushed objects sit in a quarantine directory that
git names to the hook: `open_with_pushed` opens the repo with them visible, so
the pushed commit can be judged (`main_target`, `merging.commit_at`,
`merging.descends_from`) and imported before git stores anything.
"""

from __future__ import annotations

from pathlib import Path

import pygit2

from mcpctl.staterepo.repo import REF

#: Milliseconds git's own processes (receive-pack moving main, gc packing refs) wait for a
#: ref's lock file that another writer holds, instead of git's 100 (contention.py).
REF_LOCK_TIMEOUT = 1000


def configure_receiving(repo_path: Path) -> None:
    """Refuse non-fast-forwards and deletions, check every object, log every ref update,
    and let git wait a moment for a ref lock held by another writer."""
    config = pygit2.Repository(str(repo_path)).config
    config["receive.denyNonFastForwards"] = True
    config["receive.denyDeletes"] = True
    config["receive.fsckObjects"] = True
    config["core.logAllRefUpdates"] = True
    config["core.filesRefLockTimeout"] = REF_LOCK_TIMEOUT


def open_with_pushed(repo_path: Path, objects: str) -> pygit2.Repository:
    """The repo at `repo_path`, also reading the objects of a push still in `objects`."""
    repo = pygit2.Repository(str(repo_path))
    repo.odb.add_disk_alternate(objects)
    return repo


def main_target(repo: pygit2.Repository) -> str | None:
    """The id `main` points at (None: no `main` yet)."""
    return str(repo.references[REF].target) if REF in repo.references else None
