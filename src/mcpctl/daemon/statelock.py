"""One process at a time on a state dir: the lock file `mcpd.lock` and the pid in it.

mcpd holds an advisory lock (`flock`, exclusive) on `mcpd.lock` in its state
dir for its whole life (`main.serve` takes it before anything else), with its
pid written in the file. A second mcpd on the same state dir is refused at
start, naming the lock file and the pid holding it: two processes moving one
state repo's `main` (each with its own replica lock) would break the
invariant. The kernel drops the lock when the process ends, however it ends,
so a stale file left by a killed mcpd locks nothing.

`mcpd admin-reset` (`adminreset`) tries the same lock to learn whether mcpd is
running: free, it holds it while it writes and commits the change itself;
held, it writes to the database only and leaves the commit to the running
mcpd.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from mcpctl.errors import BackendUnavailable, Conflict

#: The lock file's name in the state dir.
LOCK_FILE = "mcpd.lock"


class StateDirBusy(Conflict):
    """Another process holds the state dir's lock (`pid`, when it wrote one)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        holder = f"pid {pid}" if pid is not None else "another process"
        super().__init__(
            f"the state dir {path.parent} is in use: {holder} holds {path} (a running mcpd, "
            "or mcpd admin-reset); stop it first, or give another --state-dir"
        )
        self.path = path
        self.pid = pid


@dataclass
class StateLock:
    """The state dir's lock, held until `release` (or the process ends)."""

    path: Path
    _fd: int | None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops the lock
            self._fd = None


def lock_state_dir(state_dir: Path) -> StateLock:
    """Take the lock of `state_dir` (created 0700 if missing) and write this pid in it.

    Raises `StateDirBusy` naming the lock file and the pid holding it.
    """
    path = state_dir / LOCK_FILE
    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise BackendUnavailable(f"cannot open the lock file {path}: {e.strerror or e}") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(fd)
        os.close(fd)
        raise StateDirBusy(path, pid) from None
    except OSError as e:
        os.close(fd)
        raise BackendUnavailable(f"cannot lock {path}: {e.strerror or e}") from e
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return StateLock(path, fd)


def _read_pid(fd: int) -> int | None:
    """The pid the holder wrote (None if it has not written it yet, or wrote no number)."""
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None
