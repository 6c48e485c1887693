"""community_settings.locale: the language a community's public posts are written in

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("community_settings", sa.Column("locale", sa.String(16)))


def downgrade() -> None:
    op.drop_column("community_settings", "locale")
