"""The leader's lease: which mcpd replica runs the loops that must run once, and its term.

One row (`LeaseRow`, named `leader`) says who holds the lease, where it serves,
its term and when it ends. Every time is the database's own clock
(`clock_timestamp()`), so no replica's clock decides who leads. The holder
renews it before it ends (`campaign`); another replica takes it over only once
it has ended, raising the term. The term is the fencing token: every effect of
the leader's loops checks it inside the transaction that makes the effect
(`fence`), so a leader that was deposed while it slept (a pause, a stall, a
partition) changes nothing when it wakes up.

The fence is a shared advisory lock plus a read of the row: a takeover takes the
same advisory lock exclusively before it raises the term, so it waits for the
old leader's fenced transactions in flight, and every later one sees the new
term and is refused (`Deposed`). A fenced transaction also sets
`idle_in_transaction_session_timeout`, so a leader stopped in the middle of
one (SIGSTOP) is cut off by PostgreSQL, its transaction rolled back, and the
takeover goes on. Renewals touch the row only, never the advisory lock: a long
import does not delay them.

PostgreSQL only: on SQLite there is one replica (the database file is locked
by its mcpd), which leads always, without a lease.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from mcpctl.errors import BackendUnavailable, Deposed
from mcpctl.store.tables import LeaseRow
from mcpctl.store.writes import Session

#: The lease of the replica that runs the loops that must run once.
LEADER = "leader"
#: The advisory lock of the fence: shared by fenced transactions, exclusive for a takeover.
FENCE_LOCK = 0x6D6370_6C65_6164  # "mcpclead"

__all__ = ["FENCE_LOCK", "LEADER", "Lease", "campaign", "fence", "read_lease", "release"]


@dataclass(frozen=True)
class Lease:
    """The lease as the database has it, and the database's time when it was read."""

    holder: str
    url: str
    term: int
    acquired_at: float
    renewed_at: float
    expires_at: float
    now: float

    @property
    def replica(self) -> str:
        """The holding replica's name (the holder is `name#incarnation`)."""
        return self.holder.partition("#")[0]

    @property
    def held(self) -> bool:
        """Someone holds it (it has not ended)."""
        return bool(self.holder) and self.expires_at > self.now

    def held_by(self, holder: str) -> bool:
        return self.held and self.holder == holder

    @property
    def remaining(self) -> float:
        """Seconds until it ends (0: ended)."""
        return max(0.0, self.expires_at - self.now) if self.holder else 0.0


async def _now(session: Session) -> float:
    return float(await session.scalar(text("SELECT extract(epoch from clock_timestamp())")) or 0)


def _lease(row: LeaseRow, now: float) -> Lease:
    return Lease(
        row.holder, row.url, row.term, row.acquired_at, row.renewed_at, row.expires_at, now
    )


async def read_lease(session: Session) -> Lease | None:
    """The lease now (None: no such row, a database before the lease's migration)."""
    row = await session.get(LeaseRow, LEADER, populate_existing=True)
    if row is None:
        return None
    return _lease(row, await _now(session))


async def campaign(
    session: Session, holder: str, url: str, seconds: float, *, preempt: str | None = None
) -> Lease:
    """Renew the lease if `holder` holds it (even once ended, if nobody took it meanwhile),
    take it over if it has ended (or if `preempt` holds it: an earlier process of this
    replica, known to be gone), else leave it:
    the lease as it is afterwards (in the caller's transaction, which must commit).

    A takeover raises the term once the old holder's fenced transactions are done.
    Raises `BackendUnavailable` when the row stays locked (a takeover waiting on a
    fence): the caller tries again at its next round.
    """
    try:
        await session.execute(text("SET LOCAL lock_timeout = '2s'"))
        # a holder paused inside this transaction would keep the row locked for ever
        idle = max(1000, int(seconds * 1000))
        await session.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = {idle}"))
        row = await session.scalar(
            select(LeaseRow).where(LeaseRow.name == LEADER).with_for_update()
        )
        if row is None:
            raise BackendUnavailable("the database has no lease row: run mcpd's migrations")
        await session.refresh(row)
        now = await _now(session)
        if row.holder == holder:
            # renewed, even late: nobody held it in between, so the term goes on (and its
            # fenced transactions in flight, this replica's own, are not waited for)
            row.renewed_at, row.expires_at = now, now + seconds
        elif not row.holder or row.expires_at <= now or row.holder == preempt:
            # wait for the old term's fenced transactions, then start a new term
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FENCE_LOCK})
            now = await _now(session)
            row.holder, row.url, row.term = holder, url, row.term + 1
            row.acquired_at = row.renewed_at = now
            row.expires_at = now + seconds
        await session.flush()
        return _lease(row, now)
    except DBAPIError as e:
        raise BackendUnavailable(f"the lease is busy: {e.orig or e}") from None


async def fence(session: Session, holder: str, term: int, *, idle_seconds: float) -> None:
    """Refuse (`Deposed`) unless `holder` holds the lease in `term`, and keep the term from
    changing until this transaction ends (see the module's docstring)."""
    await session.execute(
        text(f"SET LOCAL idle_in_transaction_session_timeout = {max(1, int(idle_seconds * 1000))}")
    )
    await session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": FENCE_LOCK})
    row = await session.get(LeaseRow, LEADER, populate_existing=True)
    now = await _now(session)
    if row is None or row.holder != holder or row.term != term or row.expires_at <= now:
        current = f"term {row.term}, held by {row.holder or 'nobody'}" if row else "no lease"
        raise Deposed(f"this replica's term {term} as leader is over ({current})")


async def release(session: Session, holder: str, term: int) -> None:
    """End the lease now if `holder` holds it in `term` (a replica stopping): a follower
    takes over at once instead of waiting for it to end."""
    await session.execute(
        update(LeaseRow)
        .where(LeaseRow.name == LEADER, LeaseRow.holder == holder, LeaseRow.term == term)
        .values(expires_at=0.0)
    )
