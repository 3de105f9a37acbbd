"""Contention in the state repo: another writer got there first. Expected, so typed.

mcpd is not the state repo's only writer. git's own processes write it too:
`receive-pack` for a push, the mirror's `fetch` (into `refs/mirror/main`),
`gc` packing refs in the background (`StateRepo.maintain`), and whatever an
operator runs. Each takes a lock file while it writes (`refs/heads/main.lock`,
`packed-refs.lock`, `config.lock`), and `main` may move between the moment a
commit is built on it and the compare-and-swap that moves it
(`StateRepo.move_main`). libgit2 and git report both as failures; here they
become `LockHeld` and `RefMoved`, both `errors.Contention`, which the
reconciler's loops and requests retry and count instead of logging a
traceback (docs/architecture.md, "mcpd start and stop order").

`StateRepo`, `timelines` and `remote` raise them where they write refs; callers
never parse libgit2's or git's messages themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pygit2

from mcpctl.errors import BackendUnavailable, Contention


class RefMoved(Contention):
    """A ref moved between the read a commit was built on and the compare-and-swap."""


class LockHeld(Contention):
    """Another process holds the lock file of what this one writes (a ref, packed refs, the
    config): it writes it now."""


#: How libgit2 says a lock file exists ("failed to lock file '...main.lock' for writing")
#: and how git does ("Unable to create '...main.lock': File exists."). Not any "cannot
#: lock ref": git says that of a name clash too ("'refs/x' exists"), which no retry fixes.
_LOCKED = re.compile(r"failed to lock file|\.lock'?: File exists", re.IGNORECASE)
#: How libgit2 says a compare-and-swap of a ref failed, and how git does.
_MOVED = re.compile(r"old reference value does not match|is at \S+ but expected", re.IGNORECASE)


def contention_in(message: str, what: str) -> Contention | None:
    """The contention a failure's `message` (from libgit2 or git) tells of, if any, saying
    `what` failed and the line that tells (not git's advice about editors that follows)."""
    for line in message.splitlines():
        if _MOVED.search(line):
            return RefMoved(f"{what}: {line.strip()}")
        if _LOCKED.search(line):
            return LockHeld(f"{what}: {line.strip()}")
    return None


@contextmanager
def writing(what: str) -> Iterator[None]:
    """Write to the state repo (`what`: for the message), turning libgit2's failures into
    mcpctl's errors: a lock file held into `LockHeld`, a ref moved into `RefMoved`,
    anything else into `BackendUnavailable`.

    libgit2 raises a held lock as `OSError` (its error class is the OS's), other
    failures as `pygit2.GitError`; both are caught here, no other `OSError` is
    swallowed into a contention.
    """
    try:
        yield
    except (pygit2.GitError, OSError) as e:
        contention = contention_in(str(e), what)
        if contention is not None:
            raise contention from e
        if isinstance(e, pygit2.GitError):
            raise BackendUnavailable(f"{what}: {e}") from e
        raise
