"""The locks mcpd holds for its whole life: its state dir's (`mcpd.lock`), and its SQLite file's.

Both are advisory locks (`flock`) on a file, taken without waiting by
`main.serve` before the database is opened; the kernel drops them when the
process ends, however it ends, so a stale file left by a killed mcpd locks
nothing. An exclusive holder writes its pid in the file, so that the one
refused can name it.

- **The state dir** (`lock_state_dir`, the file `mcpd.lock`). On SQLite mcpd
  takes it exclusive: a second mcpd on the same state dir is refused at start,
  naming the lock file and the pid holding it. On PostgreSQL it takes it
  shared: replicas of one database may share a state dir (a shared volume),
  but an mcpd on SQLite may not join them, nor they it. Shared holders write no
  pid (they may be many, on other hosts of the volume): the refused one says
  that mcpd replicas on PostgreSQL share it.
- **The SQLite file** (`lock_database_file`, the file `<database>.lock` beside
  it), always exclusive: SQLite serves one mcpd, so a second one on the same
  file is refused even with a state dir of its own, naming the database and
  the pid. (A lock file of its own rather than a `flock` on the database:
  where `flock` is emulated with POSIX locks, on NFS, it would meet SQLite's
  own locks.)

`mcpd admin-reset` (`adminreset`) tries the state dir's lock, exclusive, to
learn whether mcpd is running: free, it holds it while it writes and commits
the change itself; held, it writes to the database only and leaves the commit
to the running mcpd. It never takes the SQLite file's lock: it opens the
database beside a running mcpd by design.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from mcpctl.errors import BackendUnavailable, Conflict

#: The lock file's name in the state dir.
LOCK_FILE = "mcpd.lock"
#: The lock file of a SQLite database: its path with this added.
DATABASE_LOCK_SUFFIX = ".lock"


@dataclass(frozen=True)
class Holder:
    """Who holds a lock that was refused: the pid an exclusive holder wrote (None if it
    has not written it yet), or holders that share it."""

    pid: int | None = None
    shared: bool = False

    def holds(self, path: Path) -> str:
        """`pid N holds PATH`, and the like."""
        if self.shared:
            return f"mcpd replicas on PostgreSQL share {path}"
        holder = f"pid {self.pid}" if self.pid is not None else "another process"
        return f"{holder} holds {path}"


class StateDirBusy(Conflict):
    """Another process holds the state dir's lock (see `holder`)."""

    def __init__(self, path: Path, holder: Holder) -> None:
        if holder.shared:
            why = "; only mcpd on PostgreSQL may share a state dir: stop them first"
        else:
            why = " (a running mcpd, or mcpd admin-reset); stop it first"
        super().__init__(
            f"the state dir {path.parent} is in use: {holder.holds(path)}{why}, "
            "or give another --state-dir"
        )
        self.path = path
        self.holder = holder

    @property
    def pid(self) -> int | None:
        return self.holder.pid


class DatabaseBusy(Conflict):
    """Another process holds the lock of the SQLite file `database` (see `holder`)."""

    def __init__(self, database: Path, path: Path, holder: Holder) -> None:
        super().__init__(
            f"the database {database} is in use: {holder.holds(path)} (a running mcpd); "
            "SQLite serves one mcpd: stop it first, give another --database-url, or run "
            "replicas on PostgreSQL"
        )
        self.database = database
        self.path = path
        self.holder = holder


@dataclass
class HeldLock:
    """A lock this process holds, until `release` (or the process ends); a context manager
    releasing it at the end."""

    path: Path
    _fd: int | None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops the lock
            self._fd = None

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.release()


def lock_state_dir(state_dir: Path, *, shared: bool = False) -> HeldLock:
    """Take the lock of `state_dir` (created 0700 if missing): exclusive, writing this pid
    in it, or `shared` (mcpd on PostgreSQL).

    Raises `StateDirBusy` naming the lock file and who holds it.
    """
    path = state_dir / LOCK_FILE
    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as e:
        raise BackendUnavailable(f"cannot open the lock file {path}: {e.strerror or e}") from e
    taken = _take(path, shared=shared)
    if isinstance(taken, Holder):
        raise StateDirBusy(path, taken)
    return taken


def lock_database_file(database: Path) -> HeldLock:
    """Take the lock of the SQLite file `database` (`<database>.lock`), exclusive.

    Raises `DatabaseBusy` naming the database and the pid holding it.
    """
    path = database.with_name(database.name + DATABASE_LOCK_SUFFIX)
    taken = _take(path, shared=False)
    if isinstance(taken, Holder):
        raise DatabaseBusy(database, path, taken)
    return taken


def _take(path: Path, *, shared: bool) -> HeldLock | Holder:
    """The lock on `path` (created 0600), without waiting; who holds it if refused."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise BackendUnavailable(f"cannot open the lock file {path}: {e.strerror or e}") from e
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        return holder
    except OSError as e:
        os.close(fd)
        raise BackendUnavailable(f"cannot lock {path}: {e.strerror or e}") from e
    # no exclusive holder is left now: whatever pid the file names is stale
    os.ftruncate(fd, 0)
    if not shared:
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return HeldLock(path, fd)


def _holder(fd: int) -> Holder:
    """Who holds the lock of `fd`, which this process was just refused."""
    pid = _read_pid(fd)
    if pid is not None:
        return Holder(pid)
    try:  # no pid written: shared holders let another one in
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return Holder()  # an exclusive holder that has not written its pid yet
    return Holder(shared=True)  # released when the caller closes `fd`


def _read_pid(fd: int) -> int | None:
    """The pid the holder wrote (None if it has not written it yet, or wrote no number)."""
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None
