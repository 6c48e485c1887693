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


# Columns are added and dropped in place (SQLite 3.35+ drops a column natively): copying the
# table, as a batch operation would on SQLite, means dropping it, which the foreign keys of
# the claims and announcements that refer to it refuse.


def upgrade() -> None:
    op.add_column("nft_drop", sa.Column("gates", sa.JSON(), nullable=False, server_default="[]"))
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
    for column in _OLD:
        op.drop_column("nft_drop", column)


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, gates FROM nft_drop")).all()
    values = [columns_of(row[0], row[1]) for row in rows]  # before anything changes
    op.add_column(
        "nft_drop", sa.Column("gate_roles", sa.Text(), nullable=False, server_default="[]")
    )
    for column in _OLD[1:]:
        op.add_column(
            "nft_drop", sa.Column(column, sa.Boolean(), nullable=False, server_default=sa.false())
        )
    if values:
        bind.execute(
            sa.text(
                "UPDATE nft_drop SET gate_roles = :b_roles, gate_chat_member = :b_member, "
                "require_linked_address = :b_wallet WHERE id = :b_id"
            ),
            values,
        )
    op.drop_column("nft_drop", "gates")
