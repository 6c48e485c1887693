"""holder roles: rules, members' decided and applied roles, changes, the Transfer log cursor

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holder_rule",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("community_id", sa.String(64), nullable=False),
        sa.Column("role_id", sa.String(64), nullable=False),
        sa.Column("contract", sa.String(42), nullable=False),
        sa.Column("token_id", sa.String(78), nullable=True),
        sa.Column("min_count", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("platform", "community_id", "role_id", name="uq_holder_rule"),
    )
    op.create_table(
        "holder_member",
        sa.Column(
            "rule_id",
            sa.Integer,
            sa.ForeignKey("holder_rule.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("want", sa.Boolean, nullable=False),
        sa.Column("applied", sa.Boolean, nullable=False),
        sa.Column("held", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_holder_member_pending", "holder_member", ["applied"])
    op.create_table(
        "holder_change",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("community_id", sa.String(64), nullable=False),
        sa.Column("role_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("held", sa.Integer, nullable=False),
        sa.Column("cause", sa.String(16), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index(
        "ix_holder_change_community", "holder_change", ["platform", "community_id", "id"]
    )
    op.create_table(
        "holder_cursor",
        sa.Column("chain_id", sa.BigInteger, primary_key=True),
        sa.Column("block", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("holder_cursor")
    op.drop_index("ix_holder_change_community", "holder_change")
    op.drop_table("holder_change")
    op.drop_index("ix_holder_member_pending", "holder_member")
    op.drop_table("holder_member")
    op.drop_table("holder_rule")
