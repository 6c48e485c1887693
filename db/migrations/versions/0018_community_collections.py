"""community_collection; mint_request.contract and .edition; nft_drop.kind, .contract,
.token_id, .metadata_cid

Dropping the token ID's unique constraint copies mint_request on SQLite, which
`db.engine.upgrade` does with foreign keys off (rows of other tables refer to it).

A community's own collection (a clone made by the factory) receives its mints and drops. An
ERC-1155 edition shares its token ID with the other editions of its artwork, so a token ID is
unique only among ERC-721 requests, and (token ID, edition) among editions.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

ERC721_ONLY = sa.text("edition IS NULL")


def upgrade() -> None:
    op.create_table(
        "community_collection",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("community_id", sa.String(64), nullable=False),
        sa.Column("standard", sa.String(16), nullable=False),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("factory", sa.String(42), nullable=False),
        sa.Column("salt", sa.String(66), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(42), nullable=False),
        sa.Column("royalty_bps", sa.Integer(), nullable=False),
        sa.Column("operator_admin", sa.String(42), nullable=False),
        sa.Column("metadata_cid", sa.String(128), nullable=False),
        sa.Column("image_cid", sa.String(128), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("tx_id", sa.Integer(), sa.ForeignKey("chain_tx.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("live_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint(
            "chain_id", "platform", "community_id", "standard", name="uq_community_collection"
        ),
        sa.UniqueConstraint("address", name="uq_community_collection_address"),
    )
    with op.batch_alter_table("mint_request") as batch_op:
        batch_op.add_column(sa.Column("contract", sa.String(42), nullable=True))
        batch_op.add_column(sa.Column("edition", sa.Integer(), nullable=True))
        batch_op.drop_constraint("uq_mint_request_token_id", type_="unique")
    op.create_index(
        "uq_mint_request_token",
        "mint_request",
        ["token_id"],
        unique=True,
        sqlite_where=ERC721_ONLY,
        postgresql_where=ERC721_ONLY,
    )
    op.create_index("uq_mint_request_edition", "mint_request", ["token_id", "edition"], unique=True)
    # Added in place: nothing about nft_drop needs the table copied.
    op.add_column(
        "nft_drop", sa.Column("kind", sa.String(16), nullable=False, server_default="numbered")
    )
    op.add_column("nft_drop", sa.Column("contract", sa.String(42), nullable=True))
    op.add_column("nft_drop", sa.Column("token_id", sa.String(66), nullable=True))
    op.add_column("nft_drop", sa.Column("metadata_cid", sa.String(128), nullable=True))


def downgrade() -> None:
    for column in ("metadata_cid", "token_id", "contract", "kind"):
        op.drop_column("nft_drop", column)
    op.drop_index("uq_mint_request_edition", table_name="mint_request")
    op.drop_index("uq_mint_request_token", table_name="mint_request")
    with op.batch_alter_table("mint_request") as batch_op:
        batch_op.create_unique_constraint("uq_mint_request_token_id", ["token_id"])
        batch_op.drop_column("edition")
        batch_op.drop_column("contract")
    op.drop_table("community_collection")
