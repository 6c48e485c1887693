"""raffles: raffle drops and their entries

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "raffle",
        sa.Column("drop_id", sa.Integer(), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("block_number", sa.Integer(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seed", sa.String(66), nullable=True),
        sa.Column("entrants_cid", sa.String(128), nullable=True),
        sa.Column("entrants", sa.Integer(), nullable=False),
        sa.Column("winners", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["drop_id"], ["nft_drop.id"], name=op.f("fk_raffle_drop_id_nft_drop")
        ),
        sa.PrimaryKeyConstraint("drop_id", name=op.f("pk_raffle")),
    )
    op.create_table(
        "raffle_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drop_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("user_name", sa.String(256), nullable=False),
        sa.Column("ticket", sa.String(64), nullable=False),
        sa.Column("reply_to", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(8), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("refused", sa.Text(), nullable=True),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tell_attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["drop_id"], ["raffle.drop_id"], name=op.f("fk_raffle_entry_drop_id_raffle")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["mint_request.id"],
            name=op.f("fk_raffle_entry_request_id_mint_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raffle_entry")),
        sa.UniqueConstraint("drop_id", "platform", "user_id", name="uq_raffle_entry_member"),
        sa.UniqueConstraint("drop_id", "ticket", name="uq_raffle_entry_ticket"),
    )


def downgrade() -> None:
    op.drop_table("raffle_entry")
    op.drop_table("raffle")
