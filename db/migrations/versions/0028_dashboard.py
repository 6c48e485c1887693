"""admin dashboard: used sign-in links, sessions, and indexes for a community's requests

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_link_use",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "dashboard_session",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("community_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_dashboard_session_expires", "dashboard_session", ["expires_at"])
    # Measured with EXPLAIN on SQLite and PostgreSQL (bench/dashboard.py): without them the
    # counts by phase and the week's mints read every row of the community.
    op.create_index(
        "ix_mint_request_community_phase",
        "mint_request",
        ["platform", "community_id", "phase", "created_at"],
    )
    op.create_index(
        "ix_mint_request_community_undeliverable",
        "mint_request",
        ["platform", "community_id", "undeliverable_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_mint_request_community_undeliverable", table_name="mint_request")
    op.drop_index("ix_mint_request_community_phase", table_name="mint_request")
    op.drop_index("ix_dashboard_session_expires", table_name="dashboard_session")
    op.drop_table("dashboard_session")
    op.drop_table("dashboard_link_use")
