"""The queries of sign-in credentials, sessions and tokens, for `mcpctl.identity` and
the credential consequences of writes (`mcpctl.access.credentials`).

Token rows are never deleted: a revoked row stays, so the hash it keeps never
authenticates again, whatever object comes back with it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, select, update

from mcpctl.store.tables import CredentialRow, SessionRow, TokenRow
from mcpctl.store.writes import Session


async def tokens_named(session: Session, kind: str, name: str) -> Sequence[TokenRow]:
    """The tokens issued for one subject (an McpToken, a ServiceAccount)."""
    return (
        await session.scalars(select(TokenRow).where(TokenRow.kind == kind, TokenRow.name == name))
    ).all()


async def tokens_by_hash(session: Session, hashes: Collection[str]) -> dict[str, TokenRow]:
    """The token rows of `hashes` (hex SHA-256), revoked ones included."""
    if not hashes:
        return {}
    rows = await session.scalars(select(TokenRow).where(TokenRow.token_hash.in_(list(hashes))))
    return {row.token_hash: row for row in rows}


async def revoke_tokens(
    session: Session,
    kind: str,
    names: Collection[str],
    at: datetime,
    *,
    keep: Collection[str] = (),
) -> None:
    """Revoke every live token of the subjects `names` of `kind`, but the hashes in `keep`."""
    if not names:
        return
    statement = update(TokenRow).where(
        TokenRow.kind == kind, TokenRow.name.in_(list(names)), TokenRow.revoked_at.is_(None)
    )
    if keep:
        statement = statement.where(TokenRow.token_hash.not_in(list(keep)))
    await session.execute(statement.values(revoked_at=at))


async def revoke_tokens_created_by(session: Session, users: Collection[str], at: datetime) -> None:
    """Revoke the McpTokens the `users` created (their creator caps them)."""
    if not users:
        return
    await session.execute(
        update(TokenRow)
        .where(
            TokenRow.kind == "McpToken",
            TokenRow.creator.in_(list(users)),
            TokenRow.revoked_at.is_(None),
        )
        .values(revoked_at=at)
    )


async def revoke_sessions(
    session: Session, users: Collection[str], at: datetime, *, keep: str | None = None
) -> None:
    """Log out every session of `users`, but the one whose hash is `keep`."""
    if not users:
        return
    statement = update(SessionRow).where(
        SessionRow.user.in_(list(users)), SessionRow.revoked_at.is_(None)
    )
    if keep is not None:
        statement = statement.where(SessionRow.token_hash != keep)
    await session.execute(statement.values(revoked_at=at))


async def forget_passwords(session: Session, users: Collection[str]) -> None:
    if users:
        await session.execute(delete(CredentialRow).where(CredentialRow.user.in_(list(users))))
