"""drop announcements: where each drop's live counter is shown

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drop_announcement",
        sa.Column("drop_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["drop_id"], ["nft_drop.id"], name=op.f("fk_drop_announcement_drop_id_nft_drop")
        ),
        sa.PrimaryKeyConstraint(
            "drop_id", "platform", "chat_id", "message_id", name=op.f("pk_drop_announcement")
        ),
    )


def downgrade() -> None:
    op.drop_table("drop_announcement")
