"""communities: where a request came from, where to answer it, and community settings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mint_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("community_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reply_to", sa.Text(), nullable=True))
        batch_op.create_index(
            "ix_mint_request_community", ["platform", "community_id", "created_at"], unique=False
        )
    op.create_table(
        "community_settings",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("allowed_channels", sa.Text(), nullable=False),
        sa.Column("minter_role_id", sa.String(length=64), nullable=True),
        sa.Column("curator_role_id", sa.String(length=64), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "community_id", name=op.f("pk_community_settings")),
    )


def downgrade() -> None:
    op.drop_table("community_settings")
    with op.batch_alter_table("mint_request", schema=None) as batch_op:
        batch_op.drop_index("ix_mint_request_community")
        batch_op.drop_column("reply_to")
        batch_op.drop_column("community_id")
