"""Bootstrap: at first start, the seed objects and the admin's first credentials.

The daemon calls it (through `IdentityService.bootstrap`) once the database is
migrated and, if it was empty, recovered from the state repo: it creates the
`default` plaintext SecretBackend, the `admin` User and an Rbac granting it
everything (only what is missing, after a disaster recovery), then the admin's
password and a session for the CLI context the daemon writes. A meta row makes
it run once per database.
"""

from __future__ import annotations

import secrets
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
from mcpctl.store.changes import BOOTSTRAPPED, get_meta, put_meta
from mcpctl.store.rows import rows_by_key


async def seed_admin(sessions: Sessions, objects: ObjectService) -> tuple[str, str] | None:
    """First start: seed, create the admin; (admin password, session token), or None."""
    async with sessions() as session, session.begin():
        if await get_meta(session, BOOTSTRAPPED) is not None:
            return None
        await put_meta(session, BOOTSTRAPPED, utcnow().isoformat())
    seed: list[dict[str, Any]] = [
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
    async with sessions() as session:
        present = await rows_by_key(
            session, [(item["kind"], None, item["metadata"]["name"]) for item in seed]
        )
    # after a disaster recovery the objects came back from git: add only what is missing
    missing = [i for i in seed if (i["kind"], None, i["metadata"]["name"]) not in present]
    if missing:
        await objects.apply(SYSTEM, missing)
    password = secrets.token_urlsafe(18)
    raw = new_token(SESSION_PREFIX)
    now = utcnow()
    async with sessions() as session, session.begin():
        session.add(
            CredentialRow(
                user="admin",
                password_hash=await hash_password(password),
                updated_at=now,
            )
        )
        session.add(
            SessionRow(
                token_hash=token_hash(raw),
                user="admin",
                created_at=now,
                expires_at=now + BOOTSTRAP_SESSION_TTL,
            )
        )
    return password, raw
