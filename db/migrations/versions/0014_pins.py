"""pin: content published on IPFS, one row per (CID, pinning backend)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pin",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("cid", sa.String(128), nullable=False),
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("cid", "backend", name="uq_pin_cid_backend"),
    )
    op.create_index("ix_pin_due", "pin", ["backend", "state", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_pin_due", table_name="pin")
    op.drop_table("pin")
