"""What writes do to credentials: tokens die with their objects, sessions with their user.

A token authenticates only while mcpd's row of its hash is live (`TokenRow`),
and rows are never deleted. So an McpToken object brought back (a restore to a
commit that still held it, a push or an apply of an old manifest, a new object
of the same name carrying the old hash) stays dead: `settle_tokens` stores it
revoked. Only a disaster recovery, which rebuilds an empty database from the
state repo's `main`, issues rows again, for the tokens live at `main`.

`after_write` revokes what a write ends: the tokens of a deleted or revoked
McpToken (and of its old hash, when the object names a new one), the tokens of
a deleted ServiceAccount, and the password, sessions and McpTokens of a
deleted User (a new User of the same name inherits none of them). Tokens
minted through a token die with it: identity checks the chain when one
authenticates.

`mcpctl.objects` calls both inside every write's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from mcpctl.manifests import Manifest
from mcpctl.schemas import McpToken, Resource
from mcpctl.store import TokenRow
from mcpctl.store.credentials import (
    forget_passwords,
    revoke_sessions,
    revoke_tokens,
    revoke_tokens_created_by,
    tokens_by_hash,
)
from mcpctl.store.writes import Session

#: How a row issued by a recovery shows the token's prefix (the raw token is long gone).
RECOVERED_PREFIX = "mcpctl_pat_"


def hash_of(token: McpToken) -> str | None:
    """The hex SHA-256 an McpToken's spec.tokenHash names."""
    value = token.spec.token_hash
    return value.removeprefix("sha256:") if value else None


async def settle_tokens(
    session: Session, manifests: Sequence[Manifest], *, recovering: bool, now: datetime
) -> list[Manifest]:
    """`manifests`, with every McpToken whose hash has no live row of its name revoked.

    `recovering`: a disaster recovery; the tokens of `main` get their rows again.
    """
    out = list(manifests)
    live = [
        (i, m.resource)
        for i, m in enumerate(manifests)
        if isinstance(m.resource, McpToken) and not m.resource.spec.revoked and hash_of(m.resource)
    ]
    if not live:
        return out
    rows = await tokens_by_hash(session, {hash_of(t) or "" for _, t in live})
    for i, token in live:
        digest = hash_of(token)
        assert digest is not None
        row = rows.get(digest)
        if row is None and recovering:
            session.add(
                TokenRow(
                    token_hash=digest,
                    kind="McpToken",
                    name=token.name,
                    prefix=RECOVERED_PREFIX,
                    creator=token.spec.created_by or "",
                    project=token.spec.project,
                    created_at=now,
                    expires_at=token.spec.expires_at,
                )
            )
            continue
        if (
            row is not None
            and row.kind == "McpToken"
            and row.name == token.name
            and row.revoked_at is None
        ):
            continue
        spec = token.spec.model_copy(update={"revoked": True})
        out[i] = Manifest(token.model_copy(update={"spec": spec}), manifests[i].origin)
    return out


async def after_write(
    session: Session,
    written: Iterable[Resource],
    deleted: Iterable[tuple[str, str]],
    now: datetime,
) -> None:
    """Revoke the credentials that `written` objects and `deleted` (kind, name) end."""
    gone: dict[str, set[str]] = {}
    for kind, name in deleted:
        gone.setdefault(kind, set()).add(name)
    await revoke_tokens(session, "McpToken", gone.get("McpToken", set()), now)
    await revoke_tokens(session, "ServiceAccount", gone.get("ServiceAccount", set()), now)
    users = gone.get("User", set())
    await forget_passwords(session, users)
    await revoke_sessions(session, users, now)
    await revoke_tokens_created_by(session, users, now)
    for resource in written:
        if not isinstance(resource, McpToken):
            continue
        digest = hash_of(resource)
        keep = () if resource.spec.revoked or digest is None else (digest,)
        await revoke_tokens(session, "McpToken", {resource.name}, now, keep=keep)
