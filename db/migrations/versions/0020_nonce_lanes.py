"""Nonce lanes: which process signs with each hot wallet, and which pipeline processes live

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nonce_state") as batch:
        batch.add_column(sa.Column("lane_owner", sa.String(80), nullable=True))
        batch.add_column(sa.Column("lane_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "lane_member",
        sa.Column("process_id", sa.String(80), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lane_member")
    with op.batch_alter_table("nonce_state") as batch:
        batch.drop_column("lane_expires_at")
        batch.drop_column("lane_owner")
