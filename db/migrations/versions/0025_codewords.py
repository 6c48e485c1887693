"""drop_codeword, drop_code, code_tries: drops claimed with a secret word or single-use codes

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def _drop_id(table: str) -> sa.Column[int]:
    return sa.Column(
        "drop_id",
        sa.Integer,
        sa.ForeignKey("nft_drop.id", name=f"fk_{table}_drop_id_nft_drop"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "drop_codeword",
        _drop_id("drop_codeword"),
        sa.Column("word_digest", sa.String(64), nullable=True),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("wrong", sa.Integer, nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("drop_id", name="pk_drop_codeword"),
    )
    op.create_table(
        "drop_code",
        sa.Column("id", sa.Integer, nullable=False),
        _drop_id("drop_code"),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(16), nullable=True),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_drop_code"),
        sa.UniqueConstraint("drop_id", "digest", name="uq_drop_code_digest"),
    )
    op.create_table(
        "code_tries",
        _drop_id("code_tries"),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("wrong", sa.Integer, nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("drop_id", "platform", "user_id", name="pk_code_tries"),
    )


def downgrade() -> None:
    op.drop_table("code_tries")
    op.drop_table("drop_code")
    op.drop_table("drop_codeword")
