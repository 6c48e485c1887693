"""wallet challenges: Sign-In with Ethereum messages issued to link an address

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
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
        "wallet_challenge",
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_wallet_challenge")),
    )
    op.create_index(
        "ix_wallet_challenge_user",
        "wallet_challenge",
        ["platform", "user_id", "issued_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_wallet_challenge_user", table_name="wallet_challenge")
    op.drop_table("wallet_challenge")
