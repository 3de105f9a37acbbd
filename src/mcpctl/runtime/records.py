"""The process driver's records: what it started, so that the next mcpd ends what a killed one left.

The death signal (`setpriv --pdeathsig KILL`) ends each server the moment mcpd
dies, however it dies, but only the server itself: processes the server started
(its group's other members) are orphaned and live on. So every driver keeps a
records file under the state dir, `process-records/<node>.<pid>.<token>.json`
(one per driver: several share a state dir without writing each other's file),
rewritten atomically (a temporary file, then a rename) with mode 0600 at every
start, end and forget, and removed once it holds nothing:

    {"node": ..., "boot": ..., "writer": {"pid": ..., "start": ...},
     "instances": [{"instance", "server", "generation", "owner", "pid", "pgid",
                    "start", "ended"}, ...]}

It is not synced to disk: it only matters after mcpd was killed while the
machine ran on (a crash of the machine ends every process anyway), and the
page cache outlives a killed process.

`end_orphans` reads the files of drivers that are gone (their writer's pid and
start time no longer name a running process), written on this node in this
boot, and ends each recorded group that still has live members: the leader if
it runs with its recorded start time, else the members that started no earlier
than it (a pid is not reused while a group of that id has members). Then it
removes those instances' directories (their logs, their home) and the file.
Files of another node (a state dir shared between hosts) are left alone; files
of an earlier boot are cleared, their processes having died with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mcpctl.runtime.groups import boot_id, end_group, is_running, read_stat

log = logging.getLogger(__name__)

#: What an instance's name may be, so that it is one safe path component (its directory).
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")


def is_safe_name(name: str) -> bool:
    """Whether `name` can name an instance's directory (no '/', no '..', not hidden)."""
    return bool(_SAFE_NAME.match(name)) and ".." not in name


@dataclass(frozen=True)
class Record:
    """One started instance, as its records file holds it."""

    instance: str
    server: str
    generation: int
    owner: str
    pid: int
    #: the instance's process group (its leader's pid: each instance is a session leader)
    pgid: int
    #: the leader's start time (clock ticks after boot): a reused pid does not match it
    start: int
    #: its group is known to be gone: nothing of it is left to end
    ended: bool = False


def _own_start() -> int:
    stat = read_stat(os.getpid())
    return stat.start if stat is not None else 0


class RecordsFile:
    """One driver's records file. Created at the first `write`, removed when empty."""

    def __init__(self, directory: Path, node: str) -> None:
        self.directory = directory
        self.node = node
        self.pid = os.getpid()
        self.start = _own_start()
        self.boot = boot_id()
        token = secrets.token_hex(4)
        self.path = directory / f"{quote(node, safe='')}.{self.pid}.{token}.json"

    def write(self, records: Iterable[Record]) -> None:
        """Replace the file's content with `records` (atomically), or remove it if none."""
        entries = [dict(vars(r)) for r in records]
        if not entries:
            self.remove()
            return
        content = {
            "node": self.node,
            "boot": self.boot,
            "writer": {"pid": self.pid, "start": self.start},
            "instances": entries,
        }
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(content, f)
        os.replace(temporary, self.path)

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _read(path: Path) -> dict[str, Any] | None:
    try:
        content = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return content if isinstance(content, dict) else None


def _records(content: dict[str, Any]) -> list[Record]:
    records = []
    for entry in content.get("instances", []):
        try:
            record = Record(**entry)
        except TypeError:
            continue
        # Never a group id that kill would read as "every process" or "my own group", nor
        # a name that would lead out of the instances' directory.
        numbers = (record.pid, record.pgid, record.start)
        if (
            all(isinstance(n, int) for n in numbers)
            and record.pgid > 1
            and record.pid > 1
            and isinstance(record.instance, str)
            and is_safe_name(record.instance)
        ):
            records.append(record)
    return records


async def _end(record: Record, grace: float) -> bool:
    """End what is left of the recorded instance's group; True if anything was."""
    if record.ended:
        return False
    leader = read_stat(record.pid)
    if leader is not None and leader.start != record.start:
        # The pid was given to another process: the old group emptied before that.
        return False
    return await end_group(record.pgid, grace, started_since=record.start)


async def end_orphans(
    directory: Path, *, node: str, instances: Path, grace: float, own: Path | None = None
) -> list[str]:
    """End what drivers that are gone recorded in `directory` (see the module's docstring);
    the names of the instances that had processes left."""
    if not directory.is_dir():
        return []
    boot = boot_id()
    ended: list[str] = []
    for path in sorted(directory.glob("*.json")):
        if path == own:
            continue
        content = _read(path)
        if content is None:
            log.warning("%s: not a records file: removed", path)
            path.unlink(missing_ok=True)
            continue
        if content.get("node") != node:
            continue
        writer = content.get("writer") or {}
        records = _records(content)
        if content.get("boot") == boot:
            pid, start = writer.get("pid"), writer.get("start")
            if isinstance(pid, int) and isinstance(start, int) and is_running(pid, start):
                continue  # a live driver's own records
            results = await asyncio.gather(*(_end(r, grace) for r in records))
            for record, had_processes in zip(records, results, strict=True):
                if had_processes:
                    ended.append(record.instance)
                    log.warning(
                        "ended instance %s (server %s, process group %d) left running by "
                        "mcpd process %s",
                        record.instance,
                        record.server,
                        record.pgid,
                        pid,
                    )
        for record in records:
            await asyncio.to_thread(shutil.rmtree, instances / record.instance, True)
        path.unlink(missing_ok=True)
    return ended
