"""bounded retries: group failures per request, answer delivery back-off, rate-limit locks

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mint_request") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("answer_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("answer_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("answer_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("undeliverable_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "rate_scope",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=64), nullable=False),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "scope", "scope_id", name=op.f("pk_rate_scope")),
    )


def downgrade() -> None:
    op.drop_table("rate_scope")
    with op.batch_alter_table("mint_request") as batch:
        for column in ("undeliverable_at", "answer_error", "answer_due_at", "answer_attempts"):
            batch.drop_column(column)
        batch.drop_column("attempts")
