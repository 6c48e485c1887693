"""drop gates as data: one JSON list of {kind, params} instead of a column per gate

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_OLD = ("gate_roles", "gate_chat_member", "require_linked_address")
# The kinds the old columns held, in the order claims used to check them.
_KINDS = ("role", "chat_member", "linked_wallet")


def gates_of(gate_roles: str | None, chat_member: bool, linked_wallet: bool) -> list[Any]:
    """The gates a drop's old columns stood for."""
    roles = sorted(set(json.loads(gate_roles or "[]")))
    gates: list[dict[str, Any]] = []
    if roles:
        gates.append({"kind": "role", "params": {"role_ids": roles}})
    if chat_member:
        gates.append({"kind": "chat_member", "params": {}})
    if linked_wallet:
        gates.append({"kind": "linked_wallet", "params": {}})
    return gates


def columns_of(drop_id: int, gates: Any) -> dict[str, Any]:
    """The old columns' values for a drop's gates; raises if a gate has no old column."""
    stored = json.loads(gates) if isinstance(gates, str) else gates or []
    other = sorted({str(g.get("kind")) for g in stored} - set(_KINDS))
    if other:
        raise RuntimeError(
            f"drop #{drop_id} has gates of kind {', '.join(other)}, which revision 0011 cannot "
            "hold; close the drop and remove those gates before downgrading"
        )
    roles = sorted({r for g in stored if g["kind"] == "role" for r in g["params"]["role_ids"]})
    kinds = {g["kind"] for g in stored}
    return {
        "b_id": drop_id,
        "b_roles": json.dumps(roles),
        "b_member": "chat_member" in kinds,
        "b_wallet": "linked_wallet" in kinds,
    }


def upgrade() -> None:
    with op.batch_alter_table("nft_drop") as batch:
        batch.add_column(sa.Column("gates", sa.JSON(), nullable=True))
    bind = op.get_bind()
    drops = sa.table("nft_drop", sa.column("id", sa.Integer()), sa.column("gates", sa.JSON()))
    rows = bind.execute(
        sa.text("SELECT id, gate_roles, gate_chat_member, require_linked_address FROM nft_drop")
    ).all()
    if rows:
        bind.execute(
            drops.update()
            .where(drops.c.id == sa.bindparam("b_id"))
            .values(gates=sa.bindparam("b_gates")),
            [
                {"b_id": row[0], "b_gates": gates_of(row[1], bool(row[2]), bool(row[3]))}
                for row in rows
            ],
        )
    with op.batch_alter_table("nft_drop") as batch:
        batch.alter_column("gates", existing_type=sa.JSON(), nullable=False)
        for column in _OLD:
            batch.drop_column(column)


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, gates FROM nft_drop")).all()
    values = [columns_of(row[0], row[1]) for row in rows]  # before anything changes
    with op.batch_alter_table("nft_drop") as batch:
        batch.add_column(sa.Column("gate_roles", sa.Text(), nullable=True))
        batch.add_column(sa.Column("gate_chat_member", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("require_linked_address", sa.Boolean(), nullable=True))
    if values:
        bind.execute(
            sa.text(
                "UPDATE nft_drop SET gate_roles = :b_roles, gate_chat_member = :b_member, "
                "require_linked_address = :b_wallet WHERE id = :b_id"
            ),
            values,
        )
    with op.batch_alter_table("nft_drop") as batch:
        batch.alter_column("gate_roles", existing_type=sa.Text(), nullable=False)
        batch.alter_column("gate_chat_member", existing_type=sa.Boolean(), nullable=False)
        batch.alter_column("require_linked_address", existing_type=sa.Boolean(), nullable=False)
        batch.drop_column("gates")
