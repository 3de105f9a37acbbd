"""The queries of sign-in credentials, sessions and tokens, for `mcpctl.identity`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from mcpctl.store.tables import TokenRow
from mcpctl.store.writes import Session


async def tokens_named(session: Session, kind: str, name: str) -> Sequence[TokenRow]:
    """The tokens issued for one subject (an McpToken, a ServiceAccount)."""
    return (
        await session.scalars(select(TokenRow).where(TokenRow.kind == kind, TokenRow.name == name))
    ).all()
