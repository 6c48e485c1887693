"""mint_request.failure_said: why a request failed, kept untranslated (a Said's JSON)

`failure_reason` stays the English text (dashboard, webhooks, CLI); `failure_said` lets the
answer say it in the member's language. Older rows keep NULL and are shown as before.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ALTER TABLE, not a batch copy: other tables' foreign keys name mint_request.
    op.add_column("mint_request", sa.Column("failure_said", sa.Text()))


def downgrade() -> None:
    op.drop_column("mint_request", "failure_said")
