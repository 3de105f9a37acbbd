"""The leader's lease (`store.leases`): one row per lease, made here so that replicas
starting at once update one row instead of racing to insert it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    leases = op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=253), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("term", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("acquired_at", sa.Float(), nullable=False),
        sa.Column("renewed_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.bulk_insert(
        leases,
        [
            {
                "name": "leader",
                "holder": "",
                "url": "",
                "term": 0,
                "acquired_at": 0.0,
                "renewed_at": 0.0,
                "expires_at": 0.0,
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("leases")
