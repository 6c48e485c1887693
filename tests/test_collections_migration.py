"""Migration 0018 on a database with history: mint_request is copied (on SQLite) to lose its
token ID's unique constraint, and no row that refers to it is lost or cascaded away."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from db.engine import create_db_engine, upgrade

pytestmark = [pytest.mark.db, pytest.mark.empty_database]

_REQUEST = sa.text(
    "INSERT INTO mint_request (id, platform, chat_id, message_id, fingerprint, requester_id, "
    "requester_name, name, description, upload_digest, custodial, phase, token_id, attempts, "
    "answer_attempts, created_at, updated_at) VALUES (:id, 'drop', '1', :key, 'f', 'u', 'U', "
    "'Art', '', 'digest', false, :phase, :token, 0, 0, :now, :now)"
)
_DROP = sa.text(
    "INSERT INTO nft_drop (id, platform, community_id, created_by, name, description, "
    "image_cid, image_digest, image_mime, image_width, image_height, supply, per_user_limit, "
    "starts_at, gates, claimed, created_at) VALUES (1, 'discord', 'g1', 'admin', 'Drop', '', "
    "'bafy', 'digest', 'image/png', 8, 8, NULL, 1, :now, '[]', 1, :now)"
)
_CLAIM = sa.text(
    "INSERT INTO drop_claim (drop_id, platform, user_id, user_name, n, edition, request_id, "
    "created_at) VALUES (1, 'discord', 'u', 'U', 1, 1, 1, :now)"
)
TOKEN = "0x" + "ab" * 32


async def test_requests_and_what_refers_to_them_survive_the_copy(database_url: str):
    engine = create_db_engine(database_url)
    now = datetime.now(UTC)
    try:
        await upgrade(engine, "0017")
        async with engine.begin() as conn:
            await conn.execute(_DROP, {"now": now})
            await conn.execute(
                _REQUEST, {"id": 1, "key": "a", "phase": "queued", "token": TOKEN, "now": now}
            )
            await conn.execute(
                _REQUEST, {"id": 2, "key": "b", "phase": "received", "token": None, "now": now}
            )
            await conn.execute(_CLAIM, {"now": now})
            # A waiting upload and its key: deleting the request would cascade to both.
            await conn.execute(
                sa.text("INSERT INTO mint_upload (request_id, data) VALUES (2, :d)"),
                {"d": b"sealed"},
            )
            await conn.execute(
                sa.text("INSERT INTO upload_key (request_id, key) VALUES (2, :k)"), {"k": b"k" * 32}
            )
        await upgrade(engine)
        async with engine.connect() as conn:
            counts = [
                (
                    await conn.execute(sa.select(sa.func.count()).select_from(sa.table(table)))
                ).scalar_one()
                for table in ("mint_request", "drop_claim", "mint_upload", "upload_key")
            ]
            kinds = (await conn.execute(sa.text("SELECT kind FROM nft_drop"))).scalars().all()
        assert counts == [2, 1, 1, 1]
        assert kinds == ["numbered"]
        async with engine.begin() as conn:
            # Editions share their artwork's token ID, one row per edition number ...
            for edition in (1, 2):
                await conn.execute(
                    sa.text(
                        "INSERT INTO mint_request (id, platform, chat_id, message_id, fingerprint, "
                        "requester_id, requester_name, name, description, upload_digest, "
                        "custodial, phase, token_id, edition, attempts, answer_attempts, "
                        "created_at, updated_at) VALUES (:id, 'drop', '2', :key, 'f', 'u', 'U', "
                        "'E', '', 'd', false, 'queued', :token, :edition, 0, 0, :now, :now)"
                    ),
                    {
                        "id": 2 + edition,
                        "key": f"e{edition}",
                        "token": "0x" + "cd" * 32,
                        "edition": edition,
                        "now": now,
                    },
                )
        # ... while an ERC-721 token ID is still unique.
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(
                    _REQUEST, {"id": 9, "key": "c", "phase": "queued", "token": TOKEN, "now": now}
                )
    finally:
        await engine.dispose()
