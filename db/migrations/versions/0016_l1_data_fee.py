"""chain_tx.l1_fee_wei, tx_attempt.l1_fee_wei: the L1 data fee of OP-stack chains

The fee paid (from the receipt, included in chain_tx.fee_paid_wei) and the GasPriceOracle's
estimate for each signed version, which the spending cap counts while it is unmined.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("chain_tx", "tx_attempt"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("l1_fee_wei", sa.String(80), nullable=True))


def downgrade() -> None:
    for table in ("tx_attempt", "chain_tx"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("l1_fee_wei")
