"""drop_claim.shared_key and shared_n: claims out of an allowance members share

An allowlisted address's allowance is the entry's, whichever members verified the address:
its claims are numbered 1..allowance within (drop, shared_key), and the constraint refuses
one too many.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("drop_claim") as batch:
        batch.add_column(sa.Column("shared_key", sa.String(80), nullable=True))
        batch.add_column(sa.Column("shared_n", sa.Integer(), nullable=True))
        batch.create_unique_constraint(
            "uq_drop_claim_shared_n", ["drop_id", "shared_key", "shared_n"]
        )


def downgrade() -> None:
    with op.batch_alter_table("drop_claim") as batch:
        batch.drop_constraint("uq_drop_claim_shared_n", type_="unique")
        batch.drop_column("shared_n")
        batch.drop_column("shared_key")
