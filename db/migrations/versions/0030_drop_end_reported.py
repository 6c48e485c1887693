"""nft_drop.end_reported_at: when a drop's end was reported to webhooks (drop.closed)

Drops that had ended before are marked reported: their end is history, not news.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ALTER TABLE, not a batch copy: other tables' foreign keys name nft_drop.
    op.add_column("nft_drop", sa.Column("end_reported_at", sa.DateTime(timezone=True)))
    drops = sa.table(
        "nft_drop",
        sa.column("end_reported_at", sa.DateTime(timezone=True)),
        sa.column("closed_at", sa.DateTime(timezone=True)),
        sa.column("ends_at", sa.DateTime(timezone=True)),
        sa.column("supply", sa.Integer),
        sa.column("claimed", sa.Integer),
    )
    op.execute(
        drops.update()
        .where(
            drops.c.closed_at.is_not(None)
            | (drops.c.ends_at.is_not(None) & (drops.c.ends_at <= sa.func.now()))
            | (drops.c.supply.is_not(None) & (drops.c.claimed >= drops.c.supply))
        )
        .values(end_reported_at=sa.func.now())
    )


def downgrade() -> None:
    op.drop_column("nft_drop", "end_reported_at")
