"""Fault injection for crash-consistency tests: named points where mcpd can be made to die.

`MCPD_FAULTS` holds `point=action` pairs separated by commas; an action is
`kill` (SIGKILL this process: no cleanup, no flush, like a power cut),
`hold:FILE` (wait at the point until FILE exists, having said so on stderr:
a test opens a window, does what must happen inside it, and closes it by
creating the file, with no guess of how long anything takes) or
`sleep:SECONDS`. A point fires once per process. Unset (always, outside
tests), `fault()` is one dictionary lookup.

Points: `export.after-db` (a write committed, nothing exported yet),
`export.after-objects` (blobs, trees and the commit written, the ref not
moved), `export.after-ref` (the ref moved, the bookkeeping not yet written),
`import.after-db` (a push applied to the database, the ref not moved),
`restore.after-timeline` (a restore's timeline branch saved, the database untouched),
`restore.after-db` (a restore written to the database, no commit yet);
and, awaited without blocking mcpd, `export.delay` (the exporter waits before
exporting the next write: the window where the database holds a change that
`main` lacks, in which a push of the same object is a conflict) and
`write.before-commit` (an apply holds its transaction open, its changes
numbered but not committed, while other writes go on).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

ENV = "MCPD_FAULTS"
#: how often a held point looks for its file, in seconds
HOLD_POLL = 0.02


def _parse(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in text.split(","):
        point, sep, action = item.strip().partition("=")
        if sep:
            out[point.strip()] = action.strip()
    return out


_ARMED: dict[str, str] = _parse(os.environ.get(ENV, ""))


def fault(point: str) -> None:
    """Do what `MCPD_FAULTS` says for `point` (nothing when it says nothing)."""
    if not _ARMED:
        return
    action = _ARMED.pop(point, None)
    if action is None:
        return
    if action == "kill":
        sys.stderr.write(f"mcpd: fault {point}: kill -9\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    elif action.startswith("hold:"):
        release = _holding(point, action)
        while not os.path.exists(release):
            time.sleep(HOLD_POLL)
    elif action.startswith("sleep:"):
        time.sleep(float(action.removeprefix("sleep:")))


async def afault(point: str) -> None:
    """`fault` for a coroutine: a hold or sleep there lets the rest of mcpd run meanwhile."""
    if not _ARMED:
        return
    action = _ARMED.get(point)
    if action is not None and action.startswith("hold:"):
        _ARMED.pop(point)
        release = _holding(point, action)
        while not os.path.exists(release):
            await asyncio.sleep(HOLD_POLL)
        return
    if action is not None and action.startswith("sleep:"):
        _ARMED.pop(point)
        await asyncio.sleep(float(action.removeprefix("sleep:")))
        return
    fault(point)


def _holding(point: str, action: str) -> str:
    release = action.removeprefix("hold:")
    sys.stderr.write(f"mcpd: fault {point}: holding until {release} exists\n")
    sys.stderr.flush()
    return release
