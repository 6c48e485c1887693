"""nonce_state.signing_stopped and signing_holder: a key rotation stops signing per wallet

A rotation marks the nonce rows of the old and new hot wallets; every signer reads the row it
locks to take a nonce, so no process signs with a wallet while a rotation holds it, nor with a
wallet rotated out.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nonce_state") as batch_op:
        batch_op.add_column(sa.Column("signing_stopped", sa.String(200), nullable=True))
        batch_op.add_column(sa.Column("signing_holder", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nonce_state") as batch_op:
        batch_op.drop_column("signing_holder")
        batch_op.drop_column("signing_stopped")
