"""The state dir kept private: the process umask, and the check of the dir at start.

The state dir holds the database (SQLite's file, its WAL and shared memory),
the state repo, the sealing key, the deploy key, the admin's initial password
and a CLI context holding a session token. None of it is for other users.

`make_private` is called by `main` first thing, before anything is created:
the umask 077 makes every file mcpd (SQLite, pygit2, the git and ssh
processes it starts) creates 0600 or stricter and every directory 0700,
whatever the mode of the directory it lands in. `open_state_dir` is called by
`main.serve` before anything is created in the dir (its lock included): it creates a missing dir
0700, refuses one that others may write to (they could replace the database,
the repo or the keys), and warns, naming the fix, about one that others may
read or enter (what mcpd creates stays private, but files put there by hand
or by an older mcpd may not be). mcpd does not change the dir's mode itself:
whoever made it open may have meant to.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from mcpctl.errors import InvalidInput

log = logging.getLogger("mcpd")

#: what mcpd creates: no permission for the group or others
PRIVATE_UMASK = 0o077


def make_private() -> None:
    """Give this process (and the processes it starts) the umask 077."""
    os.umask(PRIVATE_UMASK)


def open_state_dir(path: Path) -> None:
    """Create the state dir 0700 if missing; refuse or warn about one others can reach."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as e:
        raise InvalidInput(f"the state dir {path}: {e.strerror or e}") from e
    fix = f"chmod 700 {path}"
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise InvalidInput(
            f"the state dir {path} is writable by other users (mode {mode:04o}): they could "
            f"replace the database, the state repo or the keys; run `{fix}` and start again"
        )
    if mode & 0o077:
        log.warning(
            "the state dir %s is open to other users (mode %04o): what mcpd creates in it is "
            "private, but files put there otherwise may not be; run `%s`",
            path,
            mode,
            fix,
        )
