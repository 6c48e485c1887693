"""mint pipeline tables

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_tx",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("wallet", sa.String(length=42), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("to_address", sa.String(length=42), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("gas_limit", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mined_hash", sa.String(length=66), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", sa.String(length=66), nullable=True),
        sa.Column("gas_used", sa.BigInteger(), nullable=True),
        sa.Column("fee_paid_wei", sa.String(length=80), nullable=True),
        sa.Column("reverted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_tx")),
        sa.UniqueConstraint("chain_id", "wallet", "nonce", name="uq_chain_tx_nonce"),
    )
    with op.batch_alter_table("chain_tx", schema=None) as batch_op:
        batch_op.create_index("ix_chain_tx_status", ["status"], unique=False)

    op.create_table(
        "nonce_state",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("wallet", sa.String(length=42), nullable=False),
        sa.Column("next_nonce", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "wallet", name=op.f("pk_nonce_state")),
    )
    op.create_table(
        "platform_user",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=True),
        sa.Column("address_verified", sa.Boolean(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "user_id", name=op.f("pk_platform_user")),
    )
    op.create_table(
        "mint_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("requester_id", sa.String(length=64), nullable=False),
        sa.Column("requester_name", sa.String(length=256), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("upload_digest", sa.String(length=64), nullable=False),
        sa.Column("requested_recipient", sa.String(length=42), nullable=True),
        sa.Column("recipient", sa.String(length=42), nullable=True),
        sa.Column("custodial", sa.Boolean(), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("image_cid", sa.String(length=128), nullable=True),
        sa.Column("metadata_cid", sa.String(length=128), nullable=True),
        sa.Column("token_id", sa.String(length=66), nullable=True),
        sa.Column("tx_id", sa.Integer(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tx_id"], ["chain_tx.id"], name=op.f("fk_mint_request_tx_id_chain_tx")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mint_request")),
        sa.UniqueConstraint("platform", "chat_id", "message_id", name="uq_mint_request_key"),
        sa.UniqueConstraint("token_id", name=op.f("uq_mint_request_token_id")),
    )
    with op.batch_alter_table("mint_request", schema=None) as batch_op:
        batch_op.create_index("ix_mint_request_phase", ["phase"], unique=False)
        batch_op.create_index(
            "ix_mint_request_requester", ["platform", "requester_id"], unique=False
        )

    op.create_table(
        "signing_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tx_id", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("wallet", sa.String(length=42), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("request_keys", sa.Text(), nullable=False),
        sa.Column("requesters", sa.Text(), nullable=False),
        sa.Column("max_fee_per_gas", sa.BigInteger(), nullable=False),
        sa.Column("gas_limit", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tx_id"], ["chain_tx.id"], name=op.f("fk_signing_audit_tx_id_chain_tx")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_audit")),
    )
    with op.batch_alter_table("signing_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signing_audit_tx_id"), ["tx_id"], unique=False)

    op.create_table(
        "tx_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tx_id", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("max_fee_per_gas", sa.BigInteger(), nullable=False),
        sa.Column("max_priority_fee_per_gas", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tx_id"], ["chain_tx.id"], name=op.f("fk_tx_attempt_tx_id_chain_tx")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tx_attempt")),
        sa.UniqueConstraint("tx_hash", name=op.f("uq_tx_attempt_tx_hash")),
    )
    with op.batch_alter_table("tx_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tx_attempt_tx_id"), ["tx_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tx_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tx_attempt_tx_id"))

    op.drop_table("tx_attempt")
    with op.batch_alter_table("signing_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_audit_tx_id"))

    op.drop_table("signing_audit")
    with op.batch_alter_table("mint_request", schema=None) as batch_op:
        batch_op.drop_index("ix_mint_request_requester")
        batch_op.drop_index("ix_mint_request_phase")

    op.drop_table("mint_request")
    op.drop_table("platform_user")
    op.drop_table("nonce_state")
    with op.batch_alter_table("chain_tx", schema=None) as batch_op:
        batch_op.drop_index("ix_chain_tx_status")

    op.drop_table("chain_tx")
