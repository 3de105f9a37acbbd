"""Process groups on Linux, read from /proc: who is in a group, how a process ended, ending a group.

The process driver (`runtime.process`) runs each instance as the leader of a
process group (and session) of its own, so that one `killpg` reaches the server
and everything it started. Whether a group still has members is read from
/proc, not asked with `killpg(pgid, 0)`: that probe also answers for zombies,
and the driver keeps its exited leader a zombie on purpose until the group is
gone (while the leader is not reaped, its pid, and so the group's id, cannot be
given to another process), and an init that does not reap (as in some
containers) keeps orphans' zombies forever.

A pid and its start time (`/proc/<pid>/stat` field 22, clock ticks since boot)
name one process for the whole boot: a reused pid has a later start time. The
records of `runtime.records` use them to find what a killed mcpd left.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: How long a group may take to go once it got SIGKILL before we say so and go on (a
#: process stuck in the kernel, in state D, does not die at once): a hang guard.
KILL_WAIT = 120.0

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class ProcStat:
    """The fields of `/proc/<pid>/stat` the driver reads."""

    pid: int
    #: R, S, D, T, Z (a zombie: exited, not reaped), X, ...
    state: str
    ppid: int
    pgrp: int
    session: int
    #: clock ticks after boot: with the pid, names the process for the whole boot
    start: int

    @property
    def live(self) -> bool:
        """Whether it still runs (a zombie has exited; only its exit status is left)."""
        return self.state not in ("Z", "X")


def read_stat(pid: int) -> ProcStat | None:
    """The process's /proc/<pid>/stat, or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces and ')':
    # the fields after it start at the last ')'.
    _, _, rest = data.rpartition(b")")
    fields = rest.split()
    try:
        return ProcStat(
            pid=pid,
            state=fields[0].decode("ascii", "replace"),
            ppid=int(fields[1]),
            pgrp=int(fields[2]),
            session=int(fields[3]),
            start=int(fields[19]),
        )
    except (IndexError, ValueError):
        return None


def boot_id() -> str:
    """This boot's id: records written under another boot name no live process."""
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


def is_running(pid: int, start: int) -> bool:
    """Whether the process `pid` that started at `start` is still running (not a zombie)."""
    stat = read_stat(pid)
    return stat is not None and stat.start == start and stat.live


def group_members(pgid: int, *, started_since: int = 0) -> list[int]:
    """The live processes of group `pgid` (zombies left out) that started no earlier than
    `started_since` (a group's members cannot be older than its leader)."""
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        stat = read_stat(int(name))
        if stat is not None and stat.pgrp == pgid and stat.live and stat.start >= started_since:
            members.append(stat.pid)
    return members


def describe_status(info: os.waitid_result | None) -> tuple[int | None, str]:
    """An exit status as (code, reason): "exited with 3" is code 3; "killed by signal 9" is
    code 137 (128 + the signal, as a shell and Docker say it)."""
    if info is None:
        return None, "exited (status unknown)"
    if info.si_code == os.CLD_EXITED:
        return info.si_status, f"exited with {info.si_status}"
    if info.si_code in (os.CLD_KILLED, os.CLD_DUMPED):
        dumped = " (core dumped)" if info.si_code == os.CLD_DUMPED else ""
        return 128 + info.si_status, f"killed by signal {info.si_status}{dumped}"
    return None, f"ended (code {info.si_code}, status {info.si_status})"


def describe_returncode(returncode: int | None) -> tuple[int | None, str]:
    """`describe_status` for a status already reaped (`Popen.returncode`: -N for signal N)."""
    if returncode is None:
        return None, "exited (status unknown)"
    if returncode < 0:
        return 128 - returncode, f"killed by signal {-returncode}"
    return returncode, f"exited with {returncode}"


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    # Never our own group, nor the groups 0 and 1 (killpg(0) is the caller's own group).
    if pgid <= 1 or pgid == os.getpgrp():
        raise ValueError(f"refusing to signal process group {pgid}")
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        # A member that changed its user (a setuid program) is out of reach: say so.
        log.warning("process group %d: not allowed to send %s to every member", pgid, sig.name)


async def _wait_empty(pgid: int, seconds: float, started_since: int) -> bool:
    """Poll until group `pgid` has no live member; False if it still has one after `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    pause = 0.01
    while True:
        if not await asyncio.to_thread(group_members, pgid, started_since=started_since):
            return True
        left = deadline - loop.time()
        if left <= 0:
            return False
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, 0.25)


async def end_group(pgid: int, grace: float, *, started_since: int = 0) -> bool:
    """End process group `pgid`: SIGTERM to every member, SIGKILL to those left after
    `grace` seconds; return once no member is left (True if there was one to end).

    The caller makes sure `pgid` is still the group it means: it holds the leader
    unreaped, or has checked the leader's start time (`runtime.records`)."""
    if not await asyncio.to_thread(group_members, pgid, started_since=started_since):
        return False
    _signal_group(pgid, signal.SIGTERM)
    if await _wait_empty(pgid, grace, started_since):
        return True
    log.info("process group %d: still there %.1f s after SIGTERM: SIGKILL", pgid, grace)
    _signal_group(pgid, signal.SIGKILL)
    if not await _wait_empty(pgid, KILL_WAIT, started_since):
        log.error("process group %d: still there %.0f s after SIGKILL", pgid, KILL_WAIT)
    return True
