"""sealed uploads: each upload encrypted under a key of its own, in `upload_key`

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

Uploads waiting in `mint_upload` at the upgrade (requests received but not yet prepared) are
sealed here, so they mint as usual afterwards. They are copied into a new `mint_upload` and the
old table is dropped rather than updated in place: an update would leave the plaintext in
PostgreSQL's dead tuples, while a dropped table's files are removed (SQLite, which runs with
secure_delete, zeroes the pages it frees). Uploads of requests that had already left
preparation are not carried over.
"""

from __future__ import annotations

import json
import os

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The sealed format as of this revision (bot/minting/uploads.py), frozen here so that this
# migration keeps its meaning whatever that module becomes.
NONCE_BYTES = 12
PREPARING = ("received", "stored")


def _associated_data(platform: str, chat_id: str, message_id: str) -> bytes:
    return json.dumps(["mint_upload", 1, platform, chat_id, message_id]).encode()


def _seal(aad: bytes, upload: bytes) -> tuple[bytes, bytes]:
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, upload, aad), key


def _unseal(aad: bytes, data: bytes, key: bytes) -> bytes:
    return AESGCM(key).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], aad)


def _uploads_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["mint_request.id"],
            name=op.f(f"fk_{name}_request_id_mint_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f(f"pk_{name}")),
    )


def _set_aside(name: str) -> None:
    """Rename `mint_upload` to `name`. PostgreSQL names the primary key's index after the
    table, in one namespace with the tables: it moves aside too."""
    op.rename_table("mint_upload", name)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER INDEX pk_mint_upload RENAME TO pk_{name}")


_REQUESTS = sa.table(
    "mint_request",
    sa.column("id", sa.Integer()),
    sa.column("platform", sa.String()),
    sa.column("chat_id", sa.String()),
    sa.column("message_id", sa.String()),
    sa.column("phase", sa.String()),
)


def _uploads(name: str) -> sa.TableClause:
    return sa.table(
        name, sa.column("request_id", sa.Integer()), sa.column("data", sa.LargeBinary())
    )


_KEYS = sa.table(
    "upload_key", sa.column("request_id", sa.Integer()), sa.column("key", sa.LargeBinary())
)


def upgrade() -> None:
    bind = op.get_bind()
    _set_aside("mint_upload_plain")
    _uploads_table("mint_upload")
    op.create_table(
        "upload_key",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["mint_upload.request_id"],
            name=op.f("fk_upload_key_request_id_mint_upload"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_upload_key")),
    )
    if bind.dialect.name == "postgresql":
        # ANALYZE would otherwise copy sample keys into pg_statistic, where no delete reaches.
        op.execute("ALTER TABLE upload_key ALTER COLUMN key SET STATISTICS 0")
    plain, sealed = _uploads("mint_upload_plain"), _uploads("mint_upload")
    waiting = bind.execute(
        sa.select(_REQUESTS.c.id, _REQUESTS.c.platform, _REQUESTS.c.chat_id, _REQUESTS.c.message_id)
        .join(plain, plain.c.request_id == _REQUESTS.c.id)
        .where(_REQUESTS.c.phase.in_(PREPARING))
    ).all()
    for request_id, platform, chat_id, message_id in waiting:  # one upload in memory at a time
        upload = bind.execute(
            sa.select(plain.c.data).where(plain.c.request_id == request_id)
        ).scalar_one()
        data, key = _seal(_associated_data(platform, chat_id, message_id), upload)
        bind.execute(sa.insert(sealed).values(request_id=request_id, data=data))
        bind.execute(sa.insert(_KEYS).values(request_id=request_id, key=key))
    op.drop_table("mint_upload_plain")


def downgrade() -> None:
    bind = op.get_bind()
    _set_aside("mint_upload_sealed")
    _uploads_table("mint_upload")
    sealed, plain = _uploads("mint_upload_sealed"), _uploads("mint_upload")
    waiting = bind.execute(
        sa.select(_REQUESTS.c.id, _REQUESTS.c.platform, _REQUESTS.c.chat_id, _REQUESTS.c.message_id)
        .join(_KEYS, _KEYS.c.request_id == _REQUESTS.c.id)
        .where(_REQUESTS.c.phase.in_(PREPARING))
    ).all()
    for request_id, platform, chat_id, message_id in waiting:
        data, key = bind.execute(
            sa.select(sealed.c.data, _KEYS.c.key)
            .join(_KEYS, _KEYS.c.request_id == sealed.c.request_id)
            .where(sealed.c.request_id == request_id)
        ).one()
        upload = _unseal(_associated_data(platform, chat_id, message_id), data, key)
        bind.execute(sa.insert(plain).values(request_id=request_id, data=upload))
    op.drop_table("upload_key")
    op.drop_table("mint_upload_sealed")
