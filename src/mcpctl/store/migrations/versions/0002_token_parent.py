"""Tokens remember the token they were minted through (and die with it); the access epoch.

The meta row `access_epoch` exists from here on, so that concurrent writes that
move it update one row instead of racing to insert it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_tokens_creator", ["kind", "creator"], unique=False)
    meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.String))
    op.bulk_insert(meta, [{"key": "access_epoch", "value": "0"}])


def downgrade() -> None:
    op.execute("DELETE FROM meta WHERE key = 'access_epoch'")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_tokens_creator")
        batch_op.drop_column("parent")
