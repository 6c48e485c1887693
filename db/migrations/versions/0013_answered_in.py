"""mint_request.answered_in: the platform message that shows a request's answer

Several requests of one chat may share one answer message (Telegram's status message of a
busy chat); after a restart the platform finds them all by it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mint_request") as batch_op:
        batch_op.add_column(sa.Column("answered_in", sa.String(64), nullable=True))
        batch_op.create_index("ix_mint_request_answered_in", ["platform", "chat_id", "answered_in"])


def downgrade() -> None:
    with op.batch_alter_table("mint_request") as batch_op:
        batch_op.drop_index("ix_mint_request_answered_in")
        batch_op.drop_column("answered_in")
