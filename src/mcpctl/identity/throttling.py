"""Login throttling: failed logins per user name and per client address, slowed, then refused.

Guessing passwords over `POST /api/v1/auth/login` costs an attacker one request
and mcpd one argon2 hash each. `IdentityService.login` therefore asks
`admit_login` first: an attempt on a blocked key is refused with `Throttled`
(429 with `Retry-After` at the API) before any argon2 work, and audited.

Every attempt is counted under two keys: the user name tried (whether or not
such a user exists: no enumeration) and the client's address. Per key, the
usual exponential back-off (`ThrottleSchedule`): a few failures in a row are
free, and each further failure blocks the key for a delay that doubles, from
`first` up to `cap`:

- a user name's cap is short (a minute by default): an attacker can slow a
  real user's logins down but not lock them out for long. An address gets more
  free failures and a long cap (15 minutes): one client trying many names;
- a success resets its user name's key, and takes off its address' key the
  failures made there against that same name (a typo, then the right password,
  leaves no trace), but not the others: an insider logging in as themself
  does not clear the failures they made against other names;
- past its free failures a key lets one attempt through at a time: concurrent
  attempts would otherwise all pass the check before the first one failed;
- a key quiet for long enough (`ThrottleSchedule.forget_after`) is forgotten;
  at most `ThrottleSettings.max_keys` keys are kept, the least recently used
  evicted first;
- refused attempts are audited once per key and refusal period, not one by
  one: a flood of cheap refusals must not become a flood of database writes.

The address is the ASGI peer (`request.client.host`). uvicorn takes it from
`X-Forwarded-For` when the peer is a proxy it trusts (loopback by default,
`FORWARDED_ALLOW_IPS` otherwise); behind any other reverse proxy every client
shares the proxy's address, and the address key throttles them together. IPv6
addresses count by their /64 network, which one client usually holds whole.

The state is in memory, per process: a restart forgets it, and with several
replicas each counts the attempts it serves (an attacker spread over N
replicas gets N times the attempts). The daemon's wiring builds one
`LoginThrottle` from its settings and hands it to `IdentityService`; the
methods are synchronous and run on the event loop, so no lock is needed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

from mcpctl.access.audit import record_audit_apart
from mcpctl.errors import McpctlError
from mcpctl.store import Sessions

log = logging.getLogger(__name__)

#: Which key refused an attempt: the user name tried, or the client's address.
Limit = Literal["user", "address"]
Key = tuple[Limit, str]

#: The wait a refusal asks for while another attempt on the key is still being checked.
BUSY_WAIT = 1.0
#: A key is never forgotten sooner than this after its last failure.
MIN_QUIET = 15 * 60.0
#: Per address, the user names whose failures a success can take back.
NAMES_PER_ADDRESS = 16
#: Longer user names (no user has one) are kept as their SHA-256.
LONGEST_NAME = 64


@dataclass(frozen=True)
class ThrottleSchedule:
    """The back-off of one kind of key: `free` failures in a row cost nothing; after
    the n-th failure past them the key is blocked for `first * 2**n` seconds, at most
    `cap`. A `first` or `cap` of 0 turns this kind of key off."""

    free: int
    first: float
    cap: float

    def __post_init__(self) -> None:
        if self.free < 0 or self.first < 0 or self.cap < self.first:
            raise ValueError("a throttle needs free >= 0 and 0 <= first <= cap")

    @property
    def enabled(self) -> bool:
        return self.first > 0 and self.cap > 0

    def delay(self, failures: int) -> float:
        """How long a key is blocked after its `failures`-th failure in a row."""
        if not self.enabled or failures < self.free:
            return 0.0
        return min(self.first * 2.0 ** min(failures - self.free, 64), self.cap)

    @property
    def forget_after(self) -> float:
        """How long after its last failure a key is forgotten (never while blocked)."""
        return max(MIN_QUIET, 4 * self.cap)

    def __str__(self) -> str:
        return f"{self.free},{self.first:g},{self.cap:g}"


@dataclass(frozen=True)
class ThrottleSettings:
    """The schedules of user-name keys and address keys, and how many keys to keep."""

    user: ThrottleSchedule = ThrottleSchedule(free=5, first=1.0, cap=60.0)
    address: ThrottleSchedule = ThrottleSchedule(free=20, first=1.0, cap=15 * 60.0)
    #: at most this many keys are tracked (from a few hundred bytes to a few kilobytes each)
    max_keys: int = 10_000


class Throttled(McpctlError):
    """Too many failed logins for a user name or from an address: retry after a while."""

    def __init__(self, limit: Limit, retry_after: float, *, report: bool = True) -> None:
        self.limit: Limit = limit
        #: whole seconds to wait, at least 1 (what `Retry-After` says)
        self.retry_after = max(1, math.ceil(retry_after))
        #: whether this refusal is the first of its period (the one audited)
        self.report = report
        whose = "this user name" if limit == "user" else "this client address"
        super().__init__(f"too many failed logins for {whose}: try again in {self.retry_after} s")


@dataclass
class _Record:
    """What is known of one key."""

    failures: int = 0
    last_failure: float = 0.0
    #: attempts admitted and not yet settled
    in_flight: int = 0
    #: refusals before this time are not audited again
    reported_until: float = 0.0
    #: address keys: failures by user name (a success takes its own back)
    by_name: dict[str, int] = field(default_factory=dict)


class LoginThrottle:
    """Failed logins per key, in memory; `clock` (monotonic seconds) is injected for tests."""

    def __init__(
        self,
        settings: ThrottleSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or ThrottleSettings()
        self.clock = clock
        self._records: OrderedDict[Key, _Record] = OrderedDict()

    @property
    def tracked(self) -> int:
        """How many keys are tracked."""
        return len(self._records)

    def admit(self, username: str, address: str | None) -> LoginAttempt:
        """Let an attempt through (settle it with the answer), or raise `Throttled`."""
        now = self.clock()
        name = name_key(username)
        keys: list[Key] = []
        if self.settings.user.enabled:
            keys.append(("user", name))
        if address and self.settings.address.enabled:
            keys.append(("address", address_key(address)))
        refusals = [(key, wait) for key in keys if (wait := self._wait(key, now)) > 0]
        if refusals:
            report = False
            for key, wait in refusals:
                record = self._records[key]
                if now >= record.reported_until:
                    report = True
                    record.reported_until = now + wait
            (limit, _), wait = max(refusals, key=lambda refusal: refusal[1])
            raise Throttled(limit, wait, report=report)
        for key in keys:
            self._touch(key).in_flight += 1
        return LoginAttempt(self, keys, name)

    def _schedule(self, key: Key) -> ThrottleSchedule:
        return self.settings.user if key[0] == "user" else self.settings.address

    def _wait(self, key: Key, now: float) -> float:
        """How long `key` refuses attempts from `now` (0: not at all)."""
        record = self._records.get(key)
        if record is None:
            return 0.0
        schedule = self._schedule(key)
        if record.in_flight == 0 and now - record.last_failure >= schedule.forget_after:
            del self._records[key]
            return 0.0
        self._records.move_to_end(key)
        if record.failures + record.in_flight < schedule.free:
            return 0.0
        wait = record.last_failure + schedule.delay(record.failures) - now
        if record.in_flight:
            wait = max(wait, BUSY_WAIT)
        return max(wait, 0.0)

    def _touch(self, key: Key) -> _Record:
        """The record of `key`, made the most recently used (created if new)."""
        record = self._records.get(key)
        if record is not None:
            self._records.move_to_end(key)
            return record
        while len(self._records) >= self.settings.max_keys:
            self._records.popitem(last=False)
        record = self._records[key] = _Record()
        return record

    def _settle(self, keys: list[Key], name: str, *, failed: bool) -> None:
        now = self.clock()
        for key in keys:
            record = self._touch(key)
            if failed:
                record.failures += 1
                record.last_failure = now
                if key[0] == "address" and (
                    name in record.by_name or len(record.by_name) < NAMES_PER_ADDRESS
                ):
                    record.by_name[name] = record.by_name.get(name, 0) + 1
            elif key[0] == "user":
                record.failures = 0
            else:
                record.failures = max(0, record.failures - record.by_name.pop(name, 0))

    def _release(self, keys: list[Key]) -> None:
        for key in keys:
            record = self._records.get(key)
            if record is None:  # evicted meanwhile
                continue
            record.in_flight = max(0, record.in_flight - 1)
            if record.in_flight == 0 and record.failures == 0:
                del self._records[key]


class LoginAttempt:
    """An admitted attempt: `failed()` or `succeeded()` once, then released (a context)."""

    def __init__(self, throttle: LoginThrottle, keys: list[Key], name: str) -> None:
        self._throttle = throttle
        self._keys = keys
        self._name = name
        self._settled = False
        self._released = False

    def failed(self) -> None:
        """The password was wrong (or the user unknown): count it against both keys."""
        self._settle(failed=True)

    def succeeded(self) -> None:
        """The user logged in: its name's failures, and its own at the address, are forgotten."""
        self._settle(failed=False)

    def _settle(self, *, failed: bool) -> None:
        if not self._settled:
            self._settled = True
            self._throttle._settle(self._keys, self._name, failed=failed)

    def release(self) -> None:
        """Free the attempt's place (an attempt never settled counts for nothing)."""
        if not self._released:
            self._released = True
            self._throttle._release(self._keys)

    def __enter__(self) -> LoginAttempt:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


@asynccontextmanager
async def admit_login(
    throttle: LoginThrottle, sessions: Sessions, username: str, address: str | None
) -> AsyncIterator[LoginAttempt]:
    """The attempt `throttle` admits, released at the end; a refusal is audited (in a
    transaction of its own, the first of its period) and raised as `Throttled`."""
    try:
        attempt = throttle.admit(username, address)
    except Throttled as e:
        if e.report:
            log.warning(
                "login of %r from %r refused for %d s: too many failures (%s limit)",
                username[:LONGEST_NAME],
                address,
                e.retry_after,
                e.limit,
            )
            await record_audit_apart(
                sessions,
                None,
                verb="login",
                outcome="throttled",
                kind="User",
                name=username,
                user=username,
                details={"limit": e.limit, "retryAfter": e.retry_after, "address": address},
            )
        raise
    with attempt:
        yield attempt


def name_key(username: str) -> str:
    """How a user name is counted: itself, or the SHA-256 of a name no user can have."""
    if len(username) <= LONGEST_NAME:
        return username
    return "sha256:" + hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()


def address_key(address: str) -> str:
    """How a client address is counted: IPv4 as is, IPv6 by its /64 (an IPv4-mapped one
    as its IPv4), anything else (a test client's name) as given."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:LONGEST_NAME]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
