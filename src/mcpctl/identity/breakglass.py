"""The break-glass: a named user made an admin again, with a new password.

The lock-out guard (`access.guard`) refuses any write that would leave no
User holding every permission, but a guard cannot help when the only admin's
password is lost. `mcpd admin-reset USER` (`mcpctl.daemon.adminreset`), run
on the mcpd host, calls `reset_admin`, which does in one transaction, as the
principal it is given (mcpd's own, with an actor naming the command):

- creates the User if missing (`USER@localhost.localdomain`);
- grants it every permission (`access.rbac.ADMIN`, what the first start's
  `admin` Rbac grants) through an Rbac of its own, `admin-reset-USER`,
  rather than an edit of the `admin` Rbac: whatever `admin` says now (edited,
  narrowed, deleted) stays as it was, the reset is one object of its own in
  the state repo's history, and undoing it afterwards is deleting that object;
- sets a new random password and ends the user's sessions (moving the access
  epoch, so that a running mcpd drops what it cached of them);
- records an audit entry (verb `admin-reset`).

The objects go through `ObjectService.write_set`, the write path of every
write: checks, change log (so the exporter commits them, authored by the
actor), audit entries per object.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from mcpctl.access.audit import record_audit
from mcpctl.access.cache import bump
from mcpctl.access.policy import Principal
from mcpctl.access.rbac import ADMIN
from mcpctl.errors import InvalidInput
from mcpctl.identity.credentials import hash_password
from mcpctl.objects.service import ObjectService, utcnow
from mcpctl.objects.validating import validated
from mcpctl.schemas import API_VERSION, NAME_RE, Rbac, User
from mcpctl.store import CredentialRow, Sessions
from mcpctl.store.credentials import revoke_sessions
from mcpctl.store.objects import find_named

#: What the Rbac of a reset is called: `admin-reset-<user>`.
RBAC_PREFIX = "admin-reset-"
#: The longest name an object may have (a DNS label).
MAX_NAME = 63


@dataclass(frozen=True)
class AdminReset:
    """What `reset_admin` did: the new password (to show once), and what it wrote."""

    user: str
    password: str
    rbac: str
    #: whether the User was created (it did not exist)
    created_user: bool
    #: whether any object was written (False when the User and the Rbac were there as is)
    wrote: bool


def reset_rbac_name(user: str) -> str:
    """`admin-reset-<user>`; for a long name, its start and a hash (a DNS label still)."""
    name = RBAC_PREFIX + user
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(user.encode()).hexdigest()[:10]
    return f"{name[: MAX_NAME - len(digest) - 1].rstrip('-')}-{digest}"


async def reset_admin(
    sessions: Sessions, objects: ObjectService, principal: Principal, user: str
) -> AdminReset:
    """Make `user` an admin with a new password, ending its sessions (see the module)."""
    if not NAME_RE.fullmatch(user) or len(user) > MAX_NAME:
        raise InvalidInput(
            f"{user!r} is not a user name: a DNS label (lower-case letters, digits and '-', "
            f"at most {MAX_NAME})"
        )
    rbac_name = reset_rbac_name(user)
    password = secrets.token_urlsafe(18)
    hashed = await hash_password(password)
    async with sessions() as session, session.begin():
        manifests = []
        created_user = await find_named(session, "User", user) is None
        if created_user:
            manifests.append(
                validated(
                    {
                        "apiVersion": API_VERSION,
                        "kind": "User",
                        "metadata": {"name": user},
                        "spec": {"email": f"{user}@localhost.localdomain"},
                    },
                    User,
                    None,
                )
            )
        manifests.append(
            validated(
                {
                    "apiVersion": API_VERSION,
                    "kind": "Rbac",
                    "metadata": {"name": rbac_name},
                    "spec": {
                        "subjects": [{"kind": "User", "name": user}],
                        "bindings": ADMIN.to_list(),
                    },
                },
                Rbac,
                None,
            )
        )
        result = await objects.write_set(session, principal, manifests, (), verb="admin-reset")
        now = utcnow()
        credential = await session.get(CredentialRow, user)
        if credential is None:
            session.add(CredentialRow(user=user, password_hash=hashed, updated_at=now))
        else:
            credential.password_hash = hashed
            credential.updated_at = now
        await revoke_sessions(session, [user], now)
        # a running mcpd drops the sessions it cached within a second (the access epoch)
        await bump(session)
        await record_audit(
            session,
            principal,
            verb="admin-reset",
            outcome="success",
            kind="User",
            name=user,
            details={"rbac": rbac_name, "createdUser": created_user},
        )
    return AdminReset(user, password, rbac_name, created_user, bool(result.objects))
