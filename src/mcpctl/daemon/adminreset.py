"""`mcpd admin-reset USER`: the local break-glass, run on the mcpd host, not over the API.

When nobody can act as an admin any more (the only admin's password is lost),
whoever can read mcpd's state dir and database makes USER an admin again
(`identity.breakglass.reset_admin`: the User if missing, the Rbac
`admin-reset-USER` granting every permission, a new password, the user's
sessions ended, an audit entry), as mcpd itself with the actor
`mcpd admin-reset`.

It opens what mcpd serves and creates nothing (`wiring.open_existing`), then
tries the state dir's lock (`statelock`), exclusive, to learn whether mcpd is
running (one mcpd on SQLite holds it exclusive, replicas on PostgreSQL share
it; the SQLite file's own lock it leaves alone, as it works beside mcpd):

- free (mcpd stopped): it holds the lock while it writes, then commits the
  write to the state repo itself (the exporter's catch-up), as mcpd would;
- held (mcpd running): it writes to the database only. mcpd's exporter is
  woken by its own writes, so the change is committed at mcpd's next write,
  or when it restarts; the command says so.

The new password is printed once, alone on stdout (`PW=$(mcpd admin-reset
admin)`); what was done and what to do next go to stderr. `main` calls
`admin_reset` with the settings of the subcommand.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from typing import TextIO

from mcpctl.access import SYSTEM
from mcpctl.daemon.settings import AdminResetSettings
from mcpctl.daemon.statelock import HeldLock, StateDirBusy, lock_state_dir
from mcpctl.daemon.wiring import ExistingState, open_existing
from mcpctl.identity.breakglass import reset_admin
from mcpctl.reconciler.leadership import Leadership

#: Who the write is by: mcpd itself, named for the command (audit entries, commit author).
ACTOR = "mcpd admin-reset"


async def admin_reset(
    settings: AdminResetSettings, out: TextIO | None = None, err: TextIO | None = None
) -> None:
    """Make `settings.user` an admin with a new password; print it on `out` (stdout)."""
    out = out or sys.stdout
    err = err or sys.stderr
    existing = await open_existing(settings.state_dir, settings.store)
    lock: HeldLock | None = None
    try:
        try:
            lock = lock_state_dir(settings.state_dir)
            busy = None
        except StateDirBusy as e:
            busy = e  # mcpd is running: it commits the change itself
        principal = dataclasses.replace(SYSTEM, actor=ACTOR)
        done = await reset_admin(existing.sessions, existing.objects, principal, settings.user)
        created = f"created User {done.user!r}; " if done.created_user else ""
        print(
            f"{created}Rbac {done.rbac!r} grants User {done.user!r} every permission; "
            "its sessions were logged out",
            file=err,
        )
        if not done.wrote:
            pass  # the User and the Rbac were there as they are: nothing to commit
        elif busy is None and await _lead(existing):
            try:
                await existing.replica.take_over([], "admin-reset")
                await existing.replica.catch_up()
                await existing.replica.publish()
            finally:
                if existing.replica.leadership is not None:
                    await existing.replica.leadership.release()
            head = (await existing.replica.status()).head
            print(f"committed to the state repo: main is at {head}", file=err)
        elif busy is None:  # another replica of the database leads: it commits
            print(
                "another mcpd replica on this database leads: it commits this change to the "
                "state repo at once",
                file=err,
            )
        else:
            when = (
                "the replica that leads commits this change to the state repo at once"
                if existing.engine.dialect.name == "postgresql"
                else "it commits this change to the state repo at its next write, or when it "
                "restarts"
            )
            print(f"mcpd is running ({busy.holder.holds(busy.path)}): {when}", file=err)
    finally:
        if lock is not None:
            lock.release()
        await existing.engine.dispose()
    print(
        f"the new password of {done.user!r} is shown only now: log in with "
        f"`mcpctl login SERVER --username {done.user}`, then choose your own with "
        "`mcpctl passwd`",
        file=err,
    )
    print(done.password, file=out)


async def _lead(existing: ExistingState) -> bool:
    """On PostgreSQL, lead the replicas of the database for the commit, if none does (the
    cluster's state repo is the leader's); on SQLite, this state dir's lock is enough."""
    if existing.engine.dialect.name != "postgresql":
        return True
    leadership = Leadership(existing.sessions, ACTOR, "")
    renewed: float | None = None
    while not await leadership.campaign():
        lease = leadership.lease
        assert lease is not None
        if renewed is not None and lease.renewed_at != renewed:
            return False  # a live replica renews it: it leads, and commits
        renewed = lease.renewed_at  # a lease left by a killed mcpd ends by itself: wait
        await asyncio.sleep(min(lease.remaining, 2.0) + 0.1)
    existing.replica.leadership = leadership
    existing.repo.fence = leadership.check
    return True
