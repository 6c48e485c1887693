"""withdrawals (custodial tokens moved to their owners' verified addresses), key rotation steps
and mint announcements

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "withdrawal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asked_key", sa.String(length=160), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("to_address", sa.String(length=42), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tx_id", sa.Integer(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["mint_request.id"], name=op.f("fk_withdrawal_request_id_mint_request")
        ),
        sa.ForeignKeyConstraint(
            ["tx_id"], ["chain_tx.id"], name=op.f("fk_withdrawal_tx_id_chain_tx")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_withdrawal")),
        sa.UniqueConstraint("asked_key", "request_id", name="uq_withdrawal_asked"),
    )
    op.create_index("ix_withdrawal_status", "withdrawal", ["status"], unique=False)
    op.create_table(
        "key_rotation_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("old_address", sa.String(length=42), nullable=False),
        sa.Column("new_address", sa.String(length=42), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_rotation_step")),
    )
    with op.batch_alter_table("community_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("announce_channel_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("mint_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawal_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_mint_request_withdrawal_id", ["withdrawal_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mint_request", schema=None) as batch_op:
        batch_op.drop_index("ix_mint_request_withdrawal_id")
        batch_op.drop_column("withdrawal_id")
    with op.batch_alter_table("community_settings", schema=None) as batch_op:
        batch_op.drop_column("announce_channel_id")
    op.drop_table("key_rotation_step")
    op.drop_index("ix_withdrawal_status", table_name="withdrawal")
    op.drop_table("withdrawal")
