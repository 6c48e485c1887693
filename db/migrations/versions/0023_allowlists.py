"""allowlist, allowlist_entry: the lists a drop's allowlist gate reads

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "allowlist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drop_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("addresses", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["drop_id"], ["nft_drop.id"], name=op.f("fk_allowlist_drop_id_nft_drop")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allowlist")),
    )
    op.create_table(
        "allowlist_entry",
        sa.Column("allowlist_id", sa.Integer(), nullable=False),
        sa.Column("entry", sa.String(length=64), nullable=False),
        sa.Column("allowance", sa.Integer(), nullable=False),
        sa.CheckConstraint("allowance >= 1", name=op.f("ck_allowlist_entry_allowance_positive")),
        sa.ForeignKeyConstraint(
            ["allowlist_id"],
            ["allowlist.id"],
            name=op.f("fk_allowlist_entry_allowlist_id_allowlist"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("allowlist_id", "entry", name=op.f("pk_allowlist_entry")),
    )


def downgrade() -> None:
    op.drop_table("allowlist_entry")
    op.drop_table("allowlist")
