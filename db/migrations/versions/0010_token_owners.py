"""token owners: each minted token's owner as the chain last said, and when it was asked;
mint requests indexed by recipient (the explorer's address pages)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_owner",
        sa.Column("token_id", sa.String(length=66), nullable=False),
        sa.Column("recorded_owner", sa.String(length=42), nullable=False),
        sa.Column("owner", sa.String(length=42), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_token_owner")),
    )
    op.create_index("ix_mint_request_recipient", "mint_request", ["recipient", "id"])


def downgrade() -> None:
    op.drop_index("ix_mint_request_recipient", table_name="mint_request")
    op.drop_table("token_owner")
