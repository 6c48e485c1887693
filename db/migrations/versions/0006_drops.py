"""drops: claimable editions of one artwork, and who claimed which

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nft_drop",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("image_cid", sa.String(length=128), nullable=False),
        sa.Column("image_digest", sa.String(length=64), nullable=False),
        sa.Column("image_mime", sa.String(length=32), nullable=False),
        sa.Column("image_width", sa.Integer(), nullable=False),
        sa.Column("image_height", sa.Integer(), nullable=False),
        sa.Column("supply", sa.Integer(), nullable=True),
        sa.Column("per_user_limit", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gate_roles", sa.Text(), nullable=False),
        sa.Column("gate_chat_member", sa.Boolean(), nullable=False),
        sa.Column("require_linked_address", sa.Boolean(), nullable=False),
        sa.Column("claimed", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "supply IS NULL OR claimed <= supply",
            name=op.f("ck_nft_drop_claimed_within_supply"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nft_drop")),
    )
    op.create_index("ix_nft_drop_community", "nft_drop", ["platform", "community_id"], unique=False)
    op.create_table(
        "drop_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drop_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=256), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("edition", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["drop_id"], ["nft_drop.id"], name=op.f("fk_drop_claim_drop_id_nft_drop")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["mint_request.id"],
            name=op.f("fk_drop_claim_request_id_mint_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drop_claim")),
        sa.UniqueConstraint("drop_id", "edition", name="uq_drop_claim_edition"),
        sa.UniqueConstraint("drop_id", "platform", "source", name="uq_drop_claim_source"),
        sa.UniqueConstraint("drop_id", "platform", "user_id", "n", name="uq_drop_claim_user_n"),
        sa.UniqueConstraint("request_id", name=op.f("uq_drop_claim_request_id")),
    )


def downgrade() -> None:
    op.drop_table("drop_claim")
    op.drop_index("ix_nft_drop_community", table_name="nft_drop")
    op.drop_table("nft_drop")
