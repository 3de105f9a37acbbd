"""Bootstrap: at first start, the seed objects and the admin's first credentials.

The daemon calls it (through `IdentityService.bootstrap`) once the database is
migrated and, if it was empty, recovered from the state repo: it creates the
`default` plaintext SecretBackend, the `admin` User and an Rbac granting it
everything (only what is missing, after a disaster recovery), then the admin's
password and a session for the CLI context the daemon writes. The meta rows
`bootstrapped` (when) and `bootstrapped_by` (which mcpd: its host and state
dir, where it wrote the password) make it run once per database.

Once, even when several mcpd start at the same time on one PostgreSQL
database. The whole bootstrap runs inside one transaction that first takes an
advisory lock (`store.changes.lock_bootstrap`) and ends by writing the admin's
password, its session and the meta rows together. A second mcpd waits for the
lock, then finds the meta rows and gets `AdminFound`, naming the mcpd that
created the admin, and writes nothing. A lock rather than a conditional insert
of the meta row claiming the work first: with a claim, the mcpd that lost it
would go on while the admin has no password yet, and one that died between
the claim and the password would leave an admin nobody can log in as. Under
the lock, the password and the meta rows commit together or not at all; an
mcpd that dies midway leaves at most the seed objects, which the next start
keeps (it adds only what is missing). SQLite serves one mcpd and needs no lock.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from mcpctl.access import SYSTEM
from mcpctl.identity.credentials import (
    BOOTSTRAP_SESSION_TTL,
    SESSION_PREFIX,
    hash_password,
    new_token,
    token_hash,
)
from mcpctl.objects.service import ObjectService, utcnow
from mcpctl.schemas import API_VERSION
from mcpctl.store import CredentialRow, SessionRow, Sessions
from mcpctl.store.changes import BOOTSTRAPPED, BOOTSTRAPPED_BY, get_meta, lock_bootstrap, put_meta
from mcpctl.store.rows import rows_by_key


@dataclass(frozen=True)
class Bootstrapper:
    """An mcpd that may create the admin: its host and its state dir (where it writes the
    admin's initial password)."""

    host: str
    state_dir: str

    def to_meta(self) -> str:
        return json.dumps({"host": self.host, "stateDir": self.state_dir}, sort_keys=True)

    @classmethod
    def from_meta(cls, value: str | None) -> Bootstrapper | None:
        """The mcpd a `bootstrapped_by` row names (None: no row, or not one mcpd wrote)."""
        try:
            found = json.loads(value) if value is not None else None
        except ValueError:
            return None
        if not isinstance(found, dict):
            return None
        host, state_dir = found.get("host"), found.get("stateDir")
        if not isinstance(host, str) or not isinstance(state_dir, str):
            return None
        return cls(host, state_dir)


@dataclass(frozen=True)
class AdminCreated:
    """This mcpd created the admin: its initial password and a session token for it."""

    password: str
    token: str


@dataclass(frozen=True)
class AdminFound:
    """The database was bootstrapped already, by `creator` (None: a database bootstrapped
    before mcpd recorded by whom)."""

    creator: Bootstrapper | None


def seed_objects() -> list[dict[str, Any]]:
    """The objects the first start creates: the default backend, the admin and its Rbac."""
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "SecretBackend",
            "metadata": {"name": "default"},
            "spec": {"type": "plaintext", "default": True},
        },
        {
            "apiVersion": API_VERSION,
            "kind": "User",
            "metadata": {"name": "admin"},
            "spec": {"email": "admin@localhost.localdomain", "displayName": "Administrator"},
        },
        {
            "apiVersion": API_VERSION,
            "kind": "Rbac",
            "metadata": {"name": "admin"},
            "spec": {
                "subjects": [{"kind": "User", "name": "admin"}],
                "bindings": [
                    *({"role": r, "resource": "*"} for r in ("view", "create", "edit", "delete")),
                    {"role": "run", "action": "*"},
                ],
            },
        },
    ]


async def admin_found(sessions: Sessions) -> AdminFound | None:
    """Whether the admin was made, and by whom (None: not yet), creating nothing: what a
    replica that follows says (the leader alone bootstraps)."""
    async with sessions() as session:
        if await get_meta(session, BOOTSTRAPPED) is None:
            return None
        return AdminFound(Bootstrapper.from_meta(await get_meta(session, BOOTSTRAPPED_BY)))


async def seed_admin(
    sessions: Sessions, objects: ObjectService, creator: Bootstrapper
) -> AdminCreated | AdminFound:
    """First start: seed, create the admin, as `creator`; or find it done (see the module)."""
    async with sessions() as claim, claim.begin():
        await lock_bootstrap(claim)  # held until this transaction ends
        if await get_meta(claim, BOOTSTRAPPED) is not None:
            return AdminFound(Bootstrapper.from_meta(await get_meta(claim, BOOTSTRAPPED_BY)))
        seed = seed_objects()
        async with sessions() as session:
            present = await rows_by_key(
                session, [(item["kind"], None, item["metadata"]["name"]) for item in seed]
            )
        # after a disaster recovery the objects came back from git: add only what is missing
        missing = [i for i in seed if (i["kind"], None, i["metadata"]["name"]) not in present]
        if missing:
            await objects.apply(SYSTEM, missing)  # a write of its own, as any write is
        password = secrets.token_urlsafe(18)
        raw = new_token(SESSION_PREFIX)
        now = utcnow()
        claim.add(
            CredentialRow(user="admin", password_hash=await hash_password(password), updated_at=now)
        )
        claim.add(
            SessionRow(
                token_hash=token_hash(raw),
                user="admin",
                created_at=now,
                expires_at=now + BOOTSTRAP_SESSION_TTL,
            )
        )
        await put_meta(claim, BOOTSTRAPPED, now.isoformat())
        await put_meta(claim, BOOTSTRAPPED_BY, creator.to_meta())
    return AdminCreated(password, raw)
