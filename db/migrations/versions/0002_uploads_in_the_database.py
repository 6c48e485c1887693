"""uploads in the database

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Uploaded bytes move from files under DATA_DIR/uploads into `mint_upload`, committed in the same
transaction as their request. Nothing is carried over: the bot keeps an upload only while its
request is being prepared, so upgrade with no request in phase `received` or `stored`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mint_upload",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["mint_request.id"],
            name=op.f("fk_mint_upload_request_id_mint_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_mint_upload")),
    )


def downgrade() -> None:
    op.drop_table("mint_upload")
