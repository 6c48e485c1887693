"""mint_request.prepare_claimed_until: a group being prepared by one pipeline process

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mint_request") as batch:
        batch.add_column(
            sa.Column("prepare_claimed_until", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("mint_request") as batch:
        batch.drop_column("prepare_claimed_until")
