"""The cluster's replicas (`store.replicas`): each mcpd on PostgreSQL says where it serves
and when it was last seen, so a leader taking over can fetch from any of them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replicas",
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("holder", sa.String(length=253), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("replicas")
